--
-- alex_vacuum: dead entries are cleared, underfull leaves merged, the pages
-- of replaced leaves recycled and reused, statistics right
--
\set SHOW_CONTEXT never
\set VERBOSITY sqlstate

SELECT setseed(0.75);
CREATE TABLE items (id int, v vector(8)) WITH (autovacuum_enabled = off);
INSERT INTO items
SELECT i, (SELECT array_agg(random() + (i % 6) + 0 * g) FROM generate_series(1, 8) g)::vector
FROM generate_series(1, 5000) i;
CREATE INDEX items_alex ON items USING alex (v vector_l2_ops);
SELECT leaves AS leaves_before FROM alex_index_stats('items_alex') \gset

CREATE FUNCTION pg_temp.exhaustive_equals_exact() RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
	a int[];
	b int[];
BEGIN
	PERFORM set_config('alex.probes', '100000', true);
	PERFORM set_config('enable_bitmapscan', 'off', true);
	PERFORM set_config('enable_seqscan', 'off', true);
	SELECT array_agg(id) INTO a FROM (SELECT id FROM items ORDER BY v <-> '[3,3,3,3,3,3,3,3]' LIMIT 100000) s;
	PERFORM set_config('enable_seqscan', 'on', true);
	PERFORM set_config('enable_indexscan', 'off', true);
	SELECT array_agg(id) INTO b FROM (SELECT id FROM items ORDER BY v <-> '[3,3,3,3,3,3,3,3]' LIMIT 100000) s;
	RETURN a = b;
END
$$;

-- delete 90% and vacuum: entries cleared, leaves merged
DELETE FROM items WHERE id % 10 <> 0;
VACUUM items;
SELECT entries, leaves < :leaves_before AS merged, merges > 0 AS counted
FROM alex_index_stats('items_alex');
SELECT alex_index_check('items_alex');
SELECT pg_temp.exhaustive_equals_exact();
-- statistics: the index's reltuples is the live entry count
SELECT reltuples FROM pg_class WHERE relname = 'items_alex';

-- once no transaction can still see them, replaced leaves become free pages
-- (this vacuum may merge more leaves, which wait for the next one)
SELECT deleted_leaves AS deleted_before FROM alex_index_stats('items_alex') \gset
SELECT txid_current() > 0 AS advanced;
VACUUM items;
SELECT free_pages > 0 AS has_free_pages, deleted_leaves <= :deleted_before AS recycled
FROM alex_index_stats('items_alex');
SELECT pages AS pages_vacuumed, free_pages AS free_vacuumed FROM alex_index_stats('items_alex') \gset
SELECT alex_index_check('items_alex');

-- re-inserting reuses that space (splits still write new leaves before
-- the old ones can be recycled, so some growth remains)
INSERT INTO items
SELECT i, (SELECT array_agg(random() + (i % 6) + 0 * g) FROM generate_series(1, 8) g)::vector
FROM generate_series(5001, 9500) i;
SELECT entries, free_pages < :free_vacuumed AS reused, pages < 2 * :pages_vacuumed AS bounded
FROM alex_index_stats('items_alex');
SELECT alex_index_check('items_alex');
SELECT pg_temp.exhaustive_equals_exact();

-- emptying the table entirely
DELETE FROM items;
VACUUM items;
SELECT entries, leaves <= 1 AS at_most_one_leaf FROM alex_index_stats('items_alex');
SELECT alex_index_check('items_alex');
INSERT INTO items VALUES (1, '[1,1,1,1,1,1,1,1]');
SELECT id FROM items ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 1;

-- VACUUM FULL and ANALYZE-only do not upset it
VACUUM FULL items;
ANALYZE items;
SELECT alex_index_check('items_alex');

DROP TABLE items;

-- a split interrupted after writing its new leaves (here by
-- alex.debug_abort_splits; in life by an error or a crash) leaves them
-- unrouted: the check names them, vacuum reclaims their pages, and later
-- splits reuse them
CREATE TABLE interrupted (id int, v vector(8)) WITH (autovacuum_enabled = off);
CREATE INDEX interrupted_alex ON interrupted USING alex (v vector_l2_ops);
CREATE FUNCTION pg_temp.fill_interrupted() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	FOR b IN 0..29 LOOP
		INSERT INTO interrupted
		SELECT i, (SELECT array_agg(random() + (i % 6) + 0 * g) FROM generate_series(1, 8) g)::vector
		FROM generate_series(b * 100 + 1, (b + 1) * 100) i;
	END LOOP;
END
$$;
\set VERBOSITY terse
SET alex.debug_abort_splits = on;
SELECT pg_temp.fill_interrupted();
RESET alex.debug_abort_splits;
SELECT splits, leaves FROM alex_index_stats('interrupted_alex');
SELECT alex_index_check('interrupted_alex');
SELECT free_pages AS free_interrupted FROM alex_index_stats('interrupted_alex') \gset
VACUUM interrupted;
SELECT alex_index_check('interrupted_alex');
\set VERBOSITY sqlstate
SELECT free_pages > :free_interrupted AS reclaimed FROM alex_index_stats('interrupted_alex');
SELECT free_pages AS free_reclaimed FROM alex_index_stats('interrupted_alex') \gset
-- the same rows again, with splits that complete: they take the freed pages
-- before the index grows
SELECT pg_temp.fill_interrupted();
SELECT splits > 0 AS split, entries, free_pages < :free_reclaimed AS reused
FROM alex_index_stats('interrupted_alex');
SELECT alex_index_check('interrupted_alex');
DROP TABLE interrupted;
