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
