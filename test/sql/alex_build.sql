--
-- alex_build: creating alex indexes, operator classes, options, what is
-- and is not indexed, errors
--
\set SHOW_CONTEXT never
\set VERBOSITY sqlstate

-- the access method and its operator classes pass amvalidate
SELECT opcname, amvalidate(c.oid)
FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
WHERE a.amname = 'alex' ORDER BY opcname;
SELECT opcname FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
WHERE a.amname = 'alex' AND opcdefault;

-- an index on an empty table: no leaves yet, and a clean check
CREATE TABLE items (id int, v vector(3));
CREATE INDEX items_alex ON items USING alex (v vector_l2_ops);
SELECT leaves, entries, splits FROM alex_index_stats('items_alex');
SELECT alex_index_check('items_alex');
SELECT * FROM items ORDER BY v <-> '[1,1,1]' LIMIT 3;

-- the first insert creates the first leaf
INSERT INTO items VALUES (1, '[1,2,3]'), (2, '[4,5,6]'), (3, NULL);
SELECT leaves, entries FROM alex_index_stats('items_alex');
SELECT alex_index_check('items_alex');
SET enable_seqscan = off;
-- NULLs are not indexed, so an index scan never returns them
SELECT id FROM items ORDER BY v <-> '[1,1,1]' LIMIT 5;
RESET enable_seqscan;
DROP TABLE items;

-- every operator class builds; cosine does not index zero vectors (they
-- have no direction), the others do
CREATE TABLE items (id int, v vector(2));
INSERT INTO items SELECT i, ARRAY[i % 7, i % 11]::vector FROM generate_series(0, 199) i;
INSERT INTO items VALUES (500, '[0,0]'), (501, NULL);
CREATE INDEX items_l2 ON items USING alex (v vector_l2_ops);
CREATE INDEX items_ip ON items USING alex (v vector_ip_ops);
CREATE INDEX items_cos ON items USING alex (v vector_cosine_ops);
CREATE INDEX items_l1 ON items USING alex (v vector_l1_ops);
-- 202 rows: 201 non-NULL; i = 0, 77, 154 and 500 are zero vectors
SELECT count(*) FILTER (WHERE v IS NOT NULL) AS non_null,
	   count(*) FILTER (WHERE v = '[0,0]') AS zero FROM items;
SELECT i.relname, s.entries, alex_index_check(i.oid) AS checked
FROM pg_class i, alex_index_stats(i.oid) s
WHERE i.relname IN ('items_l2', 'items_ip', 'items_cos', 'items_l1')
ORDER BY i.relname;

-- the leaves option fixes the leaf count at build time
CREATE INDEX items_l2_8 ON items USING alex (v vector_l2_ops) WITH (leaves = 8);
SELECT leaves, entries FROM alex_index_stats('items_l2_8');
-- by default the count follows sqrt(rows)
SELECT leaves BETWEEN 1 AND 20 AS auto_leaves FROM alex_index_stats('items_l2');
CREATE INDEX ON items USING alex (v vector_l2_ops) WITH (leaves = -1);
CREATE INDEX ON items USING alex (v vector_l2_ops) WITH (leaves = 100001);
CREATE INDEX ON items USING alex (v vector_l2_ops) WITH (nonsense = 1);
-- a vector_l2_ops index is the default
CREATE INDEX items_default ON items USING alex (v);
SELECT opcname FROM pg_index x JOIN pg_opclass c ON c.oid = x.indclass[0]
WHERE x.indexrelid = 'items_default'::regclass;
DROP TABLE items;

-- errors
CREATE TABLE items (id int, v vector, w vector(3), x int);
-- a column without dimensions cannot be indexed
CREATE INDEX ON items USING alex (v vector_l2_ops);
-- alex indexes one vector column, ordered by distance only
CREATE INDEX ON items USING alex (w vector_l2_ops, v vector_l2_ops);
CREATE UNIQUE INDEX ON items USING alex (w vector_l2_ops);
CREATE INDEX ON items USING alex (x);
-- a query vector of the wrong dimension
CREATE INDEX items_w ON items USING alex (w vector_l2_ops);
INSERT INTO items (id, w) VALUES (1, '[1,2,3]');
SET enable_seqscan = off;
SELECT id FROM items ORDER BY w <-> '[1,2]' LIMIT 1;
RESET enable_seqscan;
-- the introspection functions want an alex index
SELECT alex_index_check('items');
SELECT * FROM alex_index_stats('items');
CREATE INDEX items_btree ON items (x);
SELECT alex_index_check('items_btree');
DROP TABLE items;

-- a parallel build (the leader and workers insert rows of one parallel heap
-- scan) indexes every row once, like a serial one
CREATE TABLE items (id int, v vector(16)) WITH (parallel_workers = 2);
INSERT INTO items
SELECT i, (SELECT array_agg(sin(i * g) + (i % 5)) FROM generate_series(1, 16) g)::vector
FROM generate_series(1, 5000) i;
CREATE TABLE queries AS SELECT id, v FROM items WHERE id % 500 = 0;
SET max_parallel_maintenance_workers = 2;
CREATE INDEX items_parallel ON items USING alex (v vector_l2_ops);
RESET max_parallel_maintenance_workers;
SELECT entries FROM alex_index_stats('items_parallel');
SELECT alex_index_check('items_parallel');
SELECT reltuples FROM pg_class WHERE relname = 'items_parallel';
\i test/sql/include/knn.sql
SELECT pg_temp.exhaustive_equals_exact('items', '<->', 20);
DROP TABLE items, queries;

-- a bulk build keeps every leaf within the cost model's leaf size (sqrt of
-- the rows: 77 here), cutting larger k-means clusters, so the first inserts
-- do not split: the rows of each row's own leaf (one leaf probed) are few
SELECT setseed(0.3);
CREATE TABLE sized (id int, v vector(8));
INSERT INTO sized
SELECT i, (SELECT array_agg(CASE WHEN i % 10 < 7 THEN 0 ELSE i % 10 END + 0.3 * random() + 0 * g)
		   FROM generate_series(1, 8) g)::vector
FROM generate_series(1, 6000) i;
CREATE INDEX sized_alex ON sized USING alex (v vector_l2_ops);
SET enable_seqscan = off;
SET alex.probes = 1;
SET alex.max_probes = 1;
SELECT max(n) <= 77 AS leaves_within_size, min(n) > 0 AS found FROM (
	SELECT (SELECT count(*) FROM (SELECT 1 FROM sized t ORDER BY t.v <-> s.v LIMIT 1000) x) AS n
	FROM (SELECT v FROM sized WHERE id % 20 = 0) s) y;
RESET alex.probes;
RESET alex.max_probes;
RESET enable_seqscan;
INSERT INTO sized SELECT id + 6000, v FROM sized WHERE id <= 300;
SELECT splits FROM alex_index_stats('sized_alex');
DROP TABLE sized;

-- the serial load reads every row into memory when maintenance_work_mem
-- holds them (one heap pass), else sorts them by leaf (two passes); when
-- the table has more rows than its statistics said, it notices and sorts.
-- All three index every row, and exhaustive probes equal an exact scan.
CREATE TABLE items (id int, v vector(128)) WITH (autovacuum_enabled = false);
INSERT INTO items
SELECT i, (SELECT array_agg(sin(i * g) + (i % 7) + 0 * i) FROM generate_series(1, 128) g)::vector
FROM generate_series(1, 1000) i;
ANALYZE items;
-- 1,000 rows by the statistics, 3,000 in the table
INSERT INTO items
SELECT i, (SELECT array_agg(sin(i * g) + (i % 7) + 0 * i) FROM generate_series(1, 128) g)::vector
FROM generate_series(1001, 3000) i;
CREATE TABLE queries AS SELECT id, v FROM items WHERE id % 300 = 0;
\set VERBOSITY terse
SET maintenance_work_mem = '1MB';
SET client_min_messages = debug1;
CREATE INDEX items_overflow ON items USING alex (v vector_l2_ops);
RESET client_min_messages;
SELECT entries, alex_index_check('items_overflow') FROM alex_index_stats('items_overflow');
SELECT pg_temp.exhaustive_equals_exact('items', '<->', 20);
DROP INDEX items_overflow;
ANALYZE items;
SET client_min_messages = debug1;
CREATE INDEX items_sorted ON items USING alex (v vector_l2_ops);
RESET client_min_messages;
SELECT entries, alex_index_check('items_sorted') FROM alex_index_stats('items_sorted');
SELECT pg_temp.exhaustive_equals_exact('items', '<->', 20);
DROP INDEX items_sorted;
RESET maintenance_work_mem;
SET client_min_messages = debug1;
CREATE INDEX items_memory ON items USING alex (v vector_l2_ops);
RESET client_min_messages;
SELECT entries, alex_index_check('items_memory') FROM alex_index_stats('items_memory');
SELECT pg_temp.exhaustive_equals_exact('items', '<->', 20);
DROP TABLE items, queries;
\set VERBOSITY sqlstate
