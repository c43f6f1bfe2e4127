# 018_partial_wal.pl
#     A target in the last, incomplete segment of a timeline, which only a promotion archives
#     (as <segment>.partial): a primary archives into the repository, a standby made from its
#     backup (archive_mode on, the same repository and cluster) streams from it; rows are written,
#     the LSN noted without switching WAL (the primary's current segment is never archived), more
#     rows follow; the primary dies (immediate stop) and the standby is promoted, archiving the
#     .partial. Restoring the backup with --target-timeline 1 --target-lsn <noted LSN> must reach
#     the LSN through the .partial, which archive-get serves for the segment's plain name, and
#     match the primary as it was there (pg_dumpall).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgArkTest;

my ($primary, $ark) = PgArkTest::start_archiving_node('primary');
sub sql { return $primary->safe_psql('postgres', $_[0]); }
sql('CREATE EXTENSION pg_ark');
sql('CREATE TABLE failover (id int, note text)');
sql("INSERT INTO failover SELECT g, 'before the backup' FROM generate_series(1, 10) g");
my $backup = $ark->backup($primary, label => 'before the failover');
is($backup->{status}, 'complete', 'a full backup of the primary');

# The standby: from the backup, streaming; archive_mode on, so it archives once promoted.
my $conninfo = $primary->connstr . ' application_name=partial_standby';
my ($standby, $rc, $out, $err) = $ark->restore_node('standby', '--standby', '--primary-conninfo', $conninfo);
is($rc, 0, 'restore --standby exits 0') or diag($err);
$ark->configure_node($standby);
$standby->start;
PgArkTest::poll_until(
	sub {
		sql("SELECT count(*) FROM pg_stat_replication WHERE application_name = 'partial_standby' AND state = 'streaming'") eq '1';
	},
	'the standby streams from the primary');

sql("INSERT INTO failover SELECT g, 'before the target' FROM generate_series(11, 110) g");
my $lsn = sql('SELECT pg_current_wal_lsn()');
my $segment = sql("SELECT pg_walfile_name('$lsn')");
my $at_target = PgArkTest::dumpall($primary);
note "target $lsn in segment $segment";
sql("INSERT INTO failover SELECT g, 'after the target' FROM generate_series(111, 120) g");
my $end = sql('SELECT pg_current_wal_lsn()');
is(sql("SELECT pg_walfile_name('$end')"), $segment, 'everything written since is in the same segment');
PgArkTest::poll_until(
	sub { $standby->safe_psql('postgres', "SELECT pg_last_wal_replay_lsn() >= '$end'") eq 't' },
	"the standby replayed up to $end");
ok(!-e $ark->object_path($segment), "the primary's current segment $segment is not archived");

# The failover.
$primary->stop('immediate');
$standby->promote;
PgArkTest::poll_until(sub { $standby->safe_psql('postgres', 'SELECT NOT pg_is_in_recovery()') eq 't' },
	'the standby is promoted');
PgArkTest::poll_until(sub { -e $ark->object_path("$segment.partial") },
	"the promoted standby archives $segment.partial");
ok(!-e $ark->object_path($segment), "$segment itself is still not archived");
$standby->stop;

# Back to the LSN on timeline 1: only the .partial holds it.
my ($restored, $rrc, $rout, $rerr) = $ark->restore_node('at_target', '--set', $backup->{backup_id},
	'--target-timeline', '1', '--target-lsn', $lsn, '--target-action', 'promote');
is($rrc, 0, 'restore to the LSN on timeline 1 exits 0') or diag($rerr);
my $started = $rrc == 0 && $restored->start(fail_ok => 1);
ok($started, 'the restored cluster starts (recovery reaches the target)')
  or diag(slurp_file($restored->logfile));
if ($started)
{
	PgArkTest::poll_until(sub { $restored->safe_psql('postgres', 'SELECT NOT pg_is_in_recovery()') eq 't' },
		'recovery reaches the target and promotes');
	my $log = slurp_file($restored->logfile);
	like($log, qr/restored WAL file "\Q$segment\E" from its partial copy "\Q$segment\E\.partial"/,
		'archive-get says it served the .partial');
	like($log, qr/recovery stopping after WAL location \(LSN\)/, 'recovery stopped at the LSN');
	ok(PgArkTest::dumpall($restored) eq $at_target, 'pg_dumpall matches the primary at the LSN');
	is($restored->safe_psql('postgres', "SELECT count(*) FROM failover WHERE note = 'after the target'"), '0',
		'no row written after the target');
	$restored->stop;
}

$ark->stop;
done_testing();
