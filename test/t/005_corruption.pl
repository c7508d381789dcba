# A damaged alex index page must raise an error (XX002), never crash the
# server: each case corrupts one page of a stopped cluster's index file,
# then queries and checks the index, then restores the file.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('corrupt');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION omendb;
CREATE TABLE t (id int, v vector(8));
INSERT INTO t SELECT i, array[sin(i), cos(i), sin(2*i), cos(3*i), i % 7, i % 11, sin(i*0.1), 1]::vector
FROM generate_series(1, 3000) i;
CREATE INDEX t_alex ON t USING alex (v vector_l2_ops);
CHECKPOINT;
});

my $file = $node->data_dir . '/' . $node->safe_psql('postgres',
	q{SELECT pg_relation_filepath('t_alex')});
my $blcksz = 8192;
my $special = $blcksz - 24;    # MAXALIGN(sizeof(AlexPageOpaqueData))

sub read_file_raw
{
	open my $fh, '<:raw', $file or die "open $file: $!";
	local $/;
	my $data = <$fh>;
	close $fh;
	return $data;
}

sub write_file_raw
{
	my ($data) = @_;
	open my $fh, '>:raw', $file or die "open $file: $!";
	print $fh $data;
	close $fh;
}

# kind of each page: little-endian uint16 at offset 12 of the special space
my $pristine = read_file_raw();
my %first_of_kind;
for (my $blk = 0; $blk * $blcksz < length($pristine); $blk++)
{
	my $kind = unpack('v', substr($pristine, $blk * $blcksz + $special + 12, 2));
	$first_of_kind{$kind} //= $blk;
}
ok(defined $first_of_kind{$_}, "found a page of kind $_") for (2, 3, 4, 6);

my $query = q{SET enable_seqscan = off; SET alex.probes = 100000;
	SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 10000) s};

# corrupt(name, block, offset in page, bytes)
sub corrupt_case
{
	my ($name, $blk, $offset, $bytes) = @_;

	$node->stop;
	my $data = $pristine;
	substr($data, $blk * $blcksz + $offset, length($bytes)) = $bytes;
	write_file_raw($data);
	$node->start;

	my ($ret, $out, $err) = $node->psql('postgres', $query);
	isnt($ret, 0, "$name: the query fails");
	like($err, qr/corrupted|foreign page/, "$name: with a corruption error");
	($ret, $out, $err) = $node->psql('postgres', q{SELECT alex_index_check('t_alex')});
	like($err, qr/corrupted|foreign page/, "$name: alex_index_check reports it");
	is($node->safe_psql('postgres', 'SELECT 1'), '1', "$name: the server is still up");

	$node->stop;
	write_file_raw($pristine);
	$node->start;
}

# a leaf data page claiming 65535 lanes
corrupt_case('leaf data lane count', $first_of_kind{4},
	24, pack('v', 65535));
# a leaf head listing more pages than it can hold (npages at offset 24 + 12)
corrupt_case('leaf head page count', $first_of_kind{3},
	24 + 12, pack('v', 65535));
# a model page whose first line pointer has a wrong length
corrupt_case('model line pointer', $first_of_kind{2},
	24, pack('V', 0x7fff | (1 << 15) | (17 << 17)));
# a leaf head whose page id is wrong
corrupt_case('page id', $first_of_kind{3},
	$special + 18, pack('v', 0x1234));
# a leaf data page of zeros
corrupt_case('zeroed page', $first_of_kind{4},
	0, "\0" x $blcksz);

# a vector page that names another data page as its owner
corrupt_case('vector page owner', $first_of_kind{6},
	$special + 4, pack('V', 0));
# a data page whose first vector page slot points at the metapage: the slot
# list follows the 16-byte header and two bitmaps of (lanes + 63) / 64 words
{
	my $lanes = unpack('v', substr($pristine, $first_of_kind{4} * $blcksz + 24, 2));
	my $words = int(($lanes + 63) / 64);
	corrupt_case('vector page slot', $first_of_kind{4},
		24 + 16 + 16 * $words, pack('V', 0));
}

# and the restored index is whole again
is($node->safe_psql('postgres', q{SELECT alex_index_check('t_alex')}), '3000',
	'the restored index checks clean');

$node->stop;
done_testing();
