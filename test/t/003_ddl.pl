# 003_ddl.pl: alex indexes through DDL and relation kinds.
#
# (a) An UNLOGGED table with alex indexes survives a clean restart, and after
#     a crash both the table and the index are reset from their init forks:
#     empty, valid, and usable for new inserts that split leaves again.
# (b) REINDEX INDEX and REINDEX INDEX CONCURRENTLY rebuild an index grown by
#     inserts into one that passes alex_index_check and answers exact scans
#     exactly as before.
# (c) CREATE INDEX CONCURRENTLY on a populated table while another session
#     keeps inserting: the new index is valid, passes the check and holds
#     every row, including those inserted during the build.  Used for the
#     documented migration path (CIC new, DROP old, RENAME new to old), and
#     REINDEX CONCURRENTLY is run under concurrent inserts as well.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('ddl');
$node->init;
$node->append_conf('postgresql.conf', qq{
wal_consistency_checking = 'generic'
autovacuum = off
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION omendb;
CREATE FUNCTION vec(x float8) RETURNS vector(8) LANGUAGE sql IMMUTABLE AS $$
	SELECT array[sin(x * 0.1), cos(x * 0.37), sin(x * 0.73 + 1), cos(x * 1.1 + 2),
	             sin(x * 0.013) * 2, cos(x * 0.029) * 2, sin(x * 2.3) + 0.5,
	             cos(x * 0.57) - 0.25]::vector(8)
$$;
});

my $force_index =
  'SET enable_seqscan = off; SET enable_bitmapscan = off; SET alex.probes = 100000;';
my $force_seq = 'SET enable_indexscan = off; SET enable_bitmapscan = off;';

# Statements inserting rows $from..$to of table $tbl, $step rows each.
sub insert_sql
{
	my ($tbl, $from, $to, $step) = @_;
	my $sql = '';
	for (my $lo = $from; $lo <= $to; $lo += $step)
	{
		my $hi = $lo + $step - 1 > $to ? $to : $lo + $step - 1;
		$sql .= "INSERT INTO $tbl SELECT i, vec(i) FROM generate_series($lo, $hi) i;\n";
	}
	return $sql;
}

# For each vec($q) of @$qs, the ordered ids of the $k nearest rows of $tbl
# under $op, with planner $settings; one psql session for all queries.
sub nearest
{
	my ($tbl, $op, $qs, $k, $settings) = @_;
	my $sql = "$settings\n";
	foreach my $q (@$qs)
	{
		$sql .= "SELECT coalesce(string_agg(id::text, ','), '-') FROM ("
		  . "SELECT id FROM $tbl ORDER BY v $op vec($q) LIMIT $k) s;\n";
	}
	my @lines = split /\n/, $node->safe_psql('postgres', $sql);
	die "expected " . scalar(@$qs) . " result lines, got " . scalar(@lines)
	  unless @lines == @$qs;
	return @lines;
}

# The plan of an ordered scan on $tbl uses index $idx.
sub uses_index
{
	my ($tbl, $idx, $op, $label) = @_;
	my $plan = $node->safe_psql('postgres', qq{$force_index
EXPLAIN (COSTS OFF) SELECT id FROM $tbl ORDER BY v $op vec(1) LIMIT 5;
});
	like($plan, qr/Index Scan using $idx /, "$label: the ordered scan uses $idx");
}

# Check $idx on $tbl: alex_index_check passes and counts the stats' entries,
# an exhaustive scan returns exactly the rows of the table, and exact scans
# equal seq scans for a few queries.
sub check_index
{
	my ($tbl, $idx, $op, $label) = @_;
	my ($ret, $stdout, $stderr) = $node->psql('postgres',
		"SELECT alex_index_check('$idx'), (SELECT entries FROM alex_index_stats('$idx'))");
	is($ret, 0, "$label: alex_index_check('$idx') passes") or diag $stderr;
	my ($checked, $entries) = split /\|/, $stdout;
	is($checked, $entries,
		"$label: alex_index_check counts the entries alex_index_stats reports");

	my ($via_index, $via_heap) = split /\n/, $node->safe_psql('postgres', qq{
$force_index
SELECT count(*), md5(string_agg(id::text, ',' ORDER BY id)) FROM (
	SELECT id FROM $tbl ORDER BY v $op vec(3.5) LIMIT 100000000) s;
RESET enable_seqscan;
$force_seq
SELECT count(*), md5(string_agg(id::text, ',' ORDER BY id)) FROM $tbl;
});
	is($via_index, $via_heap,
		"$label: exhaustive scan of $idx returns every row of $tbl once");

	my @qs = (0.5, 4321.25);
	my @a = nearest($tbl, $op, \@qs, 25, $force_index);
	my @b = nearest($tbl, $op, \@qs, 25, $force_seq);
	foreach my $i (0 .. $#qs)
	{
		is($a[$i], $b[$i], "$label: exact scan of $idx equals seq scan (q=$qs[$i])");
	}
}

sub splits
{
	my ($idx) = @_;
	return $node->safe_psql('postgres',
		"SELECT splits FROM alex_index_stats('$idx')");
}

# Run $sql in a background psql; returns a handle for finish_background.
sub start_background
{
	my ($name, $sql) = @_;
	my $script = $node->basedir . "/$name.sql";
	append_to_file($script, $sql);
	my $err = $node->basedir . "/$name.err";
	my $h = IPC::Run::start(
		[
			'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
			'-d', $node->connstr('postgres'), '-f', $script
		],
		'<', \undef, '>', '/dev/null', '2>', $err);
	return { h => $h, err => $err, name => $name };
}

sub finish_background
{
	my ($bg) = @_;
	my $ok = $bg->{h}->finish;
	my $err = slurp_file($bg->{err});
	ok($ok && $err eq '', "background session $bg->{name} succeeded")
	  or diag "exit: " . $bg->{h}->result . "\nstderr: $err";
}

######################################################################
# (a) UNLOGGED
######################################################################

$node->safe_psql('postgres', q{
CREATE UNLOGGED TABLE u (id int, v vector(8));
CREATE INDEX u_l2 ON u USING alex (v vector_l2_ops);
});
$node->safe_psql('postgres', insert_sql('u', 1, 2000, 100));
$node->safe_psql('postgres',
	'CREATE INDEX u_ip ON u USING alex (v vector_ip_ops) WITH (fanout = 4)');
cmp_ok(splits('u_l2'), '>', 0, 'unlogged: inserts split leaves');
check_index('u', 'u_l2', '<->', 'unlogged');
check_index('u', 'u_ip', '<#>', 'unlogged');

# A clean restart keeps an unlogged table's contents.
$node->restart;
is($node->safe_psql('postgres', 'SELECT count(*) FROM u'),
	2000, 'unlogged: a clean restart keeps the rows');
check_index('u', 'u_l2', '<->', 'unlogged after clean restart');

# A crash resets table and indexes from the init forks.
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', 'SELECT count(*) FROM u'),
	0, 'unlogged: the table is empty after a crash');
$node->safe_psql('postgres', q{
CREATE TABLE empty_ref (id int, v vector(8));
CREATE INDEX empty_ref_idx ON empty_ref USING alex (v vector_l2_ops);
});
my $empty_stats = $node->safe_psql('postgres',
	"SELECT * FROM alex_index_stats('empty_ref_idx')");
foreach my $idx ('u_l2', 'u_ip')
{
	is($node->safe_psql('postgres', "SELECT * FROM alex_index_stats('$idx')"),
		$empty_stats,
		"unlogged: $idx is reset to a new empty index after a crash");
	is($node->safe_psql('postgres', "SELECT alex_index_check('$idx')"),
		0, "unlogged: the reset $idx passes alex_index_check");
	is( $node->safe_psql('postgres', qq{$force_index
SELECT count(*) FROM (SELECT id FROM u ORDER BY v <-> vec(1) LIMIT 10) s}),
		0, "unlogged: scans of the reset index return nothing");
}

$node->safe_psql('postgres', insert_sql('u', 5001, 8000, 100));
cmp_ok(splits('u_l2'), '>', 0,
	'unlogged: inserts after the reset split leaves again');
check_index('u', 'u_l2', '<->', 'unlogged, refilled after crash');
check_index('u', 'u_ip', '<#>', 'unlogged, refilled after crash');

######################################################################
# (b) REINDEX and REINDEX CONCURRENTLY
######################################################################

$node->safe_psql('postgres', q{
CREATE TABLE r (id int, v vector(8));
CREATE INDEX r_l2 ON r USING alex (v vector_l2_ops);
CREATE INDEX r_cos ON r USING alex (v vector_cosine_ops) WITH (fanout = 4);
});
$node->safe_psql('postgres', insert_sql('r', 1, 5000, 100));
$node->safe_psql('postgres',
	'DELETE FROM r WHERE id % 9 = 0; VACUUM r;');
cmp_ok(splits('r_l2'), '>', 0, 'reindex: the grown index has split');
my $r_levels_sql = "SELECT levels FROM alex_index_stats('r_cos')";
cmp_ok($node->safe_psql('postgres', $r_levels_sql), '>=', 3,
	'reindex: the fanout 4 index grew levels');

my %r_op = (r_l2 => '<->', r_cos => '<=>');
my @r_queries = (0.5, 17.25, 999.5, 2500.125, 4999.75);
my %before;
foreach my $idx (sort keys %r_op)
{
	my @a = nearest('r', $r_op{$idx}, \@r_queries, 30, $force_index);
	my @b = nearest('r', $r_op{$idx}, \@r_queries, 30, $force_seq);
	$before{$idx} = \@a;
	foreach my $i (0 .. $#r_queries)
	{
		is($a[$i], $b[$i], "reindex: $idx exact before rebuilding (q=$r_queries[$i])");
	}
}

foreach my $command ('REINDEX INDEX', 'REINDEX INDEX CONCURRENTLY')
{
	foreach my $idx (sort keys %r_op)
	{
		my $oid_before = $node->safe_psql('postgres',
			"SELECT pg_relation_filenode('$idx')");
		$node->safe_psql('postgres', "$command $idx");
		isnt($node->safe_psql('postgres', "SELECT pg_relation_filenode('$idx')"),
			$oid_before, "$command $idx: rebuilt into a new relfilenode");
		is($node->safe_psql('postgres',
			"SELECT indisvalid FROM pg_index WHERE indexrelid = '$idx'::regclass"),
			't', "$command $idx: the index is valid");
		uses_index('r', $idx, $r_op{$idx}, "$command $idx");
		my @after = nearest('r', $r_op{$idx}, \@r_queries, 30, $force_index);
		foreach my $i (0 .. $#r_queries)
		{
			is($after[$i], $before{$idx}[$i],
				"$command $idx: same exact results (q=$r_queries[$i])");
		}
		check_index('r', $idx, $r_op{$idx}, "$command $idx");
	}
}

cmp_ok($node->safe_psql('postgres', $r_levels_sql), '>=', 3,
	'reindex: the rebuilt fanout 4 index keeps its levels');
is( $node->safe_psql('postgres',
		"SELECT reloptions FROM pg_class WHERE relname = 'r_cos'"),
	'{fanout=4}', 'reindex: the rebuilt index keeps its fanout option');

# A rebuilt index keeps growing by inserts.
$node->safe_psql('postgres', insert_sql('r', 5001, 8000, 100));
check_index('r', 'r_l2', '<->', 'reindexed then grown');

######################################################################
# (c) CREATE INDEX CONCURRENTLY under concurrent inserts; migration path
######################################################################

$node->safe_psql('postgres', q{
CREATE TABLE c (id int, v vector(8));
CREATE INDEX c_idx ON c USING alex (v vector_l2_ops);
});
$node->safe_psql('postgres', insert_sql('c', 1, 20000, 1000));

# 300 small committed inserts, paced so they span the whole build.
my $bg_sql = '';
for my $b (0 .. 299)
{
	my $lo = 100001 + $b * 20;
	my $hi = $lo + 19;
	$bg_sql .=
	  "INSERT INTO c SELECT i, vec(i) FROM generate_series($lo, $hi) i;\n"
	  . "SELECT pg_sleep(0.01);\n";
}
my $bg = start_background('cic_inserts', $bg_sql);
$node->poll_query_until('postgres', 'SELECT count(*) > 20000 FROM c')
  or die 'background inserts did not start';
my $count_at_start = $node->safe_psql('postgres', 'SELECT count(*) FROM c');
$node->safe_psql('postgres',
	'CREATE INDEX CONCURRENTLY c_idx_new ON c USING alex (v vector_l2_ops) WITH (leaves = 50, fanout = 8)');
my $count_at_end = $node->safe_psql('postgres', 'SELECT count(*) FROM c');
cmp_ok($count_at_end, '>', $count_at_start,
	"CIC: rows were inserted while the index was built ($count_at_start -> $count_at_end)");
finish_background($bg);
is($node->safe_psql('postgres', 'SELECT count(*) FROM c'),
	26000, 'CIC: all background rows committed');

is($node->safe_psql('postgres',
	"SELECT indisvalid AND indisready FROM pg_index WHERE indexrelid = 'c_idx_new'::regclass"),
	't', 'CIC: the new index is valid');
check_index('c', 'c_idx_new', '<->', 'CIC');

# Migration: replace the old index by the concurrently built one.
$node->safe_psql('postgres', q{
DROP INDEX c_idx;
ALTER INDEX c_idx_new RENAME TO c_idx;
});
uses_index('c', 'c_idx', '<->', 'migrated');
check_index('c', 'c_idx', '<->', 'migrated');
$node->safe_psql('postgres', insert_sql('c', 200001, 202000, 100));
check_index('c', 'c_idx', '<->', 'migrated, then grown');

# REINDEX CONCURRENTLY while another session inserts.
$bg_sql = '';
for my $b (0 .. 199)
{
	my $lo = 300001 + $b * 20;
	my $hi = $lo + 19;
	$bg_sql .=
	  "INSERT INTO c SELECT i, vec(i) FROM generate_series($lo, $hi) i;\n"
	  . "SELECT pg_sleep(0.01);\n";
}
$bg = start_background('reindex_inserts', $bg_sql);
$node->poll_query_until('postgres', 'SELECT count(*) > 28000 FROM c')
  or die 'background inserts did not start';
$node->safe_psql('postgres', 'REINDEX INDEX CONCURRENTLY c_idx');
finish_background($bg);
is($node->safe_psql('postgres', 'SELECT count(*) FROM c'),
	32000, 'REINDEX CONCURRENTLY: all background rows committed');
check_index('c', 'c_idx', '<->', 'REINDEX CONCURRENTLY under inserts');

my $log = slurp_file($node->logfile);
unlike($log, qr/inconsistent page found/,
	'wal_consistency_checking found no inconsistent page');

$node->stop;

done_testing();
