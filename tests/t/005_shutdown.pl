
# 005_shutdown.pl
#     A clean shutdown that arrives while the archiver is waiting for the helper.
#
#     The postmaster tells the archiver to do its last cycle with SIGUSR2, which sets the
#     archiver's latch. If the archive module's own wait loop swallows that latch event
#     (ResetLatch without setting it again), the archiver goes back to sleep for
#     PGARCH_AUTOWAKE_INTERVAL (60 s) after the cycle, and `pg_ctl stop` times out. The helper is
#     frozen with SIGSTOP so that the request is certainly in flight when the shutdown comes.
use strict;
use warnings;

use IPC::Run ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use PgArkTest;

my ($node, $ark) = PgArkTest::start_archiving_node('primary', cluster => 'main');

PgArkTest::write_some_wal($node);
my $seg0 = PgArkTest::switch_wal($node);
PgArkTest::wait_for_archived($node, $seg0);

# Freeze the helper; the next archive request connects (the kernel accepts it into the backlog)
# and waits for a reply.
kill 'STOP', $ark->pid or die "could not SIGSTOP the helper: $!";
PgArkTest::write_some_wal($node);
my $seg1 = PgArkTest::switch_wal($node);
ok( PgArkTest::poll_until(
		sub {
			$node->safe_psql('postgres',
				"SELECT wait_event FROM pg_stat_activity WHERE backend_type = 'archiver'") eq
			  'Extension';
		},
		'the archiver waiting in the pg_ark module'),
	"the archiver is waiting for the (frozen) helper to archive $seg1");

# Clean shutdown while the request is in flight.
my $offset = -s $node->logfile;
my ($out, $err) = ('', '');
my $pg_ctl = IPC::Run::start(
	[ 'pg_ctl', '-D', $node->data_dir, '-m', 'fast', '-w', '-t', '170', 'stop' ],
	'>', \$out, '2>', \$err, IPC::Run::timeout(180));
PgArkTest::wait_for_log($node, qr/checkpoint complete: .*|shutdown checkpoint complete/, $offset,
	'the shutdown checkpoint is done (the postmaster now sends SIGUSR2 to the archiver)');
# Not a wait for a condition: it only gives the postmaster time to signal the archiver before
# the helper is thawed. If it is too short, the test passes without exercising the race; it
# cannot fail because of it.
usleep(500_000);

my $thawed = time;
kill 'CONT', $ark->pid or die "could not SIGCONT the helper: $!";
$pg_ctl->finish;
my $elapsed = time - $thawed;
is($pg_ctl->result(0), 0, 'pg_ctl stop succeeded') or diag("stdout: $out\nstderr: $err");
cmp_ok($elapsed, '<', 20,
	sprintf('server shut down %.1fs after the helper answered (not after the archiver\'s 60s nap)',
		$elapsed));
$node->_update_pid(0);

# The final archive cycle shipped everything, including the segment switched at shutdown.
is_deeply([ PgArkTest::ready_files($node) ], [], 'no .ready file left after a clean shutdown');
ok(-e $ark->object_path($seg1), "$seg1 archived");
my $log = slurp_file($node->logfile, $offset);
unlike($log, qr/WARNING:  pg_ark/, 'no pg_ark WARNING during shutdown');

is($ark->stop, 0, 'helper exits 0 on SIGTERM');

done_testing();
