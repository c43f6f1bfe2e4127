# 014_recovery_targets.pl
#     Point-in-time recovery, as docs/recovery.md walks it (pgBackRest's user guide scenario):
#     important data, the target noted, the table dropped; restores to the time, the LSN, the
#     transaction and the restore point bring it back, each compared with the source as it was at
#     the target (pg_dumpall); a backup taken after the drop is refused for that time, naming the
#     one that can reach it; --target-immediate stops at the backup's end; and a target inside an
#     incremental chain restores the chain and stops there.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgArkTest;

my ($node, $ark) = PgArkTest::start_archiving_node('source',
	conf => "shared_preload_libraries = 'pg_ark'\n");
sub sql { return $node->safe_psql('postgres', $_[0]); }
my $doc = slurp_file("$ENV{PG_ARK_SOURCE_DIR}/docs/recovery.md");
sub example
{
	my ($marker) = @_;
	my ($text, $why) = PgArkTest::example_block($doc, $marker);
	defined $text or BAIL_OUT("docs/recovery.md: $why");
	return $text;
}

# Polls until the source's clock is more than a second past $moment (a timestamptz).
sub wait_past
{
	my ($moment) = @_;
	PgArkTest::poll_until(sub { sql("SELECT now() > '$moment'::timestamptz + interval '1.1 s'") eq 't' },
		"a second past $moment");
}

sql('CREATE EXTENSION pg_ark');
sql('CREATE TABLE kept AS SELECT g AS id FROM generate_series(1, 1000) g');
my $base = $ark->backup($node, label => 'before the data');
is($base->{status}, 'complete', 'a full backup before the important data');
wait_past(sql('SELECT now()'));

# The docs' steps, as written.
sql(example('important.sql'));
my $at_target = PgArkTest::dumpall($node);
my ($target_time, $target_lsn) = split /\|/, sql(example('record.sql') =~ s/;\s*SELECT pg_create.*//sr);
like($target_time, qr/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00$/, "target time noted: $target_time");
my $xid = sql('SELECT xmin FROM important_table');
sql("SELECT pg_create_restore_point('before_the_drop')");
# The drop commits strictly after the noted time.
PgArkTest::poll_until(sub { sql("SELECT now() > '$target_time'::timestamptz") eq 't' }, 'the clock moves on');
sql(example('mistake.sql'));
is(sql("SELECT count(*) FROM pg_class WHERE relname = 'important_table'"), '0', 'the table is gone');

# Backups record their stop time to the second: let a second pass so this one surely ends after
# the target.
wait_past(sql("SELECT '$target_time'::timestamptz"));
my $after = $ark->backup($node, label => 'after the drop');
PgArkTest::wait_for_archived($node, PgArkTest::switch_wal($node));

my $n = 0;
# Restores with @args, starts the node, waits for the promotion; returns it (or undef).
sub restore_to
{
	my ($what, @args) = @_;
	my ($restored, $rc, $out, $err) = $ark->restore_node('restored_' . ++$n, @args);
	is($rc, 0, "$what: restore exits 0") or do { diag($err); return undef };
	$restored->start;
	PgArkTest::poll_until(
		sub { $restored->safe_psql('postgres', 'SELECT NOT pg_is_in_recovery()') eq 't' },
		"$what: recovery reaches the target and promotes");
	return ($restored, $out);
}

for my $case (
	[ 'time', [ '--target-time', $target_time ] ],
	[ 'LSN', [ '--target-lsn', $target_lsn ] ],
	[ 'xid', [ '--set', $base->{backup_id}, '--target-xid', $xid ] ],
	[ 'restore point', [ '--set', $base->{backup_id}, '--target-name', 'before_the_drop' ] ])
{
	my ($what, $args) = @$case;
	my ($restored, $out) = restore_to($what, @$args, '--target-action', 'promote');
	next unless $restored;
	like($out, qr/\Q$base->{backup_id}\E/, "$what: the backup from before the target is used");
	is($restored->safe_psql('postgres', 'SELECT message FROM important_table'), 'Important Data',
		"$what: the dropped table is back");
	ok(PgArkTest::dumpall($restored) eq $at_target, "$what: pg_dumpall matches the source at the target");
	like(slurp_file($restored->data_dir . '/postgresql.auto.conf'), qr/^recovery_target_\w+ = /m,
		"$what: the target is in postgresql.auto.conf");
	$restored->stop;
	$restored->clean_node;
}

# A backup that ends after the target cannot stop before it: refused, naming the one that can.
my ($refused_node, $rc, $out, $err) = $ark->restore_node('refused', '--set', $after->{backup_id},
	'--target-time', $target_time);
isnt($rc, 0, 'a backup ending after the target time is refused');
like($err, qr/\Q$after->{backup_id}\E.*after the recovery target.*backups that end before it: \Q$base->{backup_id}\E/s,
	'the message names the backup that could reach it');
ok(!-e $refused_node->data_dir . '/global/pg_control', 'nothing was restored');
($refused_node, $rc, $out, $err) = $ark->restore_node('refused_time', '--target-time', 'yesterday');
isnt($rc, 0, 'a malformed time is refused');
like($err, qr/--target-time "yesterday": expected/, 'saying what is expected');

# --target-immediate: the backup's own end, before the important data existed.
my ($immediate) = restore_to('immediate', '--set', $base->{backup_id}, '--target-immediate',
	'--target-action', 'promote');
if ($immediate)
{
	is($immediate->safe_psql('postgres', "SELECT count(*) FROM pg_class WHERE relname = 'important_table'"),
		'0', 'immediate: stops before the data created after the backup');
	is($immediate->safe_psql('postgres', 'SELECT count(*) FROM kept'), '1000', 'immediate: the backup\'s data');
	$immediate->stop;
	$immediate->clean_node;
}

# A target inside an incremental chain: the incremental before it, restored with its full.
sql('CREATE TABLE chain (note text)');
sql("INSERT INTO chain VALUES ('before the incremental')");
my $incremental = $ark->backup($node, type => 'incremental', label => 'chain');
is($incremental->{parent}, $after->{backup_id}, 'an incremental on the newest backup');
wait_past(sql('SELECT now()'));
sql("INSERT INTO chain VALUES ('after the incremental, before the target')");
my $chain_time = sql(q{SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'});
my $chain_expected = PgArkTest::dumpall($node);
PgArkTest::poll_until(sub { sql("SELECT now() > '$chain_time'::timestamptz") eq 't' }, 'the clock moves on');
sql("INSERT INTO chain VALUES ('after the target')");
PgArkTest::wait_for_archived($node, PgArkTest::switch_wal($node));
my ($in_chain, $chain_out) = restore_to('in a chain', '--target-time', $chain_time, '--target-action', 'promote');
if ($in_chain)
{
	like($chain_out, qr/\Q$incremental->{backup_id}\E/, 'in a chain: the incremental is chosen');
	ok(PgArkTest::dumpall($in_chain) eq $chain_expected, 'in a chain: pg_dumpall matches the source at the target');
	$in_chain->stop;
}

$node->stop;
$ark->stop;
done_testing();
