--
-- alex_scan: planner choice, exact results with exhaustive probes, recall,
-- distance order, filtered queries that continue past alex.probes
--
\set SHOW_CONTEXT never
\set VERBOSITY sqlstate

SELECT setseed(0.5);
CREATE TABLE items (id int PRIMARY KEY, category int, v vector(16));
INSERT INTO items
SELECT i, i % 10,
	   (SELECT array_agg(random() + (i % 5) + 0 * g) FROM generate_series(1, 16) g)::vector
FROM generate_series(1, 3000) i;
CREATE TABLE queries (id int, v vector(16));
INSERT INTO queries
SELECT i, (SELECT array_agg(random() + (i % 5) + 0 * g) FROM generate_series(1, 16) g)::vector
FROM generate_series(1, 20) i;
ANALYZE items;

CREATE INDEX items_l2 ON items USING alex (v vector_l2_ops);
CREATE INDEX items_ip ON items USING alex (v vector_ip_ops);
CREATE INDEX items_cos ON items USING alex (v vector_cosine_ops);
CREATE INDEX items_l1 ON items USING alex (v vector_l1_ops);
SELECT leaves > 10 AS several_leaves FROM alex_index_stats('items_l2');

-- the planner uses the index for ORDER BY distance LIMIT ...
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <#> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <=> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <+> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 10;
-- ... but not for what it cannot serve: a distance filter without ORDER BY,
-- or an ORDER BY of another expression
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' < 1;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' DESC LIMIT 10;
DROP INDEX items_ip, items_cos, items_l1;

\i test/sql/include/knn.sql

SET alex.probes = 100000;
SELECT pg_temp.exhaustive_equals_exact('items', '<->', 50);
-- the index really is used
SELECT count(*) FROM (SELECT pg_temp.top_ids('items', v, 3000, '<->', true) ids FROM queries LIMIT 1) s
WHERE cardinality(ids) = 3000;

CREATE INDEX items_ip ON items USING alex (v vector_ip_ops);
SELECT pg_temp.exhaustive_equals_exact('items', '<#>', 50);
DROP INDEX items_ip;
CREATE INDEX items_cos ON items USING alex (v vector_cosine_ops);
SELECT pg_temp.exhaustive_equals_exact('items', '<=>', 50);
DROP INDEX items_cos;
CREATE INDEX items_l1 ON items USING alex (v vector_l1_ops);
SELECT pg_temp.exhaustive_equals_exact('items', '<+>', 50);
DROP INDEX items_l1;

-- default probes: approximate, but good
RESET alex.probes;
SELECT pg_temp.recall('items', '<->') >= 0.9 AS good_recall;
-- more probes never hurt
SET alex.probes = 1;
SELECT pg_temp.recall('items', '<->') AS recall_1 \gset
SET alex.probes = 30;
SELECT pg_temp.recall('items', '<->') AS recall_30 \gset
SELECT :recall_30 >= :recall_1 AS monotone, :recall_30 >= 0.99 AS near_exact;

-- rows come out in distance order
SET enable_seqscan = off;
SET alex.probes = 5;
SELECT bool_and(d >= prev) AS ordered FROM (
	SELECT d, lag(d, 1, '-Infinity') OVER (ORDER BY n) AS prev FROM (
		SELECT row_number() OVER () AS n, v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' AS d
		FROM (SELECT v FROM items ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 100) s
	) t
) u;

-- a filter that rejects most rows: the scan goes on past alex.probes to
-- the next-nearest leaves until the LIMIT is met
SET alex.probes = 1;
SELECT count(*) FROM (
	SELECT id FROM items WHERE category = 3
	ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 10) s;
-- only 3 rows match (7, 1007, 2007), in far-apart leaves: all are found
SELECT count(*) FROM (
	SELECT id FROM items WHERE id % 1000 = 7
	ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 10) s;
-- alex.max_probes bounds how far it goes
SET alex.max_probes = 1;
SELECT count(*) < 3 AS bounded FROM (
	SELECT id FROM items WHERE id % 1000 = 7
	ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 10) s;
RESET alex.max_probes;
-- a full scan through the index returns every row once
SELECT count(*), count(DISTINCT id) FROM (
	SELECT id FROM items ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 5000) s;
RESET alex.probes;
RESET enable_seqscan;

-- GUC bounds; alex.probes = 0 (the default) is automatic: 3% of the leaves,
-- at least 10, so an index of at most 10 leaves is scanned whole (exact)
SET alex.probes = -1;
SET alex.max_probes = 0;
SHOW alex.probes;
CREATE INDEX items_small ON items USING alex (v vector_l2_ops) WITH (leaves = 8);
DROP INDEX items_l2;
SELECT bool_and(pg_temp.top_ids('items', q.v, 50, '<->', true) =
				pg_temp.top_ids('items', q.v, 50, '<->', false)) AS small_exact_by_default
FROM queries q;
SET alex.nonexistent = 1;

DROP TABLE items, queries;
