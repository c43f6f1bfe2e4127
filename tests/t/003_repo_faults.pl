
# 003_repo_faults.pl
#     Repository faults while the helper runs:
#     - unwritable (mode 0500 directories): the archiver gets a WARNING carrying the helper's
#       reason, keeps the .ready segment, and archives it once the repository is writable again;
#     - full (only with PG_ARK_TEST_SMALLFS, a small filesystem writable by this user): the
#       WARNING says there is no space, no partial object becomes visible, no temp file is left,
#       and archiving resumes with nothing missing once space is freed.
use strict;
use warnings;

use Errno qw(ENOSPC);
use File::Find ();
use File::Temp ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgArkTest;

# Checks that nothing is missing from 000000010000000000000001 to $last and that every
# segment round-trips.
sub check_complete
{
	my ($node, $ark, $last, $label) = @_;
	my $segsize = PgArkTest::wal_segment_size($node);
	my @expected = PgArkTest::segment_range('000000010000000000000001', $last, $segsize);
	my %have = map { $_ => 1 } $ark->archived_wal_names;
	my @missing = grep { !$have{$_} } @expected;
	is_deeply(\@missing, [], "$label: no segment missing up to $last");
	$ark->check_round_trip($node, \@expected, $label);
	return;
}

sub failed_count
{
	my ($node) = @_;
	return $node->safe_psql('postgres', 'SELECT failed_count FROM pg_stat_archiver');
}

#### Unwritable repository ####

my ($node, $ark) = PgArkTest::start_archiving_node('primary', cluster => 'main');

PgArkTest::write_some_wal($node);
my $seg0 = PgArkTest::switch_wal($node);
PgArkTest::wait_for_archived($node, $seg0);
ok(-e $ark->object_path($seg0), "baseline: $seg0 archived");

SKIP:
{
	skip 'running as root: directory modes do not stop root', 12 if $> == 0;

	# Make every directory of the cluster's WAL area read-only (remember the modes).
	my %modes;
	File::Find::find(
		{
			wanted => sub { $modes{$File::Find::name} = (stat $_)[2] & 07777 if -d $_; },
			no_chdir => 1
		},
		$ark->wal_dir);
	chmod(0500, $_) or die "chmod $_: $!" for sort keys %modes;

	my $offset = -s $node->logfile;
	my $failed_before = failed_count($node);
	PgArkTest::write_some_wal($node);
	my $seg = PgArkTest::switch_wal($node);
	my $end = PgArkTest::wait_for_log($node,
		qr/WARNING:  pg_ark: helper could not archive "\Q$seg\E": [^\n]+/,
		$offset, "WARNING: pg_ark: helper could not archive \"$seg\"");
	my $log = slurp_file($node->logfile, $offset);
	my ($why) = $log =~ /WARNING:  pg_ark: helper could not archive "\Q$seg\E": ([^\n]*)/;
	note "helper's reason: " . ($why // '(nothing)');
	like($why // '', qr/Permission denied/, 'the WARNING carries the helper\'s reason (EACCES)');
	my $repo = $ark->repo;
	like($why // '', qr/\Q$repo\E/, 'the reason names the path that could not be written');
	ok( PgArkTest::poll_until(sub { failed_count($node) > $failed_before },
			'failed_count to grow'),
		'pg_stat_archiver.failed_count grew');
	ok($ark->running, 'helper still runs after refusing');
	ok(-e $node->data_dir . "/pg_wal/archive_status/$seg.ready", "$seg stays .ready");
	ok(!-e $ark->object_path($seg), "$seg is not in the repository");
	is_deeply([ $ark->hidden_files ], [], 'no temp file in the repository');

	# Writable again: the .ready segment gets archived. A new segment wakes the archiver up.
	chmod($modes{$_}, $_) or die "chmod $_: $!" for sort keys %modes;
	PgArkTest::write_some_wal($node);
	my $seg2 = PgArkTest::switch_wal($node);
	PgArkTest::wait_for_archived($node, $seg2);
	ok(-e $ark->object_path($seg), "$seg archived once the repository is writable");
	is( $node->safe_psql('postgres', 'SELECT last_archived_wal FROM pg_stat_archiver'),
		$seg2, "last archived is $seg2");
	check_complete($node, $ark, $seg2, 'after unwritable repository');
}

$node->stop;
is($ark->stop, 0, 'helper exits 0 on SIGTERM');

#### Full repository ####

SKIP:
{
	my $small = $ENV{PG_ARK_TEST_SMALLFS};
	skip 'PG_ARK_TEST_SMALLFS not set (a small filesystem, e.g. a 64MB tmpfs, writable by this user)',
	  1
	  unless defined $small && $small ne '';
	BAIL_OUT("PG_ARK_TEST_SMALLFS=$small is not a writable directory")
	  unless -d $small && -w $small;

	my $repo = File::Temp::tempdir('repo_XXXX', DIR => $small, CLEANUP => 1);
	my ($full, $fark) = PgArkTest::start_archiving_node('full',
		cluster => 'full', name => 'full', repo => $repo);

	PgArkTest::write_some_wal($full);
	my $base = PgArkTest::switch_wal($full);
	PgArkTest::wait_for_archived($full, $base);
	ok(-e $fark->object_path($base), "baseline: $base archived on the small filesystem");

	# Fill the filesystem, then give back about 1MB.
	my $filler = "$small/filler_$$";
	open my $fh, '>:raw', $filler or die "could not create $filler: $!";
	my $chunk = '';
	{
		open my $rnd, '<:raw', '/dev/urandom' or die "/dev/urandom: $!";
		read($rnd, $chunk, 1024 * 1024) == 1024 * 1024 or die "short read from /dev/urandom";
		close $rnd;
	}
	my $written = 0;
	while (1)
	{
		my $n = syswrite($fh, $chunk);
		if (!defined $n)
		{
			die "writing $filler: $!" unless $! == ENOSPC;
			last;
		}
		$written += $n;
		BAIL_OUT("PG_ARK_TEST_SMALLFS=$small took 4GB without filling up; it must be small")
		  if $written > 4 * 1024 * 1024 * 1024;
	}
	close $fh;
	truncate($filler, $written > 1024 * 1024 ? $written - 1024 * 1024 : 0)
	  or die "truncate $filler: $!";
	note "filler: " . (-s $filler) . " bytes";

	# Random (poorly compressible) WAL: more than a segment's worth.
	my $offset = -s $full->logfile;
	$full->safe_psql('postgres',
		    'CREATE TABLE random_rows (t text); '
		  . 'INSERT INTO random_rows SELECT md5(random()::text) || md5(random()::text) || '
		  . 'md5(random()::text) || md5(random()::text) FROM generate_series(1, 150000)');
	my $seg = PgArkTest::switch_wal($full);
	PgArkTest::wait_for_log($full, qr/WARNING:  pg_ark: helper could not archive "[^"]+": [^\n]+/,
		$offset, 'WARNING: pg_ark: helper could not archive (repository full)');
	my $log = slurp_file($full->logfile, $offset);
	my ($failed_name, $why) = $log =~ /WARNING:  pg_ark: helper could not archive "([^"]+)": ([^\n]*)/;
	note "server said: could not archive \"" . ($failed_name // '') . "\": " . ($why // '');
	like($why // '', qr/No space left on device/i, 'the WARNING says the repository is full');

	# Let the archiver finish its retries for this round, then look at the repository.
	ok( PgArkTest::poll_until(sub { failed_count($full) >= 3 }, 'three failed attempts'),
		'the archiver retried and failed (failed_count >= 3)');
	ok(defined $failed_name && -e $full->data_dir . "/pg_wal/archive_status/$failed_name.ready",
		'the refused segment stays .ready');
	ok(defined $failed_name && !-e $fark->object_path($failed_name),
		'the refused segment is not visible in the repository');
	ok($fark->running, 'helper still runs with a full repository');
	ok( PgArkTest::poll_until(sub { !$fark->hidden_files }, 'no temp file left'),
		'no temp file left behind in the repository after the failure')
	  or diag('left: ' . join(' ', $fark->hidden_files));
	# Every visible object is complete: each one restores (no partial object).
	my @visible = $fark->archived_wal_names;
	my @bad;
	my $tmp = PostgreSQL::Test::Utils::tempdir('full_get');
	for my $name (@visible)
	{
		my ($rc, $out, $err) = $fark->archive_get($name, "$tmp/$name");
		push @bad, "$name (exit $rc: $err)" if $rc != 0;
		unlink "$tmp/$name";
	}
	is_deeply(\@bad, [], 'every visible object restores: no partial object (' . scalar(@visible)
		  . ' objects)');

	# Free the space: archiving resumes and nothing is missing.
	unlink $filler or die "unlink $filler: $!";
	PgArkTest::write_some_wal($full);
	my $last = PgArkTest::switch_wal($full);
	PgArkTest::wait_for_archived($full, $last);
	PgArkTest::wait_for_archived($full);
	is($full->safe_psql('postgres', 'SELECT last_archived_wal FROM pg_stat_archiver'),
		$last, "archiving resumed up to $last");
	ok(-e $fark->object_path($seg), "$seg archived after space was freed");
	check_complete($full, $fark, $last, 'after full repository');
	is_deeply([ $fark->hidden_files ], [], 'no temp file left in the repository');

	$full->stop;
	is($fark->stop, 0, 'helper (full) exits 0 on SIGTERM');
}

done_testing();
