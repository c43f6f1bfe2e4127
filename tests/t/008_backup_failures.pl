# 008_backup_failures.pl
#     Backups that end badly leave no usable backup and PostgreSQL out of backup mode:
#     backup_cancel(), a client killed mid-backup, the helper killed with SIGKILL mid-backup,
#     and WAL that never gets archived (archive-timeout). Then the next backup succeeds, and a
#     corrupted stored file makes restore fail naming the file.
#
#     Deterministic: the helper holds each backup in its copy phase (in backup mode) while the
#     file named by PG_ARK_TEST_HOLD_COPY exists; for the archive-timeout case, archiving is
#     switched off (archive_library = '') and the helper does not archive ahead.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgArkTest;

my $hold = PostgreSQL::Test::Utils::tempdir('hold') . '/hold-copy';
$ENV{PG_ARK_TEST_HOLD_COPY} = $hold;
PostgreSQL::Test::Utils::append_to_file($hold, '');
my ($node, $ark) = PgArkTest::start_archiving_node('failures',
	global => { 'archive-ahead-workers' => 0 });
$node->safe_psql('postgres', q(
	CREATE EXTENSION pg_ark;
	CREATE TABLE t AS SELECT g FROM generate_series(1, 10000) g;
));

# Starts backup_start_full() in a background psql; once it returns (with an error), the same
# session calls pg_backup_stop(), which fails unless the session is still in backup mode.
sub start_backup_session
{
	my ($label) = @_;
	# A file, not a scalar: IPC::Run feeds a scalar only while the caller pumps.
	my $script = PostgreSQL::Test::Utils::tempdir('session') . '/backup.sql';
	PostgreSQL::Test::Utils::append_to_file($script,
		"SELECT backup_id FROM backup_start_full('$label');\nSELECT pg_backup_stop(false);\n");
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-A', '-t', '-h', $node->host, '-p', $node->port, '-d', 'postgres' ],
		'<', $script, '>', \$out, '2>', \$err, IPC::Run::timeout(PgArkTest::timeout()));
	return { h => $h, out => \$out, err => \$err };
}

# Waits until the running backup is held in its copy phase; returns its id.
sub wait_for_copy_phase
{
	my ($session) = @_;
	my $id;
	PgArkTest::poll_until(
		sub {
			$id = $node->safe_psql('postgres',
				"SELECT backup_id FROM backup_progress() WHERE phase = 'copying'");
			return $id ne '' || !$session->{h}->pumpable;
		},
		'a backup is copying');
	BAIL_OUT("no backup is copying; the session said: ${ $session->{err} }") if $id eq '';
	return $id;
}

sub not_in_backup_mode
{
	my ($session, $what) = @_;
	like(${ $session->{err} }, qr/backup is not in progress/,
		"$what: the session left backup mode (pg_backup_stop refuses)");
}

sub backup_status
{
	my ($id) = @_;
	return $node->safe_psql('postgres', "SELECT status FROM backup_info('$id')");
}

# Backends of this node running a pg_ark backup (by the query text).
sub backup_backends
{
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%backup_start_full%' AND pid <> pg_backend_pid()");
}

# 1. backup_cancel() from another session.
{
	my $session = start_backup_session('to cancel');
	my $id = wait_for_copy_phase($session);
	my ($second_rc, $second_out, $second_err) =
	  $node->psql('postgres', "SELECT * FROM backup_start_full('second')");
	like($second_err, qr/a backup of cluster "main" is already running \(backup \Q$id\E\)/,
		'a second backup of the cluster is refused, naming the running one');
	is($node->safe_psql('postgres', "SELECT backup_cancel('$id')"), 't', 'backup_cancel returns true');
	eval { $session->{h}->finish };
	like(${ $session->{err} }, qr/cancel/, 'the backing-up session gets an error saying it was cancelled');
	not_in_backup_mode($session, 'backup_cancel');
	is(backup_status($id), 'failed', 'the cancelled backup is listed as failed');
	like($node->safe_psql('postgres', "SELECT error FROM backup_info('$id')"), qr/backup_cancel/,
		'and says why');
	ok(!-d $ark->repo . "/main/backup/$id/data" || !glob($ark->repo . "/main/backup/$id/data/*"),
		'its parts were removed');
}

# 2. The client is killed mid-backup: its backend notices, ends backup mode and exits.
{
	my $session = start_backup_session('client killed');
	my $id = wait_for_copy_phase($session);
	$session->{h}->signal('KILL');
	eval { $session->{h}->finish };
	PgArkTest::poll_until(sub { backup_backends() eq '0' }, 'the backend of the killed client exits');
	PgArkTest::poll_until(sub { backup_status($id) eq 'failed' }, 'the backup of the killed client fails');
	PgArkTest::wait_for_log($node, qr/aborting backup due to backend exiting before pg_backup_stop was called/,
		0, 'PostgreSQL ended backup mode as the backend exited');
}

# 3. The helper is killed with SIGKILL mid-backup.
my $killed_id;
{
	my $session = start_backup_session('helper killed');
	$killed_id = wait_for_copy_phase($session);
	$ark->kill9;
	eval { $session->{h}->finish };
	like(${ $session->{err} }, qr/pg_ark helper/, 'the session gets an error naming the helper');
	not_in_backup_mode($session, 'helper killed');
	unlink $hold or die "could not remove $hold: $!";
	$ark->start or BAIL_OUT('helper did not restart');
	is(backup_status($killed_id), 'failed', 'after a restart the killed backup is listed as failed');
	my ($rc, $out) = $ark->run_cli('list', '--config', $ark->config_file, '--cluster', 'main');
	like($out, qr/\Q$killed_id\E.*failed/, 'pg_ark list shows it failed, with no daemon involved');
}

# 4. WAL that is never archived: the backup fails after archive-timeout, naming the segment.
{
	# A restart, not a reload: a restarted archiver may start before the postmaster has re-read
	# the file and keep the old archive_library.
	$node->append_conf('postgresql.conf', "archive_library = ''");
	$node->restart;
	$ark->stop;
	my $text = PostgreSQL::Test::Utils::slurp_file($ark->config_file);
	(my $short = $text) =~ s/\[global\]\n/[global]\narchive-timeout = 2\n/;
	$ark->write_config($short);
	$ark->start or BAIL_OUT('helper did not restart');
	my ($out, $err) = ('', '');
	$node->psql('postgres', "SELECT * FROM backup_start_full('no archive')", stdout => \$out, stderr => \$err);
	like($err, qr/WAL segment [0-9A-F]{24} needed by backup \S+ was not archived within 2 s/,
		'a backup whose WAL is not archived fails and names the segment');
	$ark->stop;
	$ark->write_config($text);
	$ark->start or BAIL_OUT('helper did not restart');
}

# 5. With archiving back, the next backup succeeds.
$node->append_conf('postgresql.conf', "archive_library = 'pg_ark'");
$node->restart;
PgArkTest::wait_for_archived($node, PgArkTest::switch_wal($node));
my $good = $ark->backup($node, label => 'after failures');
is($good->{status}, 'complete', 'the next backup succeeds');
my $failed = $node->safe_psql('postgres', "SELECT count(*) FROM backup_list() WHERE status = 'failed'");
is($failed, '4', 'the four failed backups stay listed as failed');

# wait => false: a background worker runs it; the call returns at once.
my $detached = $node->safe_psql('postgres',
	"SELECT backup_id || ' ' || status FROM backup_start_full('detached', wait => false)");
like($detached, qr/^\S+ running$/, 'wait => false returns the backup as running');
my ($detached_id) = split / /, $detached;
PgArkTest::poll_until(
	sub { $node->safe_psql('postgres', "SELECT status FROM backup_info('$detached_id')") ne 'running' },
	'the background worker finishes the backup');
is($node->safe_psql('postgres', "SELECT status FROM backup_info('$detached_id')"), 'complete',
	'the detached backup completes');
is($node->safe_psql('postgres', "SELECT count(*) FROM backup_list() WHERE status = 'complete'"), '2',
	'two usable backups');

# 6. A corrupted stored file: restore fails and names the file.
{
	my $id = $good->{backup_id};
	my $manifest_dir = $ark->repo . "/main/backup/$id/data";
	my @parts = sort { -s $b <=> -s $a } glob("$manifest_dir/*.ark");
	ok(@parts > 10, 'the backup has its parts');
	my $victim = $parts[0];
	open my $fh, '+<', $victim or die $!;
	binmode $fh;
	seek $fh, 100, 0;
	read $fh, my $byte, 1;
	seek $fh, 100, 0;
	print $fh chr(ord($byte) ^ 0x40);
	close $fh;
	my ($restored, $rc, $out, $err) = $ark->restore_node('corrupt', '--set', $id);
	is($rc, 7, 'restore from a corrupted backup exits 7 (corrupt)');
	like($err, qr/(base|global|pg_\w+)\/\S+/, 'and names the damaged file of the data directory');
	ok(!-e $restored->data_dir . '/global/pg_control', 'the incomplete restore has no pg_control');
}

$node->stop;
$ark->stop;
done_testing();
