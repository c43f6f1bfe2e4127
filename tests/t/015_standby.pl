# 015_standby.pl
#     `pg_ark restore --standby --primary-conninfo`: a standby made from a backup streams from
#     the primary (as the Barman and pgBackRest guides build one): it starts in recovery, a row
#     written on the primary reaches it, and it stays a standby. Without --standby the restore
#     writes recovery.signal; --primary-conninfo alone is refused.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgArkTest;

my ($primary, $ark) = PgArkTest::start_archiving_node('primary');
$primary->safe_psql('postgres', 'CREATE EXTENSION pg_ark');
$primary->safe_psql('postgres', 'CREATE TABLE replicated (id int, note text)');
$primary->safe_psql('postgres', "INSERT INTO replicated VALUES (1, 'before the backup')");
my $backup = $ark->backup($primary, label => 'for a standby');
is($backup->{status}, 'complete', 'a backup of the primary');

my ($refused, $rc, $out, $err) = $ark->restore_node('refused', '--primary-conninfo', 'host=x');
isnt($rc, 0, '--primary-conninfo without --standby is refused');
like($err, qr/--primary-conninfo needs --standby/, 'saying why');

my $conninfo = $primary->connstr . ' application_name=restored_standby';
my $standby;
($standby, $rc, $out, $err) = $ark->restore_node('standby', '--standby', '--primary-conninfo', $conninfo);
is($rc, 0, 'restore --standby exits 0') or diag($err);
ok(-f $standby->data_dir . '/standby.signal', 'standby.signal written');
ok(!-e $standby->data_dir . '/recovery.signal', 'no recovery.signal');
like(slurp_file($standby->data_dir . '/postgresql.auto.conf'), qr/^primary_conninfo = '\Q$conninfo\E'$/m,
	'primary_conninfo written');
$standby->start;
PgArkTest::poll_until(
	sub {
		$primary->safe_psql('postgres',
			"SELECT count(*) FROM pg_stat_replication WHERE application_name = 'restored_standby' AND state = 'streaming'") eq '1';
	},
	'the standby streams from the primary');
$primary->safe_psql('postgres', "INSERT INTO replicated VALUES (2, 'written on the primary')");
PgArkTest::poll_until(
	sub { $standby->safe_psql('postgres', 'SELECT count(*) FROM replicated') eq '2' },
	'the row written on the primary reaches the standby');
is($standby->safe_psql('postgres', 'SELECT note FROM replicated WHERE id = 2'), 'written on the primary',
	'with its data');
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'and it is still a standby');

$standby->stop;
$primary->stop;
$ark->stop;
done_testing();
