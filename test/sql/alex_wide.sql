--
-- alex_wide: vectors of any width up to the type's 16,000 dimensions.  A
-- vector lives in its data page's vector pages and spans page boundaries;
-- centroids wider than a model page route in a sketch.
--
\set SHOW_CONTEXT never
\set VERBOSITY sqlstate

\i test/sql/include/knn.sql

\i test/sql/include/clustered.sql

SELECT setseed(0.25);
-- 1,000 dimensions: exact routing, vectors straddling vector pages
CREATE TABLE items (id int, v vector(1000)) WITH (autovacuum_enabled = off);
INSERT INTO items SELECT * FROM pg_temp.clustered(600, 1000, 1);
CREATE TABLE queries (id int, v vector(1000));
INSERT INTO queries SELECT * FROM pg_temp.clustered(10, 1000, 100001);
CREATE INDEX items_l2 ON items USING alex (v vector_l2_ops);
SELECT entries, leaf_vector_pages > 0 AS has_vector_pages FROM alex_index_stats('items_l2');
SELECT alex_index_check('items_l2');
SELECT pg_temp.exhaustive_equals_exact('items', '<->', 30);
-- with few probes the codes' lower bounds decide what is reranked: the rows
-- still come out in exact distance order
SELECT leaves > 3 AS more_leaves_than_probes FROM alex_index_stats('items_l2');
SET enable_seqscan = off;
SET alex.probes = 3;
SELECT bool_and(d >= prev) AS ordered, count(*) AS n FROM (
	SELECT d, lag(d, 1, '-Infinity') OVER (ORDER BY n) AS prev FROM (
		SELECT row_number() OVER () AS n, v <-> (SELECT v FROM queries WHERE id = 100001) AS d
		FROM (SELECT v FROM items
			  ORDER BY v <-> (SELECT v FROM queries WHERE id = 100001) LIMIT 50) s
	) t
) u;
RESET alex.probes;
RESET enable_seqscan;
-- the build samples rows by their TOAST pointers and reads the vectors of
-- the kept ones afterwards: zero vectors (no cosine) and NULLs among them
-- are left out, and every other row is indexed
UPDATE items SET v = NULL WHERE id % 10 = 3;
UPDATE items SET v = array_fill(0, ARRAY[1000])::vector WHERE id % 10 = 7;
SELECT pg_relation_size(reltoastrelid) > 600 * 4000 AS vectors_out_of_line
FROM pg_class WHERE relname = 'items';
\set VERBOSITY terse
SET client_min_messages = debug1;
CREATE INDEX items_cos ON items USING alex (v vector_cosine_ops);
RESET client_min_messages;
\set VERBOSITY sqlstate
SELECT entries = (SELECT count(*) FROM items WHERE v IS NOT NULL AND id % 10 <> 7) AS all_indexed
FROM alex_index_stats('items_cos');
SELECT alex_index_check('items_cos');
SELECT pg_temp.exhaustive_equals_exact('items', '<=>', 30);
-- the build reads out-of-line vectors in one pass over the TOAST relation;
-- when that relation holds mostly other columns' values it looks each
-- vector up instead: the same rows either way
\set VERBOSITY terse
ALTER TABLE items ADD COLUMN doc text;
ALTER TABLE items ALTER COLUMN doc SET STORAGE EXTERNAL;
UPDATE items SET doc = repeat('x', 20000);
SET client_min_messages = debug1;
CREATE INDEX items_cos_lookups ON items USING alex (v vector_cosine_ops);
RESET client_min_messages;
\set VERBOSITY sqlstate
SELECT entries = (SELECT count(*) FROM items WHERE v IS NOT NULL AND id % 10 <> 7) AS all_indexed
FROM alex_index_stats('items_cos_lookups');
SELECT alex_index_check('items_cos_lookups');
DROP INDEX items_cos;
SELECT pg_temp.exhaustive_equals_exact('items', '<=>', 30);
DROP TABLE items, queries;

-- 16,000 dimensions, the most the type allows: cosine and L2, built on an
-- empty table and grown by inserts (splits), then bulk-built
CREATE TABLE items (id int, v vector(16000)) WITH (autovacuum_enabled = off);
CREATE TABLE queries (id int, v vector(16000));
INSERT INTO queries SELECT * FROM pg_temp.clustered(8, 16000, 100001);
CREATE INDEX items_cos ON items USING alex (v vector_cosine_ops);
CREATE INDEX items_l2 ON items USING alex (v vector_l2_ops);
INSERT INTO items SELECT * FROM pg_temp.clustered(200, 16000, 1);
INSERT INTO items SELECT * FROM pg_temp.clustered(200, 16000, 201);
SELECT entries, leaves > 1 AS split FROM alex_index_stats('items_cos');
SELECT entries, leaves > 1 AS split FROM alex_index_stats('items_l2');
SELECT alex_index_check('items_cos'), alex_index_check('items_l2');
SELECT pg_temp.exhaustive_equals_exact('items', '<=>', 20) AS cos_exact,
	   pg_temp.exhaustive_equals_exact('items', '<->', 20) AS l2_exact;
-- the sketch routes well enough: one leaf per cluster finds the neighbours
SET alex.probes = 2;
SELECT pg_temp.recall('items', '<=>') >= 0.8 AS cos_recall,
	   pg_temp.recall('items', '<->') >= 0.8 AS l2_recall;
RESET alex.probes;

-- a wrong width is still an error
SELECT pg_temp.top_ids('items', '[1,2,3]', 1, '<->', true);

-- bulk build over the same rows
DROP INDEX items_l2;
CREATE INDEX items_l2 ON items USING alex (v vector_l2_ops);
SELECT alex_index_check('items_l2');
SELECT pg_temp.exhaustive_equals_exact('items', '<->', 20) AS l2_exact_bulk;

-- delete most rows: vacuum recycles vector pages with their leaves
DELETE FROM items WHERE id % 10 <> 0;
VACUUM items;
SELECT entries FROM alex_index_stats('items_l2');
SELECT alex_index_check('items_cos'), alex_index_check('items_l2');
SELECT pg_temp.exhaustive_equals_exact('items', '<->', 20) AS l2_exact_after_vacuum;
DROP TABLE items, queries;
