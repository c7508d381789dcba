# 002_crash.pl: crash recovery of alex indexes in the middle of concurrent,
# splitting inserts.
#
# Alex indexes are created on an empty table (one with fanout 4, so model
# nodes split and root splits add levels too); several background psql
# sessions then insert rows in many small committed statements, which keeps
# leaves splitting (and moving entries between neighbours) concurrently.
# Once enough splits happened the server is stopped in immediate mode (a
# crash: no shutdown checkpoint) and restarted, so the index is rebuilt from
# WAL by crash recovery, with wal_consistency_checking = 'generic' checking
# every replayed record.  Afterwards alex_index_check must pass, and an
# exhaustive index scan must return exactly the committed rows (the set a
# sequential scan sees, each once).  This is done three times (the second time
# with a checkpoint in the middle of the workload), then the recovered index must
# keep working for new inserts, and a vacuum must reclaim the leaves the
# crashes left unrouted.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', qq{
wal_consistency_checking = 'generic'
autovacuum = off
max_connections = 20
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION omendb;
CREATE FUNCTION vec(x float8) RETURNS vector(8) LANGUAGE sql IMMUTABLE AS $$
	SELECT array[sin(x * 0.1), cos(x * 0.37), sin(x * 0.73 + 1), cos(x * 1.1 + 2),
	             sin(x * 0.013) * 2, cos(x * 0.029) * 2, sin(x * 2.3) + 0.5,
	             cos(x * 0.57) - 0.25]::vector(8)
$$;
CREATE SEQUENCE ids;
CREATE TABLE t (id bigint, v vector(8));
CREATE INDEX t_l2 ON t USING alex (v vector_l2_ops);
CREATE INDEX t_cos ON t USING alex (v vector_cosine_ops) WITH (fanout = 4);
});

my %index_op = (t_l2 => '<->', t_cos => '<=>');

my $nworkers = 3;
my $statements = 300;    # per worker; a crash comes long before the end
my $rows_per_statement = 50;

# Start $nworkers psql sessions, each running its own script of committed
# INSERT statements.  Output goes to files so the sessions never wait for us.
sub start_workers
{
	my ($round) = @_;
	my @workers;
	for my $w (1 .. $nworkers)
	{
		my $script = $node->basedir . "/insert_r${round}_w$w.sql";
		my $sql = '';
		for (1 .. $statements)
		{
			$sql .=
			  "INSERT INTO t SELECT i, vec(i) FROM (SELECT nextval('ids') AS i "
			  . "FROM generate_series(1, $rows_per_statement)) s;\n";
		}
		append_to_file($script, $sql);
		my $out = $node->basedir . "/insert_r${round}_w$w.out";
		my $err = $node->basedir . "/insert_r${round}_w$w.err";
		my $h = IPC::Run::start(
			[
				'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
				'-d', $node->connstr('postgres'), '-f', $script
			],
			'<', \undef, '>', $out, '2>', $err);
		push @workers, { h => $h, err => $err };
	}
	return @workers;
}

# After the crash: every worker has exited, and none failed for any reason
# other than losing its connection to the crashed server.
sub reap_workers
{
	my ($label, @workers) = @_;
	my $w = 0;
	my $interrupted = 0;
	foreach my $worker (@workers)
	{
		$w++;
		eval { $worker->{h}->finish; };
		my $err = -e $worker->{err} ? slurp_file($worker->{err}) : '';
		unlike($err, qr/ERROR:/,
			"$label: worker $w hit no SQL error before the crash");
		$interrupted++ if $worker->{h}->result != 0;
	}
	cmp_ok($interrupted, '>', 0,
		"$label: the crash interrupted $interrupted running workers");
}

# Wait (bounded) until the index has split at least $min_splits times more
# than $base.
sub wait_for_splits
{
	my ($label, $base, $min_splits) = @_;
	my $target = $base + $min_splits;
	ok( $node->poll_query_until('postgres',
			"SELECT splits >= $target FROM alex_index_stats('t_l2')"),
		"$label: concurrent inserts split leaves at least $min_splits times");
}

# The recovered index passes the structural check and an exhaustive scan of
# it returns exactly the rows a sequential scan sees.
sub check_indexes
{
	my ($label) = @_;
	my $heap_count = $node->safe_psql('postgres',
		'SET enable_indexscan = off; SET enable_bitmapscan = off; SELECT count(*) FROM t');
	note "$label: $heap_count committed rows";
	foreach my $idx (sort keys %index_op)
	{
		my $op = $index_op{$idx};
		my ($ret, $stdout, $stderr) =
		  $node->psql('postgres', "SELECT alex_index_check('$idx')");
		is($ret, 0, "$label: alex_index_check('$idx') passes")
		  or diag $stderr;
		cmp_ok($stdout || 0, '>=', $heap_count,
			"$label: $idx holds at least one entry per committed row");

		my $result = $node->safe_psql('postgres', qq{
SET enable_seqscan = off; SET enable_bitmapscan = off; SET alex.probes = 100000;
CREATE TEMP TABLE via_index AS
	SELECT id FROM t ORDER BY v $op vec(0) LIMIT 100000000;
SET enable_seqscan = on; SET enable_indexscan = off;
SELECT (SELECT count(*) FROM via_index),
       (SELECT count(*) FROM (SELECT id FROM t EXCEPT SELECT id FROM via_index) a),
       (SELECT count(*) FROM (SELECT id FROM via_index EXCEPT SELECT id FROM t) b);
});
		my ($n_index, $missing, $extra) = split /\|/, $result;
		is($n_index, $heap_count,
			"$label: exhaustive $idx scan returns as many rows as the table has");
		is($missing, 0, "$label: no committed row is missing from $idx");
		is($extra, 0, "$label: $idx returns no row the table does not have");
	}
}

sub splits
{
	return $node->safe_psql('postgres',
		"SELECT splits FROM alex_index_stats('t_l2')");
}

# Round 1: crash in the middle of concurrent splitting inserts.
my @workers = start_workers(1);
wait_for_splits('round 1', 0, 40);
$node->stop('immediate');
reap_workers('round 1', @workers);
$node->start;
check_indexes('after crash 1');

# Round 2: the same on the recovered index, with a checkpoint in the middle
# (records after it start with full-page images again).
my $base = splits();
@workers = start_workers(2);
wait_for_splits('round 2', $base, 10);
$node->safe_psql('postgres', 'CHECKPOINT');
wait_for_splits('round 2 after checkpoint', $base, 25);
$node->stop('immediate');
reap_workers('round 2', @workers);
$node->start;
check_indexes('after crash 2');

# Round 3: a larger index, a crash later in the run.
$base = splits();
@workers = start_workers(3);
wait_for_splits('round 3', $base, 40);
$node->stop('immediate');
reap_workers('round 3', @workers);
$node->start;
check_indexes('after crash 3');
cmp_ok(
	$node->safe_psql('postgres', "SELECT levels FROM alex_index_stats('t_cos')"),
	'>=', 3, 'the fanout 4 index grew levels through the crashes');

# The recovered index keeps working: delete, vacuum, more inserts.  A crash
# in the middle of a split leaves the leaves it wrote unrouted; the vacuum
# reclaims them.
foreach my $idx (sort keys %index_op)
{
	my ($ret, $stdout, $stderr) =
	  $node->psql('postgres', "SELECT alex_index_check('$idx')");
	note "before vacuum, $idx: " . ($stderr =~ /(\d+) unrouted/ ? $1 : 0)
	  . ' unrouted leaves or nodes';
}
$node->safe_psql('postgres', 'DELETE FROM t WHERE id % 5 = 0; VACUUM t;');
foreach my $idx (sort keys %index_op)
{
	my ($ret, $stdout, $stderr) =
	  $node->psql('postgres', "SELECT alex_index_check('$idx')");
	unlike($stderr, qr/unrouted/,
		"after vacuum: $idx holds no unrouted leaves or model nodes");
}
my $entries_sql = "SELECT entries FROM alex_index_stats('t_l2')";
my $entries_before = $node->safe_psql('postgres', $entries_sql);
my $sql = '';
for (1 .. 40)
{
	$sql .=
	  "INSERT INTO t SELECT i, vec(i) FROM (SELECT nextval('ids') AS i "
	  . "FROM generate_series(1, 100)) s;\n";
}
$node->safe_psql('postgres', $sql);
is($node->safe_psql('postgres', $entries_sql) - $entries_before,
	4000, 'the recovered index takes every new row');
check_indexes('after recovery and more inserts');

foreach my $idx (sort keys %index_op)
{
	my $op = $index_op{$idx};
	foreach my $q (0.5, 1234.5)
	{
		my $settings_index =
		  'SET enable_seqscan = off; SET enable_bitmapscan = off; SET alex.probes = 100000;';
		my $settings_seq = 'SET enable_indexscan = off; SET enable_bitmapscan = off;';
		my $query = qq{SELECT string_agg(id::text, ',') FROM (
	SELECT id FROM t ORDER BY v $op vec($q) LIMIT 30) s};
		is( $node->safe_psql('postgres', "$settings_index $query"),
			$node->safe_psql('postgres', "$settings_seq $query"),
			"$idx q=$q: exact index scan equals seq scan after recovery");
	}
}

my $log = slurp_file($node->logfile);
unlike($log, qr/inconsistent page found/,
	'wal_consistency_checking found no inconsistent page during recovery');

$node->stop;

done_testing();
