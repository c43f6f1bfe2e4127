# 017_wal_reach.pl
#     Recovery targets beyond the archived WAL are refused before anything is written, with the
#     messages docs/recovery.md shows: an LSN whose segment is not archived yet, a time at or after
#     the newest archived segment was stored, a time in the future. After SELECT pg_switch_wal()
#     (the hint the messages give) the same LSN and a time just before the last commit are
#     reached, each compared with the source as it was there (pg_dumpall).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgArkTest;

my ($node, $ark) = PgArkTest::start_archiving_node('source');
sub sql { return $node->safe_psql('postgres', $_[0]); }
my $hint = 'WAL not archived yet can be pushed with SELECT pg_switch_wal() on the primary';

sql('CREATE EXTENSION pg_ark');
sql('CREATE TABLE reach (id int, note text)');
my $base = $ark->backup($node, label => 'base');
is($base->{status}, 'complete', 'a full backup');
# Backups record their stop time to the second: let one pass, so the backup surely ends before
# the time noted below and only the archive can refuse it.
my $after_backup = sql('SELECT now()');
PgArkTest::poll_until(sub { sql("SELECT now() > '$after_backup'::timestamptz + interval '1.1 s'") eq 't' },
	'a second past the backup');
sql("INSERT INTO reach VALUES (1, 'archived')");
PgArkTest::wait_for_archived($node, PgArkTest::switch_wal($node));
my @segments = grep { PgArkTest::is_segment_name($_) } $ark->archived_wal_names;
my $newest = $segments[-1];
note "newest archived segment: $newest";
# Stored times may count in whole seconds (S3): the target must be a second past the storing.
my $archived_at = sql('SELECT now()');
PgArkTest::poll_until(sub { sql("SELECT now() > '$archived_at'::timestamptz + interval '1.1 s'") eq 't' },
	'a second past the archiving');

# Written but not archived: the source's current segment.
sql("INSERT INTO reach VALUES (2, 'not archived yet')");
my $lsn = sql('SELECT pg_current_wal_lsn()');
my $segment = sql("SELECT pg_walfile_name('$lsn')");
my $target_time = sql(q{SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'});
my $at_target = PgArkTest::dumpall($node);
ok(!-e $ark->object_path($segment), "the segment of $lsn ($segment) is not archived");

my $n = 0;
# Restores with @args, expecting a refusal; returns its standard error.
sub refused
{
	my ($what, @args) = @_;
	my ($refused, $rc, $out, $err) = $ark->restore_node('refused_' . ++$n, @args);
	is($rc, 2, "$what: refused with exit 2 (invalid_argument)") or diag("stdout: $out\nstderr: $err");
	ok(!-e $refused->data_dir, "$what: nothing written");
	return $err;
}

like(refused('LSN not archived', '--target-lsn', $lsn),
	qr/^pg_ark: recovery target LSN \Q$lsn\E is beyond the archived WAL: its segment \Q$segment\E is not archived on any timeline, whole or as \.partial \(newest archived segment: \Q$newest\E\); \Q$hint\E$/m,
	'LSN not archived: the message names the LSN, its segment, the newest archived one and the hint');
like(refused('time after the archive', '--target-time', $target_time),
	qr/^pg_ark: recovery target time \Q$target_time\E is beyond the archived WAL: the newest archived segment, \Q$newest\E, was stored at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, so recovery would end before reaching the target; \Q$hint\E$/m,
	'time after the archive: the message names the time, the newest segment, when it was stored and the hint');
like(refused('time in the future', '--target-time', '2999-01-01 00:00:00+00'),
	qr/^pg_ark: recovery target time 2999-01-01 00:00:00\+00 is in the future \(now \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)$/m,
	'time in the future: said so');

# A commit after the noted time (recovery to a time stops at the first one after it), then the
# hint: the current segment is archived.
PgArkTest::poll_until(sub { sql("SELECT now() > '$target_time'::timestamptz") eq 't' }, 'the clock moves on');
sql("INSERT INTO reach VALUES (3, 'after the target')");
is(PgArkTest::switch_wal($node), $segment, "pg_switch_wal() completes $segment");
PgArkTest::wait_for_archived($node, $segment);
ok(-e $ark->object_path($segment), "$segment is archived");

for my $case ([ 'LSN', '--target-lsn', $lsn ], [ 'time', '--target-time', $target_time ])
{
	my ($what, @args) = @$case;
	my ($restored, $rc, $out, $err) = $ark->restore_node('reached_' . lc($what), @args,
		'--target-action', 'promote');
	is($rc, 0, "$what now archived: restore exits 0") or do { diag($err); next };
	$restored->start;
	PgArkTest::poll_until(sub { $restored->safe_psql('postgres', 'SELECT NOT pg_is_in_recovery()') eq 't' },
		"$what: recovery reaches the target and promotes");
	ok(PgArkTest::dumpall($restored) eq $at_target, "$what: pg_dumpall matches the source at the target");
	is($restored->safe_psql('postgres', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM reach'), '1,2',
		"$what: the rows up to the target, not the one after it");
	$restored->stop;
	$restored->clean_node;
}

$node->stop;
$ark->stop;
done_testing();
