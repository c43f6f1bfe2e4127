-- The backup SQL API: signatures, argument checks made before the helper is contacted,
-- privileges, and the error when the helper is not running.
CREATE EXTENSION pg_ark;

SELECT p.proname, pg_get_function_arguments(p.oid) AS arguments,
       pg_get_function_result(p.oid) AS result, p.proretset AS set_returning
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE p.proname LIKE 'backup\_%' ORDER BY p.proname;

-- argument errors, raised before any contact with the helper
SELECT * FROM backup_start_full(repeat('x', 1001));
SELECT * FROM backup_start_full(E'two\nlines');
SELECT * FROM backup_start_full('ok', NULL);
SELECT * FROM backup_start_full('ok', true, NULL);
SELECT * FROM backup_start_incremental('../etc');
SELECT * FROM backup_start_incremental(NULL, 'ok', NULL);
SELECT * FROM backup_start_differential(E'two\nlines');
SELECT * FROM backup_start_differential('ok', true, NULL);
SELECT * FROM backup_info('../etc');
SELECT * FROM backup_info('running');
SELECT backup_cancel('not an id');
-- strict functions: NULL in, NULL out
SELECT * FROM backup_info(NULL);
SELECT backup_cancel(NULL);

-- none is open to PUBLIC; a granted role may call them
CREATE ROLE ark_backup_user;
SET ROLE ark_backup_user;
SELECT * FROM backup_start_full();
SELECT * FROM backup_start_incremental();
SELECT * FROM backup_start_differential();
SELECT * FROM backup_list();
SELECT * FROM backup_info('20261122-053113F');
SELECT * FROM backup_progress();
SELECT backup_cancel('20261122-053113F');
RESET ROLE;
GRANT EXECUTE ON FUNCTION backup_start_full(text, boolean, boolean),
      backup_start_incremental(text, text, boolean, boolean),
      backup_start_differential(text, boolean, boolean), backup_list(),
      backup_info(text), backup_progress(), backup_cancel(text) TO ark_backup_user;
SELECT p.proname, has_function_privilege('ark_backup_user', p.oid, 'EXECUTE') AS granted
  FROM pg_proc p WHERE p.proname LIKE 'backup\_%' ORDER BY p.proname;
-- the granted role gets as far as the helper, which is not running here
SET ROLE ark_backup_user;
SELECT * FROM backup_list();
RESET ROLE;
REVOKE EXECUTE ON FUNCTION backup_start_full(text, boolean, boolean),
       backup_start_incremental(text, text, boolean, boolean),
       backup_start_differential(text, boolean, boolean), backup_list(),
       backup_info(text), backup_progress(), backup_cancel(text) FROM ark_backup_user;
DROP ROLE ark_backup_user;

-- no helper: a clear error naming the socket, and no backup left running in this session
SELECT * FROM backup_start_full('no helper');
SELECT * FROM backup_progress();
SELECT pg_backup_start('after a failed pg_ark backup', true) IS NOT NULL AS can_start;
SELECT lsn IS NOT NULL AS stopped FROM pg_backup_stop(false);

DROP EXTENSION pg_ark;
