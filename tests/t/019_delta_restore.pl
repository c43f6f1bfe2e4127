# 019_delta_restore.pl
#     `pg_ark restore --delta` (docs/backup.md, "Delta restore"), on real clusters:
#     - over a restore nothing touched since, it rewrites nothing;
#     - after relation files are corrupted, deleted and grown and stray files added, it rewrites
#       exactly those files and removes exactly the strays, and the cluster's data then matches
#       the source (pg_dumpall, amcheck);
#     - over a cluster that ran and diverged, it brings back the backup's data;
#     - a running server is refused and keeps running, untouched;
#     - a restore killed with -9 half-way leaves a directory PostgreSQL refuses to start, and
#       --delta finishes it;
#     - the documented command runs as written.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgArkTest;
use POSIX ();
use IPC::Run ();

my ($source, $ark) = PgArkTest::start_archiving_node('source');
sub sql { return $source->safe_psql('postgres', $_[0]); }
sql('CREATE EXTENSION pg_ark');
sql('CREATE EXTENSION amcheck');
$source->command_ok([ 'pgbench', '-h', $source->host, '-p', $source->port, '-i', '-s', '1', '-q', 'postgres' ],
	'pgbench -i -s 1');
my $backup = $ark->backup($source, label => 'for delta restores');
is($backup->{status}, 'complete', 'a full backup');
# Written after the backup: a restore gets it from the archive.
sql('UPDATE pgbench_accounts SET abalance = aid % 97 WHERE aid % 50 = 0');
sql("CREATE TABLE after_backup AS SELECT 'after the backup' AS note");
PgArkTest::wait_for_archived($source, PgArkTest::switch_wal($source));
my $expected = PgArkTest::dumpall($source);

# Files of the source's relations: the restored cluster has them at the same paths.
my %file = map { $_ => sql("SELECT pg_relation_filepath('$_')") }
  qw(pgbench_accounts pgbench_branches pgbench_tellers pgbench_history);
my $dboid = sql("SELECT oid FROM pg_database WHERE datname = 'postgres'");

our $node;
my ($rc, $out, $err);
($node, $rc, $out, $err) = $ark->restore_node('target');
is($rc, 0, 'a plain restore into a new directory') or diag($err);
my $pgdata = $node->data_dir;

sub delta
{
	my ($what) = @_;
	my ($rc, $out, $err) = $ark->restore_into($node, '--delta');
	is($rc, 0, "$what: restore --delta exits 0") or diag($err);
	note $out;
	my ($rewritten, $compared, $bytes, $removed) =
	  $out =~ /^delta: rewrote (\d+) of (\d+) files \((\d+) bytes written\), removed (\d+) files/m;
	ok(defined $rewritten, "$what: the counts are reported") or return (-1, -1, -1, -1, '');
	# Each file rewritten is named on stderr: the data directory's relative paths, sorted.
	my $names = join ' ', sort map { s{^\Q$pgdata\E/}{}r } $err =~ /delta restore: rewrote "([^"]+)"/g;
	return ($rewritten, $bytes, $compared - $rewritten, $removed, $names);
}

# Starts the node, waits for the end of recovery; its data must be the source's.
sub check_data
{
	my ($what, $node) = @_;
	$node //= $main::node;
	$node->start;
	PgArkTest::poll_until(sub { $node->safe_psql('postgres', 'SELECT NOT pg_is_in_recovery()') eq 't' },
		"$what: recovery ends");
	is(PgArkTest::dumpall($node), $expected, "$what: pg_dumpall matches the source");
	cmp_ok($node->safe_psql('postgres', q(
			SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			  JOIN pg_am a ON a.oid = c.relam, LATERAL bt_index_check(c.oid, true)
			 WHERE a.amname = 'btree' AND c.relpersistence = 'p')), '>', 0,
		"$what: amcheck passes on every B-tree");
}

# 1. Nothing changed since the restore but the port the tests append to postgresql.conf: that
# file alone is rewritten.
my ($rewritten, $bytes, $unchanged, $removed, $names) = delta('unchanged');
is($rewritten, 1, 'unchanged: one file rewritten');
is($names, 'postgresql.conf', 'unchanged: postgresql.conf, which the tests changed');
cmp_ok($bytes, '<=', -s "$pgdata/postgresql.conf", 'unchanged: only its bytes written');
is($removed, 0, 'unchanged: nothing removed');
cmp_ok($unchanged, '>', 900, "unchanged: every file compared ($unchanged)");

# 2. Damage: a page of pgbench_accounts overwritten, pgbench_branches deleted, pgbench_tellers
# grown by a page of garbage, stray files in a database directory and in pg_wal.
sub overwrite
{
	my ($path, $offset, $data) = @_;
	open(my $fh, '+<', $path) or die "open $path: $!";
	binmode $fh;
	seek($fh, $offset, 0) or die;
	print $fh $data;
	close $fh or die;
}
my $accounts = "$pgdata/$file{pgbench_accounts}";
my $accounts_size = -s $accounts;
overwrite($accounts, 8192 * 3 + 100, 'X' x 200);
unlink("$pgdata/$file{pgbench_branches}") or die;
overwrite("$pgdata/$file{pgbench_tellers}", -s "$pgdata/$file{pgbench_tellers}", "\xff" x 8192);
append_to_file("$pgdata/base/$dboid/999999", 'stray relation');
mkdir("$pgdata/base/$dboid/stray_dir") or die;
append_to_file("$pgdata/base/$dboid/stray_dir/f", 'stray');
append_to_file("$pgdata/pg_wal/000000010000000000000099", 'not a segment of this backup');

($rewritten, $bytes, $unchanged, $removed, $names) = delta('damaged');
is($rewritten, 4, 'damaged: four files rewritten');
is($names, join(' ', sort(@file{qw(pgbench_accounts pgbench_branches pgbench_tellers)}, 'postgresql.conf')),
	'damaged: exactly the three damaged files and postgresql.conf');
cmp_ok($bytes, '<=', $accounts_size + 2 * 8192 * 2, "damaged: at most their parts are written ($bytes bytes)");
is($removed, 3, 'damaged: exactly the three stray files are removed');
ok(!-e "$pgdata/base/$dboid/999999" && !-e "$pgdata/base/$dboid/stray_dir", 'the strays are gone');
check_data('after damage');

# 3. The cluster ran (recovery, promotion, a checkpoint) and diverged: delta brings back the backup.
$node->safe_psql('postgres', "INSERT INTO after_backup VALUES ('diverged')");
$node->safe_psql('postgres', 'DROP TABLE pgbench_history');
$node->stop;
($rewritten, $bytes, $unchanged, $removed, $names) = delta('diverged');
cmp_ok($rewritten, '>', 0, "diverged: the changed files are rewritten ($rewritten)");
cmp_ok($unchanged, '>', $rewritten, 'diverged: most files are left as they were');
check_data('after divergence');

# 4. A running server is refused and left running, untouched.
my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM pgbench_accounts');
($rc, $out, $err) = $ark->restore_into($node, '--delta');
isnt($rc, 0, 'running: restore --delta is refused');
like($err, qr/a PostgreSQL server is running in "\Q$pgdata\E" .*stop it before a delta restore/,
	'running: saying why');
ok(-f "$pgdata/global/pg_control", 'running: pg_control still there');
is($node->safe_psql('postgres', 'SELECT count(*) FROM pgbench_accounts'), $before, 'running: the server still answers');
$node->stop;

# 5. Without --delta, an existing data directory is refused, pointing at --delta.
($rc, $out, $err) = $ark->restore_into($node);
isnt($rc, 0, 'without --delta: refused');
like($err, qr/not empty.*--delta/, 'without --delta: naming --delta');

# 6. The documented command, as written.
delta('before the documented command');    # back to the backup after the run above
unlink("$pgdata/$file{pgbench_tellers}") or die;
($rc, $out, $err) = $ark->run_doc_example('backup.md', 'delta.sh', '/var/lib/postgresql/15/main' => $pgdata);
is($rc, 0, 'the documented delta restore succeeds') or diag($err);
like($out, qr/^delta: rewrote 2 of \d+ files/m, 'and rewrites the deleted file and postgresql.conf (the tests add a port to it)');
$node->append_conf('postgresql.conf', "port = ${\ $node->port}\narchive_mode = off\n");
check_data('documented delta restore');

$node->stop;

# 7. A restore killed with -9 half-way: PostgreSQL refuses to start what it left, and --delta
# finishes it. One stored object is swapped for a FIFO, so one worker blocks opening it while
# the other writes every other file: the restore is surely half-way when it is killed.
my $objects = $ark->repo . '/' . $ark->cluster . "/backup/$backup->{backup_id}/data";
opendir(my $dh, $objects) or die "opendir $objects: $!";
my ($largest) = sort { -s "$objects/$b" <=> -s "$objects/$a" } grep { /\.ark$/ } readdir $dh;
closedir $dh;
rename("$objects/$largest", "$objects/$largest.saved") or die;
POSIX::mkfifo("$objects/$largest", 0600) or die "mkfifo: $!";
my $interrupted = PostgreSQL::Test::Cluster->new('interrupted');
my $idata = $interrupted->data_dir;
my ($kout, $kerr) = ('', '');
my $restore = IPC::Run::start(
	[ PgArkTest::pg_ark_bin(), 'restore', '--config', $ark->config_file, '--cluster', $ark->cluster,
		'--pgdata', $idata, '--process-max', '2' ],
	'<', '/dev/null', '>', \$kout, '2>', \$kerr);
PgArkTest::poll_until(sub { -f "$idata/PG_VERSION" && -d "$idata/base/$dboid" && -f "$idata/$file{pgbench_branches}" },
	'the restore is under way');
$restore->signal('KILL');
$restore->finish;
unlink("$objects/$largest") or die;
rename("$objects/$largest.saved", "$objects/$largest") or die;
ok(!-e "$idata/global/pg_control", 'killed: no pg_control was written');
$interrupted->append_conf('postgresql.conf', "port = ${\ $interrupted->port}\narchive_mode = off\n");
ok(!$interrupted->start(fail_ok => 1), 'killed: PostgreSQL refuses to start the half-restored directory');
($rc, $out, $err) = $ark->restore_into($interrupted, '--delta');
is($rc, 0, 'killed: restore --delta finishes it') or diag($err);
check_data('after a killed restore finished by --delta', $interrupted);
$interrupted->stop;

$source->stop;
$ark->stop;
done_testing();
