# 016_timelines.pl
#     Timelines: a cluster restored from a backup and promoted archives its new timeline (its
#     .history file and WAL) into the same repository; a second restore of the same backup then
#     follows the newest timeline by default (--target-timeline latest) and reaches what was
#     written after the promotion, while --target-timeline 1 stays on the original timeline;
#     each is compared with the source it should match (pg_dumpall).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgArkTest;

my ($primary, $ark) = PgArkTest::start_archiving_node('primary');
$primary->safe_psql('postgres', 'CREATE EXTENSION pg_ark');
$primary->safe_psql('postgres', "CREATE TABLE events (timeline int, note text)");
my $backup = $ark->backup($primary, label => 'timeline 1');
$primary->safe_psql('postgres', "INSERT INTO events VALUES (1, 'after the backup, on timeline 1')");
PgArkTest::wait_for_archived($primary, PgArkTest::switch_wal($primary));
my $timeline1 = PgArkTest::dumpall($primary);
$primary->stop;

# The failover: restore, recover to the end of timeline 1, promote, archive into the same
# repository.
my ($promoted, $rc, $out, $err) = $ark->restore_node('promoted');
is($rc, 0, 'restore for the new primary exits 0') or diag($err);
$ark->configure_node($promoted);
$promoted->start;
PgArkTest::poll_until(sub { $promoted->safe_psql('postgres', 'SELECT NOT pg_is_in_recovery()') eq 't' },
	'the restored cluster promotes');
is($promoted->safe_psql('postgres', "SELECT timeline_id FROM pg_control_checkpoint()"), '2',
	'on timeline 2');
$promoted->safe_psql('postgres', "INSERT INTO events VALUES (2, 'written on timeline 2')");
PgArkTest::wait_for_archived($promoted, PgArkTest::switch_wal($promoted));
ok(-f $ark->repo . '/main/wal/history/00000002.history.ark', 'the timeline history file is archived');
my $timeline2 = PgArkTest::dumpall($promoted);
$promoted->stop;

for my $case ([ 'latest (default)', [], $timeline2, 2 ], [ 'timeline 1', [ '--target-timeline', '1' ], $timeline1, 1 ])
{
	my ($what, $args, $expected, $tli) = @$case;
	my ($restored, $rrc, $rout, $rerr) = $ark->restore_node('restored_' . ($tli), '--set', $backup->{backup_id}, @$args);
	is($rrc, 0, "$what: restore exits 0") or diag($rerr);
	next if $rrc != 0;
	$restored->start;
	PgArkTest::poll_until(sub { $restored->safe_psql('postgres', 'SELECT NOT pg_is_in_recovery()') eq 't' },
		"$what: recovery ends");
	ok(PgArkTest::dumpall($restored) eq $expected, "$what: pg_dumpall matches the cluster of timeline $tli");
	is($restored->safe_psql('postgres', 'SELECT max(timeline) FROM events'), $tli,
		"$what: the newest row is the one written on timeline $tli");
	$restored->stop;
	$restored->clean_node;
}

my ($lrc, $list) = $ark->run_cli('list', '--config', $ark->config_file, '--cluster', 'main');
like($list, qr/\Q$backup->{backup_id}\E.*\s1\s/, 'pg_ark list shows the backup\'s timeline');

$ark->stop;
done_testing();
