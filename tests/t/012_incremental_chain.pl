# 012_incremental_chain.pl
#     A full backup, then a chain of three incrementals and a differential, each after a
#     workload that changes relations in every way PostgreSQL can: pgbench, TRUNCATE, DROP
#     TABLE, CREATE TABLE AS, VACUUM FULL and CLUSTER (new relfilenodes), CREATE INDEX, ALTER
#     TABLE ... SET TABLESPACE both ways, CREATE DATABASE with FILE_COPY and WAL_LOG, DROP
#     DATABASE, a relation truncated by VACUUM, unlogged tables, sequences, and a table that
#     grows past its first 1 GB segment and shrinks back.
#
#     Each backup is restored on its own (recovery stops at the backup's consistency point) and
#     compared with the source as it was when that backup ended: pg_dumpall, per-relation
#     digests (the 1 GB table included), amcheck on every B-tree index and pg_visibility's check
#     of the visibility map.
use strict;
use warnings;

use File::Path qw(rmtree);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgArkTest;

my ($node, $ark) = PgArkTest::start_archiving_node('source', init_extra => ['--data-checksums'],
	conf => "shared_preload_libraries = 'pg_ark'\n");
my $tablespace_dir = PostgreSQL::Test::Utils::tempdir('tablespace');

sub sql { my ($db, $query) = @_; return $node->safe_psql($db, $query); }

sub pgbench
{
	my (@args) = @_;
	$node->command_ok([ 'pgbench', '-h', $node->host, '-p', $node->port, @args, 'postgres' ],
		"pgbench @args");
}

sql('postgres', qq(
	CREATE EXTENSION pg_ark;
	CREATE EXTENSION amcheck;
	CREATE EXTENSION pg_visibility;
	CREATE TABLESPACE ts1 LOCATION '$tablespace_dir';
	CREATE TABLE t_trunc AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g;
	CREATE TABLE t_drop AS SELECT g AS id FROM generate_series(1, 5000) g;
	CREATE TABLE t_vacfull AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g;
	CREATE TABLE t_cluster AS SELECT (g * 7919) % 20011 AS id, md5(g::text) AS v
	  FROM generate_series(1, 20000) g;
	CREATE INDEX t_cluster_idx ON t_cluster (id);
	CREATE TABLE t_move AS SELECT g AS id, repeat('m', 100) AS v FROM generate_series(1, 10000) g;
	CREATE INDEX t_move_idx ON t_move (id);
	CREATE TABLE t_shrink AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 50000) g;
	CREATE UNLOGGED TABLE u1 AS SELECT g AS id FROM generate_series(1, 1000) g;
	CREATE SEQUENCE s1;
	SELECT nextval('s1') FROM generate_series(1, 10);
	CREATE DATABASE tmpl_src;
));
sql('tmpl_src', 'CREATE TABLE copied AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 3000) g');
pgbench('-i', '-s', '1', '-q');
# One row per page: 120000 pages, 938 MB, just short of the 1 GB segment size.
sql('postgres', 'CREATE DATABASE bigdb');
sql('bigdb', q(
	CREATE EXTENSION amcheck;
	CREATE EXTENSION pg_visibility;
	CREATE TABLE big (id int PRIMARY KEY, pad char(1800)) WITH (fillfactor = 10);
	ALTER TABLE big ALTER COLUMN pad SET STORAGE PLAIN;
	INSERT INTO big SELECT g, 'row ' || g FROM generate_series(1, 120000) g;
));
sql('bigdb', 'VACUUM big');

# What a restored node must show: every database but bigdb as dumped, plus digests of every
# table (bigdb's by row, without shipping 1 GB of text through pg_dump).
sub digests
{
	my ($n) = @_;
	my $out = '';
	for my $db (split /\n/, $n->safe_psql('postgres',
		"SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1"))
	{
		my @tables = split /\n/, $n->safe_psql($db, q(
			SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
			 WHERE c.relkind = 'r' AND s.nspname NOT IN ('pg_catalog', 'information_schema')
			 ORDER BY 1));
		for my $t (@tables)
		{
			my $row = $t eq 'big' ? q(id::text || md5(pad)) : 't::text';
			$out .= "$db.$t " . $n->safe_psql($db,
				"SELECT count(*) || ' ' || coalesce(md5(string_agg($row, ',' ORDER BY $row)), '-') FROM $t t")
			  . "\n";
		}
	}
	return $out;
}

sub snapshot
{
	my ($n) = @_;
	return { dump => PgArkTest::dumpall($n, '--exclude-database=bigdb'), digests => digests($n) };
}

my @backups;
sub take
{
	my ($type, $label, %extra) = @_;
	my $b = $ark->backup($node, type => $type, label => $label, %extra);
	is($b->{status}, 'complete', "$label: $type backup complete");
	$b->{expected} = snapshot($node);
	$b->{label} = $label;
	push @backups, $b;
	return $b;
}

my $full = take('full', 'base');
is($full->{parent}, '', 'a full backup has no parent');

# Round 1: new relfilenodes every way, databases created both ways, the big table crosses
# into its second segment.
pgbench('-c', '2', '-t', '200');
sql('postgres', q(
	TRUNCATE t_trunc;
	INSERT INTO t_trunc SELECT g, 'after truncate ' || g FROM generate_series(1, 3000) g;
	DROP TABLE t_drop;
	CREATE TABLE t_ctas AS SELECT * FROM pgbench_accounts WHERE aid % 10 = 0;
	DELETE FROM t_vacfull WHERE id % 3 = 0;
	VACUUM FULL t_vacfull;
	CLUSTER t_cluster USING t_cluster_idx;
	CREATE INDEX pgbench_accounts_abalance ON pgbench_accounts (abalance);
	ALTER TABLE t_move SET TABLESPACE ts1;
	INSERT INTO u1 SELECT g FROM generate_series(1001, 2000) g;
	SELECT nextval('s1') FROM generate_series(1, 5);
	CREATE DATABASE db_fc TEMPLATE tmpl_src STRATEGY FILE_COPY;
	CREATE DATABASE db_wl TEMPLATE tmpl_src STRATEGY WAL_LOG;
));
sql('bigdb', q(
	INSERT INTO big SELECT g, 'row ' || g FROM generate_series(120001, 135000) g;
	UPDATE big SET pad = 'updated in round 1' WHERE id % 1000 = 0;
));
ok(-e $node->data_dir . '/base/' . sql('bigdb', "SELECT oid FROM pg_database WHERE datname = 'bigdb'")
	. '/' . sql('bigdb', "SELECT relfilenode FROM pg_class WHERE relname = 'big'") . '.1',
	'the big table has a second segment');
my $i1 = take('incremental', 'round 1');
is($i1->{parent}, $full->{backup_id}, 'the first incremental builds on the full backup');

# Round 2: a database dropped, a relation truncated by VACUUM, both segments changed.
pgbench('-c', '2', '-t', '200');
sql('postgres', q(
	DROP DATABASE db_fc;
	DELETE FROM t_shrink WHERE id > 10000;
	VACUUM t_shrink;
	TRUNCATE t_trunc;
	INSERT INTO t_trunc SELECT g, 'round 2 ' || g FROM generate_series(1, 2000) g;
));
sql('db_wl', q(UPDATE copied SET v = 'round 2' WHERE id % 7 = 0;
	INSERT INTO copied SELECT g, 'new' FROM generate_series(3001, 4000) g;));
sql('bigdb', q(UPDATE big SET pad = 'round 2' WHERE id > 130000 OR id % 5000 = 1;));
my $i2 = take('incremental', 'round 2');
is($i2->{parent}, $i1->{backup_id}, 'the second incremental builds on the first');

# Round 3: a database recreated with FILE_COPY, a table moved back, the big table shrinks back
# into one segment.
sql('postgres', q(
	CREATE DATABASE db_fc TEMPLATE tmpl_src STRATEGY FILE_COPY;
	DROP TABLE t_ctas;
	CREATE TABLE t_ctas AS SELECT aid, abalance FROM pgbench_accounts WHERE aid % 7 = 0;
	ALTER TABLE t_move SET TABLESPACE pg_default;
	SELECT nextval('s1') FROM generate_series(1, 5);
));
sql('bigdb', q(DELETE FROM big WHERE id > 125000;));
sql('bigdb', 'VACUUM big');
pgbench('-c', '2', '-t', '100');
my $i3 = take('incremental', 'round 3');
is($i3->{parent}, $i2->{backup_id}, 'the third incremental builds on the second');

# Round 4: a differential over everything since the full backup.
sql('postgres', q(
	UPDATE pgbench_branches SET bbalance = bbalance + 1;
	INSERT INTO t_trunc SELECT g, 'round 4' FROM generate_series(5001, 5100) g;
));
my $diff = take('differential', 'round 4');
is($diff->{parent}, $full->{backup_id}, 'a differential builds on the full backup');

for my $b ($i1, $i2, $i3, $diff)
{
	is($b->{fallback}, '', "$b->{label}: block maps covered the whole range");
	cmp_ok($b->{block_files}, '>', 0, "$b->{label}: some relation files stored as changed blocks");
	cmp_ok($b->{copied_bytes}, '<', $b->{original_bytes} / 4,
		"$b->{label}: copies a fraction of the data directory ($b->{copied_bytes} of $b->{original_bytes} bytes)");
}

# pg_ark list shows the chain.
my ($rc, $out, $err) = $ark->run_cli('list', '--config', $ark->config_file, '--cluster', 'main');
like($out, qr/\Q$i2->{backup_id}\E.*incremental.*\Q$i1->{backup_id}\E/, 'pg_ark list shows type and parent');
like($out, qr/\Q$diff->{backup_id}\E.*differential.*\Q$full->{backup_id}\E/, 'and the differential\'s parent');

# Everything must be archived before restoring.
PgArkTest::wait_for_archived($node, PgArkTest::switch_wal($node));

for my $b ($i1, $i2, $i3, $diff)
{
	my $name = "restored_" . ($b->{label} =~ s/\W/_/gr);
	my $new_ts = PostgreSQL::Test::Utils::tempdir("ts_$name");
	my ($restored, $rrc, $rout, $rerr) = $ark->restore_node($name, '--set', $b->{backup_id},
		'--tablespace-map', "$tablespace_dir=$new_ts");
	is($rrc, 0, "$b->{label}: restore of $b->{backup_id} exits 0") or diag($rerr);
	next if $rrc != 0;
	# Stop replay where the backup became consistent: the source's state when it ended.
	$restored->append_conf('postgresql.conf', "recovery_target = 'immediate'\nrecovery_target_action = 'promote'\n");
	$restored->start;
	PgArkTest::poll_until(
		sub { $restored->safe_psql('postgres', 'SELECT NOT pg_is_in_recovery()') eq 't' },
		"$b->{label}: the restored node finishes recovery");
	my $got = snapshot($restored);
	$got->{dump} =~ s/\Q$new_ts\E/$tablespace_dir/g;
	# Unlogged tables come back empty; that is PostgreSQL's rule.
	s/COPY public\.u1 .*?\\\.\n//s for $got->{dump}, $b->{expected}{dump};
	s/^postgres\.u1 .*\n//m for $got->{digests}, $b->{expected}{digests};
	ok($got->{dump} eq $b->{expected}{dump}, "$b->{label}: pg_dumpall matches the source")
	  or diag(dump_diff($b->{expected}{dump}, $got->{dump}));
	is($got->{digests}, $b->{expected}{digests}, "$b->{label}: every table's rows match, bigdb included");
	for my $db ('postgres', 'bigdb')
	{
		cmp_ok($restored->safe_psql($db, q(
			SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			  JOIN pg_am a ON a.oid = c.relam, LATERAL bt_index_check(c.oid, true)
			 WHERE a.amname = 'btree' AND c.relpersistence = 'p')), '>', 0,
			"$b->{label}: amcheck passes on every B-tree index of $db");
		is($restored->safe_psql($db, q(
			SELECT count(*) FROM pg_class c, LATERAL pg_check_visible(c.oid)
			 WHERE c.relkind IN ('r', 'm') AND c.relpersistence = 'p')), '0',
			"$b->{label}: the visibility map of $db claims nothing that is not so");
	}
	$restored->stop;
	$restored->clean_node;
	rmtree($new_ts);
}

sub dump_diff
{
	my ($expected, $got) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir('dumps');
	PostgreSQL::Test::Utils::append_to_file("$dir/expected.sql", $expected);
	PostgreSQL::Test::Utils::append_to_file("$dir/got.sql", $got);
	return scalar `diff $dir/expected.sql $dir/got.sql | head -40`;
}

$node->stop;
$ark->stop;
done_testing();
