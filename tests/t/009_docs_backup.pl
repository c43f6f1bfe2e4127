# 009_docs_backup.pl
#     docs/backup.md works as written: the grant, the backup taken by the granted role, and the
#     restore command (only machine paths replaced), after which the restored cluster has the
#     data.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgArkTest;

my $source = $ENV{PG_ARK_SOURCE_DIR};
BAIL_OUT('PG_ARK_SOURCE_DIR is not set') unless defined $source && $source ne '';
my $doc = slurp_file("$source/docs/backup.md");
my %example;
for my $marker ('grant.sql', 'backup.sql')
{
	my ($text, $lang) = PgArkTest::example_block($doc, $marker);
	ok(defined $text, "docs/backup.md has the $marker example") or diag($lang);
	$example{$marker} = $text // '';
}

my ($node, $ark) = PgArkTest::start_archiving_node('docs_backup');
$node->safe_psql('postgres', 'CREATE TABLE precious AS SELECT g FROM generate_series(1, 5000) g');

$node->safe_psql('postgres', $example{'grant.sql'});
my ($out, $err) = ('', '');
my $rc = $node->psql('postgres', $example{'backup.sql'}, stdout => \$out, stderr => \$err,
	extra_params => [ '-U', 'backup_operator', '-A' ]);
is($rc, 0, 'the documented backup runs as backup_operator') or diag($err);
like($out, qr/\|complete\|/, 'and completes');
$node->safe_psql('postgres', 'INSERT INTO precious VALUES (-1)');
PgArkTest::wait_for_archived($node, PgArkTest::switch_wal($node));

my $restored = PostgreSQL::Test::Cluster->new('docs_restored');
($rc, $out, $err) = $ark->run_doc_example('backup.md', 'restore.sh',
	'/var/lib/postgresql/15/main' => $restored->data_dir);
is($rc, 0, 'the documented restore command succeeds') or diag($err);
$restored->append_conf('postgresql.conf', "port = ${\ $restored->port}\narchive_mode = off\n");
$restored->start;
PgArkTest::poll_until(sub { $restored->safe_psql('postgres', 'SELECT NOT pg_is_in_recovery()') eq 't' },
	'the restored cluster finishes recovery');
is($restored->safe_psql('postgres', 'SELECT count(*), min(g) FROM precious'), '5001|-1',
	'the restored cluster has the data, including what was written after the backup');

$restored->stop;
$node->stop;
$ark->stop;
done_testing();
