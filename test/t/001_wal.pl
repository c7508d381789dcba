# 001_wal.pl: alex indexes are replayed on a streaming standby.
#
# A primary and a streaming standby both run with
# wal_consistency_checking = 'generic', so every generic WAL record the
# standby replays is checked against the full-page image the primary logged
# with it: a record that does not reproduce the primary's page stops
# recovery.  One index per operator class is created on an empty table (two
# of them with a small fanout, so model nodes split and root splits add
# levels) and grows through many small inserting statements (leaf splits,
# expands), deletes,
# two vacuums (the second one recycles the replaced leaves), and more
# inserts that reuse the recycled pages.  The standby must then answer every
# exact (exhaustive) index scan exactly as the primary does, report the same
# alex_index_stats, pass alex_index_check and reach every heap row.  Finally
# the standby is promoted and keeps growing the replayed index.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
wal_consistency_checking = 'generic'
autovacuum = off
});
$primary->start;
# a slot keeps the WAL the standby has not replayed yet (checking every page
# makes the WAL large and the standby slower than the primary)
$primary->safe_psql('postgres',
	"SELECT pg_create_physical_replication_slot('standby')");

my $backup_name = 'base';
$primary->backup($backup_name);
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, $backup_name, has_streaming => 1);
$standby->append_conf('postgresql.conf',
	"wal_consistency_checking = 'generic'\nprimary_slot_name = 'standby'");
$standby->start;

# vec(x): a deterministic, tie-free 8-d vector (no zero vectors, so the
# cosine index holds every row).
$primary->safe_psql('postgres', q{
CREATE EXTENSION omendb;
CREATE FUNCTION vec(x float8) RETURNS vector(8) LANGUAGE sql IMMUTABLE AS $$
	SELECT array[sin(x * 0.1), cos(x * 0.37), sin(x * 0.73 + 1), cos(x * 1.1 + 2),
	             sin(x * 0.013) * 2, cos(x * 0.029) * 2, sin(x * 2.3) + 0.5,
	             cos(x * 0.57) - 0.25]::vector(8)
$$;
CREATE TABLE t (id int, v vector(8));
CREATE INDEX t_l2 ON t USING alex (v vector_l2_ops);
CREATE INDEX t_ip ON t USING alex (v vector_ip_ops) WITH (fanout = 4);
CREATE INDEX t_cos ON t USING alex (v vector_cosine_ops) WITH (fanout = 6);
CREATE INDEX t_l1 ON t USING alex (v vector_l1_ops) WITH (leaves = 4);
});

my %opclass_op = (t_l2 => '<->', t_ip => '<#>', t_cos => '<=>', t_l1 => '<+>');
my @indexes = sort keys %opclass_op;

# Many statements of 100 rows each: every leaf split and expand is its own
# WAL record sequence.
sub insert_rows
{
	my ($from, $to) = @_;
	my $sql = '';
	for (my $lo = $from; $lo <= $to; $lo += 100)
	{
		my $hi = $lo + 99 > $to ? $to : $lo + 99;
		$sql .= "INSERT INTO t SELECT i, vec(i) FROM generate_series($lo, $hi) i;\n";
	}
	$primary->safe_psql('postgres', $sql);
}

insert_rows(1, 4000);

my $stats_sql = "SELECT leaves, splits FROM alex_index_stats('t_l2')";
my ($leaves, $splits) = split /\|/, $primary->safe_psql('postgres', $stats_sql);
cmp_ok($splits, '>', 10, "inserts into the empty index split leaves ($splits splits)");
cmp_ok($leaves, '>', 10, "the index grew to many leaves ($leaves leaves)");
my $levels = $primary->safe_psql('postgres',
	"SELECT levels FROM alex_index_stats('t_ip')");
cmp_ok($levels, '>=', 3,
	"with fanout 4, model node and root splits stacked $levels levels");

# Delete a range of ids, scattered rows and a region of the vector space
# (leaves there become sparse and get merged), then vacuum twice with a
# transaction in between so the leaves replaced by splits get recycled.
$primary->safe_psql('postgres', q{
DELETE FROM t WHERE id BETWEEN 500 AND 1700;
DELETE FROM t WHERE id % 7 = 3;
DELETE FROM t WHERE v <-> vec(100) < 3.3;
});
my $deleted_before = $primary->safe_psql('postgres',
	"SELECT deleted_leaves FROM alex_index_stats('t_l2')");
cmp_ok($deleted_before, '>', 0,
	"split leaves wait for recycling ($deleted_before replaced leaves)");
$primary->safe_psql('postgres', 'VACUUM t');
$primary->safe_psql('postgres', 'SELECT txid_current()');
$primary->safe_psql('postgres', 'VACUUM t');

my ($deleted_after, $free_after_vacuum, $merges) = split /\|/,
  $primary->safe_psql('postgres',
	"SELECT deleted_leaves, free_pages, merges FROM alex_index_stats('t_l2')");
cmp_ok($deleted_after, '<', $deleted_before,
	"vacuum recycled replaced leaves ($deleted_before -> $deleted_after)");
cmp_ok($merges, '>', 0, "vacuum merged sparse leaves ($merges merges)");
cmp_ok($free_after_vacuum, '>', 0,
	"vacuum freed pages ($free_after_vacuum free pages)");

# More inserts: reuse of recycled pages, more splits.
insert_rows(4001, 6000);
# Updates add new entries next to dead ones.
$primary->safe_psql('postgres',
	"UPDATE t SET v = vec(id + 100000.5) WHERE id % 11 = 0");

my $free_after_insert = $primary->safe_psql('postgres',
	"SELECT free_pages FROM alex_index_stats('t_l2')");
cmp_ok($free_after_insert, '<', $free_after_vacuum,
	"new inserts reused freed pages ($free_after_vacuum -> $free_after_insert free)");

$primary->wait_for_catchup($standby);

my $nrows = $primary->safe_psql('postgres', 'SELECT count(*) FROM t');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM t'),
	$nrows, "standby sees all $nrows rows");

my @queries = (0.5, 777.25, 2345.75, 5999.5, -123.125, 100000.5);

# exact_ids($node, $op, \@qs, $k, $use_index): for each query vec($q), the
# ordered ids of its $k nearest rows, by an exhaustive index scan or a seq
# scan; one psql session for all queries.
sub exact_ids
{
	my ($node, $op, $qs, $k, $use_index) = @_;
	my $sql =
	  $use_index
	  ? "SET enable_seqscan = off; SET enable_bitmapscan = off; SET alex.probes = 100000;\n"
	  : "SET enable_indexscan = off; SET enable_bitmapscan = off;\n";
	foreach my $q (@$qs)
	{
		$sql .= "SELECT coalesce(string_agg(id::text, ','), '-') FROM ("
		  . "SELECT id FROM t ORDER BY v $op vec($q) LIMIT $k) s;\n";
	}
	my @lines = split /\n/, $node->safe_psql('postgres', $sql);
	die "expected " . scalar(@$qs) . " result lines, got " . scalar(@lines)
	  unless @lines == @$qs;
	return @lines;
}

foreach my $idx (@indexes)
{
	my $op = $opclass_op{$idx};

	# The scans below really use this index.
	my $plan = $standby->safe_psql('postgres', qq{
SET enable_seqscan = off; SET alex.probes = 100000;
EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY v $op vec(1) LIMIT 10;
});
	like($plan, qr/Index Scan using $idx/, "$idx: standby plan uses $idx");

	my @p = exact_ids($primary, $op, \@queries, 40, 1);
	my @s = exact_ids($standby, $op, \@queries, 40, 1);
	my @seq = exact_ids($primary, $op, \@queries, 40, 0);
	foreach my $i (0 .. $#queries)
	{
		my $q = $queries[$i];
		is($p[$i], $seq[$i], "$idx q=$q: exact index scan on primary equals seq scan");
		is($s[$i], $p[$i], "$idx q=$q: exact index scan on standby equals primary");
	}
}

foreach my $idx (@indexes)
{
	my $op = $opclass_op{$idx};
	my $n_index = $standby->safe_psql('postgres', qq{
SET enable_seqscan = off; SET enable_bitmapscan = off; SET alex.probes = 100000;
SELECT count(*), md5(string_agg(id::text, ',' ORDER BY id)) FROM (
	SELECT id FROM t ORDER BY v $op vec(42) LIMIT 1000000) s;
});
	my $n_heap = $standby->safe_psql('postgres', qq{
SET enable_indexscan = off; SET enable_bitmapscan = off;
SELECT count(*), md5(string_agg(id::text, ',' ORDER BY id)) FROM t;
});
	is($n_index, $n_heap,
		"$idx: exhaustive index scan on the standby returns every row once");

	my $p_stats = $primary->safe_psql('postgres',
		"SELECT * FROM alex_index_stats('$idx')");
	my $s_stats = $standby->safe_psql('postgres',
		"SELECT * FROM alex_index_stats('$idx')");
	is($s_stats, $p_stats, "$idx: alex_index_stats identical on standby");

	my $entries = $primary->safe_psql('postgres',
		"SELECT entries FROM alex_index_stats('$idx')");
	is($standby->safe_psql('postgres', "SELECT alex_index_check('$idx')"),
		$entries, "$idx: alex_index_check passes on the standby");
	is($primary->safe_psql('postgres', "SELECT alex_index_check('$idx')"),
		$entries, "$idx: alex_index_check passes on the primary");
}

# Wider vectors take the quantized path (codes estimate, lazy rerank) and,
# above a model page's centroid width, vectors spanning pages and sketch
# routing: grow both by inserts (splits write whole new leaves), delete and
# vacuum, then the standby answers approximate and exact queries exactly as
# the primary does.  w300t keeps no vectors (rerank = table): its splits
# read the rows back from the table.
$primary->safe_psql('postgres', q{
CREATE FUNCTION wvec(x float8, d int) RETURNS vector LANGUAGE sql IMMUTABLE AS $$
	SELECT array_agg(sin(x * 0.01 * g) + sin((x::int % 13) * g))::vector
	FROM generate_series(1, d) g
$$;
CREATE TABLE w300 (id int, v vector(300));
CREATE INDEX w300_l2 ON w300 USING alex (v vector_l2_ops);
CREATE TABLE w300t (id int, v vector(300));
CREATE INDEX w300t_l2 ON w300t USING alex (v vector_l2_ops) WITH (rerank = table);
CREATE TABLE w2500 (id int, v vector(2500));
CREATE INDEX w2500_cos ON w2500 USING alex (v vector_cosine_ops);
});
my $wide_sql = '';
for (my $lo = 1; $lo <= 1500; $lo += 100)
{
	my $hi = $lo + 99;
	$wide_sql .= "INSERT INTO w300 SELECT i, wvec(i, 300) FROM generate_series($lo, $hi) i;\n";
	$wide_sql .= "INSERT INTO w300t SELECT i, wvec(i, 300) FROM generate_series($lo, $hi) i;\n";
	$wide_sql .= "INSERT INTO w2500 SELECT i, wvec(i, 2500) FROM generate_series($lo, $hi) i;\n"
	  if $lo <= 400;
}
$primary->safe_psql('postgres', $wide_sql);
$primary->safe_psql('postgres', q{
DELETE FROM w300 WHERE id % 3 = 0;
DELETE FROM w2500 WHERE id % 3 = 0;
DELETE FROM w300t WHERE id % 3 = 0;
VACUUM w300, w2500, w300t;
});
cmp_ok($primary->safe_psql('postgres', "SELECT splits FROM alex_index_stats('w300_l2')"),
	'>', 0, 'the 300-d index split leaves');
is($primary->safe_psql('postgres',
		"SELECT splits > 0 AND leaf_vector_pages = 0 FROM alex_index_stats('w300t_l2')"),
	't', 'the 300-d rerank = table index split leaves and has no vector pages');
$primary->wait_for_catchup($standby);

foreach my $case (['w300', 'w300_l2', '<->', 300], ['w2500', 'w2500_cos', '<=>', 2500],
	['w300t', 'w300t_l2', '<->', 300])
{
	my ($tbl, $idx, $op, $d) = @$case;
	my $entries = $primary->safe_psql('postgres',
		"SELECT entries FROM alex_index_stats('$idx')");
	is($standby->safe_psql('postgres', "SELECT alex_index_check('$idx')"),
		$entries, "$idx: alex_index_check passes on the standby");
	foreach my $probes (2, 100000)
	{
		my $sql = "SET enable_seqscan = off; SET alex.probes = $probes;\n";
		$sql .= "SELECT string_agg(id::text, ',') FROM (SELECT id FROM $tbl "
		  . "ORDER BY v $op wvec($_, $d) LIMIT 20) s;\n"
		  foreach (7.5, 333.25, 1234.5);
		my $on_primary = $primary->safe_psql('postgres', $sql);
		is($standby->safe_psql('postgres', $sql), $on_primary,
			"$idx: the standby answers probes=$probes queries as the primary");
	}
	my $exact = $primary->safe_psql('postgres',
		"SET enable_indexscan = off;\n"
		  . join('', map {
			"SELECT string_agg(id::text, ',') FROM (SELECT id FROM $tbl "
			  . "ORDER BY v $op wvec($_, $d) LIMIT 20) s;\n"
		  } (7.5, 333.25, 1234.5)));
	is($standby->safe_psql('postgres',
		"SET enable_seqscan = off; SET alex.probes = 100000;\n"
		  . join('', map {
			"SELECT string_agg(id::text, ',') FROM (SELECT id FROM $tbl "
			  . "ORDER BY v $op wvec($_, $d) LIMIT 20) s;\n"
		  } (7.5, 333.25, 1234.5))),
		$exact, "$idx: exhaustive probes on the standby equal the seq scan");
}

# Nothing in the standby's log about failed consistency checks.
my $log = slurp_file($standby->logfile);
unlike($log, qr/inconsistent page found/,
	'wal_consistency_checking found no inconsistent page');

# The replayed index is writable after promotion: the standby takes over,
# grows the index further (more splits) and stays exact.
$primary->stop;
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
  or die 'standby did not leave recovery';
my $splits_before = $standby->safe_psql('postgres',
	"SELECT splits FROM alex_index_stats('t_l2')");
my $sql = '';
for (my $lo = 10001; $lo <= 13000; $lo += 100)
{
	my $hi = $lo + 99;
	$sql .= "INSERT INTO t SELECT i, vec(i) FROM generate_series($lo, $hi) i;\n";
}
$standby->safe_psql('postgres', $sql);
cmp_ok(
	$standby->safe_psql('postgres',
		"SELECT splits FROM alex_index_stats('t_l2')"),
	'>', $splits_before,
	'the promoted standby splits leaves of the replayed index');
foreach my $idx (@indexes)
{
	my $op = $opclass_op{$idx};
	my $entries = $standby->safe_psql('postgres',
		"SELECT entries FROM alex_index_stats('$idx')");
	is($standby->safe_psql('postgres', "SELECT alex_index_check('$idx')"),
		$entries, "$idx: alex_index_check passes after promotion and inserts");
	my @qs = (0.5, 11111.5);
	my @via_index = exact_ids($standby, $op, \@qs, 40, 1);
	my @via_seq = exact_ids($standby, $op, \@qs, 40, 0);
	foreach my $i (0 .. $#qs)
	{
		is($via_index[$i], $via_seq[$i],
			"$idx q=$qs[$i]: exact index scan equals seq scan after promotion");
	}
}

$standby->stop;

done_testing();
