# 020_expire.pl
#     Retention and expiry (docs/retention.md) on a real cluster: retention-full = 2 (set in the
#     cluster's section, over a global 9) and retention-diff = 1; full, differential and
#     incremental backups with writes in between, each followed by the helper's own expiry, and
#     the exact set kept asserted after each (pg_ark list --json). Then the documented
#     `pg_ark expire --dry-run` removes nothing (the repository's listing is identical), a
#     backup killed with its helper leaves parts that `pg_ark expire` removes, `pg_ark stop`
#     pauses expiry, and the oldest kept backup, restored and recovered to the end of the
#     archive after WAL expiry, matches the source (pg_dumpall).
use strict;
use warnings;

use File::Find;
use File::Path qw(make_path);
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgArkTest;

# The helper holds a backup before its copy while this file exists (as in 008).
my $hold = PostgreSQL::Test::Utils::tempdir('hold') . '/hold-copy';
$ENV{PG_ARK_TEST_HOLD_COPY} = $hold;

my ($node, $ark) = PgArkTest::start_archiving_node('source',
	global => { 'retention-full' => 9, 'retention-diff' => 1 },
	conf => "shared_preload_libraries = 'pg_ark'\n");
my $config = $ark->config_file;
my $repo = $ark->repo;

# The cluster's own retention-full overrides the global one. The helper reads its
# configuration once: restart it.
$ark->stop;
my $config_text = slurp_file($config) . "retention-full = 2\n";
$ark->write_config($config_text);
$ark->start or BAIL_OUT('helper did not restart');

sub sql { return $node->safe_psql('postgres', $_[0]); }
sub cli
{
	my (@args) = @_;
	return $ark->run_cli(@args, '--config', $config, '--cluster', 'main');
}

sql('CREATE EXTENSION pg_ark');
sql('CREATE TABLE t (id int, v text)');

my $round = 0;
# A small write and a finished segment, so every backup starts in a new segment and there is
# WAL to expire.
sub write_some
{
	$round++;
	sql("INSERT INTO t SELECT g, 'round $round' FROM generate_series(1, 200) g");
	PgArkTest::wait_for_archived($node, PgArkTest::switch_wal($node));
}

my (%id, %name);
sub take
{
	my ($name, $type) = @_;
	my $b = $ark->backup($node, type => $type, label => $name);
	is($b->{status}, 'complete', "$name: $type backup complete");
	$id{$name} = $b->{backup_id};
	$name{ $b->{backup_id} } = $name;
	return $b;
}

sub listed
{
	my ($rc, $out, $err) = cli('list', '--json');
	is($rc, 0, 'pg_ark list --json') or diag($err);
	my $list = eval { decode_json($out) } // [];
	return @$list;
}

# Asserts the exact catalog: every backup listed, by name (unknown ids as they are), with its
# status unless complete ("X:failed").
sub catalog_is
{
	my ($expected, $what) = @_;
	my @got = map {
		($name{ $_->{id} } // $_->{id}) . ($_->{status} eq 'complete' ? '' : ":$_->{status}")
	} listed();
	is_deeply(\@got, $expected, "$what: the catalog holds exactly @$expected");
}

# Every WAL file in the repository, by name.
sub wal_files
{
	my @names;
	find(sub { push @names, $1 if /^([0-9A-F]{24}(?:\.partial|\.[0-9A-F]{8}\.backup)?)\.ark$/ },
		"$repo/main/wal");
	return sort @names;
}

# Every file and directory under the repository (or under the given directories of it) with
# its size and mtime; the lock file aside: taking it is not a change.
sub repository_listing
{
	my (@under) = @_;
	my @lines;
	find({ no_chdir => 1, wanted => sub {
		return if $File::Find::name =~ m{/backup\.lock$};
		my @st = lstat($File::Find::name);
		push @lines, "$File::Find::name $st[7] $st[9]";
	} }, @under ? map { "$repo/$_" } @under : $repo);
	return join("\n", sort @lines);
}

sub wal_start
{
	my ($name) = @_;
	my ($b) = grep { $_->{id} eq $id{$name} } listed();
	return $b->{wal_start};
}

# 1. Backups, each followed by the helper's expiry.
write_some();
my @wal_before = wal_files();
ok(scalar(@wal_before) > 0, 'WAL is archived before the first backup');
take('F1', 'full');
catalog_is(['F1'], 'after F1');
ok(!(grep { $_ lt wal_start('F1') } wal_files()), 'the expiry after F1 removed the WAL before it');
write_some();
take('D1', 'differential');
write_some();
take('I1', 'incremental');
write_some();
take('F2', 'full');
catalog_is([qw(F1 D1 I1 F2)], 'after F2 (two fulls, one differential)');
write_some();

take('D2', 'differential');
catalog_is([qw(F1 F2 D2)], 'after D2: D1 (retention-diff = 1) went with I1, built on it');
like($ark->log_contents, qr/expired backup \Q$id{D1}\E \(beyond retention-diff = 1\)/,
	'the helper logged why D1 went');
like($ark->log_contents, qr/expired backup \Q$id{I1}\E \(builds on expired backup \Q$id{D1}\E\)/,
	'and why I1 went');
ok(!-d "$repo/main/backup/$id{D1}" && !-d "$repo/main/backup/$id{I1}", 'their directories are gone');
ok(!(grep { $_ lt wal_start('F1') } wal_files()), 'WAL older than F1, the oldest kept backup, is gone');
ok((grep { $_ eq wal_start('F1') } wal_files()), "F1's first segment is kept");
write_some();

take('I2', 'incremental');
catalog_is([qw(F1 F2 D2 I2)], 'after I2');
write_some();
take('F3', 'full');
catalog_is([qw(F2 D2 I2 F3)], 'after F3: F1 went (retention-full = 2)');
ok(!(grep { $_ lt wal_start('F2') } wal_files()), 'WAL older than F2 is gone');
ok((grep { $_ eq wal_start('F2') } wal_files()), "F2's first segment is kept");
write_some();

# 2. A backup killed with its helper, with parts left behind (the hold keeps the copy from
# starting, so one is put there as a copy interrupted half-way leaves it).
PostgreSQL::Test::Utils::append_to_file($hold, '');
my $script = PostgreSQL::Test::Utils::tempdir('session') . '/backup.sql';
PostgreSQL::Test::Utils::append_to_file($script, "SELECT backup_id FROM backup_start_full('killed');\n");
my ($sout, $serr) = ('', '');
my $session = IPC::Run::start(
	[ 'psql', '-X', '-A', '-t', '-h', $node->host, '-p', $node->port, '-d', 'postgres' ],
	'<', $script, '>', \$sout, '2>', \$serr, IPC::Run::timeout(PgArkTest::timeout()));
my $killed = '';
PgArkTest::poll_until(sub {
	$killed = sql("SELECT backup_id FROM backup_progress() WHERE phase = 'copying'");
	return $killed ne '';
}, 'the backup to kill is copying');
$name{$killed} = 'X';
$ark->kill9;
eval { $session->finish };
unlink $hold or die "could not remove $hold: $!";
$ark->start or BAIL_OUT('helper did not restart');
make_path("$repo/main/backup/$killed/data");
PostgreSQL::Test::Utils::append_to_file("$repo/main/backup/$killed/data/00000001.ark", 'x' x 5000);
catalog_is([qw(F2 D2 I2 F3 X:failed)], 'the killed backup is listed failed');

# 3. The documented dry run, with retention-full = 1: it names what would go and removes nothing.
$ark->write_config($config_text =~ s/retention-full = 2\n$/retention-full = 1\n/r);
my $listing = repository_listing();
my ($rc, $out, $err) = $ark->run_doc_example('retention.md', 'expire-dry-run.sh');
is($rc, 0, 'the documented dry run succeeds') or diag($err);
note "dry run:\n$out";
like($out, qr/^would expire backup \Q$id{I2}\E \(builds on expired backup \Q$id{D2}\E\), /m, 'it names I2');
like($out, qr/^would expire backup \Q$id{D2}\E \(builds on expired backup \Q$id{F2}\E\), /m, 'D2');
like($out, qr/^would expire backup \Q$id{F2}\E \(beyond retention-full = 1\), /m, 'F2');
like($out, qr/^would expire backup \Q$killed\E \(leftovers of a failed backup\), 4\.9 KiB$/m,
	"the killed backup's parts");
like($out, qr/^would expire WAL file [0-9A-F]{24} \(before \Q${\ wal_start('F3')}\E, where kept backup \Q$id{F3}\E starts\), /m,
	'WAL before F3');
like($out, qr/^would expire 4 backups and \d+ WAL files, freeing [\d.]+ [KM]iB\nwould keep 1 backup \(retention-full = 1, retention-diff = 1\): \Q$id{F3}\E$/m,
	'and totals it');
is(repository_listing(), $listing, 'the dry run changed nothing in the repository');
$ark->write_config($config_text);

# 4. Paused (pg_ark stop), expiry is refused.
my $stored = repository_listing('main/backup', 'main/wal');
($rc) = cli('stop');
is($rc, 0, 'pg_ark stop');
($rc, $out, $err) = cli('expire');
is($rc, 3, 'pg_ark expire refused while paused (exit 3)');
like($err, qr/^pg_ark: expiry refused: .*pg_ark start/m, 'saying how to resume');
is(repository_listing('main/backup', 'main/wal'), $stored, 'and nothing was removed');
($rc) = cli('start');
is($rc, 0, 'pg_ark start');

# 5. From SQL, through the helper (which has retention-full = 2): the same item as a row.
is(sql('SELECT kind, name, bytes, reason FROM backup_expire(true)'),
	"backup|$killed|5000|leftovers of a failed backup", 'backup_expire(true) returns its row');
is(repository_listing('main/backup', 'main/wal'), $stored, 'and removes nothing');

# pg_ark expire with retention-full = 2: only the killed backup's parts go; its record stays
# while it is newer than the oldest kept backup.
($rc, $out, $err) = cli('expire');
is($rc, 0, 'pg_ark expire') or diag($err);
note "expire:\n$out";
is($out, "expired backup $killed (leftovers of a failed backup), 4.9 KiB\n"
	  . "expired 1 backup, 4.9 KiB freed\n"
	  . "kept 4 backups (retention-full = 2, retention-diff = 1): $id{F2}, $id{D2}, $id{I2}, $id{F3}\n",
	'it removed the parts of the killed backup and nothing else');
ok(!-e "$repo/main/backup/$killed/data", 'the parts are gone');
catalog_is([qw(F2 D2 I2 F3 X:failed)], 'its record stays');
is(sql('SELECT count(*) FROM backup_expire()'), '0', 'backup_expire() then finds nothing to do');

# 6. Another full: F2 goes with D2 and I2. The failure record is newer than F3, the oldest
# kept backup, and stays; one more full takes F3, and the record with it.
write_some();
take('F4', 'full');
catalog_is([qw(F3 X:failed F4)], 'after F4: F2, D2 and I2 went');
write_some();
take('F5', 'full');
catalog_is([qw(F4 F5)], 'after F5: F3 went, and the failure record older than F4');
like($ark->log_contents,
	qr/expired backup \Q$killed\E \(failed backup older than the oldest kept backup\)/,
	'saying why');
ok(!-d "$repo/main/backup/$killed", "the killed backup's directory is gone");
ok(!-e "$repo/main/backup.expiring", 'no expiry is left marked');
my @wal_now = wal_files();
ok(!(grep { $_ lt wal_start('F4') } @wal_now), 'WAL older than F4 is gone');
# 16 MiB segments: 256 to a log file.
my @numbers = map { hex(substr($_, 8, 8)) * 256 + hex(substr($_, 16, 8)) } grep { /^[0-9A-F]{24}$/ } @wal_now;
is_deeply(\@numbers, [ $numbers[0] .. $numbers[-1] ], 'the WAL kept has no gap');
write_some();
sql("INSERT INTO t VALUES (-1, 'after the last backup')");
PgArkTest::wait_for_archived($node, PgArkTest::switch_wal($node));

# 7. The oldest kept backup, restored and recovered to the end of the archive, matches the
# source: expiry left every segment from F4's start on.
my $expected = PgArkTest::dumpall($node);
my ($restored, $rrc, $rout, $rerr) = $ark->restore_node('oldest', '--set', $id{F4});
is($rrc, 0, "restore of the oldest kept backup ($id{F4}) succeeds") or diag($rerr);
$restored->start;
PgArkTest::poll_until(sub { $restored->safe_psql('postgres', 'SELECT NOT pg_is_in_recovery()') eq 't' },
	'the restored node finishes recovery');
is(PgArkTest::dumpall($restored), $expected, 'it matches the source after replaying the archive');
$restored->stop;

$node->stop;
$ark->stop;
done_testing();
