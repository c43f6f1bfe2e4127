# 022_check.pl
#     backup_check() and `pg_ark check` (docs/check.md): on a healthy cluster every check passes
#     and the command exits 0; each misconfiguration that can be provoked fails its own check,
#     by name, and makes the command exit 1: no backup yet, archive_library unset (the forced WAL
#     switch is then not archived either), the helper down (the command then still checks the
#     repository itself), a read-only repository, paused backups (which refuse to start while
#     WAL archiving goes on), a backup older than backup-max-age, the server down.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgArkTest;
use IPC::Run ();

my ($node, $ark) = PgArkTest::start_archiving_node('checked',
	conf => "shared_preload_libraries = 'pg_ark'\n");
sub sql { return $node->safe_psql('postgres', $_[0]); }
sql('CREATE EXTENSION pg_ark');

# name => [ok, detail] of backup_check() with a short WAL timeout.
sub checks
{
	my %rows;
	for my $line (split /\n/, sql("SELECT name, ok, detail FROM backup_check(5000)"))
	{
		my ($name, $ok, $detail) = split /\|/, $line, 3;
		$rows{$name} = [ $ok eq 't', $detail ];
	}
	return \%rows;
}

sub failing
{
	my ($rows) = @_;
	return join ' ', sort grep { !$rows->{$_}[0] } keys %$rows;
}

# The command: (exit status, output).
sub cli_check
{
	my ($rc, $out, $err) = $ark->run_cli('check', '--config', $ark->config_file, '--cluster', $ark->cluster,
		'--wal-timeout', '5', @_);
	return ($rc, $out . $err);
}

my @all = qw(wal_level archive_mode archive_library shared_preload_libraries block_tracking helper
  system_identifier repository_writable repository_space backups_paused last_backup failed_backups
  wal_archived);

# 1. Before any backup: only last_backup fails.
my $rows = checks();
is_deeply([ sort keys %$rows ], [ sort @all ], 'every check has its row');
is(failing($rows), 'last_backup', 'no backup yet: last_backup fails, nothing else');
like($rows->{last_backup}[1], qr/has no complete backup/, 'saying there is none');
like($rows->{wal_archived}[1], qr/a forced WAL switch was archived in \d+ ms \(segment [0-9A-F]{24}\)/,
	'the forced WAL switch is archived');

# 2. Healthy.
$ark->backup($node);
$rows = checks();
is(failing($rows), '', 'after a backup every check passes');
like($rows->{last_backup}[1], qr/ended \d+ s ago \(backup-max-age is not set\)/, 'with the backup\'s age');
# The documented command, as written.
my ($rc, $out, $err) = $ark->run_doc_example('check.md', 'check.sh');
is($rc, 0, 'pg_ark check exits 0 on a healthy cluster') or diag($out . $err);
like($out, qr/^ok\s+wal_archived\s+a forced WAL switch was archived/m, 'and prints each check');
like($out, qr/cluster "\Q${\ $ark->cluster}\E": 0 of 13 checks failed/, 'and the total');
note "healthy:\n$out";

# 3. archive_library unset: its check fails, and the WAL switch is not archived.
sql("ALTER SYSTEM SET archive_library = ''");
sql('SELECT pg_reload_conf()');
PgArkTest::poll_until(sub { sql('SHOW archive_library') eq '' }, 'the reload takes effect');
$rows = checks();
is(failing($rows), 'archive_library wal_archived', 'archive_library unset: two checks fail');
like($rows->{archive_library}[1], qr/set it to 'pg_ark'/, 'saying what to set');
like($rows->{wal_archived}[1], qr/was not archived within 5000 ms/, 'and that WAL is not archived');
($rc, $out) = cli_check();
is($rc, 1, 'pg_ark check exits 1');
like($out, qr/^FAIL\s+archive_library/m, 'naming the failed check');
note "archive_library unset:\n$out";
sql('ALTER SYSTEM RESET archive_library');
sql('SELECT pg_reload_conf()');
PgArkTest::wait_for_archived($node, PgArkTest::switch_wal($node));

# 4. The helper down.
$ark->stop;
$rows = checks();
ok(!$rows->{helper}[0], 'helper down: the helper check fails');
like($rows->{helper}[1], qr/is "pg_ark server" running\?/, 'saying what to look at');
ok(!$rows->{wal_archived}[0] && $rows->{wal_archived}[1] =~ /helper is unreachable/,
	'and the WAL switch is not attempted');
($rc, $out) = cli_check();
is($rc, 1, 'pg_ark check exits 1 with the helper down');
like($out, qr/^FAIL\s+helper/m, 'naming the helper');
$ark->start;

# 5. A read-only repository.
my $cluster_dir = $ark->repo . '/' . $ark->cluster;
chmod 0555, $cluster_dir or die "chmod: $!";
$rows = checks();
chmod 0750, $cluster_dir or die "chmod: $!";
ok(!$rows->{repository_writable}[0], 'read-only repository: repository_writable fails');
like($rows->{repository_writable}[1], qr/Permission denied/, 'with the system\'s reason');

# 6. Paused backups, and a backup older than backup-max-age.
my $config = slurp_file($ark->config_file);
$ark->write_config($config =~ s/^(\[\Q${\ $ark->cluster}\E\]\n)/$1backup-max-age = 1s\n/mr);
$ark->stop;
$ark->start;
($rc, $out) = $ark->run_cli('stop', '--config', $ark->config_file, '--cluster', $ark->cluster);
is($rc, 0, 'pg_ark stop');
PgArkTest::poll_until(sub { sql("SELECT now() > max(stop_time) + interval '1.5 s' FROM backup_list()") eq 't' },
	'the backup gets older than backup-max-age');
$rows = checks();
is(failing($rows), 'backups_paused last_backup', 'paused and too old: those two fail');
like($rows->{backups_paused}[1], qr/paused by "pg_ark stop --cluster .* run "pg_ark start --cluster/, 'saying how to resume');
like($rows->{last_backup}[1], qr/\(backup-max-age 1 s\)/, 'naming backup-max-age');
my ($backup_rc, $backup_out, $backup_err) = ('', '', '');
$backup_rc = $node->psql('postgres', 'SELECT * FROM backup_start_full()', stdout => \$backup_out, stderr => \$backup_err);
isnt($backup_rc, 0, 'paused: a new backup is refused');
like($backup_err, qr/backup refused: cluster "\Q${\ $ark->cluster}\E" is paused by "pg_ark stop --cluster/,
	'saying it is paused and how to resume');
PgArkTest::wait_for_archived($node, PgArkTest::switch_wal($node));
pass('paused: WAL archiving goes on');
$ark->run_cli('start', '--config', $ark->config_file, '--cluster', $ark->cluster);
is($ark->backup($node)->{status}, 'complete', 'started again: backups run');
$ark->write_config($config);
$ark->stop;
$ark->start;

# 7. The server down: the command still checks the repository and the helper itself.
$node->stop;
($rc, $out) = cli_check();
is($rc, 1, 'server down: pg_ark check exits 1');
note "server down:\n$out";
like($out, qr/^FAIL\s+postgresql\s+no PostgreSQL server is running/m, 'saying the server is down');
like($out, qr/^ok\s+helper\s+/m, 'the helper still checked');
like($out, qr/^ok\s+repository_writable\s+/m, 'the repository still checked');
like($out, qr/^ok\s+system_identifier\s+cluster ".*" is registered for this system/m,
	'against the system identifier in pg_control');

$ark->stop;
done_testing();
