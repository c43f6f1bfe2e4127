# 006_archive_ahead.pl
#     The helper stores .ready WAL files before the archiver asks (archive-ahead-workers), never
#     touching archive_status itself; when the archiver then asks, the exact same file is
#     acknowledged at once instead of being stored a second time.
#
#     Deterministic: the node starts with pg_ark.cluster empty, so its archiver never calls the
#     module and every switched segment stays .ready until the test turns archiving on.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgArkTest;

my ($node, $ark) = PgArkTest::start_archiving_node('ahead',
	cluster => 'main', node_cluster => '');    # archiving not configured yet

my @segments;
for (1 .. 4)
{
	PgArkTest::write_some_wal($node, 2000);
	push @segments, PgArkTest::switch_wal($node);
}
my $status_dir = $node->data_dir . '/pg_wal/archive_status';

# Stored without being asked.
PgArkTest::poll_until(sub { !grep { !-e $ark->object_path($_) } @segments },
	'every switched segment is in the repository before the archiver asks')
  or diag($ark->log_tail);
for my $segment (@segments)
{
	ok(-e $ark->object_path($segment), "$segment stored ahead of the archiver");
	ok(-e "$status_dir/$segment.ready", "$segment is still .ready: only PostgreSQL marks .done");
}
is($node->safe_psql('postgres', 'SELECT archived_count FROM pg_stat_archiver'),
	'0', 'the archiver itself has archived nothing yet');
$ark->check_round_trip($node, \@segments, 'stored ahead');

# Turn archiving on: the archiver's requests are acknowledged without storing anything again.
$node->append_conf('postgresql.conf', "pg_ark.cluster = 'main'");
$node->reload;
PgArkTest::wait_for_archived($node, $segments[-1]);
my ($archived, $failed) = split /\|/,
  $node->safe_psql('postgres', 'SELECT archived_count, failed_count FROM pg_stat_archiver');
cmp_ok($archived, '>=', scalar(@segments), "the archiver marked them done ($archived)");
is($failed, '0', 'no archive attempt failed');

my $log = $ark->log_contents;
for my $segment (@segments)
{
	my @ahead = $log =~ /archived "\Q$segment\E" ahead of the archiver/g;
	is(scalar(@ahead), 1, "$segment was stored once, ahead");
	unlike($log, qr/archived "\Q$segment\E" \(/, "$segment was not stored again for the archiver");
	unlike($log, qr/"\Q$segment\E" was already archived with identical content/,
		"$segment was recognised without re-reading it");
}

$node->stop;
$ark->stop;
done_testing();
