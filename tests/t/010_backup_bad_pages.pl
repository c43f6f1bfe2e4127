# 010_backup_bad_pages.pl
#     With data checksums on, a page that fails its checksum is copied as it is (the backup
#     stays complete: replay may still fix it), but it is reported: a WARNING in the session
#     that took the backup and a count in the catalog.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgArkTest;

my ($node, $ark) = PgArkTest::start_archiving_node('bad_pages', init_extra => ['--data-checksums']);
$node->safe_psql('postgres', q(
	CREATE EXTENSION pg_ark;
	CREATE TABLE damaged AS SELECT g, md5(g::text) AS payload FROM generate_series(1, 20000) g;
	CHECKPOINT;
));
my $file = $node->safe_psql('postgres', "SELECT pg_relation_filepath('damaged')");
my $path = $node->data_dir . "/$file";
$node->stop;

# Flip a byte in the middle of block 3's tuple data: its checksum no longer matches, and its
# LSN (unchanged) is older than any backup's start, so replay would not rewrite it.
open my $fh, '+<', $path or die "could not open $path: $!";
binmode $fh;
my $offset = 3 * 8192 + 4000;
seek $fh, $offset, 0;
read $fh, my $byte, 1;
seek $fh, $offset, 0;
print $fh chr(ord($byte) ^ 0xFF);
close $fh;
$node->start;

my $backup = $ark->backup($node, label => 'with a bad page');
is($backup->{status}, 'complete', 'the backup completes');
like($backup->{stderr}, qr/WARNING:.*1 page\(s\) with invalid checksums in 1 file\(s\): \Q$file\E \(block 3\)/,
	'the session is warned, naming the file and block');
my ($rc, $out) = $ark->run_cli('info', '--config', $ark->config_file, '--cluster', 'main',
	$backup->{backup_id}, '--json');
is($rc, 0, 'pg_ark info exits 0');
like($out, qr/"bad_page_count"\s*:\s*1\b/, 'the catalog counts the bad page');

$node->stop;
$ark->stop;
done_testing();
