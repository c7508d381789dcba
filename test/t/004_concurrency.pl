# 004_concurrency.pl: alex indexes under concurrent inserts, updates,
# deletes, vacuums and queries.
#
# Two indexes, L2 (default fanout) and cosine with fanout 4 (model node
# splits and root splits under concurrency too).  A pgbench workload runs
# several clients for a bounded number of transactions each, every
# transaction picking one of these scripts:
#   insert      committed inserts of 50 new rows (leaves keep splitting)
#   update      moves a random range of rows to new vectors (new entries)
#   delete      deletes a random range of rows
#   carve       deletes the rows in a random ball of the vector space (its
#               leaves become sparse and get merged by vacuum)
#   vacuum      VACUUM (bulkdelete, merges, recycling of replaced leaves);
#               without heap truncation, whose exclusive lock would make the
#               vacuums wait for each other for seconds
#   ann         approximate queries with few probes, on both indexes
# Updates and deletes of different clients touch disjoint rows, so no
# transaction can fail on a deadlock or serialization error: pgbench must
# report no failed transaction and no error.
#
# Meanwhile a second pgbench (the checker) keeps verifying, in one
# REPEATABLE READ snapshot per transaction, that an exact (exhaustive) index
# scan's top rows equal a sequential scan's, that an exhaustive index scan
# returns exactly the rows a sequential scan sees, and that a filtered query
# probing one leaf at a time fills its LIMIT through alex.max_probes; any
# difference raises an error.  It stops checking once the workload is done.
#
# Afterwards alex_index_check passes and an exhaustive index scan returns
# exactly the table's rows.  All of it twice, the second time after two
# vacuums made the replaced leaves' pages reusable.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('conc');
$node->init;
$node->append_conf('postgresql.conf', qq{
autovacuum = off
max_connections = 30
});
$node->start;

my $clients = 4;

$node->safe_psql('postgres', q{
CREATE EXTENSION omendb;
CREATE FUNCTION vec(x float8) RETURNS vector(8) LANGUAGE sql IMMUTABLE AS $$
	SELECT array[sin(x * 0.1), cos(x * 0.37), sin(x * 0.73 + 1), cos(x * 1.1 + 2),
	             sin(x * 0.013) * 2, cos(x * 0.029) * 2, sin(x * 2.3) + 0.5,
	             cos(x * 0.57) - 0.25]::vector(8)
$$;
CREATE SEQUENCE ids;
CREATE TABLE t (id bigint, v vector(8));
CREATE TABLE workload_done (done bool);
INSERT INTO workload_done VALUES (false);
CREATE SEQUENCE checks;
CREATE INDEX t_l2 ON t USING alex (v vector_l2_ops);
CREATE INDEX t_cos ON t USING alex (v vector_cosine_ops) WITH (fanout = 4);

-- Raise an error unless a scan of this query uses index idx.
CREATE FUNCTION assert_index_plan(query text, idx text, q vector, k int)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	line text;
	plan text := '';
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query USING q, k LOOP
		plan := plan || line || E'\n';
	END LOOP;
	IF plan NOT LIKE '%Index Scan using ' || idx || ' %' THEN
		RAISE EXCEPTION 'query does not use %: %', idx, plan;
	END IF;
END
$$;

-- In the caller's snapshot (run it in a REPEATABLE READ transaction):
-- the exact index scan of idx (operator op) agrees with a seq scan.
CREATE FUNCTION check_exact(idx text, op text, q vector, k int)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	topk text := format('SELECT array_agg(id) FROM (SELECT id FROM t ORDER BY v %s $1 LIMIT $2) s', op);
	everything text := format('SELECT array_agg(id ORDER BY id), count(*) FROM (SELECT id FROM t ORDER BY v %s $1 LIMIT $2) s', op);
	filtered text := format('SELECT count(*) FROM (SELECT id FROM t WHERE id %% 3 = 0 ORDER BY v %s $1 LIMIT $2) s', op);
	index_top bigint[];
	seq_top bigint[];
	index_all bigint[];
	seq_all bigint[];
	index_n bigint;
	seq_n bigint;
	missing bigint[];
	extra bigint[];
BEGIN
	IF current_setting('transaction_isolation') <> 'repeatable read' THEN
		RAISE EXCEPTION 'check_exact needs a repeatable read transaction';
	END IF;

	-- index side: exhaustive probes
	PERFORM set_config('enable_seqscan', 'off', true);
	PERFORM set_config('enable_indexscan', 'on', true);
	PERFORM set_config('enable_bitmapscan', 'off', true);
	PERFORM set_config('alex.probes', '100000', true);
	PERFORM assert_index_plan(topk, idx, q, k);
	EXECUTE topk INTO index_top USING q, k;
	EXECUTE everything INTO index_all, index_n USING q, 100000000;

	-- a filtered query probing one leaf at a time still fills its LIMIT
	PERFORM set_config('alex.probes', '1', true);
	PERFORM set_config('alex.max_probes', '100000', true);
	PERFORM assert_index_plan(filtered, idx, q, k);
	EXECUTE filtered INTO index_n USING q, k;
	SELECT count(*) INTO seq_n FROM t WHERE id % 3 = 0;
	IF index_n <> least(seq_n, k) THEN
		RAISE EXCEPTION '%: filtered scan returned % rows, expected %',
			idx, index_n, least(seq_n, k);
	END IF;

	-- seq scan side, same snapshot
	PERFORM set_config('enable_seqscan', 'on', true);
	PERFORM set_config('enable_indexscan', 'off', true);
	EXECUTE topk INTO seq_top USING q, k;
	EXECUTE everything INTO seq_all, seq_n USING q, 100000000;

	IF index_top IS DISTINCT FROM seq_top THEN
		RAISE EXCEPTION '%: exact index scan % differs from seq scan %',
			idx, index_top, seq_top;
	END IF;
	IF index_all IS DISTINCT FROM seq_all THEN
		SELECT array_agg(x) INTO missing FROM (
			SELECT unnest(seq_all) EXCEPT ALL SELECT unnest(index_all)) m(x);
		SELECT array_agg(x) INTO extra FROM (
			SELECT unnest(index_all) EXCEPT ALL SELECT unnest(seq_all)) e(x);
		RAISE EXCEPTION '%: exhaustive index scan returned % rows, seq scan %; missing %, extra %',
			idx, cardinality(index_all), cardinality(seq_all), missing, extra;
	END IF;
END
$$;
});

# A starting population: the index grows from empty.
my $sql = '';
for (1 .. 40)
{
	$sql .= "INSERT INTO t SELECT i, vec(i) FROM (SELECT nextval('ids') AS i "
	  . "FROM generate_series(1, 50)) s;\n";
}
$node->safe_psql('postgres', $sql);

my %scripts = (
	'insert@8' => q{
INSERT INTO t SELECT i, vec(i) FROM (SELECT nextval('ids') AS i FROM generate_series(1, 50)) s;
},
	'update@2' => q{
SELECT last_value AS maxid FROM ids \gset
\set lo random(1, :maxid)
UPDATE t SET v = vec(id + 0.5 + random()) WHERE id BETWEEN :lo AND :lo + 120 AND id % :clients = :client_id;
},
	'delete@3' => q{
SELECT last_value AS maxid FROM ids \gset
\set lo random(1, :maxid)
DELETE FROM t WHERE id BETWEEN :lo AND :lo + 1200 AND id % :clients = :client_id;
},
	'carve@1' => q{
\set q random(1, 1000000)
DELETE FROM t WHERE v <-> vec(:q * 0.71) < 2.5 AND id % :clients = :client_id;
},
	'vacuum@1' => q{
VACUUM (TRUNCATE false) t;
},
	'ann@4' => q{
\set q random(1, 1000000)
BEGIN;
SET LOCAL enable_seqscan = off;
SET LOCAL alex.probes = 2;
SELECT id FROM t ORDER BY v <-> vec(:q * 0.37) LIMIT 10;
SELECT id FROM t ORDER BY v <=> vec(:q * 0.37) LIMIT 10;
COMMIT;
},);

# The checker: until the workload is done, check in one snapshot.
my $checker_script = q{
SELECT done::int AS done FROM workload_done \gset
\if :done
\else
\set q random(1, 1000000)
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT nextval('checks');
SELECT check_exact('t_l2', '<->', vec(:q * 0.53), 20);
SELECT check_exact('t_cos', '<=>', vec(:q * 0.53), 20);
COMMIT;
\endif
};
my $checker_clients = 2;
my $checker_file = $node->basedir . '/checker.pgbench';
append_to_file($checker_file, $checker_script);

# Write the workload scripts (weights stay in the -f argument).
my @file_opts;
foreach my $name (sort keys %scripts)
{
	my ($base) = $name =~ /^([a-z]+)/;
	my $file = $node->basedir . "/$base.pgbench";
	append_to_file($file, $scripts{$name});
	(my $weight = $name) =~ s/^[a-z]+//;
	push @file_opts, '-f', "$file$weight";
}

# pgbench_ok($label, $ok, $stdout, $stderr, $expected): the run completed
# $expected transactions without any error.
sub pgbench_ok
{
	my ($label, $ok, $stdout, $stderr, $expected) = @_;
	ok($ok, "$label: pgbench exited successfully")
	  or diag "stdout:\n$stdout\nstderr:\n$stderr";
	like($stdout, qr{actually processed: $expected/$expected},
		"$label: all $expected transactions completed");
	like($stdout, qr{number of failed transactions: 0 },
		"$label: no transaction failed");
	unlike($stderr, qr{ERROR|aborted}, "$label: no client hit an error")
	  or diag $stderr;
	note $stdout;
}

# Run the workload, $transactions per client, with the checker alongside.
sub run_workload
{
	my ($label, $transactions, $checker_transactions) = @_;
	my @conn = ('-h', $node->host, '-p', $node->port, 'postgres');

	$node->safe_psql('postgres', 'UPDATE workload_done SET done = false');
	my $checks_before = $node->safe_psql('postgres',
		"SELECT nextval('checks')");
	my ($c_stdout, $c_stderr) = ('', '');
	my @checker_cmd = (
		'pgbench', '-n', '-c', $checker_clients, '-j', 1,
		'-t', $checker_transactions, '-f', $checker_file, @conn);
	note "running: @checker_cmd";
	my $checker = IPC::Run::start(\@checker_cmd, '<', \undef,
		'>', \$c_stdout, '2>', \$c_stderr,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));

	my ($stdout, $stderr);
	my @cmd = (
		'pgbench', '-n', '-c', $clients, '-j', 2, '-t', $transactions,
		'-D', "clients=$clients", @file_opts, @conn);
	note "running: @cmd";
	my $ok = IPC::Run::run(\@cmd, '<', \undef, '>', \$stdout, '2>', \$stderr,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	pgbench_ok("$label", $ok, $stdout, $stderr, $clients * $transactions);

	$node->safe_psql('postgres', 'UPDATE workload_done SET done = true');
	my $c_ok = $checker->finish;
	my $checks = $node->safe_psql('postgres', "SELECT nextval('checks')")
	  - $checks_before - 1;
	cmp_ok($checks, '>', 0,
		"$label: the checker ran $checks checks during the workload");
	pgbench_ok("$label checker", $c_ok, $c_stdout, $c_stderr,
		$checker_clients * $checker_transactions);
}

# The index after the workload: structurally sound, and an exhaustive scan
# returns exactly the rows of the table.
sub check_final
{
	my ($label) = @_;
	foreach my $idx ('t_cos', 't_l2')
	{
		my $op = $idx eq 't_l2' ? '<->' : '<=>';
		my ($ret, $stdout, $stderr) =
		  $node->psql('postgres', "SELECT alex_index_check('$idx')");
		is($ret, 0, "$label: alex_index_check('$idx') passes") or diag $stderr;
		is($stdout,
			$node->safe_psql('postgres',
				"SELECT entries FROM alex_index_stats('$idx')"),
			"$label: alex_index_check counts the entries alex_index_stats reports");

		my $result = $node->safe_psql('postgres', qq{
SET enable_seqscan = off; SET enable_bitmapscan = off; SET alex.probes = 100000;
CREATE TEMP TABLE via_index AS
	SELECT id FROM t ORDER BY v $op vec(7.5) LIMIT 100000000;
SET enable_seqscan = on; SET enable_indexscan = off;
SELECT (SELECT count(*) FROM via_index), (SELECT count(*) FROM t),
       (SELECT count(*) FROM (SELECT id FROM t EXCEPT SELECT id FROM via_index) a),
       (SELECT count(*) FROM (SELECT id FROM via_index EXCEPT SELECT id FROM t) b);
});
		my ($n_index, $n_heap, $missing, $extra) = split /\|/, $result;
		is($n_index, $n_heap,
			"$label: exhaustive $idx scan returns as many rows as the table has ($n_heap)");
		is($missing, 0, "$label: no row is missing from $idx");
		is($extra, 0, "$label: $idx returns no row the table does not have");

		# The checker's checks pass on the quiet index too.
		($ret, $stdout, $stderr) = $node->psql('postgres', qq{
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT check_exact('$idx', '$op', vec(12345.5), 50);
COMMIT;});
		is($ret, 0, "$label: check_exact passes for $idx") or diag $stderr;
	}
}

my $stats_sql = q{SELECT splits, merges, leaves FROM alex_index_stats('t_l2')};
my ($splits0) = split /\|/, $node->safe_psql('postgres', $stats_sql);

run_workload('workload', 600, 2000);

my ($splits1, $merges1, $leaves1) =
  split /\|/, $node->safe_psql('postgres', $stats_sql);
cmp_ok($splits1, '>', $splits0,
	"leaves split during the workload ($splits0 -> $splits1, $leaves1 leaves, $merges1 merges)");
cmp_ok(
	$node->safe_psql('postgres', "SELECT levels FROM alex_index_stats('t_cos')"),
	'>=', 3, 'the fanout 4 index grew levels during the workload');
check_final('after workload');

# Vacuum twice (replaced leaves become recyclable), then a second round on
# the vacuumed index (reuse of recycled pages under concurrency).
$node->safe_psql('postgres', 'VACUUM t');
$node->safe_psql('postgres', 'SELECT txid_current()');
$node->safe_psql('postgres', 'VACUUM t');
check_final('after vacuum');

run_workload('second workload', 400, 2000);
check_final('after second workload');

$node->stop;

done_testing();
