-- The maintenance SQL API: backup_check(), backup_expire(), backup_verify(). Argument checks
-- made before the helper is contacted, privileges, and what backup_check() reports of a
-- server whose helper is not running (every check still has its row).
CREATE EXTENSION pg_ark;

-- argument errors, raised before any contact with the helper
SELECT * FROM backup_check(-1);
SELECT * FROM backup_verify('../etc');
SELECT * FROM backup_verify('running');
-- strict: NULL in, no rows out
SELECT * FROM backup_check(NULL);
SELECT * FROM backup_expire(NULL);

-- none is open to PUBLIC
CREATE ROLE ark_monitor;
SET ROLE ark_monitor;
SELECT * FROM backup_check();
SELECT * FROM backup_expire();
SELECT * FROM backup_verify();
RESET ROLE;
DROP ROLE ark_monitor;

-- this instance: no archiving and no helper (the tracker runs); the WAL switch is not attempted
SELECT name, ok, regexp_replace(detail, '[0-9.]+ MB', 'N MB') AS detail FROM backup_check(0);
-- without a helper, expire and verify fail with the transport error
SELECT * FROM backup_expire(true);
SELECT * FROM backup_verify();

DROP EXTENSION pg_ark;
