# 024_encryption.pl
#     An encrypted repository (repo-cipher-type = aes-256-gcm) end to end: WAL archived, a full
#     and an incremental backup taken, and then no stored object holds a distinctive string from
#     the database, the cluster's system identifier (in every WAL page header and pg_control) or
#     the first bytes of any archived WAL segment, with compression off so any plaintext would be
#     verbatim; a restore to the end of the archive and a point-in-time restore match the source
#     (pg_dumpall); a tampered WAL object and a tampered backup object are refused by name; a
#     wrong passphrase, a readable configuration and a missing repo-cipher-type are refused
#     without showing the passphrase; after `pg_ark repo-key change` the old passphrase is
#     refused and the new one restores the data.
use strict;
use warnings;

use File::Find;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgArkTest;

my $pass = 'tap-passphrase-' . int(rand(1e9));
my $canary = 'pg_ark-plaintext-canary-' . int(rand(1e9));
my ($node, $ark) = PgArkTest::start_archiving_node('source',
	conf => "shared_preload_libraries = 'pg_ark'\n",
	global => {
		'repo-cipher-type' => 'aes-256-gcm',
		'repo-cipher-pass' => $pass,
		'compress-type' => 'none',
	});
sub sql { return $node->safe_psql('postgres', $_[0]); }
my $repo = $ark->repo;
ok(-f "$repo/repo.key", 'pg_ark init created the repository key');
unlike(slurp_file("$repo/repo.key"), qr/\Q$pass\E/, 'repo.key does not hold the passphrase');

sql('CREATE EXTENSION pg_ark');
sql("CREATE TABLE secrets (id int PRIMARY KEY, note text)");
sql("INSERT INTO secrets SELECT g, '$canary ' || g FROM generate_series(1, 2000) g");
my $full = $ark->backup($node, label => 'full');
is($full->{status}, 'complete', 'a full backup of the encrypted repository');

sql("UPDATE secrets SET note = note || ' updated' WHERE id % 7 = 0");
sql("INSERT INTO secrets SELECT g, '$canary ' || g FROM generate_series(2001, 3000) g");
my $incr = $ark->backup($node, type => 'incremental', label => 'incremental');
is($incr->{status}, 'complete', 'an incremental backup on top');
is($incr->{parent}, $full->{backup_id}, 'it builds on the full backup');

# A point in time: what the database held then, and a change after it.
my $target_time = sql('SELECT now()');
my $at_target = PgArkTest::dumpall($node);
PgArkTest::poll_until(sub { sql("SELECT now() > '$target_time'::timestamptz + interval '1.1 s'") eq 't' },
	'the clock moves past the target');
sql("DELETE FROM secrets WHERE id > 2500");
PgArkTest::wait_for_archived($node, PgArkTest::switch_wal($node));
my $at_end = PgArkTest::dumpall($node);

# No plaintext at rest. The patterns: the canary, the system identifier as stored in every WAL
# long page header and in pg_control (8 bytes, little-endian), and the first 16 bytes of each
# archived segment as it is in pg_wal (magic 0xD110, info, timeline, page address).
my $sysid = $node->safe_psql('postgres', 'SELECT system_identifier FROM pg_control_system()');
my @patterns = ([ 'canary', $canary ], [ 'system identifier', pack('Q<', $sysid) ]);
my @archived = grep { PgArkTest::is_segment_name($_) } $ark->archived_wal_names;
ok(@archived >= 3, scalar(@archived) . ' WAL segments archived');
for my $name (@archived)
{
	my $file = $node->data_dir . "/pg_wal/$name";
	next unless -f $file;
	open my $fh, '<:raw', $file or die "could not open $file: $!";
	read($fh, my $head, 16) == 16 or die "short read of $file";
	close $fh;
	push @patterns, [ "page header of $name", $head ];
}
sub find_patterns
{
	my ($root) = @_;
	my @hits;
	find(sub {
		return unless -f $_;
		my $bytes = slurp_file($_);
		for my $p (@patterns) { push @hits, "$File::Find::name: $p->[0]" if index($bytes, $p->[1]) >= 0; }
	}, $root);
	return @hits;
}
# The detector finds them where they are in plaintext, or finding none below would mean nothing.
my @control = find_patterns($node->data_dir . '/pg_wal');
ok((grep { /canary/ } @control) && (grep { /system identifier/ } @control) && (grep { /page header/ } @control),
	'positive control: the patterns are found in the source\'s pg_wal');
my $objects = 0;
find(sub { $objects++ if -f $_ }, $repo);
ok($objects > 20, "the repository holds $objects files");
my @hits = find_patterns($repo);
is(scalar(@hits), 0, 'no stored object holds the canary, the system identifier or a WAL page header')
  or diag(join("\n", @hits[0 .. ($#hits < 20 ? $#hits : 19)]));

# Restores: to the end of the archive from the incremental chain, and to the point in time.
my $n = 0;
sub restore_and_compare
{
	my ($what, $expected, @args) = @_;
	my ($restored, $rc, $out, $err) = $ark->restore_node('restored_' . ++$n, @args);
	is($rc, 0, "$what: restore exits 0") or do { diag($err); return };
	$restored->start;
	PgArkTest::poll_until(
		sub { $restored->safe_psql('postgres', 'SELECT NOT pg_is_in_recovery()') eq 't' },
		"$what: recovery ends and the node promotes");
	ok(PgArkTest::dumpall($restored) eq $expected, "$what: pg_dumpall matches the source");
	$restored->stop;
	return;
}
restore_and_compare('end of archive', $at_end);
restore_and_compare('point in time', $at_target, '--set', $incr->{backup_id},
	'--target-time', $target_time, '--target-action', 'promote');

# A tampered WAL object: archive-get refuses it by name (126: recovery stops, never ends early).
my $victim = $ark->object_path($archived[-1]);
my $original = slurp_file($victim);
sub overwrite
{
	my ($file, $bytes) = @_;
	chmod 0640, $file;
	open my $fh, '>:raw', $file or die "could not write $file: $!";
	print $fh $bytes;
	close $fh;
	return;
}
my $flipped = $original;
substr($flipped, length($flipped) / 2, 1) = chr(ord(substr($flipped, length($flipped) / 2, 1)) ^ 0x10);
overwrite($victim, $flipped);
my $get_dir = PostgreSQL::Test::Utils::tempdir('get');
my ($rc, $out, $err) = $ark->archive_get($archived[-1], "$get_dir/$archived[-1]");
is($rc, 126, 'archive-get of a tampered WAL object fails loudly');
like($err, qr/\Q$victim\E.*authentication failed/, 'the message names the object and says why');
ok(!-e "$get_dir/$archived[-1]", 'nothing was written to the destination');
overwrite($victim, $original);
($rc, $out, $err) = $ark->archive_get($archived[-1], "$get_dir/$archived[-1]");
is($rc, 0, 'the intact object is served again');

# A tampered backup object: restore refuses it by name.
my @parts;
find(sub { push @parts, $File::Find::name if -f $_ && $File::Find::name =~ m{/backup/\Q$full->{backup_id}\E/} && -s $_ > 100000 }, "$repo/main");
ok(@parts > 0, 'the full backup has data objects') or diag("none under $repo/main");
my $part = (sort { -s $b <=> -s $a } @parts)[0];
my $part_bytes = slurp_file($part);
my $damaged = $part_bytes;
substr($damaged, 70000, 1) = chr(ord(substr($damaged, 70000, 1)) ^ 1);
overwrite($part, $damaged);
my $broken = PostgreSQL::Test::Cluster->new('broken');
($rc, $out, $err) = $ark->restore_into($broken, '--set', $full->{backup_id});
isnt($rc, 0, 'restore of a backup with a tampered object fails');
like($err, qr/authentication failed/, 'restore says the object failed authentication');
like($err, qr/\Q$part\E/, 'and names it') or diag($err);
($rc, $out, $err) = $ark->run_cli('verify', '--config', $ark->config_file, '--cluster', 'main');
is($rc, 7, 'pg_ark verify reports the tampered object');
like($out . $err, qr/authentication failed/, 'as failing authentication') or diag($out . $err);
overwrite($part, $part_bytes);
($rc, $out, $err) = $ark->run_cli('verify', '--config', $ark->config_file, '--cluster', 'main');
is($rc, 0, 'pg_ark verify passes once it is intact') or diag($out . $err);

# Wrong passphrase, readable configuration, missing repo-cipher-type: refused, passphrase unseen.
my $config_text = slurp_file($ark->config_file);
my $other = $ark->dir . '/other.conf';
sub write_other
{
	my ($text, $mode) = @_;
	open my $fh, '>', $other or die "could not write $other: $!";
	print $fh $text;
	close $fh;
	chmod $mode, $other;
	return;
}
write_other($config_text =~ s/\Q$pass\E/wrong-$pass/r, 0600);
($rc, $out, $err) = $ark->run_cli('list', '--config', $other, '--cluster', 'main');
isnt($rc, 0, 'a wrong passphrase is refused');
like($err, qr/repo-cipher-pass does not open the repository key in "\Q$repo\E\/repo.key": wrong passphrase/,
	'with a message naming the key file');
unlike($err, qr/\Q$pass\E/, 'the passphrase is not shown');
write_other($config_text, 0644);
($rc, $out, $err) = $ark->run_cli('list', '--config', $other, '--cluster', 'main');
isnt($rc, 0, 'a configuration holding the passphrase readable by others is refused');
like($err, qr/holds secrets.*mode 0644.*chmod 600/, 'with the fix');
unlike($err, qr/\Q$pass\E/, 'the passphrase is not shown');
write_other($config_text =~ s/^repo-cipher-(?:type|pass) =.*\n//mgr, 0600);
($rc, $out, $err) = $ark->run_cli('list', '--config', $other, '--cluster', 'main');
isnt($rc, 0, 'the encrypted repository is not opened without repo-cipher-type');
like($err, qr/is encrypted/, 'and the message says it is encrypted');

# Rotation: a new passphrase, no data rewritten, the old one refused, the new one restores.
my %before;
find(sub { $before{$File::Find::name} = slurp_file($_) if -f $_ && $_ ne 'repo.key' && $_ ne 'backup.lock' }, $repo);
my $new_pass = "rotated-$pass";
my $pass_file = $ark->dir . '/new.pass';
open my $pf, '>', $pass_file or die;
print $pf "$new_pass\n";
close $pf;
chmod 0644, $pass_file;
($rc, $out, $err) = $ark->run_cli('repo-key', 'change', '--config', $ark->config_file, '--new-pass-file', $pass_file);
isnt($rc, 0, 'a readable passphrase file is refused');
chmod 0600, $pass_file;
($rc, $out, $err) = $ark->run_cli('repo-key', 'change', '--config', $ark->config_file, '--new-pass-file', $pass_file);
is($rc, 0, 'pg_ark repo-key change succeeds') or diag($err);
unlike($out . $err, qr/\Q$pass\E/, 'and shows neither passphrase');
my $unchanged = 1;
for my $f (keys %before) { $unchanged = 0 if !-f $f || slurp_file($f) ne $before{$f}; }
ok($unchanged, 'no stored object changed: ' . scalar(keys %before) . ' compared');
($rc, $out, $err) = $ark->run_cli('list', '--config', $ark->config_file, '--cluster', 'main');
like($err, qr/wrong passphrase/, 'the old passphrase no longer opens the repository');
$ark->write_config($config_text =~ s/\Q$pass\E/$new_pass/r);
($rc, $out, $err) = $ark->run_cli('list', '--config', $ark->config_file, '--cluster', 'main');
is($rc, 0, 'the new passphrase does') or diag($err);
restore_and_compare('after rotation', $at_end);

# The running helper keeps the key it opened: archiving goes on after the rotation.
sql("INSERT INTO secrets VALUES (99999, 'after rotation')");
PgArkTest::wait_for_archived($node, PgArkTest::switch_wal($node));
ok(1, 'WAL is still archived after the rotation');

$node->stop;
$ark->stop;
done_testing();
