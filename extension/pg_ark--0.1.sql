/* pg_ark--0.1.sql: SQL objects of the pg_ark extension. */

-- complain if the script is sourced in psql rather than run by CREATE EXTENSION
\echo Use "CREATE EXTENSION pg_ark" to load this file. \quit

-- WAL archiving needs no SQL objects: it is configured with archive_library = 'pg_ark'.
-- This function reports whether the helper serving this cluster answers (for checks and tests).
CREATE FUNCTION helper_ping()
RETURNS text
AS 'MODULE_PATHNAME', 'pg_ark_helper_ping'
LANGUAGE C VOLATILE STRICT;

REVOKE ALL ON FUNCTION helper_ping() FROM PUBLIC;

-- Backups. Each returns rows from the helper's catalog (the same as `pg_ark list`).
-- Not granted to PUBLIC: a backup role needs EXECUTE on them (see docs/backup.md).
-- backup_start_incremental stores only the blocks changed since its parent (by default the
-- newest complete backup); backup_start_differential, those changed since the newest full
-- backup. original_bytes is the data directory's size, copied_bytes what the backup read and
-- stored (before compression), stored_bytes what it takes in the repository. block_files counts
-- relation files stored as changed blocks, whole_files the files stored whole; fallback says
-- why block maps could not be used, when they could not.
CREATE FUNCTION backup_start_full(label text DEFAULT NULL, fast boolean DEFAULT true,
                                  wait boolean DEFAULT true,
    OUT backup_id text, OUT backup_type text, OUT status text, OUT parent text,
    OUT start_lsn pg_lsn, OUT stop_lsn pg_lsn,
    OUT start_time timestamptz, OUT stop_time timestamptz, OUT timeline integer,
    OUT original_bytes bigint, OUT copied_bytes bigint, OUT stored_bytes bigint,
    OUT block_files bigint, OUT whole_files bigint, OUT fallback text)
RETURNS record
AS 'MODULE_PATHNAME', 'pg_ark_backup_start_full'
LANGUAGE C VOLATILE;

CREATE FUNCTION backup_start_incremental(parent text DEFAULT NULL, label text DEFAULT NULL,
                                         fast boolean DEFAULT true, wait boolean DEFAULT true,
    OUT backup_id text, OUT backup_type text, OUT status text, OUT parent text,
    OUT start_lsn pg_lsn, OUT stop_lsn pg_lsn,
    OUT start_time timestamptz, OUT stop_time timestamptz, OUT timeline integer,
    OUT original_bytes bigint, OUT copied_bytes bigint, OUT stored_bytes bigint,
    OUT block_files bigint, OUT whole_files bigint, OUT fallback text)
RETURNS record
AS 'MODULE_PATHNAME', 'pg_ark_backup_start_incremental'
LANGUAGE C VOLATILE;

CREATE FUNCTION backup_start_differential(label text DEFAULT NULL, fast boolean DEFAULT true,
                                          wait boolean DEFAULT true,
    OUT backup_id text, OUT backup_type text, OUT status text, OUT parent text,
    OUT start_lsn pg_lsn, OUT stop_lsn pg_lsn,
    OUT start_time timestamptz, OUT stop_time timestamptz, OUT timeline integer,
    OUT original_bytes bigint, OUT copied_bytes bigint, OUT stored_bytes bigint,
    OUT block_files bigint, OUT whole_files bigint, OUT fallback text)
RETURNS record
AS 'MODULE_PATHNAME', 'pg_ark_backup_start_differential'
LANGUAGE C VOLATILE;

CREATE FUNCTION backup_list(
    OUT backup_id text, OUT backup_type text, OUT status text, OUT label text, OUT parent text,
    OUT start_lsn pg_lsn, OUT stop_lsn pg_lsn,
    OUT start_time timestamptz, OUT stop_time timestamptz, OUT timeline integer,
    OUT wal_start text, OUT wal_stop text,
    OUT original_bytes bigint, OUT copied_bytes bigint, OUT stored_bytes bigint,
    OUT block_files bigint, OUT whole_files bigint, OUT fallback text, OUT error text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pg_ark_backup_list'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION backup_info(id text,
    OUT backup_id text, OUT backup_type text, OUT status text, OUT label text, OUT parent text,
    OUT start_lsn pg_lsn, OUT stop_lsn pg_lsn,
    OUT start_time timestamptz, OUT stop_time timestamptz, OUT timeline integer,
    OUT wal_start text, OUT wal_stop text,
    OUT original_bytes bigint, OUT copied_bytes bigint, OUT stored_bytes bigint,
    OUT block_files bigint, OUT whole_files bigint, OUT fallback text, OUT error text)
RETURNS record
AS 'MODULE_PATHNAME', 'pg_ark_backup_info'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION backup_progress(
    OUT backup_id text, OUT phase text, OUT start_time timestamptz,
    OUT files_done bigint, OUT files_total bigint, OUT bytes_done bigint, OUT bytes_total bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pg_ark_backup_progress'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION backup_cancel(backup_id text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'pg_ark_backup_cancel'
LANGUAGE C VOLATILE STRICT;

REVOKE ALL ON FUNCTION backup_start_full(text, boolean, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION backup_start_incremental(text, text, boolean, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION backup_start_differential(text, boolean, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION backup_list() FROM PUBLIC;
REVOKE ALL ON FUNCTION backup_info(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION backup_progress() FROM PUBLIC;
REVOKE ALL ON FUNCTION backup_cancel(text) FROM PUBLIC;

-- Block tracking (docs/block-tracking.md). Readable by monitoring roles; the flush request
-- (it flushes WAL and writes a map) stays with superusers and whom they grant it to.
CREATE FUNCTION block_tracking_status(
    OUT enabled boolean, OUT worker_pid integer,
    OUT summarized_lsn pg_lsn, OUT read_lsn pg_lsn, OUT flush_lsn pg_lsn, OUT lag_bytes bigint,
    OUT coverage_start_lsn pg_lsn, OUT gap_start_lsn pg_lsn, OUT gap_end_lsn pg_lsn,
    OUT slot_name text, OUT map_files integer, OUT map_bytes bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'pg_ark_block_tracking_status'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION block_tracking_maps(
    OUT start_lsn pg_lsn, OUT end_lsn pg_lsn, OUT timeline integer,
    OUT relations bigint, OUT bytes bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pg_ark_block_tracking_maps'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION block_tracking_blocks(from_lsn pg_lsn, to_lsn pg_lsn,
    OUT tablespace oid, OUT database oid, OUT relfilenode oid, OUT fork integer,
    OUT limit_block bigint, OUT first_block bigint, OUT block_count bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pg_ark_block_tracking_blocks'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION block_tracking_flush(wait_for pg_lsn DEFAULT NULL, timeout_ms integer DEFAULT 60000)
RETURNS pg_lsn
AS 'MODULE_PATHNAME', 'pg_ark_block_tracking_flush'
LANGUAGE C VOLATILE;

REVOKE ALL ON FUNCTION block_tracking_status() FROM PUBLIC;
REVOKE ALL ON FUNCTION block_tracking_maps() FROM PUBLIC;
REVOKE ALL ON FUNCTION block_tracking_blocks(pg_lsn, pg_lsn) FROM PUBLIC;
REVOKE ALL ON FUNCTION block_tracking_flush(pg_lsn, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION block_tracking_status() TO pg_monitor;
GRANT EXECUTE ON FUNCTION block_tracking_maps() TO pg_monitor;
GRANT EXECUTE ON FUNCTION block_tracking_blocks(pg_lsn, pg_lsn) TO pg_monitor;

-- Maintenance. backup_check() runs every check and returns one row each (name, ok, detail),
-- forcing a WAL switch and waiting up to wal_timeout_ms for it to be archived.
-- backup_expire() applies the retention policy of the helper's configuration now (it also runs
-- after every successful backup): one row per backup or WAL file removed, or that would be with
-- dry_run. backup_verify() re-reads the repository (or one backup, its chain and its WAL) and
-- returns one row per problem found; the summary comes as a NOTICE. See docs/check.md,
-- docs/retention.md and docs/verify.md.
CREATE FUNCTION backup_check(wal_timeout_ms integer DEFAULT 60000,
    OUT name text, OUT ok boolean, OUT detail text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pg_ark_backup_check'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION backup_expire(dry_run boolean DEFAULT false,
    OUT kind text, OUT name text, OUT bytes bigint, OUT reason text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pg_ark_backup_expire'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION backup_verify(id text DEFAULT NULL, OUT object text, OUT problem text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pg_ark_backup_verify'
LANGUAGE C VOLATILE;

REVOKE ALL ON FUNCTION backup_check(integer), backup_expire(boolean), backup_verify(text)
    FROM PUBLIC;
