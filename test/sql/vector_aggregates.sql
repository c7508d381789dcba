--
-- vector_aggregates: avg(vector) and sum(vector), serial and parallel
--
\set SHOW_CONTEXT never

\i test/sql/include/err.sql

--
-- avg
--
-- ([1,2] + [3,6]) / 2 = [2,4]
SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[3,6]')) AS t(v);
-- ([1,2,3] + [4,5,6] + [7,8,10]) / 3 = [12/3, 15/3, 19/3] = [4,5,6.333333333]; float4 6.3333335
SELECT avg(v) FROM (VALUES ('[1,2,3]'::vector), ('[4,5,6]'), ('[7,8,10]')) AS t(v);
-- a single value is its own average
SELECT avg(v) FROM (VALUES ('[0.1,-2.5,1e-45]'::vector)) AS t(v);
-- NULLs are skipped: ([1] + [3]) / 2 = [2]
SELECT avg(v) FROM (VALUES ('[1]'::vector), (NULL), ('[3]')) AS t(v);
-- no rows, or only NULLs: NULL
SELECT avg(v) IS NULL AS no_rows FROM (VALUES ('[1]'::vector)) AS t(v) WHERE false;
SELECT avg(v) IS NULL AS only_nulls FROM (VALUES (NULL::vector), (NULL)) AS t(v);
-- the running sums are float8: 3e38 + 3e38 does not overflow, (3e38 + 3e38) / 2 = 3e38
SELECT avg(v) FROM (VALUES ('[3e38,-3e38]'::vector), ('[3e38,-3e38]')) AS t(v);
-- ten float4 0.1 (0.100000001490116) sum to 1.00000001490116 in float8; / 10 = float4 0.1
SELECT avg(v) FROM (SELECT '[0.1]'::vector AS v FROM generate_series(1, 10)) AS t;
SELECT pg_typeof(avg(v)) FROM (VALUES ('[1]'::vector)) AS t(v);

--
-- sum
--
-- [1,2] + [3,6] = [4,8]
SELECT sum(v) FROM (VALUES ('[1,2]'::vector), ('[3,6]')) AS t(v);
-- [1,2,3] + [4,5,6] + [7,8,10] = [12,15,19]
SELECT sum(v) FROM (VALUES ('[1,2,3]'::vector), ('[4,5,6]'), ('[7,8,10]')) AS t(v);
SELECT sum(v) FROM (VALUES ('[1]'::vector), (NULL), ('[3]')) AS t(v);
SELECT sum(v) IS NULL AS no_rows FROM (VALUES ('[1]'::vector)) AS t(v) WHERE false;
SELECT sum(v) IS NULL AS only_nulls FROM (VALUES (NULL::vector), (NULL)) AS t(v);
-- sum adds in float4: ten 0.1 give 1.0000001192092896, shortest text 1.0000001
SELECT sum(v) FROM (SELECT '[0.1]'::vector AS v FROM generate_series(1, 10)) AS t;
SELECT pg_typeof(sum(v)) FROM (VALUES ('[1]'::vector)) AS t(v);

--
-- Errors
--
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) AS t(v)$$),
	($$SELECT avg(v) FROM (VALUES ('[1,2,3]'::vector), ('[1,2]')) AS t(v)$$),
	($$SELECT sum(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) AS t(v)$$),
	-- sum overflows float4 where avg does not
	($$SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) AS t(v)$$)
) AS t(q);

--
-- GROUP BY
--
CREATE TABLE agg_t (g text, v vector(2));
INSERT INTO agg_t VALUES
	('a', '[1,2]'), ('a', '[3,4]'), ('a', '[5,9]'),
	('b', '[-1,0.5]'), ('b', '[1,-0.5]'),
	('c', '[7,7]'), ('c', NULL),
	('d', NULL);
-- a: [9,15] / 3 = [3,5]; b: [0,0] / 2 = [0,0]; c: [7,7]; d: NULL
SELECT g, avg(v), sum(v), count(v) FROM agg_t GROUP BY g ORDER BY g;
-- grouped by the vector itself (a sort, since vector has no hash operator class)
SELECT v, count(*) FROM agg_t GROUP BY v ORDER BY v;
DROP TABLE agg_t;

--
-- The support functions.  The avg state is float8[] {count, sum_1, ..., sum_n};
-- {0} is the empty state.
--
SELECT vector_accum('{0}', '[1,2]');
SELECT vector_accum('{1,1,2}', '[3,4]');
-- {2,4,6}: count 2, sums 4 and 6, so the average is [2,3]
SELECT vector_avg('{2,4,6}');
SELECT vector_avg('{0}') IS NULL AS empty_is_null;
SELECT vector_combine('{2,4,6}', '{1,1,1}');
SELECT vector_combine('{0}', '{1,1,1}'), vector_combine('{1,1,1}', '{0}');
SELECT vector_combine('{0}', '{0}');
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT vector_accum('{1,1,2}', '[1,2,3]')$$),
	($$SELECT vector_combine('{1,1,1}', '{1,1}')$$),
	($$SELECT vector_accum('{}', '[1]')$$),
	($$SELECT vector_accum('{1,NULL}', '[1]')$$),
	($$SELECT vector_avg('{{1,2}}')$$)
) AS t(q);

--
-- The aggregate definitions
--
SELECT aggfnoid::regprocedure, aggtransfn, aggfinalfn, aggcombinefn,
	aggtranstype::regtype, agginitval
FROM pg_aggregate
WHERE aggfnoid IN ('avg(vector)'::regprocedure, 'sum(vector)'::regprocedure)
ORDER BY aggfnoid::regprocedure::text;

--
-- Parallel aggregation gives the same results as serial aggregation
--
CREATE TABLE agg_big (id int, v vector(4));
-- for i = 1..30000: sum(i % 3) = 10000 * (0+1+2) = 30000, sum(i % 5) = 6000 * (0+1+2+3+4) = 60000,
-- sum(1) = 30000, sum((i % 4) * 0.25) = 7500 * (0+0.25+0.5+0.75) = 11250; all exact in float4
INSERT INTO agg_big
SELECT i, ARRAY[i % 3, i % 5, 1, (i % 4) * 0.25]::real[]
FROM generate_series(1, 30000) AS i;
ANALYZE agg_big;

SET max_parallel_workers_per_gather = 0;
EXPLAIN (COSTS OFF) SELECT avg(v), sum(v) FROM agg_big;
-- avg = [30000,60000,30000,11250] / 30000 = [1,2,1,0.375]
SELECT avg(v), sum(v) FROM agg_big;
CREATE TEMP TABLE agg_serial AS
SELECT id % 7 AS g, avg(v) AS a, sum(v) AS s FROM agg_big GROUP BY 1;
CREATE TEMP TABLE agg_serial_all AS SELECT avg(v) AS a, sum(v) AS s FROM agg_big;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(v), sum(v) FROM agg_big;
SELECT avg(v), sum(v) FROM agg_big;
SELECT p.a = s.a AND p.s = s.s AS same_as_serial
FROM (SELECT avg(v) AS a, sum(v) AS s FROM agg_big) AS p, agg_serial_all AS s;
-- grouped: the same per group as serially
SELECT count(*) AS groups,
	count(*) FILTER (WHERE p.a = s.a AND p.s = s.s) AS same_as_serial
FROM (SELECT id % 7 AS g, avg(v) AS a, sum(v) AS s FROM agg_big GROUP BY 1) AS p
JOIN agg_serial AS s USING (g);
-- by parity: even i: sums [15000,30000,15000,3750] / 15000 = [1,2,1,0.25];
-- odd i: [15000,30000,15000,7500] / 15000 = [1,2,1,0.5]
SELECT id % 2 AS parity, avg(v), sum(v) FROM agg_big GROUP BY 1 ORDER BY 1;
-- the distance functions are parallel safe too: they run below the Gather
EXPLAIN (COSTS OFF) SELECT count(*) FROM agg_big WHERE v <-> '[1,2,1,0.375]' < 1;
-- squared distance = (i%3 - 1)^2 + (i%5 - 2)^2 + 0 + ((i%4)*0.25 - 0.375)^2; the last term is
-- at most 0.140625, the others are 0 or >= 1, so it is < 1 exactly when i % 3 = 1 and
-- i % 5 = 2, i.e. i % 15 = 7: 30000 / 15 = 2000 rows
SELECT count(*) FROM agg_big WHERE v <-> '[1,2,1,0.375]' < 1;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE agg_big;
