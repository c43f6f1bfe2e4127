# 007_backup_restore.pl
#     A full backup taken from SQL while pgbench writes, with a user tablespace; the data
#     directory is then restored with `pg_ark restore` (tablespace remapped) into a new node,
#     which recovers from the archived WAL to the end: pg_dumpall of both is identical.
#     Also: the catalog in SQL and in `pg_ark list/info`, and a restore refused over a non-empty
#     directory.
use strict;
use warnings;

use File::Path qw(make_path);
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgArkTest;

my ($node, $ark) = PgArkTest::start_archiving_node('source', init_extra => ['--data-checksums']);
my $tablespace_dir = PostgreSQL::Test::Utils::tempdir('tablespace');
$node->safe_psql('postgres', qq(
	CREATE EXTENSION pg_ark;
	CREATE TABLESPACE extra LOCATION '$tablespace_dir';
	CREATE TABLE in_tablespace (id int PRIMARY KEY, payload text) TABLESPACE extra;
	INSERT INTO in_tablespace SELECT g, md5(g::text) FROM generate_series(1, 20000) g;
	CREATE UNLOGGED TABLE scratch AS SELECT g FROM generate_series(1, 1000) g;
));
$node->command_ok([ 'pgbench', '-i', '-s', '2', '-q', '-h', $node->host, '-p', $node->port, 'postgres' ],
	'pgbench initialised');

# The backup runs while pgbench writes.
my $bench = PgArkTest::start_pgbench($node, '-c', '2', '-T', '60');
PgArkTest::poll_until(
	sub { $node->safe_psql('postgres', 'SELECT count(*) FROM pgbench_history') > 100 },
	'pgbench is writing');
my $backup = $ark->backup($node, label => 'under load');
like($backup->{backup_id}, qr/^\d{8}-\d{6}F$/, 'backup id names its start time and type');
is($backup->{status}, 'complete', 'backup_start_full returns a complete backup');
is($backup->{backup_type}, 'full', 'type full');
cmp_ok($backup->{original_bytes}, '>', 30_000_000, 'original size counts the data directory');
cmp_ok($backup->{stored_bytes}, '<', $backup->{original_bytes}, 'stored compressed');
ok(PgArkTest::pgbench_running($bench), 'pgbench was still running when the backup finished');
is(PgArkTest::finish_pgbench($bench), 0, 'pgbench ran clean alongside the backup');

# Everything written so far must reach the archive before the source is compared.
$node->safe_psql('postgres', 'INSERT INTO in_tablespace VALUES (-1, \'after the backup\')');
my $last = PgArkTest::switch_wal($node);
PgArkTest::wait_for_archived($node, $last);

# The catalog: SQL and CLI agree.
my $id = $backup->{backup_id};
is($node->safe_psql('postgres', "SELECT status || ' ' || label FROM backup_info('$id')"),
	'complete under load', 'backup_info shows it');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM backup_list() WHERE backup_id = '$id' AND wal_start IS NOT NULL AND wal_stop >= wal_start"),
	'1', 'backup_list shows it with the WAL range it needs');
is($node->safe_psql('postgres', 'SELECT count(*) FROM backup_progress()'), '0',
	'no backup in progress');
my ($rc, $out, $err) = $ark->run_cli('list', '--config', $ark->config_file, '--cluster', 'main', '--json');
is($rc, 0, 'pg_ark list --json exits 0');
my $list = eval { decode_json($out) } // [];
is(scalar(@$list), 1, 'one backup listed');
is($list->[0]{backup_id} // $list->[0]{id}, $id, 'the CLI lists the same backup');
($rc, $out, $err) = $ark->run_cli('list', '--config', $ark->config_file, '--cluster', 'main');
like($out, qr/\Q$id\E.*full.*complete/, 'pg_ark list prints a human table');
($rc, $out, $err) = $ark->run_cli('info', '--config', $ark->config_file, '--cluster', 'main', $id);
is($rc, 0, 'pg_ark info exits 0');
like($out, qr/under load/, 'pg_ark info shows the label');

# Restore into a new node, the tablespace moved elsewhere.
my $new_tablespace = PostgreSQL::Test::Utils::tempdir('tablespace_restored');
my ($restored, $restore_rc, $restore_out, $restore_err) =
  $ark->restore_node('restored', '--tablespace-map', "$tablespace_dir=$new_tablespace");
is($restore_rc, 0, 'pg_ark restore exits 0') or diag($restore_err);
like($restore_out, qr/\Q$id\E/, 'restore names the backup it used');
ok(-f $restored->data_dir . '/recovery.signal', 'recovery.signal written');
ok(!-e $restored->data_dir . '/postmaster.pid', 'postmaster.pid not restored');
my ($oid) = map { /^(\d+)$/ ? $1 : () } do {
	opendir my $dh, $restored->data_dir . '/pg_tblspc' or die $!;
	readdir $dh;
};
is(readlink($restored->data_dir . "/pg_tblspc/$oid"), $new_tablespace, 'tablespace link remapped');
my @unlogged = glob($restored->data_dir . '/base/*/*_init');
ok(@unlogged > 0, 'unlogged init forks restored');

$restored->start;
PgArkTest::poll_until(sub { $restored->safe_psql('postgres', 'SELECT NOT pg_is_in_recovery()') eq 't' },
	'the restored node finishes recovery');
is($restored->safe_psql('postgres', 'SELECT payload FROM in_tablespace WHERE id = -1'),
	'after the backup', 'WAL archived after the backup was replayed');
is($restored->safe_psql('postgres', 'SELECT count(*) FROM scratch'), '0',
	'unlogged table restored empty');

my $source_dump = PgArkTest::dumpall($node);
my $restored_dump = PgArkTest::dumpall($restored);
$restored_dump =~ s/\Q$new_tablespace\E/$tablespace_dir/g;
# Unlogged tables come back empty after recovery; that is PostgreSQL's rule, not a loss.
s/COPY public\.scratch .*?\\\.\n//s for $source_dump, $restored_dump;
ok($source_dump eq $restored_dump, 'pg_dumpall of source and restored cluster are identical');
if ($source_dump ne $restored_dump)
{
	my $dir = PostgreSQL::Test::Utils::tempdir('dumps');
	PostgreSQL::Test::Utils::append_to_file("$dir/source.sql", $source_dump);
	PostgreSQL::Test::Utils::append_to_file("$dir/restored.sql", $restored_dump);
	diag(`diff $dir/source.sql $dir/restored.sql | head -40`);
}

# A restore never writes over an existing data directory.
($rc, $out, $err) = $ark->run_cli('restore', '--config', $ark->config_file, '--cluster', 'main',
	'--pgdata', $node->data_dir);
isnt($rc, 0, 'restore over a non-empty directory is refused');
like($err, qr/not empty/, 'and says why');

$restored->stop;
$node->stop;
$ark->stop;
done_testing();
