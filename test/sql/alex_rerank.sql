--
-- alex_rerank: WITH (rerank = table).  The leaves keep only codes; exact
-- distances come from the table's rows, as the scan's snapshot sees them,
-- and splits and merges read the rows back (any version).
--
\set SHOW_CONTEXT never
\set VERBOSITY sqlstate

\i test/sql/include/knn.sql

\i test/sql/include/clustered.sql

SELECT setseed(0.5);
CREATE TABLE items (id int, v vector(128)) WITH (autovacuum_enabled = off);
INSERT INTO items SELECT * FROM pg_temp.clustered(3000, 128, 1);
CREATE TABLE queries (id int, v vector(128));
INSERT INTO queries SELECT * FROM pg_temp.clustered(10, 128, 100001);

-- the option: index (default) or table, nothing else
CREATE INDEX items_bad ON items USING alex (v) WITH (rerank = disk);
CREATE INDEX items_tbl ON items USING alex (v vector_l2_ops) WITH (rerank = table);
CREATE INDEX items_idx ON items USING alex (v vector_l2_ops) WITH (rerank = index);
SELECT c.relname, c.reloptions FROM pg_class c
WHERE c.relname IN ('items_tbl', 'items_idx') ORDER BY 1;
-- no vector pages: the index is a fraction of the one that keeps vectors
-- (less so at 128 dimensions, where a vector is only 512 bytes)
SELECT entries, leaf_vector_pages FROM alex_index_stats('items_tbl');
SELECT leaf_vector_pages > 0 AS has_vector_pages FROM alex_index_stats('items_idx');
SELECT 2 * pg_relation_size('items_tbl') < pg_relation_size('items_idx') AS smaller;
SELECT alex_index_check('items_tbl');
DROP INDEX items_idx;

-- exhaustive probes: the seq scan's answer; few probes: exact order, good recall
SELECT pg_temp.exhaustive_equals_exact('items', '<->', 30);
SET enable_seqscan = off;
SET alex.probes = 2;
SELECT bool_and(d >= prev) AS ordered, count(*) AS n FROM (
	SELECT d, lag(d, 1, '-Infinity') OVER (ORDER BY n) AS prev FROM (
		SELECT row_number() OVER () AS n, v <-> (SELECT v FROM queries WHERE id = 100001) AS d
		FROM (SELECT v FROM items
			  ORDER BY v <-> (SELECT v FROM queries WHERE id = 100001) LIMIT 50) s
	) t
) u;
RESET alex.probes;
RESET enable_seqscan;
SELECT pg_temp.recall('items', '<->') >= 0.9 AS good_recall;

-- rows the snapshot does not see are not returned: deleted, and the old
-- versions of updated rows (a new vector: a new index entry)
DELETE FROM items WHERE id % 10 = 1;
UPDATE items SET v = (SELECT v FROM queries WHERE id = 100002) WHERE id = 5;
SELECT pg_temp.top_ids('items', (SELECT v FROM queries WHERE id = 100002), 1, '<->', true);
SELECT pg_temp.exhaustive_equals_exact('items', '<->', 30);
SELECT pg_temp.recall('items', '<->') >= 0.9 AS good_recall;
-- a transaction sees its own changes, and not after a rollback
BEGIN;
DELETE FROM items WHERE id = 5;
SELECT 5 = ANY (pg_temp.top_ids('items', (SELECT v FROM queries WHERE id = 100002), 5, '<->', true)) AS sees_deleted;
ROLLBACK;
SELECT 5 = ANY (pg_temp.top_ids('items', (SELECT v FROM queries WHERE id = 100002), 5, '<->', true)) AS sees_row;

-- inserts that split leaves while dead rows are still in them, some pruned
-- away already by a seq scan: the split reads every row back or drops it
SELECT count(*) FROM items;
INSERT INTO items SELECT * FROM pg_temp.clustered(3000, 128, 10001);
SELECT splits > 0 AS split FROM alex_index_stats('items_tbl');
-- every live row has its entry; dead ones may still have theirs until VACUUM
SELECT alex_index_check('items_tbl') BETWEEN count(*) AND count(*) + 301 AS entries_ok FROM items;
SELECT pg_temp.exhaustive_equals_exact('items', '<->', 30);

-- most rows deleted, VACUUM removes their entries and merges small leaves
DELETE FROM items WHERE id % 10 <> 0;
VACUUM items;
SELECT entries = (SELECT count(*) FROM items) AS entries_match_rows, merges > 0 AS merged
FROM alex_index_stats('items_tbl');
SELECT alex_index_check('items_tbl');
SELECT pg_temp.exhaustive_equals_exact('items', '<->', 30);
DROP INDEX items_tbl;

-- built on an empty table and grown by inserts alone; cosine
TRUNCATE items;
CREATE INDEX items_cos ON items USING alex (v vector_cosine_ops) WITH (rerank = table);
INSERT INTO items SELECT * FROM pg_temp.clustered(4000, 128, 1);
SELECT entries, leaves > 1 AS split, leaf_vector_pages FROM alex_index_stats('items_cos');
SELECT alex_index_check('items_cos');
SELECT pg_temp.exhaustive_equals_exact('items', '<=>', 30);
SELECT pg_temp.recall('items', '<=>') >= 0.9 AS good_recall;
DROP INDEX items_cos;

-- an expression index reranks with the expression computed from the row
CREATE INDEX items_expr ON items USING alex ((l2_normalize(v)::vector(128)) vector_l2_ops)
	WITH (rerank = table);
SELECT alex_index_check('items_expr');
SET alex.probes = 100000;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF)
SELECT id FROM items ORDER BY l2_normalize(v)::vector(128) <-> l2_normalize((SELECT v FROM queries WHERE id = 100001)) LIMIT 20;
CREATE TEMP TABLE by_index AS
SELECT q.id AS q, array_agg(i.id) AS ids FROM queries q,
	LATERAL (SELECT id FROM items ORDER BY l2_normalize(v)::vector(128) <-> l2_normalize(q.v)
			 LIMIT 20) i GROUP BY q.id;
RESET enable_seqscan;
SET enable_indexscan = off;
CREATE TEMP TABLE by_scan AS
SELECT q.id AS q, array_agg(i.id) AS ids FROM queries q,
	LATERAL (SELECT id FROM items ORDER BY l2_normalize(v)::vector(128) <-> l2_normalize(q.v)
			 LIMIT 20) i GROUP BY q.id;
RESET enable_indexscan;
RESET alex.probes;
SELECT count(*) AS queries, bool_and(a.ids = b.ids) AS same FROM by_index a JOIN by_scan b USING (q);

-- the choice is made at build time: SET changes the next REINDEX
ALTER INDEX items_expr SET (rerank = index);
SELECT leaf_vector_pages FROM alex_index_stats('items_expr');
REINDEX INDEX items_expr;
SELECT leaf_vector_pages > 0 AS has_vector_pages FROM alex_index_stats('items_expr');
DROP TABLE items, queries;
