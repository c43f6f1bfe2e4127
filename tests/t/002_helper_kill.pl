
# 002_helper_kill.pl
#     The helper is killed with SIGKILL in the middle of a pgbench load. Archiving must stall
#     with a WARNING (PostgreSQL keeps the .ready segments and counts failures), resume once the
#     helper is restarted, and lose nothing: every segment from the first to the last archived one
#     on timeline 1 is in the repository and equals the copy in pg_wal.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgArkTest;

my ($node, $ark) = PgArkTest::start_archiving_node('primary', cluster => 'main');

$node->command_ok([ 'pgbench', '-i', '-s', '1', 'postgres' ], 'pgbench -i -s 1');
my $segsize = PgArkTest::wal_segment_size($node);

my $bench = PgArkTest::start_pgbench($node, '-c', '2', '-t', '6000');

# Archiving works under load before the kill.
my @before = PgArkTest::switch_under_load($node, 2, $bench);
PgArkTest::wait_for_archived($node, $before[-1]);

# Kill the helper right after a switch, while the archiver is likely to be talking to it.
my $log_offset = -s $node->logfile;
push @before, PgArkTest::switch_under_load($node, 1, $bench, min_bytes => 256 * 1024);
$ark->kill9;
ok(!$ark->running, 'helper is dead after SIGKILL');
ok(!$ark->socket_answers, 'nothing answers on the socket after SIGKILL');

# WAL keeps being produced and switched while the helper is down.
my @during = PgArkTest::switch_under_load($node, 3, $bench);

PgArkTest::wait_for_log($node, qr/WARNING:  pg_ark: could not archive "[^"]+"/, $log_offset,
	'server log has a WARNING "pg_ark: could not archive" while the helper is down');
my $sock = $ark->socket_path;
PgArkTest::wait_for_log($node,
	qr/WARNING:  pg_ark: could not archive "[^"]+": could not connect to the pg_ark helper at "\Q$sock\E"/,
	$log_offset, 'the WARNING says the helper could not be reached, and where');
ok( PgArkTest::poll_until(
		sub {
			$node->safe_psql('postgres', 'SELECT failed_count > 0 FROM pg_stat_archiver') eq 't';
		},
		'pg_stat_archiver.failed_count > 0'),
	'pg_stat_archiver.failed_count > 0 while the helper is down');

# Stalled: the newest switched segment waits in pg_wal, not in the repository.
my $status_dir = $node->data_dir . '/pg_wal/archive_status';
ok(-e "$status_dir/$during[-1].ready", "$during[-1] is still .ready while the helper is down");
ok(!-e $ark->object_path($during[-1]), "$during[-1] is not in the repository yet");
ok(-e $node->data_dir . "/pg_wal/$during[-1]", "$during[-1] is kept in pg_wal");

# Restart: the stale socket file must not stop the new helper.
$ark->start or BAIL_OUT('helper did not restart after SIGKILL');
pass('helper restarted over the stale socket left by SIGKILL');

# More load after the restart; a new .ready also wakes the archiver from its retry sleep.
my @after = PgArkTest::switch_under_load($node, 2, $bench);
is(PgArkTest::finish_pgbench($bench), 0, 'pgbench load completed');

PgArkTest::write_some_wal($node);
my $last = PgArkTest::switch_wal($node);
PgArkTest::wait_for_archived($node, $last);
PgArkTest::wait_for_archived($node);

my ($last_archived, $failed) = split /\|/,
  $node->safe_psql('postgres', 'SELECT last_archived_wal, failed_count FROM pg_stat_archiver');
is($last_archived, $last, "archiving resumed: last archived is $last");
cmp_ok($failed, '>', 0, "failures were counted ($failed)");

# Zero lost segments: the whole timeline-1 range, first to last, is in the repository.
my $first = '000000010000000000000001';
my @expected = PgArkTest::segment_range($first, $last, $segsize);
my %have = map { $_ => 1 } $ark->archived_wal_names;
my @missing = grep { !$have{$_} } @expected;
is_deeply(\@missing, [], 'no segment missing from ' . $first . ' to ' . $last
	  . ' (' . scalar(@expected) . ' segments)');
for my $s (@before, @during, @after)
{
	ok($have{$s}, "switched segment $s is in the repository");
}
my @extra = grep { PgArkTest::is_segment_name($_) && $_ gt $last } keys %have;
is_deeply(\@extra, [], 'no segment beyond the last one the server completed');

# And each one holds exactly what pg_wal holds.
$ark->check_round_trip($node, \@expected, 'after SIGKILL');

my @hidden = $ark->hidden_files;
note "hidden files left in the repository (allowed after SIGKILL): @hidden" if @hidden;

$node->stop;
is($ark->stop, 0, 'helper exits 0 on SIGTERM');

done_testing();
