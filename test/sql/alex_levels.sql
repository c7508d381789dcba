--
-- alex_levels: multi-level model nodes.  A small fanout (entries per model
-- node) makes the build stack levels of nodes, and makes inserts split
-- model nodes and, when the root splits, add a level.
--
\set SHOW_CONTEXT never
\set VERBOSITY sqlstate

SELECT setseed(0.125);
CREATE TABLE items (id int, v vector(8)) WITH (autovacuum_enabled = off);
INSERT INTO items
SELECT i, (SELECT array_agg(random() + (i % 9) + 0 * g) FROM generate_series(1, 8) g)::vector
FROM generate_series(1, 3000) i;
CREATE TABLE queries (id int, v vector(8));
INSERT INTO queries
SELECT i, (SELECT array_agg(random() + (i % 9) + 0 * g) FROM generate_series(1, 8) g)::vector
FROM generate_series(1, 20) i;

\i test/sql/include/knn.sql

-- bulk build: over 16 leaves under nodes of at most 4 entries stack 3 or more levels
CREATE INDEX items_alex ON items USING alex (v vector_l2_ops) WITH (fanout = 4);
SELECT levels >= 3 AS stacked, leaves > 16 AS many_leaves, entries
FROM alex_index_stats('items_alex');
SELECT alex_index_check('items_alex');
SELECT pg_temp.exhaustive_equals_exact('items', '<->', 60);
SET alex.probes = 8;
SELECT pg_temp.recall('items', '<->') >= 0.8 AS good_recall;
RESET alex.probes;
DROP INDEX items_alex;

-- growth from empty: node splits, root splits add levels
TRUNCATE items;
CREATE INDEX items_alex ON items USING alex (v vector_l2_ops) WITH (fanout = 4);
SELECT levels, leaves FROM alex_index_stats('items_alex');
SELECT setseed(0.125);
DO $$
BEGIN
	FOR b IN 0..29 LOOP
		INSERT INTO items
		SELECT i, (SELECT array_agg(random() + (i % 9) + 0 * g) FROM generate_series(1, 8) g)::vector
		FROM generate_series(b * 100 + 1, (b + 1) * 100) i;
	END LOOP;
END
$$;
SELECT levels >= 3 AS grew_levels, leaves > 16 AS many_leaves, splits > 0 AS split, entries
FROM alex_index_stats('items_alex');
SELECT alex_index_check('items_alex');
SELECT pg_temp.exhaustive_equals_exact('items', '<->', 60);

-- deletes and vacuum: leaves merge within their node, replaced model
-- nodes are recycled with the leaves
DELETE FROM items WHERE id % 5 <> 0;
VACUUM items;
SELECT txid_current() > 0 AS advanced;
VACUUM items;
SELECT entries, merges > 0 AS merged FROM alex_index_stats('items_alex');
SELECT alex_index_check('items_alex');
SELECT pg_temp.exhaustive_equals_exact('items', '<->', 60);

-- wide entries (one routing entry per page): a split's replaced entry and
-- the new one sit on different pages of the node
CREATE TABLE wide (id int, v vector(1200));
CREATE INDEX wide_alex ON wide USING alex (v vector_l2_ops) WITH (fanout = 4);
INSERT INTO wide
SELECT i, (SELECT array_agg(sin(i * g) + (i % 3)) FROM generate_series(1, 1200) g)::vector
FROM generate_series(1, 1500) i;
SELECT levels >= 2 AS multi_level, leaves > 4 AS split, entries FROM alex_index_stats('wide_alex');
SELECT alex_index_check('wide_alex');
SET enable_seqscan = off;
SET alex.probes = 100000;
SELECT count(*), count(DISTINCT id) FROM (
	SELECT id FROM wide ORDER BY v <-> (SELECT v FROM wide WHERE id = 7) LIMIT 2000) s;
RESET alex.probes;
RESET enable_seqscan;
DROP TABLE wide;

-- a fanout out of range
CREATE INDEX ON items USING alex (v vector_l2_ops) WITH (fanout = 3);
CREATE INDEX ON items USING alex (v vector_l2_ops) WITH (fanout = 100001);

DROP TABLE items, queries;
