
# 004_docs_example.pl
#     The configuration example in docs/archiving.md must work as written. The test takes the
#     fenced block after `<!-- example: pg_ark.conf -->` as the helper's config and the block after
#     `<!-- example: postgresql.conf -->` as the server's settings, replacing only the machine
#     paths (repository, socket, data directory, log directory) with test ones, then archives a
#     segment and gets it back.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgArkTest;

my $source = $ENV{PG_ARK_SOURCE_DIR};
BAIL_OUT('PG_ARK_SOURCE_DIR is not set (the source tree root holding docs/)')
  unless defined $source && $source ne '';
my $doc_path = "$source/docs/archiving.md";
ok(-f $doc_path, "$doc_path exists") or do { done_testing(); exit 0; };
my $doc = slurp_file($doc_path);

sub example_block { return PgArkTest::example_block($doc, @_); }

my ($ini, $ini_lang) = example_block('pg_ark.conf');
ok(defined $ini, 'docs have the pg_ark.conf example') or diag($ini_lang);
is($ini_lang, 'ini', 'the pg_ark.conf example is an ```ini block') if defined $ini;
my ($pgconf, $pg_err) = example_block('postgresql.conf');
ok(defined $pgconf, 'docs have the postgresql.conf example') or diag($pg_err);
if (!defined $ini || !defined $pgconf)
{
	done_testing();
	exit 0;
}
note "pg_ark.conf example:\n$ini";
note "postgresql.conf example:\n$pgconf";

my @sections = $ini =~ /^\s*\[([^\]]+)\]\s*$/mg;
my @clusters = grep { $_ ne 'global' } @sections;
ok((grep { $_ eq 'global' } @sections), 'the example has a [global] section');
is_deeply(\@clusters, ['main'], 'the example configures one cluster, [main]');
my $cluster = $clusters[0] // 'main';
like($pgconf, qr/^\s*archive_library\s*=\s*'pg_ark'/m, "the example sets archive_library = 'pg_ark'");
like($pgconf, qr/^\s*pg_ark\.cluster\s*=\s*'?\Q$cluster\E'?/m,
	"the example's pg_ark.cluster names the [$cluster] section");

my $node = PostgreSQL::Test::Cluster->new('docs');
$node->init(allows_streaming => 1);

# A PgArkTest object gives the temp dirs; its config is then replaced by the doc's text.
my $ark = PgArkTest->new(node => $node, cluster => $cluster, name => 'docs');
my %subst = (
	'/run/pg_ark/pg_ark.sock' => $ark->socket_path,
	'/var/lib/pg_ark' => $ark->repo,
	'/var/lib/postgresql/15/main' => $node->data_dir,
	'/var/log/pg_ark' => $ark->dir . '/log',);
for my $text (\$ini, \$pgconf)
{
	# Longest first, so the data directory is not caught by a shorter prefix.
	for my $from (sort { length($b) <=> length($a) } keys %subst)
	{
		$$text =~ s/\Q$from\E/$subst{$from}/g;
	}
}
# A doc relying on the default socket path: point both sides at the test socket.
if ($ini !~ /^\s*socket-path\s*=/m)
{
	note 'the example uses the default socket path; the test sets its own';
	my $sock = $ark->socket_path;
	$ini =~ s/^([ \t]*\[global\][ \t]*)$/$1\nsocket-path = $sock/m;
}
if ($pgconf !~ /^\s*pg_ark\.socket_path\s*=/m)
{
	$pgconf .= "pg_ark.socket_path = '" . $ark->socket_path . "'\n";
}
unlike($ini, qr{=\s*/(etc|run|var)/}, 'no machine path left in the helper config after substitution');
$ark->write_config($ini);
mkdir $ark->dir . '/log';

$node->append_conf('postgresql.conf', "\n# from docs/archiving.md\n$pgconf");
# Keep segments for comparison (not a setting the doc needs to show).
$node->append_conf('postgresql.conf', "wal_keep_size = '1GB'");

$ark->start or BAIL_OUT("helper did not start with the docs' config:\n$ini");
$ark->init_cluster(cluster => $cluster);
$node->start;

is($node->safe_psql('postgres', 'SHOW archive_library'), 'pg_ark', 'archive_library is pg_ark');
is($node->safe_psql('postgres', 'SHOW archive_mode'), 'on', 'archive_mode is on');

PgArkTest::write_some_wal($node);
my $seg = PgArkTest::switch_wal($node);
PgArkTest::wait_for_archived($node, $seg);
ok(-e $ark->object_path($seg, cluster => $cluster), "$seg is in the repository");
$ark->check_round_trip($node, [ $seg ], 'docs example', cluster => $cluster);

$node->stop;
is($ark->stop, 0, 'helper exits 0 on SIGTERM');

done_testing();
