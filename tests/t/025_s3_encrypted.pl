# 025_s3_encrypted.pl
#     The S3 flow of t/023 (archiving, full and incremental backups under pgbench, verify, restore
#     of the chain, point-in-time restore, each compared with the source) with the repository
#     encrypted (repo-cipher-type = aes-256-gcm): the two layers composed, as docs/s3.md and
#     docs/encryption.md describe them.
use strict;
use warnings;

use FindBin;
# Loaded here, at compile time, so that their INIT blocks run before the flow does.
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

$ENV{PG_ARK_TEST_CIPHER_PASS} = 'correct horse battery staple, in s3';
my $flow = "$FindBin::Bin/023_s3_repository.pl";
do $flow;
die "could not run $flow: $@" if $@;
