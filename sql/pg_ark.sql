-- The extension installs, its parameters show, bad values are refused, and its functions are
-- not open to PUBLIC.
CREATE EXTENSION pg_ark;

SELECT name, setting, unit, context, boot_val
  FROM pg_settings WHERE name LIKE 'pg_ark.%' ORDER BY name;
SHOW pg_ark.cluster;

-- parameter validation (ALTER SYSTEM runs the same checks as postgresql.conf)
ALTER SYSTEM SET pg_ark.cluster = 'bad/name';
ALTER SYSTEM SET pg_ark.cluster = '-leading-dash';
ALTER SYSTEM SET pg_ark.socket_path = 'relative/pg_ark.sock';
ALTER SYSTEM SET pg_ark.request_timeout = 10;
ALTER SYSTEM SET pg_ark.no_such_parameter = 1;
-- PGC_SIGHUP: not settable per session
SET pg_ark.cluster = 'other';

-- not granted to PUBLIC
CREATE ROLE ark_regress_user;
SET ROLE ark_regress_user;
SELECT helper_ping();
RESET ROLE;
-- granting works as documented
GRANT EXECUTE ON FUNCTION helper_ping() TO ark_regress_user;
SELECT has_function_privilege('ark_regress_user', 'helper_ping()', 'EXECUTE');
REVOKE EXECUTE ON FUNCTION helper_ping() FROM ark_regress_user;
DROP ROLE ark_regress_user;

-- the helper is not running: a clear error naming the socket
SELECT helper_ping();

DROP EXTENSION pg_ark;
