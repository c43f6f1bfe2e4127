# 011_block_tracking.pl
#     The block tracker on a real cluster: the worker runs and holds its slot; an UPDATE shows
#     up as its block; TRUNCATE, VACUUM truncation, CREATE DATABASE (both strategies) and DROP
#     DATABASE show up as limits; the tracker keeps up with pgbench (max lag reported); a
#     kill -9 of the worker (PostgreSQL then restarts every backend) loses nothing; tracking
#     switched off while WAL is removed leaves a gap that the status shows; a damaged map is
#     an error naming it; the docs' example runs.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use PgArkTest;

my $node = PostgreSQL::Test::Cluster->new('tracker');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'pg_ark'
wal_keep_size = 0
min_wal_size = '32MB'
max_wal_size = '256MB'
checkpoint_timeout = '1h'
shared_buffers = '16MB'
restart_after_crash = on
));
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_ark');

sub status
{
	my ($columns) = @_;
	return $node->safe_psql('postgres', "SELECT $columns FROM block_tracking_status()");
}

sub flush
{
	return $node->safe_psql('postgres', 'SELECT block_tracking_flush()');
}

# Rows of block_tracking_blocks(from, to) as "relfilenode|fork|limit|first|count".
sub blocks
{
	my ($from, $to, $where) = @_;
	return $node->safe_psql('postgres',
		"SELECT relfilenode, fork, coalesce(limit_block::text, '-'), coalesce(first_block::text, '-'), "
		  . "coalesce(block_count::text, '-') FROM block_tracking_blocks('$from', '$to') WHERE $where "
		  . "ORDER BY 1, 2, 4");
}

# --- the worker runs, holds its slot, status is sane
PgArkTest::poll_until(sub { status("worker_pid IS NOT NULL AND read_lsn IS NOT NULL") eq 't' },
	'the tracker is running');
is(status('enabled, slot_name, gap_start_lsn IS NULL, coverage_start_lsn IS NULL, map_files'),
	't|pg_ark_block_tracking|t|t|0', 'status: on, slot held, no gap, no map yet');
is($node->safe_psql('postgres',
	"SELECT slot_type, active FROM pg_replication_slots WHERE slot_name = 'pg_ark_block_tracking'"),
	'physical|f', 'the retention slot exists');

# --- an UPDATE shows up as its block
$node->safe_psql('postgres', q{
	CREATE TABLE tracked (id int PRIMARY KEY, payload text) WITH (fillfactor = 50);
	INSERT INTO tracked SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g;
});
my $before = flush();
isnt($before, '', 'block_tracking_flush writes a map and returns its end');
my $ctid = $node->safe_psql('postgres', "UPDATE tracked SET payload = 'changed' WHERE id = 4000 RETURNING ctid");
my ($block) = $ctid =~ /^\((\d+),/;
my $filenode = $node->safe_psql('postgres', "SELECT pg_relation_filenode('tracked')");
my $written = $node->safe_psql('postgres', 'SELECT pg_current_wal_insert_lsn()');
my $after = flush();
ok($node->safe_psql('postgres', "SELECT '$after'::pg_lsn >= '$written'::pg_lsn") eq 't',
	"the map written on request covers the UPDATE ($after >= $written)");
my $rows = blocks($before, $after, "relfilenode = $filenode AND fork = 0");
my $covered = grep { my @f = split /\|/; $f[3] ne '-' && $f[3] <= $block && $block < $f[3] + $f[4] } split /\n/, $rows;
ok($covered, "block $block of the updated row is in the map") or diag("rows: $rows");
is($node->safe_psql('postgres', "SELECT count(*) FROM block_tracking_blocks('$before', '$after') WHERE fork = 1"),
	'0', 'no free space map entries');
is(status('summarized_lsn'), $after, 'summarized_lsn is the newest map end');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM block_tracking_maps() WHERE start_lsn = '$before' AND end_lsn = '$after' AND timeline = 1"),
	'1', 'block_tracking_maps lists the map with its timeline');

# --- truncation by VACUUM: limit = the new length
$node->safe_psql('postgres', 'DELETE FROM tracked WHERE id > 1000');
$before = flush();
$node->safe_psql('postgres', 'VACUUM tracked');
$after = flush();
my $length = $node->safe_psql('postgres', "SELECT pg_relation_size('tracked') / 8192");
$rows = blocks($before, $after, "relfilenode = $filenode AND fork = 0 AND limit_block IS NOT NULL");
like($rows, qr/^\Q$filenode\E\|0\|\Q$length\E\|/m, "VACUUM truncation: main fork limit $length")
  or diag("rows: $rows");

# --- TRUNCATE: the new relfilenode is created (limit 0), the old one dropped (limit 0)
my $old = $filenode;
$before = flush();
$node->safe_psql('postgres', 'TRUNCATE tracked');
$after = flush();
$filenode = $node->safe_psql('postgres', "SELECT pg_relation_filenode('tracked')");
isnt($filenode, $old, 'TRUNCATE gave the table a new relfilenode');
like(blocks($before, $after, "relfilenode = $filenode AND fork = 0"), qr/^\Q$filenode\E\|0\|0\|/m,
	'the new relfilenode has limit 0');
like(blocks($before, $after, "relfilenode = $old AND fork = 0"), qr/^\Q$old\E\|0\|0\|/m,
	'the dropped relfilenode has limit 0');

# --- CREATE DATABASE (both strategies) and DROP DATABASE: relfilenode 0 entries
$before = flush();
$node->safe_psql('postgres', 'CREATE DATABASE copied STRATEGY FILE_COPY');
$node->safe_psql('postgres', 'CREATE DATABASE logged STRATEGY WAL_LOG');
my $copied = $node->safe_psql('postgres', "SELECT oid FROM pg_database WHERE datname = 'copied'");
my $logged = $node->safe_psql('postgres', "SELECT oid FROM pg_database WHERE datname = 'logged'");
$node->safe_psql('postgres', 'DROP DATABASE copied');
$after = flush();
my $db_rows = $node->safe_psql('postgres',
	"SELECT database, tablespace, limit_block FROM block_tracking_blocks('$before', '$after') "
	  . "WHERE relfilenode = 0 AND fork = 0 ORDER BY 1");
like($db_rows, qr/^\Q$copied\E\|1663\|0$/m, 'CREATE DATABASE ... FILE_COPY (and its DROP): directory entry, limit 0');
like($db_rows, qr/^\Q$logged\E\|1663\|0$/m, 'CREATE DATABASE ... WAL_LOG: directory entry, limit 0');
$before = flush();
$node->safe_psql('postgres', 'DROP DATABASE logged');
$after = flush();
is($node->safe_psql('postgres',
	"SELECT limit_block FROM block_tracking_blocks('$before', '$after') WHERE relfilenode = 0 AND database = $logged"),
	'0', 'DROP DATABASE: directory entry, limit 0');

# --- the tracker keeps up with pgbench
$node->command_ok([ 'pgbench', '-i', '-s', '2', '-q', '-h', $node->host, '-p', $node->port, 'postgres' ],
	'pgbench initialised');
flush();
PgArkTest::poll_until(sub { status('lag_bytes < 65536') eq 't' }, 'the tracker caught up after pgbench -i');
my $bench_start = $node->safe_psql('postgres', 'SELECT pg_current_wal_flush_lsn()');
my $bench = PgArkTest::start_pgbench($node, '-c', '4', '-j', '2', '-T', '10');
my ($max_lag, $samples) = (0, 0);
while (PgArkTest::pgbench_running($bench))
{
	my $lag = status('coalesce(lag_bytes, 0)');
	$max_lag = $lag if $lag > $max_lag;
	$samples++;
	usleep(200_000);
}
is(PgArkTest::finish_pgbench($bench), 0, 'pgbench ran');
my $bench_wal = $node->safe_psql('postgres', "SELECT pg_wal_lsn_diff(pg_current_wal_flush_lsn(), '$bench_start')");
diag(sprintf('block tracker under pgbench -c 4 for 10 s: max lag %.1f kB over %d samples (%.1f MB of WAL written)',
	$max_lag / 1024, $samples, $bench_wal / 1048576));
cmp_ok($max_lag, '<', 64 * 1024 * 1024, 'lag stayed bounded under pgbench');
$after = flush();
PgArkTest::poll_until(sub { status('lag_bytes < 65536') eq 't' }, 'the tracker caught up after pgbench');
my $pgbench_node = $node->safe_psql('postgres', "SELECT pg_relation_filenode('pgbench_accounts')");
cmp_ok($node->safe_psql('postgres',
	"SELECT count(*) FROM block_tracking_blocks('$before', '$after') WHERE relfilenode = $pgbench_node"),
	'>', 0, 'pgbench_accounts blocks are tracked');

# --- kill -9 of the worker: PostgreSQL restarts every backend; tracking continues, no gap
my $coverage = status('coverage_start_lsn');
my $summarized = flush();
my $pid = status('worker_pid');
$node->safe_psql('postgres', "UPDATE tracked SET payload = 'lost?' WHERE false");
$node->safe_psql('postgres', q{INSERT INTO tracked VALUES (1, 'after the last map')});
my $pending_block_lsn = $node->safe_psql('postgres', 'SELECT pg_current_wal_insert_lsn()');
note "kill -9 of the tracker (pid $pid)";
kill 'KILL', $pid;
PgArkTest::poll_until(
	sub {
		my $new = eval { $node->safe_psql('postgres', 'SELECT worker_pid FROM block_tracking_status()') } // '';
		return $new ne '' && $new ne $pid;
	},
	'the tracker is back after the crash restart');
my $after_crash = flush();
cmp_ok($node->safe_psql('postgres', "SELECT '$after_crash'::pg_lsn >= '$pending_block_lsn'::pg_lsn"), 'eq', 't',
	'maps cover the WAL written before the crash');
is(status('gap_start_lsn IS NULL, coverage_start_lsn'), "t|$coverage", 'no gap: the chain is unbroken');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM block_tracking_maps() WHERE start_lsn = '$summarized'"), '1',
	'the next map starts where the last one before the crash ended');
like(blocks($summarized, $after_crash, "relfilenode = $filenode AND fork = 0"), qr/^\Q$filenode\E\|0\|-\|0\|1$/m,
	'the insert made just before the crash is in it');

# --- SIGTERM: the worker writes what it read, exits, and is started again; no gap
my $before_term = flush();
my $term_pid = status('worker_pid');
$node->safe_psql('postgres', q{INSERT INTO tracked VALUES (2, 'before the terminate')});
kill 'TERM', $term_pid;
PgArkTest::poll_until(
	sub {
		my $new = $node->safe_psql('postgres', 'SELECT worker_pid FROM block_tracking_status()');
		return $new ne '' && $new ne $term_pid;
	},
	'the tracker is started again after SIGTERM');
is(status('gap_start_lsn IS NULL, coverage_start_lsn'), "t|$coverage", 'still no gap after a SIGTERM');

# --- tracking off: the slot goes; WAL removed meanwhile makes a gap once it is back on
my $last_end = flush();
$node->safe_psql('postgres', 'ALTER SYSTEM SET pg_ark.track_blocks = off; SELECT pg_reload_conf()');
PgArkTest::poll_until(sub { status('read_lsn IS NULL') eq 't' }, 'the tracker went idle');
is(status('enabled, slot_name IS NULL'), 'f|t', 'status: off, no slot');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pg_ark_block_tracking'"),
	'0', 'the slot is dropped while tracking is off');
my $idle_end = status('summarized_lsn');
my $lost_segment = $node->safe_psql('postgres', "SELECT pg_walfile_name('$idle_end')");
PgArkTest::poll_until(
	sub {
		PgArkTest::write_some_wal($node, 500);
		$node->safe_psql('postgres', 'SELECT pg_switch_wal(); CHECKPOINT');
		return $node->safe_psql('postgres', "SELECT count(*) FROM pg_ls_waldir() WHERE name = '$lost_segment'") eq '0';
	},
	"segment $lost_segment removed while tracking is off");
$node->safe_psql('postgres', 'ALTER SYSTEM SET pg_ark.track_blocks = on; SELECT pg_reload_conf()');
PgArkTest::poll_until(sub { status('read_lsn IS NOT NULL AND slot_name IS NOT NULL') eq 't' },
	'tracking is back on, with its slot');
my ($gap_start, $gap_end) = split /\|/, status('gap_start_lsn, gap_end_lsn');
is($gap_start, $idle_end, 'the gap starts where the maps ended');
ok($node->safe_psql('postgres', "SELECT '$gap_end'::pg_lsn > '$idle_end'::pg_lsn") eq 't', "and ends later ($gap_end)");
ok(slurp_file($node->logfile) =~ /block tracking has a gap from \Q$gap_start\E to \Q$gap_end\E/,
	'the gap is logged as a WARNING');
my $resumed = flush();
is(status('coverage_start_lsn, gap_start_lsn, gap_end_lsn'), "$gap_end|$gap_start|$gap_end",
	'after the next map: coverage starts at the gap end, and the gap is still reported from the files');

cmp_ok(status('map_files'), '>', 3, 'several maps on disk, none deleted (no full backup asked)');

# --- the documented example runs
my $source = $ENV{PG_ARK_SOURCE_DIR};
my ($example, $why) = PgArkTest::example_block(slurp_file("$source/docs/block-tracking.md"), 'status.sql');
ok(defined $example, 'docs/block-tracking.md has the status.sql example') or diag($why);
my ($out, $err) = ('', '');
is($node->psql('postgres', $example // '', stdout => \$out, stderr => \$err, on_error_stop => 1), 0,
	'the documented example runs') or diag($err);
like($out, qr/^t\|t\|/m, 'and shows the tracker running');

# --- a damaged map is an error naming it
my $dir = $node->data_dir . '/pg_wal/pg_ark_blockmap';
my $victim = sprintf('%s/%016X-%016X.map', $dir, map { my ($hi, $lo) = split m{/}, $_; hex($hi) * 2**32 + hex($lo) } ($summarized, $after_crash));
ok(-f $victim, 'the map to damage exists') or diag(join "\n", glob("$dir/*"));
open my $fh, '+<', $victim or die "could not open $victim: $!";
binmode $fh;
seek $fh, 60, 0;
print $fh "\xff\xfe";
close $fh;
($out, $err) = ('', '');
isnt($node->psql('postgres', "SELECT count(*) FROM block_tracking_blocks('$summarized', '$after_crash')",
	stdout => \$out, stderr => \$err), 0, 'block_tracking_blocks fails over a damaged map');
my ($victim_name) = $victim =~ m{([^/]+)$};
like($err, qr/block map ".*\Q$victim_name\E" is damaged/, 'the error names the file')
  or diag($err);

$node->stop;
ok(slurp_file($node->logfile) !~ /TRAP:|terminated by signal (?!9)/, 'no assertion failure or crash other than the kill -9');
done_testing();
