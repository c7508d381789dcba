--
-- alex_routing: ordering many leaves.  With 256 or more leaves of 128 or
-- more dimensions a scan first scores every leaf in the centroids' top
-- principal directions and orders only the best of those by their 8-bit
-- centroids; the leaves it probes must still be the near ones.
--
\set SHOW_CONTEXT never
\set VERBOSITY sqlstate

\i test/sql/include/knn.sql

SELECT setseed(0.75);
-- 64 clusters of 100 rows, each centre a random point
CREATE TABLE centres (c int, v float4[]);
INSERT INTO centres
SELECT c, (SELECT array_agg(4 * random() + 0 * g + 0 * c) FROM generate_series(1, 128) g)
FROM generate_series(0, 63) c;
CREATE TABLE items (id int, v vector(128)) WITH (autovacuum_enabled = off);
INSERT INTO items
SELECT i, (SELECT array_agg(x + random()) FROM unnest(v) x)::vector
FROM generate_series(1, 6400) i JOIN centres ON c = i % 64;
CREATE TABLE queries (id int, v vector(128));
INSERT INTO queries
SELECT i, (SELECT array_agg(x + random()) FROM unnest(v) x)::vector
FROM generate_series(1, 20) i JOIN centres ON c = (7 * i) % 64;
ANALYZE items;

-- self_found: the share of rows (every 32nd) whose own vector finds them
-- first, probing only a few leaves
CREATE FUNCTION pg_temp.self_found(op text) RETURNS float8 LANGUAGE plpgsql AS $$
BEGIN
	RETURN (SELECT avg((pg_temp.top_ids('items', i.v, 1, op, true) = ARRAY[i.id])::int)
			FROM items i WHERE i.id % 32 = 0);
END
$$;

CREATE INDEX items_l2 ON items USING alex (v vector_l2_ops) WITH (leaves = 300);
SELECT leaves >= 256 AS many_leaves FROM alex_index_stats('items_l2');
SET alex.probes = 3;
SELECT pg_temp.self_found('<->') >= 0.95 AS l2_self_found;
SET alex.probes = 10;
SELECT pg_temp.recall('items', '<->') >= 0.9 AS l2_recall;
-- a scan that needs more than one batch re-routes for more leaves: 400
-- rows at 4 probes a batch (about 90 rows) come out, each row once
SET alex.probes = 4;
SET alex.max_probes = 100000;
SELECT bool_and(cardinality(ids) = 400 AND
				(SELECT count(DISTINCT id) FROM unnest(ids) id) = 400) AS l2_long_scan
FROM (SELECT pg_temp.top_ids('items', q.v, 400, '<->', true) ids FROM queries q) s;
RESET alex.max_probes;
SELECT pg_temp.exhaustive_equals_exact('items', '<->', 20);
DROP INDEX items_l2;

CREATE INDEX items_cos ON items USING alex (v vector_cosine_ops) WITH (leaves = 300);
SET alex.probes = 3;
SELECT pg_temp.self_found('<=>') >= 0.95 AS cosine_self_found;
SET alex.probes = 10;
SELECT pg_temp.recall('items', '<=>') >= 0.9 AS cosine_recall;
DROP INDEX items_cos;

-- inner product: a row is not always its own best match, so recall only
CREATE INDEX items_ip ON items USING alex (v vector_ip_ops) WITH (leaves = 300);
SET alex.probes = 10;
SELECT pg_temp.recall('items', '<#>') >= 0.9 AS ip_recall;
SELECT pg_temp.exhaustive_equals_exact('items', '<#>', 20);
DROP INDEX items_ip;

DROP TABLE items, queries, centres;
