
# 001_archive.pl
#     WAL archiving through archive_library = 'pg_ark' under pgbench load: every archived file
#     round-trips through `pg_ark archive-get` byte for byte; a missing file exits 1 quietly; a
#     corrupt object exits 126 loudly; and a node restored from a base backup with
#     restore_command = 'pg_ark archive-get ...' replays the archive to the primary's state.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgArkTest;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);

my $ark = PgArkTest->new(node => $primary, cluster => 'main');
$ark->configure_node($primary);
$ark->start or BAIL_OUT('helper did not start');
ok(-S $ark->socket_path, 'helper created its socket (and the socket directory)');
my $sockdir_mode = (stat(File::Basename::dirname($ark->socket_path)))[2] & 07777;
is(sprintf('%04o', $sockdir_mode), '0700', 'socket directory has mode 0700');

$ark->init_cluster;
# Idempotent: a second init of the same cluster succeeds.
my ($rc, $out, $err) =
  $ark->run_cli('init', '--config', $ark->config_file, '--cluster', 'main');
is($rc, 0, 'pg_ark init is idempotent') or diag($err);

$primary->start;

# The extension's ping goes through the same socket.
$primary->safe_psql('postgres', 'CREATE EXTENSION pg_ark');
like($primary->safe_psql('postgres', 'SELECT helper_ping()'),
	qr/^pg_ark \S+/, 'helper_ping() answers through the helper');

# Base backup first, so that recovery below has to replay everything that follows from the
# archive (pg_basebackup streams only the WAL it needs for consistency).
$primary->backup('b1');

$primary->command_ok([ 'pgbench', '-i', '-s', '1', 'postgres' ], 'pgbench -i -s 1');

# Load with WAL switches in the middle of it.
my $bench = PgArkTest::start_pgbench($primary, '-c', '2', '-t', '5000');
my @switched = PgArkTest::switch_under_load($primary, 8, $bench);
is(PgArkTest::finish_pgbench($bench), 0, 'pgbench load completed');

# Final state: stop the load (done), mark, switch, and wait until all of it is archived.
$primary->safe_psql('postgres',
	"CREATE TABLE marker (note text); INSERT INTO marker VALUES ('before final switch')");
my $expected = $primary->safe_psql('postgres',
	    'SELECT (SELECT sum(abalance) FROM pgbench_accounts) || \',\' || '
	  . '(SELECT count(*) FROM pgbench_accounts) || \',\' || '
	  . '(SELECT count(*) FROM pgbench_history) || \',\' || '
	  . '(SELECT sum(delta) FROM pgbench_history) || \',\' || '
	  . '(SELECT string_agg(note, \'|\') FROM marker)');
my $last = PgArkTest::switch_wal($primary);
PgArkTest::wait_for_archived($primary, $last);
PgArkTest::wait_for_archived($primary);

my $stats = $primary->safe_psql('postgres',
	'SELECT last_archived_wal, failed_count FROM pg_stat_archiver');
my ($last_archived, $failed) = split /\|/, $stats;
is($last_archived, $last, "pg_stat_archiver: last archived is $last");
is($failed, 0, 'no failed archive attempt');

# What the repository holds.
my @archived = $ark->archived_wal_names;
my @segments = grep { PgArkTest::is_segment_name($_) } @archived;
note "archived: @archived";
cmp_ok(scalar(@segments), '>=', 8, 'at least 8 segments archived (' . scalar(@segments) . ')');
is($segments[0], '000000010000000000000001', 'the first segment was archived');
is($segments[-1], $last, 'the last switched segment is the newest in the repository');
for my $s (@switched)
{
	ok((grep { $_ eq $s } @segments), "segment $s switched under load is in the repository");
}
my @backup_files = grep { /\.backup$/ } @archived;
is(scalar(@backup_files), 1, 'the backup history file of b1 was archived')
  or diag("archived: @archived");

# No gap from the first segment to the last.
my $segsize = PgArkTest::wal_segment_size($primary);
my %have = map { $_ => 1 } @archived;
my @missing =
  grep { !$have{$_} } PgArkTest::segment_range($segments[0], $segments[-1], $segsize);
is_deeply(\@missing, [], 'no segment missing between the first and the last');

# Every archived file (segments and the .backup file) equals the copy still in pg_wal.
for my $name (@archived)
{
	ok(-e $primary->data_dir . "/pg_wal/$name", "$name is still in pg_wal for comparison")
	  or diag('raise wal_keep_size in PgArkTest::configure_node');
}
$ark->check_round_trip($primary, \@archived, 'archived file');

# Objects are stored in the documented format: header magic and trailer magic.
{
	my $obj = $ark->object_path($segments[-1]);
	open my $fh, '<:raw', $obj or die "could not open $obj: $!";
	local $/;
	my $bytes = <$fh>;
	close $fh;
	is(substr($bytes, 0, 8), 'PGARKOB1', 'object starts with PGARKOB1');
	like(substr($bytes, -88), qr/PGARKEND/, 'object trailer holds PGARKEND');
	cmp_ok(length($bytes), '<', $segsize, 'a zstd object is smaller than the segment');
}

# The helper logged each stored file.
my $hlog = $ark->log_contents;
for my $name (@segments)
{
	like($hlog, qr/archived "\Q$name\E" (?:ahead of the archiver )?\(\d+ -> \d+ bytes/,
		"helper logged archiving $name");
}

# A name the repository does not have: exit 1, nothing on stderr, no destination file.
my $tmp = PostgreSQL::Test::Utils::tempdir('get');
{
	my $missing_name = PgArkTest::next_segment_name($last, $segsize);
	$missing_name = PgArkTest::next_segment_name($missing_name, $segsize);
	($rc, $out, $err) = $ark->archive_get($missing_name, "$tmp/$missing_name");
	is($rc, 1, "archive-get of missing $missing_name exits 1");
	is($err, '', 'archive-get of a missing file is quiet on stderr');
	ok(!-e "$tmp/$missing_name", 'no destination file for a missing WAL file');

	($rc, $out, $err) = $ark->archive_get('00000005.history', "$tmp/00000005.history");
	is($rc, 1, 'archive-get of a missing history file exits 1');
	is($err, '', 'archive-get of a missing history file is quiet on stderr');
}

# A corrupt object: flip one byte in the middle, expect 126 and a message naming the file;
# then put the original back and expect the file to come back intact.
{
	my $victim = $segments[ int(@segments / 2) ];
	my $obj = $ark->object_path($victim);
	my $mode = (stat $obj)[2] & 07777;
	open my $fh, '<:raw', $obj or die "could not open $obj: $!";
	local $/;
	my $orig = <$fh>;
	close $fh;
	my $bad = $orig;
	my $pos = int(length($bad) / 2);
	substr($bad, $pos, 1) = chr(ord(substr($bad, $pos, 1)) ^ 0xFF);
	chmod(0600, $obj) or die "chmod $obj: $!";
	open $fh, '>:raw', $obj or die "could not write $obj: $!";
	print $fh $bad;
	close $fh or die "close $obj: $!";

	($rc, $out, $err) = $ark->archive_get($victim, "$tmp/$victim");
	is($rc, 126, "archive-get of corrupted $victim exits 126");
	like($err, qr/\Q$victim\E/, 'the error names the corrupted file');
	ok(!-e "$tmp/$victim", 'no destination file written from a corrupt object');
	my @leftovers = glob("$tmp/.* $tmp/*");
	@leftovers = grep { !m{/\.\.?$} } @leftovers;
	is_deeply(\@leftovers, [], 'no temp file left in the destination directory');

	open $fh, '>:raw', $obj or die "could not write $obj: $!";
	print $fh $orig;
	close $fh or die "close $obj: $!";
	chmod($mode, $obj) or die "chmod $obj: $!";
	($rc, $out, $err) = $ark->archive_get($victim, "$tmp/$victim");
	is($rc, 0, "archive-get of restored $victim exits 0") or diag($err);
	unlink "$tmp/$victim";

	# A truncated object (trailer gone) is corrupt too, not "missing".
	chmod(0600, $obj) or die "chmod $obj: $!";
	truncate($obj, length($orig) - 40) or die "truncate $obj: $!";
	($rc, $out, $err) = $ark->archive_get($victim, "$tmp/$victim");
	is($rc, 126, "archive-get of truncated $victim exits 126");
	like($err, qr/\Q$victim\E/, 'the error names the truncated file');
	open $fh, '>:raw', $obj or die "could not write $obj: $!";
	print $fh $orig;
	close $fh or die "close $obj: $!";
	chmod($mode, $obj) or die "chmod $obj: $!";
}

# Recovery: a node restored from b1 replays every archived segment through archive-get.
my $restored = PostgreSQL::Test::Cluster->new('restored');
$restored->init_from_backup($primary, 'b1');
my $restore_command = $ark->restore_command;
$restored->append_conf(
	'postgresql.conf', qq(
archive_mode = off
restore_command = '$restore_command'
));
$restored->set_recovery_mode;
$restored->start;
ok($restored->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()'),
	'restored node finished archive recovery and promoted');
is($restored->safe_psql('postgres',
	    'SELECT (SELECT sum(abalance) FROM pgbench_accounts) || \',\' || '
	  . '(SELECT count(*) FROM pgbench_accounts) || \',\' || '
	  . '(SELECT count(*) FROM pgbench_history) || \',\' || '
	  . '(SELECT sum(delta) FROM pgbench_history) || \',\' || '
	  . '(SELECT string_agg(note, \'|\') FROM marker)'),
	$expected, 'restored node has the primary\'s data (balances, history, marker)');
my $rlog = slurp_file($restored->logfile);
like($rlog, qr/restored log file "\Q$last\E" from archive/,
	"recovery restored the last archived segment $last through archive-get");
my @restored_segments = $rlog =~ /restored log file "([0-9A-F]{24})" from archive/g;
cmp_ok(scalar(@restored_segments), '>=', 8, 'recovery fetched at least 8 segments from the archive');
unlike($rlog, qr/pg_ark: .*(error|could not)/i, 'no pg_ark error during recovery');
is($restored->safe_psql('postgres', 'SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)'),
	'00000002', 'restored node promoted to timeline 2');

$restored->stop;

# Re-archiving. PostgreSQL may hand over a file again (e.g. when it crashed after the helper
# stored it but before .done was written): identical content is accepted, different content
# under an existing name is refused and the stored object is left alone. The archiver is made
# to re-send a file by turning its .done back into .ready; a new segment wakes it up.
sub slurp_raw
{
	my ($path) = @_;
	open my $fh, '<:raw', $path or die "could not open $path: $!";
	local $/;
	my $bytes = <$fh>;
	close $fh;
	return $bytes;
}
my $status_dir = $primary->data_dir . '/pg_wal/archive_status';
$primary->safe_psql('postgres', 'CHECKPOINT');
{
	my $again = $segments[3];
	my $obj_before = slurp_raw($ark->object_path($again));
	my $offset = -s $primary->logfile;
	rename("$status_dir/$again.done", "$status_dir/$again.ready")
	  or die "could not rename $again.done: $!";
	PgArkTest::write_some_wal($primary);
	my $poke = PgArkTest::switch_wal($primary);
	PgArkTest::wait_for_archived($primary, $poke);
	ok(-e "$status_dir/$again.done", "re-sent $again (same content) is accepted");
	unlike(slurp_file($primary->logfile, $offset), qr/WARNING:  pg_ark/,
		'no WARNING when the same content is archived again');
	is(slurp_raw($ark->object_path($again)) eq $obj_before, 1,
		"the stored object of $again is unchanged");
}
{
	# Different content under an archived name: flip a byte of an old segment in pg_wal
	# (long before the last checkpoint, so the server does not need it any more).
	my $victim = $segments[2];
	my $walfile = $primary->data_dir . "/pg_wal/$victim";
	my $obj_before = slurp_raw($ark->object_path($victim));
	my $orig = slurp_raw($walfile);
	my $pos = 8192 * 10 + 100;
	open my $fh, '+<:raw', $walfile or die "could not open $walfile: $!";
	seek($fh, $pos, 0);
	print $fh chr(ord(substr($orig, $pos, 1)) ^ 0xFF);
	close $fh or die "close $walfile: $!";
	my $offset = -s $primary->logfile;
	my $failed_before =
	  $primary->safe_psql('postgres', 'SELECT failed_count FROM pg_stat_archiver');
	rename("$status_dir/$victim.done", "$status_dir/$victim.ready")
	  or die "could not rename $victim.done: $!";
	PgArkTest::write_some_wal($primary);
	my $poke = PgArkTest::switch_wal($primary);
	PgArkTest::wait_for_log($primary,
		qr/WARNING:  pg_ark: helper could not archive "\Q$victim\E": [^\n]+/,
		$offset, "different content under $victim is refused with a WARNING");
	my ($why) = slurp_file($primary->logfile, $offset) =~
	  /WARNING:  pg_ark: helper could not archive "\Q$victim\E": ([^\n]*\n(?:[^\n]*DETAIL:[^\n]*)?)/;
	note "helper's reason: " . ($why // '');
	like($why // '', qr/conflict|differ/i, 'the reason says the content differs');
	ok(-e "$status_dir/$victim.ready", "$victim stays .ready");
	is(slurp_raw($ark->object_path($victim)) eq $obj_before, 1,
		"the stored object of $victim was not overwritten");
	ok( PgArkTest::poll_until(
			sub {
				$primary->safe_psql('postgres', 'SELECT failed_count FROM pg_stat_archiver') >
				  $failed_before;
			},
			'failed_count to grow'),
		'the refusal counts as a failed attempt');

	# Put the original bytes back: the next attempt sends identical content and succeeds.
	open $fh, '+<:raw', $walfile or die "could not open $walfile: $!";
	seek($fh, $pos, 0);
	print $fh substr($orig, $pos, 1);
	close $fh or die "close $walfile: $!";
	PgArkTest::write_some_wal($primary);
	$poke = PgArkTest::switch_wal($primary);
	PgArkTest::wait_for_archived($primary, $poke);
	ok(-e "$status_dir/$victim.done", "$victim archived once its content matches again");
	$ark->check_round_trip($primary, [$victim], 'after the conflict');
}

$primary->stop;

# Clean stop: exit 0 and the socket is removed.
my $status = $ark->stop;
is($status, 0, 'helper exits 0 on SIGTERM');
ok(!-e $ark->socket_path, 'helper removed its socket on SIGTERM');

done_testing();
