# 013_incremental_fallback.pl
#     When block tracking cannot prove what changed, an incremental backup copies whole and
#     says why: tracking switched off while the WAL it would have read was recycled leaves a
#     gap; the incremental across it stores every file whole, names the gap, and restores
#     exactly; the next one uses block maps again. Also: no full backup to build on, an unknown
#     parent, an explicit parent, and docs/incremental.md's examples as written.
use strict;
use warnings;

use File::Path qw(rmtree);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgArkTest;

my ($node, $ark) = PgArkTest::start_archiving_node('source', init_extra => ['--data-checksums'],
	conf => "shared_preload_libraries = 'pg_ark'\nwal_keep_size = 0\n");
sub sql { return $node->safe_psql('postgres', $_[0]); }

sql('CREATE EXTENSION pg_ark');
$node->command_ok([ 'pgbench', '-i', '-s', '1', '-q', '-h', $node->host, '-p', $node->port, 'postgres' ],
	'pgbench initialised');

my ($rc, $out, $err) = ('', '', '');
$rc = $node->psql('postgres', 'SELECT * FROM backup_start_incremental()', stderr => \$err);
isnt($rc, 0, 'an incremental with no full backup is refused');
like($err, qr/full backup/, 'and the message says a full backup is needed first');
$rc = $node->psql('postgres', 'SELECT * FROM backup_start_differential()', stderr => \$err);
isnt($rc, 0, 'so is a differential');

isnt(sql('SELECT block_tracking_flush()'), '', 'a block map is written before the full backup');
cmp_ok(sql('SELECT count(*) FROM block_tracking_maps()'), '>', 0, 'so maps exist');
my $full = $ark->backup($node, label => 'base');
is($full->{status}, 'complete', 'full backup');
# No incremental can build on anything older than the newest full backup's start: the maps
# that end before it go.
PgArkTest::poll_until(
	sub { sql("SELECT count(*) FROM block_tracking_maps() WHERE end_lsn <= '$full->{start_lsn}'") eq '0' },
	'maps older than the full backup are removed');
$rc = $node->psql('postgres', "SELECT * FROM backup_start_incremental('20200101-000000F')",
	stderr => \$err);
isnt($rc, 0, 'an unknown parent is refused');
like($err, qr/20200101-000000F/, 'naming it');

# Tracking off; the WAL of the changes made meanwhile is recycled before it comes back on.
sql('ALTER SYSTEM SET pg_ark.track_blocks = off');
$node->reload;
PgArkTest::poll_until(sub { sql('SELECT NOT enabled AND slot_name IS NULL FROM block_tracking_status()') eq 't' },
	'tracking is off and its slot dropped');
my $summarized = sql('SELECT summarized_lsn FROM block_tracking_status()');
$node->command_ok([ 'pgbench', '-c', '2', '-t', '300', '-h', $node->host, '-p', $node->port, 'postgres' ],
	'changes while tracking is off');
sql("UPDATE pgbench_branches SET filler = 'changed while untracked'");
PgArkTest::poll_until(
	sub {
		PgArkTest::wait_for_archived($node, PgArkTest::switch_wal($node));
		sql('CHECKPOINT');
		sql("SELECT count(*) FROM pg_ls_waldir() WHERE name = pg_walfile_name('$summarized')") eq '0';
	},
	'the WAL tracking stopped at is recycled');
sql('ALTER SYSTEM SET pg_ark.track_blocks = on');
$node->reload;
PgArkTest::poll_until(sub { sql('SELECT gap_start_lsn IS NOT NULL FROM block_tracking_status()') eq 't' },
	'block_tracking_status() reports the gap');

my @checks;
my $across = $ark->backup($node, type => 'incremental', label => 'across the gap');
is($across->{status}, 'complete', 'an incremental across the gap completes');
is($across->{parent}, $full->{backup_id}, 'on the full backup');
like($across->{fallback}, qr/gap/i, 'it says it fell back because of the gap');
is($across->{block_files}, '0', 'no file stored as blocks');
cmp_ok($across->{whole_files}, '>', 0, 'every file stored whole');
is($across->{copied_bytes}, $across->{original_bytes}, 'so it copies the whole data directory');
push @checks, [ $across, PgArkTest::dumpall($node) ];

sql("UPDATE pgbench_accounts SET filler = 'after the gap' WHERE aid % 5000 = 0");
my $after = $ark->backup($node, type => 'incremental', label => 'after the gap');
is($after->{parent}, $across->{backup_id}, 'the next incremental builds on it');
is($after->{fallback}, '', 'and uses block maps again');
cmp_ok($after->{block_files}, '>', 0, 'storing changed blocks');
cmp_ok($after->{copied_bytes}, '<', $after->{original_bytes} / 4, 'a fraction of the data directory');
push @checks, [ $after, PgArkTest::dumpall($node) ];

# An explicit parent: the full backup, across the gap again.
my $explicit = $ark->backup($node, type => 'incremental', parent => $full->{backup_id},
	label => 'explicit parent');
is($explicit->{parent}, $full->{backup_id}, 'an explicit parent is used');
like($explicit->{fallback}, qr/gap/i, 'and the gap since it is reported again');
push @checks, [ $explicit, PgArkTest::dumpall($node) ];

# docs/incremental.md, as written.
my $doc = PostgreSQL::Test::Utils::slurp_file("$ENV{PG_ARK_SOURCE_DIR}/docs/incremental.md");
for my $marker ('incremental', 'differential', 'chain')
{
	my ($example, $why) = PgArkTest::example_block($doc, $marker);
	ok(defined $example, "docs/incremental.md has the $marker example") or diag($why);
	next unless defined $example;
	($rc, $out, $err) = ('', '', '');
	$rc = $node->psql('postgres', $example, stdout => \$out, stderr => \$err);
	is($rc, 0, "the $marker example runs") or diag($err);
	unlike($err, qr/ERROR/, "the $marker example raises no error");
}
like(sql('SELECT string_agg(backup_type, \',\' ORDER BY backup_id) FROM backup_list()'),
	qr/differential/, 'the examples took a differential');

PgArkTest::wait_for_archived($node, PgArkTest::switch_wal($node));
for my $check (@checks)
{
	my ($b, $expected) = @$check;
	my $name = 'restored_' . ($b->{label} =~ s/\W/_/gr);
	my ($restored, $rrc, $rout, $rerr) = $ark->restore_node($name, '--set', $b->{backup_id});
	is($rrc, 0, "$b->{label}: restore exits 0") or diag($rerr);
	next if $rrc != 0;
	$restored->append_conf('postgresql.conf', "recovery_target = 'immediate'\nrecovery_target_action = 'promote'\n");
	$restored->start;
	PgArkTest::poll_until(
		sub { $restored->safe_psql('postgres', 'SELECT NOT pg_is_in_recovery()') eq 't' },
		"$b->{label}: recovery finishes");
	ok(PgArkTest::dumpall($restored) eq $expected, "$b->{label}: pg_dumpall matches the source");
	$restored->stop;
	$restored->clean_node;
}

$node->stop;
$ark->stop;
done_testing();
