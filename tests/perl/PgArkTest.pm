
# Copyright: the pg_ark authors. Test-only code.

=pod

=head1 NAME

PgArkTest - helpers for pg_ark's TAP tests (PostgreSQL::Test::Cluster based)

=head1 SYNOPSIS

  use PgArkTest;

  my $node = PostgreSQL::Test::Cluster->new('primary');
  $node->init(allows_streaming => 1);
  my $ark = PgArkTest->new(node => $node);       # writes the helper's INI config
  $ark->configure_node($node);                    # archive_library = 'pg_ark' & co.
  $ark->start;                                    # `pg_ark server`, waits for the socket
  $ark->init_cluster;                             # `pg_ark init`
  $node->start;
  my $seg = PgArkTest::switch_wal($node);
  PgArkTest::wait_for_archived($node, $seg);
  my ($rc, $out, $err) = $ark->archive_get($seg, "$dir/$seg");

=head1 DESCRIPTION

One PgArkTest object is one helper daemon (`pg_ark server`) with its own config file,
repository and socket, serving one or more cluster sections. Every wait in here is a bounded
poll (up to $PostgreSQL::Test::Utils::timeout_default seconds) that fails with a message
saying what it waited for; there are no bare sleeps.

The Unix socket lives under a short directory in /tmp (sun_path is 108 bytes; the TAP
tmp_check path is often longer than that).

=cut

package PgArkTest;

use strict;
use warnings;

use Carp;
use Fcntl qw(:mode);
use File::Basename qw(basename);
use File::Compare ();
use File::Path qw(rmtree);
use File::Temp ();
use IO::Socket::UNIX;
use IPC::Run ();
use POSIX ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils ();
use Socket qw(SOCK_STREAM);
use Test::More;
use Time::HiRes qw(usleep time);

# Every helper started by any object, so that END can stop what a dying test left running,
# and the socket directories to remove after that.
my %running_helpers;
my @socket_dirs;

sub timeout { return $PostgreSQL::Test::Utils::timeout_default; }

=pod

=head2 PgArkTest::pg_ark_bin()

The helper binary: $ENV{PG_ARK_BIN}, else `pg_ark` found on PATH (absolute, because it also
goes into restore_command, which runs with the server's PATH).

=cut

sub pg_ark_bin
{
	return $ENV{PG_ARK_BIN} if defined $ENV{PG_ARK_BIN} && $ENV{PG_ARK_BIN} ne '';
	for my $dir (split /:/, ($ENV{PATH} // ''))
	{
		next if $dir eq '';
		return "$dir/pg_ark" if -x "$dir/pg_ark" && !-d "$dir/pg_ark";
	}
	BAIL_OUT("pg_ark binary not found on PATH ($ENV{PATH}); set PG_ARK_BIN");
}

=pod

=head2 PgArkTest->new(%params)

  node        => a PostgreSQL::Test::Cluster (its data_dir becomes the section's pgdata)
  cluster     => section name (default 'main')
  name        => a label for file names (default: cluster name)
  repo        => repository directory (default: a fresh temp dir in tmp_check)
  global      => { key => value } extra [global] settings (e.g. 'compress-type' => 'none')
  config_text => the whole INI text instead of the generated one (the docs test); repo and
                 socket must then be passed too, as they are in that text

=cut

sub new
{
	my ($class, %params) = @_;
	my $cluster = $params{cluster} // 'main';
	my $name = $params{name} // $cluster;
	my $self = bless {
		cluster => $cluster,
		name => $name,
		node => $params{node},
		handle => undef,
	}, $class;

	$self->{dir} = PostgreSQL::Test::Utils::tempdir("pg_ark_$name");
	$self->{repo} = $params{repo} // "$self->{dir}/repo";
	# Short path: a socket path must fit in sun_path (108 bytes). The socket's own directory
	# does not exist yet; the helper is expected to create it (mode 0700).
	$self->{sockdir} = File::Temp::tempdir(
		'pgark_XXXX',
		DIR => '/tmp',
		CLEANUP => not defined $ENV{PG_TEST_NOCLEAN});
	push @socket_dirs, $self->{sockdir};
	$self->{socket} = $params{socket} // "$self->{sockdir}/run/pg_ark.sock";
	croak "socket path too long: $self->{socket}" if length($self->{socket}) >= 108;
	$self->{config} = "$self->{dir}/pg_ark.conf";
	$self->{log} = "$PostgreSQL::Test::Utils::log_path/"
	  . basename($0, '.pl') . "_pg_ark_$name.log";

	my $text = $params{config_text};
	if (!defined $text)
	{
		my %global = (
			'repo-path' => $self->{repo},
			'socket-path' => $self->{socket},
			'log-level' => 'info',
			%{ $params{global} // {} });
		$text = "# written by PgArkTest\n[global]\n";
		$text .= "$_ = $global{$_}\n" for sort keys %global;
		$text .= "\n[$cluster]\npgdata = " . $params{node}->data_dir . "\n" if $params{node};
	}
	$self->write_config($text);
	return $self;
}

sub cluster { return $_[0]->{cluster}; }
sub repo { return $_[0]->{repo}; }
sub socket_path { return $_[0]->{socket}; }
sub config_file { return $_[0]->{config}; }
sub log_file { return $_[0]->{log}; }
sub dir { return $_[0]->{dir}; }

=pod

=head2 PgArkTest::start_s3_server()

Starts s3rver ($ENV{PG_ARK_S3RVER}, installed by scripts/install-deps.sh) on a free loopback
port with a fresh data directory and the bucket `pgark`, and returns a hash: endpoint, bucket,
and global, the [global] keys of an S3 repository on it (for PgArkTest->new's global param).
Skips the whole test when s3rver is not installed. The server is stopped when the test ends.

=cut

my @s3_servers;

sub start_s3_server
{
	my $bin = $ENV{PG_ARK_S3RVER} // '';
	plan skip_all => 's3rver not installed (scripts/install-deps.sh installs it)'
	  if $bin eq '' || !-x $bin;
	my $dir = PostgreSQL::Test::Utils::tempdir('s3rver');
	my $log = "$dir/s3rver.log";
	# HTTPS, as a real deployment: a self-signed certificate for localhost, given to pg_ark as
	# its CA file.
	PostgreSQL::Test::Utils::system_or_bail('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
		'-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost',
		'-keyout', "$dir/tls.key", '-out', "$dir/tls.crt");
	my $handle = IPC::Run::start([ $bin, '-d', "$dir/data", '-a', '127.0.0.1', '-p', '0',
		'--key', "$dir/tls.key", '--cert', "$dir/tls.crt", '--configure-bucket', 'pgark' ],
		'<', '/dev/null', '>', $log, '2>&1');
	push @s3_servers, $handle;
	my $port;
	poll_until(sub { ($port) = (-e $log ? slurp($log) : '') =~ /listening on 127\.0\.0\.1:(\d+)/; defined $port },
		's3rver listens');
	my %s3 = (endpoint => "https://localhost:$port", bucket => 'pgark');
	# The [global] section of docs/s3.md's self-hosted example, with the values of this server:
	# s3rver's own credentials (it checks every signature) and its certificate as the CA.
	my %value = (
		'repo-s3-endpoint' => $s3{endpoint},
		'repo-s3-bucket' => 'pgark',
		'repo-s3-ca-file' => "$dir/tls.crt",
		'repo-s3-key' => 'S3RVER',
		'repo-s3-key-secret' => 'S3RVER',
		'lock-path' => "$dir/lock");
	my ($example, $why) = example_block(PostgreSQL::Test::Utils::slurp_file(
		"$ENV{PG_ARK_SOURCE_DIR}/docs/s3.md"), 'self-hosted.conf');
	Test::More::BAIL_OUT("docs/s3.md: $why") unless defined $example;
	my %global;
	for my $line (split /\n/, $example)
	{
		next unless $line =~ /^\s*([a-z0-9-]+)\s*=\s*(.*?)\s*$/;
		$global{$1} = exists $value{$1} ? $value{$1} : $2;
	}
	Test::More::BAIL_OUT("docs/s3.md's self-hosted example lacks $_") for grep { !exists $global{$_} } keys %value;
	$s3{global} = \%global;
	$s3{prefix} = $global{'repo-s3-prefix'} =~ s{^/+|/+$}{}gr;
	$s3{data} = "$dir/data/pgark";    # where s3rver keeps the bucket's objects
	return \%s3;
}

sub slurp
{
	my ($path) = @_;
	open my $fh, '<', $path or return '';
	local $/;
	return scalar <$fh>;
}

END
{
	local $?;    # stopping the server must not change the test's exit status
	for my $handle (@s3_servers)
	{
		eval { $handle->kill_kill; 1 } if $handle->pumpable;
	}
}

=pod

=head2 PgArkTest::start_archiving_node($name, %params)

The usual start of a test: a new node (wal_level replica) archiving through a new running
helper, its cluster registered, the node started. Params go to PgArkTest->new (cluster, repo,
...), except node_cluster, the pg_ark.cluster the node is given (default: the helper's cluster;
'' leaves archiving unconfigured), init_extra, extra initdb arguments (e.g.
['--data-checksums']), and conf, lines appended to postgresql.conf (e.g.
"shared_preload_libraries = 'pg_ark'"). Returns ($node, $ark).

=cut

sub start_archiving_node
{
	my ($name, %params) = @_;
	my $node_cluster = delete $params{node_cluster};
	my $init_extra = delete $params{init_extra} // [];
	my $conf = delete $params{conf} // '';
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => 1, extra => $init_extra);
	my $ark = PgArkTest->new(node => $node, %params);
	$ark->configure_node($node, defined $node_cluster ? (cluster => $node_cluster) : ());
	$node->append_conf('postgresql.conf', $conf) if $conf ne '';
	$ark->start or BAIL_OUT("helper for node $name did not start");
	$ark->init_cluster;
	$node->start;
	return ($node, $ark);
}

=pod

=head2 $ark->write_config($text)

(Re)writes the helper's config file, mode 0600 (so it may hold repo-cipher-pass).

=cut

sub write_config
{
	my ($self, $text) = @_;
	open my $fh, '>', $self->{config} or die "could not write $self->{config}: $!";
	print $fh $text;
	close $fh or die "could not close $self->{config}: $!";
	# The helper refuses a configuration holding secrets (repo-cipher-pass) that others can read.
	chmod 0600, $self->{config} or die "could not chmod $self->{config}: $!";
	$self->{config_text} = $text;
	return;
}

=pod

=head2 $ark->add_cluster($name, $node)

Appends a cluster section (for tests using several clusters in one repository).

=cut

sub add_cluster
{
	my ($self, $name, $node) = @_;
	$self->write_config(
		$self->{config_text} . "\n[$name]\npgdata = " . $node->data_dir . "\n");
	return;
}

=pod

=head2 $ark->configure_node($node, %params)

Appends to postgresql.conf what archiving through pg_ark needs: archive_mode, archive_library
('pg_ark', or $ENV{PG_ARK_ARCHIVE_LIBRARY} when set), pg_ark.cluster, pg_ark.socket_path, and a
wal_keep_size big enough that every segment the test compares is still in pg_wal. The node
must have been init'ed with allows_streaming (wal_level replica). Params: cluster (default: this helper's), wal_keep_size (default 2GB).

=cut

sub configure_node
{
	my ($self, $node, %params) = @_;
	my $cluster = $params{cluster} // $self->{cluster};
	my $keep = $params{wal_keep_size} // '2GB';
	# PG_ARK_ARCHIVE_LIBRARY: another build of the module (e.g. a deliberately broken one, to
	# check that a test catches the bug it is about).
	my $library = $ENV{PG_ARK_ARCHIVE_LIBRARY} // 'pg_ark';
	$node->append_conf(
		'postgresql.conf', qq(
# pg_ark archiving (PgArkTest)
archive_mode = on
archive_library = '$library'
pg_ark.cluster = '$cluster'
pg_ark.socket_path = '$self->{socket}'
wal_keep_size = '$keep'
max_wal_size = '1GB'
shared_buffers = '16MB'
log_min_messages = 'info'
));
	return;
}

=pod

=head2 $ark->start(%params)

Starts `pg_ark server --config F` in the background (stdout and stderr appended to the helper's
log file) and waits until its socket accepts connections. Fails the test (and returns 0) when
the process exits or the socket does not answer in time. Param no_wait => 1 skips the wait.

=cut

sub start
{
	my ($self, %params) = @_;
	croak "helper $self->{name} already running" if $self->running;
	my @cmd = (pg_ark_bin(), 'server', '--config', $self->{config});
	open my $fh, '>>', $self->{log} or die "could not open $self->{log}: $!";
	print $fh "\n==== PgArkTest: starting: @cmd\n";
	close $fh;
	$self->{log_offset_at_start} = -s $self->{log};
	note "starting helper: @cmd (log $self->{log})";
	$self->{handle} = IPC::Run::start(\@cmd, '<', '/dev/null', '>>', $self->{log}, '2>>',
		$self->{log});
	$self->{pid} = $self->{handle}->{KIDS}->[0]->{PID};
	$running_helpers{ $self->{pid} } = $self->{handle};
	return 1 if $params{no_wait};
	return $self->wait_ready;
}

=pod

=head2 $ark->running()

True while the helper process started by start() is alive (reaps it when it has exited).

=cut

sub running
{
	my ($self) = @_;
	my $h = $self->{handle};
	return 0 unless defined $h;
	return 1 if $h->pumpable;
	$self->_reaped;
	return 0;
}

sub _reaped
{
	my ($self) = @_;
	my $h = $self->{handle};
	return unless defined $h;
	eval { $h->finish; };
	$self->{exit_status} = $h->full_result(0);
	delete $running_helpers{ $self->{pid} } if defined $self->{pid};
	$self->{handle} = undef;
	return;
}

=pod

=head2 $ark->exit_status()

The raw wait status ($?) of the last helper process that ended.

=cut

sub exit_status { return $_[0]->{exit_status}; }

=pod

=head2 $ark->socket_answers()

True when a connect() to the socket succeeds (a stale socket file left by a killed helper
refuses connections, so this does not mistake it for a live helper).

=cut

sub socket_answers
{
	my ($self) = @_;
	return 0 unless -S $self->{socket};
	my $sock = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $self->{socket});
	return 0 unless $sock;
	close $sock;
	return 1;
}

=pod

=head2 $ark->wait_ready()

Bounded poll until the socket answers. Fails the test with the helper's log tail otherwise.

=cut

sub wait_ready
{
	my ($self) = @_;
	my $deadline = time + timeout();
	while (time < $deadline)
	{
		if (!$self->running)
		{
			fail("helper $self->{name} exited while starting (status "
				  . ($self->{exit_status} // 'unknown') . ")");
			diag($self->log_tail);
			return 0;
		}
		return 1 if $self->socket_answers;
		usleep(50_000);
	}
	fail("helper $self->{name} socket $self->{socket} did not answer within " . timeout() . "s");
	diag($self->log_tail);
	return 0;
}

=pod

=head2 $ark->stop()

SIGTERM, then a bounded wait for the process to exit; SIGKILL if it does not. Returns the exit
status ($?-style) or undef when it had to be killed.

=cut

sub stop
{
	my ($self) = @_;
	return $self->{exit_status} unless $self->running;
	kill 'TERM', $self->{pid};
	my $deadline = time + timeout();
	while (time < $deadline)
	{
		return $self->{exit_status} unless $self->running;
		usleep(50_000);
	}
	fail("helper $self->{name} did not exit within " . timeout() . "s of SIGTERM");
	kill 'KILL', $self->{pid};
	$self->_reaped;
	return undef;
}

=pod

=head2 $ark->kill9()

SIGKILL, and reap. The socket file stays behind, as after a crash.

=cut

sub kill9
{
	my ($self) = @_;
	croak "helper $self->{name} is not running" unless $self->running;
	note "kill -9 helper $self->{name} (pid $self->{pid})";
	kill 'KILL', $self->{pid};
	$self->_reaped;
	return;
}

sub pid { return $_[0]->{pid}; }

=pod

=head2 $ark->log_contents($offset) / $ark->log_tail()

=cut

sub log_contents
{
	my ($self, $offset) = @_;
	return '' unless -e $self->{log};
	return PostgreSQL::Test::Utils::slurp_file($self->{log}, $offset // 0);
}

sub log_tail
{
	my ($self) = @_;
	my $log = $self->log_contents(0);
	$log = substr($log, -4000) if length($log) > 4000;
	return "---- helper log tail ($self->{log}):\n$log";
}

=pod

=head2 $ark->run_cli(@args)

Runs `pg_ark @args` and returns (exit code, stdout, stderr). The exit code is -1 when killed by
a signal.

=cut

sub run_cli
{
	my ($self, @args) = @_;
	my @cmd = (pg_ark_bin(), @args);
	my ($out, $err) = ('', '');
	IPC::Run::run(\@cmd, '<', '/dev/null', '>', \$out, '2>', \$err,
		IPC::Run::timeout(timeout()));
	my $status = $?;
	my $rc = ($status & 127) ? -1 : ($status >> 8);
	note "ran: @cmd -> exit $rc" . ($err ne '' ? ", stderr: $err" : '');
	return ($rc, $out, $err);
}

=pod

=head2 $ark->init_cluster(%params)

Runs `pg_ark init --config F --cluster NAME` and asserts exit 0. Returns (rc, out, err).

=cut

sub init_cluster
{
	my ($self, %params) = @_;
	my $cluster = $params{cluster} // $self->{cluster};
	my ($rc, $out, $err) =
	  $self->run_cli('init', '--config', $self->{config}, '--cluster', $cluster);
	is($rc, 0, "pg_ark init --cluster $cluster exits 0")
	  or diag("stdout: $out\nstderr: $err");
	if (($self->{config_text} // '') =~ /^repo-type = s3$/m)
	{
		like($out, qr/in repository "s3:\/\//, "$cluster registered in the S3 repository");
	}
	else
	{
		ok(-e "$self->{repo}/$cluster/cluster.info", "cluster.info exists for $cluster");
	}
	return ($rc, $out, $err);
}

=pod

=head2 $ark->archive_get($walname, $dest, %params)

Runs `pg_ark archive-get --config F --cluster NAME WAL DEST`; returns (rc, stdout, stderr).

=cut

sub archive_get
{
	my ($self, $walname, $dest, %params) = @_;
	my $cluster = $params{cluster} // $self->{cluster};
	return $self->run_cli('archive-get', '--config', $self->{config}, '--cluster', $cluster,
		$walname, $dest);
}

=pod

=head2 $ark->restore_command(%params)

The restore_command string for postgresql.conf.

=cut

sub restore_command
{
	my ($self, %params) = @_;
	my $cluster = $params{cluster} // $self->{cluster};
	return pg_ark_bin() . " archive-get --config $self->{config} --cluster $cluster %f %p";
}

=pod

=head2 $ark->wal_dir(%params) / $ark->object_path($walname)

The repository's WAL directory for the cluster, and the object file that holds one WAL file
(<repo>/<cluster>/wal/<first 16 chars>/<name>.ark; history files under wal/history/).

=cut

sub wal_dir
{
	my ($self, %params) = @_;
	my $cluster = $params{cluster} // $self->{cluster};
	return "$self->{repo}/$cluster/wal";
}

sub object_path
{
	my ($self, $walname, %params) = @_;
	my $sub = $walname =~ /^[0-9A-F]{8}\.history$/ ? 'history' : substr($walname, 0, 16);
	return $self->wal_dir(%params) . "/$sub/$walname.ark";
}

=pod

=head2 $ark->archived_wal_names(%params)

Sorted names of every WAL file the repository holds for the cluster (the visible .ark objects
under wal/*/, without the .ark suffix). Hidden temp files are not included.

=cut

sub archived_wal_names
{
	my ($self, %params) = @_;
	my $wal = $self->wal_dir(%params);
	my @names;
	opendir(my $dh, $wal) or return ();
	for my $sub (sort grep { !/^\./ } readdir $dh)
	{
		next unless -d "$wal/$sub";
		opendir(my $sh, "$wal/$sub") or die "could not open $wal/$sub: $!";
		for my $f (readdir $sh)
		{
			next if $f =~ /^\./;
			push @names, $1 if $f =~ /^(.+)\.ark$/;
		}
		closedir $sh;
	}
	closedir $dh;
	return sort @names;
}

=pod

=head2 $ark->hidden_files(%params)

Every file whose name starts with '.' anywhere under the repository (temp files in flight or left
behind).

=cut

sub hidden_files
{
	my ($self) = @_;
	my @found;
	my @dirs = ($self->{repo});
	while (my $d = shift @dirs)
	{
		opendir(my $dh, $d) or next;
		for my $f (readdir $dh)
		{
			next if $f eq '.' || $f eq '..';
			my $p = "$d/$f";
			push @found, $p if $f =~ /^\./;
			push @dirs, $p if -d $p && !-l $p;
		}
		closedir $dh;
	}
	return sort @found;
}

=pod

=head2 $ark->check_round_trip($node, \@names, $label)

For each name: archive-get into a temp dir must exit 0 and produce exactly the bytes of the file
still in the node's pg_wal. Names whose file is gone from pg_wal are only checked for exit 0 and
a size of 16MB for segments. One test per name; returns the number of failures.

=cut

sub check_round_trip
{
	my ($self, $node, $names, $label, %params) = @_;
	my $tmp = PostgreSQL::Test::Utils::tempdir('get');
	my $failures = 0;
	my $segsize = $params{segment_size} // wal_segment_size($node);
	for my $name (@$names)
	{
		my $dest = "$tmp/$name";
		my ($rc, $out, $err) = $self->archive_get($name, $dest, %params);
		my $src = $node->data_dir . "/pg_wal/$name";
		my $ok;
		if ($rc != 0)
		{
			$ok = 0;
			diag("archive-get $name exited $rc: $err");
		}
		elsif (-e $src)
		{
			$ok = File::Compare::compare($src, $dest) == 0;
			diag("archive-get $name: content differs from pg_wal/$name ("
				  . (-s $src) . " vs " . (-s $dest) . " bytes)")
			  unless $ok;
		}
		elsif (is_segment_name($name))
		{
			$ok = (-s $dest // 0) == $segsize;
			diag("archive-get $name: $dest is " . (-s $dest // 0) . " bytes, expected $segsize")
			  unless $ok;
		}
		else
		{
			$ok = -e $dest;
		}
		ok($ok, "$label: $name round-trips through archive-get"
			  . (-e $src ? " (byte-identical to pg_wal)" : " (no longer in pg_wal)"));
		$failures++ unless $ok;
		unlink $dest;
	}
	return $failures;
}

END
{
	for my $pid (keys %running_helpers)
	{
		kill 'KILL', $pid;
		eval { $running_helpers{$pid}->finish; };
	}
	if (!defined $ENV{PG_TEST_NOCLEAN})
	{
		rmtree($_) for @socket_dirs;
	}
}

#### Node-side helpers (plain functions) ####

=pod

=head2 PgArkTest::wal_segment_size($node)

In bytes.

=cut

my %segsize_cache;

sub wal_segment_size
{
	my ($node) = @_;
	return $segsize_cache{ $node->name } if $segsize_cache{ $node->name };
	my $out = '';
	# pg_controldata works whether or not the server runs.
	IPC::Run::run(['pg_controldata', $node->data_dir], '>', \$out, '2>', \my $err);
	my ($bytes) = $out =~ /^Bytes per WAL segment:\s+(\d+)/m;
	die "could not read the WAL segment size from pg_controldata: $out $err" unless $bytes;
	$segsize_cache{ $node->name } = $bytes;
	return $bytes;
}

=pod

=head2 Segment names

parse_segment_name($name) -> (tli, log, seg); segment_name(tli, log, seg);
next_segment_name($name, $segsize); segment_range($first, $last, $segsize) -> list including
both ends. With 16MB segments a log id holds 0x100 segments: ...000000FF is followed by the next
log id's ...00000000.

=cut

sub is_segment_name { return $_[0] =~ /^[0-9A-F]{24}$/; }

sub parse_segment_name
{
	my ($name) = @_;
	$name =~ /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/
	  or croak "not a WAL segment name: $name";
	return (hex($1), hex($2), hex($3));
}

sub segment_name { return sprintf('%08X%08X%08X', @_); }

sub segments_per_log_id
{
	my ($segsize) = @_;
	return int(4294967296 / $segsize);
}

sub next_segment_name
{
	my ($name, $segsize) = @_;
	my ($tli, $log, $seg) = parse_segment_name($name);
	$seg++;
	if ($seg >= segments_per_log_id($segsize))
	{
		$seg = 0;
		$log++;
	}
	return segment_name($tli, $log, $seg);
}

sub segment_range
{
	my ($first, $last, $segsize) = @_;
	croak "bad range $first..$last" if $last lt $first;
	my ($tli1) = parse_segment_name($first);
	my ($tli2) = parse_segment_name($last);
	croak "range crosses timelines: $first..$last" if $tli1 != $tli2;
	my @names = ($first);
	while ($names[-1] ne $last)
	{
		push @names, next_segment_name($names[-1], $segsize);
		croak "runaway segment range $first..$last" if @names > 100_000;
	}
	return @names;
}

=pod

=head2 PgArkTest::switch_wal($node)

Runs pg_switch_wal() and returns the name of the segment it completed (the one holding the
switch record); its .ready file exists when this returns.

=cut

sub switch_wal
{
	my ($node) = @_;
	return $node->safe_psql('postgres', 'SELECT pg_walfile_name(pg_switch_wal())');
}

=pod

=head2 PgArkTest::write_some_wal($node, $rows)

A small committed write ($rows rows of about 100 bytes, default 100), so that the next switch completes a new segment.

=cut

sub write_some_wal
{
	my ($node, $rows) = @_;
	$rows //= 100;
	$node->safe_psql('postgres',
		'SET client_min_messages = warning; '
		  . 'CREATE TABLE IF NOT EXISTS pg_ark_test_filler (id serial, t text); '
		  . "INSERT INTO pg_ark_test_filler (t) SELECT md5(g::text) FROM generate_series(1, $rows) g");
	return;
}

=pod

=head2 PgArkTest::ready_files($node)

Names (without suffix) of the .ready files in pg_wal/archive_status.

=cut

sub ready_files
{
	my ($node) = @_;
	my $dir = $node->data_dir . '/pg_wal/archive_status';
	opendir(my $dh, $dir) or die "could not open $dir: $!";
	my @ready = sort map { /^(.+)\.ready$/ ? $1 : () } readdir $dh;
	closedir $dh;
	return @ready;
}

=pod

=head2 PgArkTest::wait_for_archived($node, $upto)

Bounded poll until no .ready file is left in pg_wal/archive_status (when $upto is given: none
sorting at or before $upto, and $upto itself marked .done). Returns 1, or fails the test with
the archiver's state and returns 0.

=cut

sub wait_for_archived
{
	my ($node, $upto, %params) = @_;
	my $status = $node->data_dir . '/pg_wal/archive_status';
	my $deadline = time + ($params{timeout} // timeout());
	my @ready;
	while (time < $deadline)
	{
		@ready = ready_files($node);
		@ready = grep { $_ le $upto } @ready if defined $upto;
		return 1 if !@ready && (!defined $upto || -e "$status/$upto.done");
		usleep(100_000);
	}
	my $stats = $node->safe_psql('postgres',
		'SELECT archived_count, last_archived_wal, failed_count, last_failed_wal FROM pg_stat_archiver');
	fail("WAL archived" . (defined $upto ? " up to $upto" : '')
		  . " within " . ($params{timeout} // timeout()) . "s");
	diag("still .ready: @ready\npg_stat_archiver: $stats");
	return 0;
}

=pod

=head2 PgArkTest::wait_for_log($node, $regexp, $offset, $what)

Bounded poll on the server log from $offset; returns the offset after the match, or fails the
test and returns undef.

=cut

sub wait_for_log
{
	my ($node, $re, $offset, $what) = @_;
	my $deadline = time + timeout();
	$offset //= 0;
	while (time < $deadline)
	{
		my $log = PostgreSQL::Test::Utils::slurp_file($node->logfile, $offset);
		if ($log =~ $re)
		{
			pass($what // "server log matches $re");
			return $offset + $+[0];
		}
		usleep(100_000);
	}
	fail(($what // "server log matches $re") . " (timed out after " . timeout() . "s)");
	return undef;
}

=pod

=head2 PgArkTest::poll_until($code, $what)

Calls $code every 100ms until it returns true, at most timeout_default seconds. Returns the
true value or fails the test and returns 0.

=cut

sub poll_until
{
	my ($code, $what, %params) = @_;
	my $deadline = time + ($params{timeout} // timeout());
	while (time < $deadline)
	{
		my $r = $code->();
		return $r if $r;
		usleep(100_000);
	}
	fail("timed out waiting for: $what");
	return 0;
}

=pod

=head2 Background pgbench

start_pgbench($node, @args) starts `pgbench -n @args` in the background (output to a file);
pgbench_running($h); finish_pgbench($h) waits (bounded) and returns the exit code.

=cut

sub start_pgbench
{
	my ($node, @args) = @_;
	my $out = "$PostgreSQL::Test::Utils::log_path/" . basename($0, '.pl') . '_pgbench_'
	  . $node->name . '.log';
	my @cmd = ('pgbench', '-n', '-h', $node->host, '-p', $node->port, @args, 'postgres');
	note "starting in background: @cmd";
	my $h = IPC::Run::start(\@cmd, '<', '/dev/null', '>>', $out, '2>>', $out,
		IPC::Run::timeout(timeout()));
	return { h => $h, out => $out };
}

sub pgbench_running
{
	my ($b) = @_;
	return $b->{h}->pumpable ? 1 : 0;
}

sub finish_pgbench
{
	my ($b) = @_;
	eval { $b->{h}->finish; };
	if ($@)
	{
		diag("pgbench did not finish: $@");
		eval { $b->{h}->kill_kill; };
		return -1;
	}
	my $status = $b->{h}->full_result(0);
	my $rc = ($status & 127) ? -1 : ($status >> 8);
	diag("pgbench exited $rc:\n" . PostgreSQL::Test::Utils::slurp_file($b->{out}))
	  if $rc != 0;
	return $rc;
}

=pod

=head2 PgArkTest::switch_under_load($node, $count, $pgbench)

$count times: wait (bounded) until at least min_bytes (default 256kB) of WAL was written since
the previous switch
- by the background pgbench while it runs, by small inserts once it has ended - then
pg_switch_wal(). Returns the completed segments' names.

=cut

sub switch_under_load
{
	my ($node, $count, $bench, %params) = @_;
	my $min_bytes = $params{min_bytes} // 256 * 1024;
	my @done;
	for my $i (1 .. $count)
	{
		my $start = $node->safe_psql('postgres', 'SELECT pg_current_wal_insert_lsn()');
		my $ok = poll_until(
			sub {
				write_some_wal($node, 2000) unless $bench && pgbench_running($bench);
				return $node->safe_psql('postgres',
					"SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$start') >= $min_bytes")
				  eq 't';
			},
			"$min_bytes bytes of WAL before switch $i");
		push @done, switch_wal($node);
		note "switch $i completed segment $done[-1]";
	}
	return @done;
}


=pod

=head2 Backups and restores

$ark->backup($node, %params) runs backup_start_<type>() in psql (params: type full (default),
incremental or differential; parent for an incremental; label, fast, wait) and returns the row
as a hash (backup_id, status, parent, block_files, whole_files, fallback, ...), failing the test
on an error.

$ark->restore_node($name, @args) restores with `pg_ark restore` into the data directory of a
new PostgreSQL::Test::Cluster named $name and makes it startable on its own port, not
archiving; returns ($node, $rc, $stdout, $stderr). The node is not started.
$ark->restore_into($node, @args) does the same into an existing node's data directory (with
--delta, say) and returns ($rc, $stdout, $stderr).

PgArkTest::dumpall($node, @extra) returns pg_dumpall's output (without its random \restrict
lines); @extra are more pg_dumpall arguments (e.g. --exclude-database=big).

=cut

sub backup
{
	my ($self, $node, %params) = @_;
	my $type = $params{type} // 'full';
	my $label = defined $params{label} ? "'$params{label}'" : 'NULL';
	my $fast = $params{fast} // 'true';
	my $wait = $params{wait} // 'true';
	my @args = ($label, $fast, $wait);
	unshift @args, defined $params{parent} ? "'$params{parent}'" : 'NULL' if $type eq 'incremental';
	my @columns = qw(backup_id backup_type status parent start_lsn stop_lsn timeline original_bytes
	  copied_bytes stored_bytes block_files whole_files fallback);
	my ($out, $err) = ('', '');
	my $call = "backup_start_$type(" . join(', ', @args) . ')';
	my $rc = $node->psql('postgres', "SELECT " . join(', ', @columns) . " FROM $call",
		stdout => \$out, stderr => \$err, extra_params => ['-A', '-F', '|']);
	is($rc, 0, "$call succeeds") or diag("stderr: $err\n" . $self->log_tail);
	my %row;
	@row{@columns} = split /\|/, $out, -1;
	$row{stderr} = $err;
	return \%row;
}

sub restore_node
{
	my ($self, $name, @args) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	return ($node, $self->restore_into($node, @args));
}

sub restore_into
{
	my ($self, $node, @args) = @_;
	my ($rc, $out, $err) = $self->run_cli('restore', '--config', $self->{config}, '--cluster',
		$self->{cluster}, '--pgdata', $node->data_dir, @args);
	if ($rc == 0)
	{
		$node->append_conf('postgresql.conf', qq(
# restored by pg_ark (PgArkTest): own port, no archiving into the source's repository
port = ${\$node->port}
archive_mode = off
));
	}
	return ($rc, $out, $err);
}

sub dumpall
{
	my ($node, @extra) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'pg_dumpall', '-h', $node->host, '-p', $node->port, '--no-role-passwords', @extra ],
		'<', '/dev/null', '>', \$out, '2>', \$err, IPC::Run::timeout(timeout()))
	  or die "pg_dumpall failed: $err";
	# Recent pg_dump guards each script with a random \restrict key: not part of the data.
	$out =~ s/^\\(?:un)?restrict \S+\n//mg;
	return $out;
}


=pod

=head2 $ark->run_doc_example($doc, $marker, %replace)

Runs the shell example that follows `<!-- example: $marker -->` in docs/$doc the way a user
would, adapted to the test: `runuser -u postgres -- ` dropped (the tests already run as
postgres), /etc/pg_ark.conf replaced by this helper's configuration, `pg_ark` by the binary
under test, and each key of %replace (a literal string) by its value. Fails the test when the
example is missing. Returns ($exit_status, $stdout, $stderr).

=cut

sub run_doc_example
{
	my ($self, $doc, $marker, %replace) = @_;
	my ($text, $why) = example_block(PostgreSQL::Test::Utils::slurp_file("$ENV{PG_ARK_SOURCE_DIR}/docs/$doc"), $marker);
	Test::More::ok(defined $text, "docs/$doc has the $marker example") or Test::More::diag($why);
	my $script = $text // 'exit 1';
	$script =~ s{runuser -u postgres -- }{}g;
	$script =~ s{/etc/pg_ark\.conf}{$self->{config}}g;
	$script =~ s{\Q$_\E}{$replace{$_}}g for keys %replace;
	my $binary = pg_ark_bin();
	$script =~ s{(^|\s)pg_ark }{$1$binary }g;
	Test::More::note("running docs/$doc $marker:\n$script");
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'bash', '-e', '-c', $script ], '<', '/dev/null', '>', \$out, '2>', \$err,
		IPC::Run::timeout(timeout()));
	my $status = $?;
	return (($status & 127) ? -1 : ($status >> 8), $out, $err);
}

=pod

=head2 PgArkTest::example_block($markdown, $marker)

The fenced block that follows the line `<!-- example: $marker -->` (blank lines allowed in
between): returns ($text, $language), or (undef, $why) when there is none.

=cut

sub example_block
{
	my ($doc, $marker) = @_;
	my @lines = split /\n/, $doc;
	my $i = 0;
	$i++ while $i < @lines && $lines[$i] !~ /^\s*<!--\s*example:\s*\Q$marker\E\s*-->\s*$/;
	return (undef, "marker <!-- example: $marker --> not found") if $i >= @lines;
	$i++;
	$i++ while $i < @lines && $lines[$i] =~ /^\s*$/;
	return (undef, "no fenced block after <!-- example: $marker -->")
	  unless $i < @lines && $lines[$i] =~ /^(\s*)(```+|~~~+)\s*(\w*)/;
	my ($indent, $fence, $lang) = ($1, $2, $3);
	my @body;
	for ($i++; $i < @lines; $i++)
	{
		return (join("\n", @body) . "\n", $lang) if $lines[$i] =~ /^\s*\Q$fence\E\s*$/;
		(my $l = $lines[$i]) =~ s/^\Q$indent\E//;
		push @body, $l;
	}
	return (undef, "unterminated fenced block after <!-- example: $marker -->");
}

1;
