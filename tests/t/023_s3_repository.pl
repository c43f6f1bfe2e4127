# 023_s3_repository.pl
#     The whole life of a cluster with its repository in S3 (s3rver on loopback, configured as
#     docs/s3.md shows): WAL archived, a full and an incremental backup while pgbench writes,
#     `pg_ark verify` clean, a restore of the chain compared with the source (pg_dumpall), and a
#     point-in-time restore to a noted time, with WAL fetched back by archive-get from S3; a
#     delta restore over a damaged copy; expiry of the older backups and their WAL.
#     The server speaks HTTPS with the settings of docs/s3.md's self-hosted example, and
#     repo-s3-part-size = 5MiB makes the incompressible table's backup part a multipart upload.
#     Recovery's restore_command is wrapped to show that archive-get's read-ahead serves it.
#     Nothing of the repository is on the local disk: only the backup lock, in lock-path.
#     With PG_ARK_TEST_CIPHER_PASS set (t/025), the repository is also encrypted.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgArkTest;

my $s3 = PgArkTest::start_s3_server();
# t/025 runs this same flow with encryption on.
my %cipher = $ENV{PG_ARK_TEST_CIPHER_PASS}
  ? ('repo-cipher-type' => 'aes-256-gcm', 'repo-cipher-pass' => $ENV{PG_ARK_TEST_CIPHER_PASS})
  : ();
my ($node, $ark) = PgArkTest::start_archiving_node('source',
	global => { %{ $s3->{global} }, 'repo-s3-part-size' => '5MiB', 'log-level' => 'debug', %cipher },
	conf => "shared_preload_libraries = 'pg_ark'\n");
sub sql { return $node->safe_psql('postgres', $_[0]); }
ok(!-e $ark->repo, 'no local repository directory: everything goes to the bucket');
like(slurp_file($ark->log_file), qr{repository "s3://pgark/\Q$s3->{prefix}\E"}, 'the helper names the S3 repository');

# Archiving.
sql('CREATE EXTENSION pg_ark');
my $segment = PgArkTest::switch_wal($node);
PgArkTest::wait_for_archived($node, $segment);
my $dest = $ark->dir . '/fetched';
my ($rc, $out, $err) = $ark->run_cli('archive-get', '--config', $ark->config_file, '--cluster',
	$ark->cluster, $segment, $dest);
is($rc, 0, "archive-get fetches $segment back from S3") or diag($err);
is(-s $dest, PgArkTest::wal_segment_size($node), 'a whole segment');
($rc, $out, $err) = $ark->run_cli('archive-get', '--config', $ark->config_file, '--cluster',
	$ark->cluster, 'FFFFFFFF00000000000000FF', "$dest.none");
is($rc, 1, 'a segment the bucket does not have: exit 1, as restore_command wants');

# A full backup, then an incremental, both while pgbench writes.
$node->command_ok([ 'pgbench', '-h', $node->host, '-p', $node->port, '-i', '-s', '1', '-q', 'postgres' ],
	'pgbench -i');
# 7 MiB of random bytes (md5 output, decoded), stored uncompressed: no compression shrinks
# it below the 5 MiB part size.
sql(q{CREATE TABLE noise (b bytea); ALTER TABLE noise ALTER COLUMN b SET STORAGE EXTERNAL;
	INSERT INTO noise SELECT decode(string_agg(md5(random()::text || g), ''), 'hex')
	FROM generate_series(1, 7 * 65536) g});
my $noise = sql('SELECT md5(b) FROM noise');
my $bench = PgArkTest::start_pgbench($node, '-c', '2', '-t', '300');
my $full = $ark->backup($node, label => 'full to s3');
is($full->{status}, 'complete', 'a full backup into S3');
my $largest = (sort { $b <=> $a } map { -s $_ }
	  glob("$s3->{data}/$s3->{prefix}/${\$ark->cluster}/backup/$full->{backup_id}/data/*._S3rver_object"))[0] // 0;
cmp_ok($largest, '>', 5 * 1024 * 1024, 'an object of the backup is larger than repo-s3-part-size');
like(slurp_file($ark->log_file), qr{stored "s3://pgark/\Q$s3->{prefix}\E/[^"]+" by multipart upload in 2 parts},
	'it was stored by multipart upload');
is(PgArkTest::finish_pgbench($bench), 0, 'pgbench ran through the full backup');
sql('CREATE TABLE after_full AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g');
$bench = PgArkTest::start_pgbench($node, '-c', '2', '-t', '200');
my $incremental = $ark->backup($node, type => 'incremental', label => 'incremental to s3');
is($incremental->{status}, 'complete', 'an incremental backup into S3');
is($incremental->{parent}, $full->{backup_id}, 'on the full');
is(PgArkTest::finish_pgbench($bench), 0, 'pgbench ran through the incremental backup');
ok($incremental->{block_files} > 0, 'the incremental stored changed blocks only for some files');

($rc, $out, $err) = $ark->run_cli('list', '--config', $ark->config_file, '--cluster', $ark->cluster);
is($rc, 0, 'pg_ark list reads the catalog from S3') or diag($err);
like($out, qr/\Q$full->{backup_id}\E.*\Q$incremental->{backup_id}\E/s, 'both backups listed');

# The point in time to come back to, then more changes.
sql('CREATE TABLE important AS SELECT 42 AS answer');
my $at_target = PgArkTest::dumpall($node);
my $target_time = sql(q{SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'});
PgArkTest::poll_until(sub { sql("SELECT now() > '$target_time'::timestamptz") eq 't' }, 'the clock moves on');
sql('DROP TABLE important');
sql('CREATE TABLE at_end AS SELECT 1 AS one');
my $at_end = PgArkTest::dumpall($node);
PgArkTest::wait_for_archived($node, PgArkTest::switch_wal($node));

($rc, $out, $err) = $ark->run_cli('verify', '--config', $ark->config_file, '--cluster', $ark->cluster);
is($rc, 0, 'pg_ark verify re-reads every object in the bucket and finds nothing wrong')
  or diag("$out\n$err");

# Restore the chain to the end of the archive.
my ($restored, $rrc, $rout, $rerr) = $ark->restore_node('restored_end');
is($rrc, 0, 'restore from S3 exits 0') or diag($rerr);
like($rout, qr/\Q$incremental->{backup_id}\E/, 'the newest backup (the chain) is restored');
# Watch what recovery asks archive-get for, and whether it was already fetched ahead.
my $asked = $ark->dir . '/restore_command.log';
my $wrapper = $ark->dir . '/restore_command.sh';
my $spool = $restored->data_dir . '/pg_wal/pg_ark_ahead';
PostgreSQL::Test::Utils::append_to_file($wrapper, sprintf(<<'EOS', $asked, $asked, PgArkTest::pg_ark_bin(), $ark->config_file, $ark->cluster));
#!/bin/sh
if [ -e "pg_wal/pg_ark_ahead/$1" ]; then echo "$1 spooled" >> '%s'; else echo "$1 asked" >> '%s'; fi
exec '%s' archive-get --config '%s' --cluster '%s' "$1" "$2"
EOS
chmod 0755, $wrapper;
$restored->append_conf('postgresql.auto.conf', "restore_command = '$wrapper %f %p'\n");
$restored->start;
PgArkTest::poll_until(sub { $restored->safe_psql('postgres', 'SELECT NOT pg_is_in_recovery()') eq 't' },
	'recovery replays the archive from S3 and promotes');
ok(PgArkTest::dumpall($restored) eq $at_end, 'pg_dumpall of the restored cluster matches the source');
is($restored->safe_psql('postgres', 'SELECT md5(b) FROM noise'), $noise, 'the multipart object restored whole');
my $calls = slurp_file($asked);
my $spooled = () = $calls =~ /^[0-9A-F]{24} spooled$/mg;
cmp_ok($spooled, '>', 0, "recovery found segments fetched ahead ($spooled of them)") or diag($calls);
like($calls, qr/^[0-9A-F]{8}\.history asked$/m, 'at the end it asked for the next timeline\'s history');
ok(!-e $spool, 'which removed what was fetched ahead (archiving is off here)');
$restored->stop;
$restored->clean_node;

# A delta restore, comparing a damaged copy with the objects in S3.
my ($copy, $crc, $cout, $cerr) = $ark->restore_node('restored_delta');
is($crc, 0, 'a second restore from S3') or diag($cerr);
my $noise_file = $node->safe_psql('postgres', q{SELECT pg_relation_filepath(reltoastrelid) FROM pg_class WHERE relname = 'noise'});
my $damaged = $copy->data_dir . "/$noise_file";
open(my $fh, '+<', $damaged) or die "$damaged: $!";
binmode $fh;
seek($fh, 3 * 1024 * 1024, 0);
print $fh "\0" x 8192;
close $fh;
unlink($copy->data_dir . '/global/pg_filenode.map') or die;
($crc, $cout, $cerr) = $ark->restore_into($copy, '--delta');
is($crc, 0, 'restore --delta from S3') or diag($cerr);
my ($rewritten, $written) = $cout =~ /^delta: rewrote (\d+) of \d+ files \((\d+) bytes written\)/m;
is($rewritten, 3, 'delta: the damaged file, the deleted one and postgresql.conf are rewritten');
cmp_ok($written // 1e9, '<', 1024 * 1024,
	"delta: of the damaged 7 MiB file only the range around the page that differs is written ($written bytes in all)");
$copy->start;
PgArkTest::poll_until(sub { $copy->safe_psql('postgres', 'SELECT NOT pg_is_in_recovery()') eq 't' },
	'the delta-restored copy recovers');
ok(PgArkTest::dumpall($copy) eq $at_end, 'pg_dumpall of the delta-restored copy matches the source');
$copy->stop;
$copy->clean_node;

# Point in time.
my ($pitr, $prc, $pout, $perr) = $ark->restore_node('restored_pitr', '--target-time', $target_time,
	'--target-action', 'promote');
is($prc, 0, 'restore to a target time exits 0') or diag($perr);
$pitr->start;
PgArkTest::poll_until(sub { $pitr->safe_psql('postgres', 'SELECT NOT pg_is_in_recovery()') eq 't' },
	'recovery stops at the target and promotes');
is($pitr->safe_psql('postgres', 'SELECT answer FROM important'), '42', 'the dropped table is back');
ok(PgArkTest::dumpall($pitr) eq $at_target, 'pg_dumpall matches the source at the target time');
$pitr->stop;
$pitr->clean_node;

# Expiry in S3: a new full backup, then retention-full = 1 keeps only it and the WAL it needs.
my $newest = $ark->backup($node, label => 'newest');
is($newest->{status}, 'complete', 'a second full backup');
my $expire_config = $ark->dir . '/expire.conf';
PostgreSQL::Test::Utils::append_to_file($expire_config,
	slurp_file($ark->config_file) =~ s/^\[global\]\n/[global]\nretention-full = 1\n/mr);
chmod 0600, $expire_config;
($rc, $out, $err) = $ark->run_cli('expire', '--config', $expire_config, '--cluster', $ark->cluster);
is($rc, 0, 'pg_ark expire in S3') or diag($err);
like($out, qr/\Q$full->{backup_id}\E/, 'the first full backup expired');
like($out, qr/\Q$incremental->{backup_id}\E/, 'with its incremental');
($rc, $out, $err) = $ark->run_cli('list', '--config', $ark->config_file, '--cluster', $ark->cluster);
unlike($out, qr/\Q$full->{backup_id}\E|\Q$incremental->{backup_id}\E/, 'neither is listed');
like($out, qr/\Q$newest->{backup_id}\E/, 'the newest is');
ok(!-e "$s3->{data}/$s3->{prefix}/${\$ark->cluster}/backup/$full->{backup_id}", 'no object of the expired backup is left');
my ($wal_dir) = glob("$s3->{data}/$s3->{prefix}/${\$ark->cluster}/wal/*");
ok(!-e "$wal_dir/$segment.ark._S3rver_object", "WAL older than the kept backup expired ($segment)");
($rc, $out, $err) = $ark->run_cli('verify', '--config', $ark->config_file, '--cluster', $ark->cluster);
is($rc, 0, 'verify: what is kept is whole, with the WAL it needs') or diag("$out\n$err");

$node->stop;
if (%cipher)
{
	# The bucket really is encrypted: another passphrase opens nothing.
	my $wrong = $ark->dir . '/wrong-pass.conf';
	my $text = slurp_file($ark->config_file) =~ s/^repo-cipher-pass = .*$/repo-cipher-pass = not the passphrase/mr;
	open(my $fh, '>', $wrong) or die "$wrong: $!";
	print $fh $text;
	close $fh;
	chmod 0600, $wrong;
	($rc, $out, $err) = $ark->run_cli('list', '--config', $wrong, '--cluster', $ark->cluster);
	isnt($rc, 0, 'encrypted: another passphrase cannot list the bucket');
	like($err, qr/wrong passphrase/, 'saying so');
	unlike($err, qr/not the passphrase|\Q$ENV{PG_ARK_TEST_CIPHER_PASS}\E/, 'without printing a passphrase');
}
$ark->stop;
done_testing();
