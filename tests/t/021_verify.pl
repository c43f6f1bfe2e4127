# 021_verify.pl
#     `pg_ark verify` (docs/verify.md) on a real repository:
#     - healthy: exit 0, every backup ok, how far recovery reaches; the documented command runs
#       as written;
#     - after a bit flip in a stored backup object, the deletion of a WAL segment the backup
#       needs and the truncation of a stored WAL segment after it: exit 7, each of the three
#       named on its own line (object and stored path), the same in --json;
#     - --set verifies one backup: the damaged one fails, a later intact one passes.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgArkTest;
use IPC::Run ();
use JSON::PP ();

my ($node, $ark) = PgArkTest::start_archiving_node('verify');
$node->safe_psql('postgres', 'CREATE EXTENSION pg_ark');
$node->command_ok([ 'pgbench', '-h', $node->host, '-p', $node->port, '-i', '-s', '1', '-q', 'postgres' ],
	'pgbench -i -s 1');
my $first = $ark->backup($node, label => 'to be damaged');
is($first->{status}, 'complete', 'a first full backup');
my $id = $first->{backup_id};
# WAL after it: segments a restore of the first backup replays.
my @after = PgArkTest::switch_under_load($node, 3, undef, min_bytes => 64 * 1024);
PgArkTest::wait_for_archived($node, $after[-1]);
my $second = $ark->backup($node, label => 'stays intact');
is($second->{status}, 'complete', 'a second full backup');

sub verify
{
	return $ark->run_cli('verify', '--config', $ark->config_file, '--cluster', 'main', @_);
}

# 1. Healthy.
my ($rc, $out, $err) = verify();
is($rc, 0, 'verify of a healthy repository exits 0') or diag("stdout: $out\nstderr: $err");
like($out, qr/^backup \Q$id\E \(full\): ok, \d+ objects?, .*recovery can reach the end of segment [0-9A-F]{24} \(archived at .* UTC\)$/m,
	'the first backup is ok, with how far recovery from it reaches');
like($out, qr/^verified 2 backups \(\d+ objects, .*\) and \d+ WAL files \(\d+ segments\): no problems$/m,
	'the summary says no problems');
note "healthy:\n$out";
is($node->safe_psql('postgres', 'SELECT count(*) FROM backup_verify()'), '0',
	'backup_verify() of the healthy repository returns no problem');

# The documented command, as written.
($rc, $out, $err) = $ark->run_doc_example('verify.md', 'verify.sh');
is($rc, 0, 'the documented command exits 0 on a healthy repository') or diag("stderr: $err");
like($out, qr/: no problems$/m, 'and reports no problems');

# 2. Damage: a bit flip in a stored object of the first backup (its largest: table data) ...
my $data_dir = $ark->repo . "/main/backup/$id/data";
opendir(my $dh, $data_dir) or die "could not open $data_dir: $!";
my ($object) = sort { -s "$data_dir/$b" <=> -s "$data_dir/$a" } grep { /\.ark$/ } readdir $dh;
closedir $dh;
flip_byte("$data_dir/$object", int((-s "$data_dir/$object") / 2));

# ... the last WAL segment it needs for consistency deleted ...
($rc, $out) = $ark->run_cli('info', '--config', $ark->config_file, '--cluster', 'main', $id, '--json');
my $info = JSON::PP::decode_json($out);
my $needed = $info->{wal_stop};
ok(-e $ark->object_path($needed), "$needed (needed by $id) is archived");
unlink($ark->object_path($needed)) or die "could not remove $needed: $!";

# ... and a stored WAL segment after it cut in half.
my $cut = $after[1];
my $cut_path = $ark->object_path($cut);
truncate($cut_path, int((-s $cut_path) / 2)) or die "could not truncate $cut_path: $!";

($rc, $out, $err) = verify();
is($rc, 7, 'verify of the damaged repository exits 7');
note "damaged:\n$out";
like($out, qr/^backup \Q$id\E: \S+ part \d+ \(data\/\Q$object\E\): stored object "[^"]*\/\Q$object\E" is corrupt: /m,
	'the bit flip is named: the backup, file, part and stored object');
like($out, qr/^wal \Q$needed\E: missing: backup \Q$id\E needs it for consistency \(/m,
	'the deleted segment is named, with the backup that needs it');
like($out, qr/^wal \Q$cut\E: stored object "[^"]*\Q$cut\E\.ark" is corrupt: .*truncated/m,
	'the truncated segment is named');
like($out, qr/^backup \Q$id\E \(full\): 2 problems, .*incomplete: recovery from it cannot reach a consistent state$/m,
	'the first backup is not ok');
like($out, qr/^backup \Q$second->{backup_id}\E \(full\): ok, /m, 'the second backup is ok');
like($out, qr/: 3 problems$/m, 'the summary counts 3 problems');
my ($sql_rows, $sql_notice) = ('', '');
$node->psql('postgres', 'SELECT object FROM backup_verify() ORDER BY 1', stdout => \$sql_rows, stderr => \$sql_notice);
is(scalar(split /\n/, $sql_rows), 3, 'backup_verify() returns the 3 problems as rows');
like($sql_rows, qr/^wal \Q$needed\E$/m, 'the missing segment among them');
like($sql_notice, qr/NOTICE:  verified 2 backups .*: 3 problems/, 'and its summary as a NOTICE');
is($node->safe_psql('postgres', "SELECT count(*) FROM backup_verify('$second->{backup_id}')"), '0',
	'backup_verify(id) of the intact backup returns no problem');

($rc, $out) = verify('--json');
is($rc, 7, 'verify --json exits 7 too');
my $json = eval { JSON::PP::decode_json($out) };
ok($json, 'verify --json prints JSON') or diag("$@\n$out");
my @objects = map { $_->{object} } @{ $json->{problems} // [] };
is(scalar @objects, 3, 'three problems in JSON') or diag(join("\n", @objects));
ok((grep { /^backup \Q$id\E: .*\(data\/\Q$object\E\)$/ } @objects), 'JSON names the flipped object');
ok((grep { $_ eq "wal $needed" } @objects), 'JSON names the deleted segment');
ok((grep { $_ eq "wal $cut" } @objects), 'JSON names the truncated segment');
my ($verdict) = grep { $_->{id} eq $id } @{ $json->{backups} // [] };
ok($verdict && !$verdict->{ok} && !$verdict->{wal_needed}{ok} && !defined $verdict->{reachable_until},
	'JSON: the first backup is not ok and reaches nothing');
($verdict) = grep { $_->{id} eq $second->{backup_id} } @{ $json->{backups} // [] };
ok($verdict && $verdict->{ok} && $verdict->{reachable_until}{segment},
	'JSON: the second backup is ok and reaches the archive');

# 3. --set: one backup, its objects and its WAL.
($rc, $out) = verify('--set', $id);
is($rc, 7, '--set of the damaged backup exits 7');
like($out, qr/^wal \Q$needed\E: missing/m, '--set names its missing segment');
($rc, $out, $err) = verify('--set', $second->{backup_id});
is($rc, 0, '--set of the intact backup exits 0') or diag("stdout: $out\nstderr: $err");
like($out, qr/^verified 1 backup .*: no problems$/m, '--set verifies one backup');
($rc, $out, $err) = verify('--set', '20000101-000000F');
is($rc, 1, '--set of an unknown backup exits 1');
like($err, qr/backup "20000101-000000F" of cluster "main" not found/, 'naming it');

sub flip_byte
{
	my ($path, $offset) = @_;
	open my $fh, '+<', $path or die "could not open $path: $!";
	binmode $fh;
	seek $fh, $offset, 0;
	read $fh, my $byte, 1;
	seek $fh, $offset, 0;
	print $fh chr(ord($byte) ^ 0x01);
	close $fh or die "could not close $path: $!";
	return;
}

$node->stop;
$ark->stop;
done_testing();
