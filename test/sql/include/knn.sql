-- k-NN helpers shared by the alex suites; every table has (id int, v vector)
-- top_ids: the k nearest ids to q in tbl, by index scan or by exact seq scan
CREATE FUNCTION pg_temp.top_ids(tbl text, q vector, k int, op text, use_index bool)
RETURNS int[] LANGUAGE plpgsql AS $$
DECLARE
	result int[];
BEGIN
	PERFORM set_config('enable_seqscan', CASE WHEN use_index THEN 'off' ELSE 'on' END, true);
	PERFORM set_config('enable_indexscan', CASE WHEN use_index THEN 'on' ELSE 'off' END, true);
	PERFORM set_config('enable_bitmapscan', 'off', true);
	EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %I ORDER BY v %s $1 LIMIT $2) s',
				   tbl, op)
		INTO result USING q, k;
	RETURN result;
END
$$;
-- recall@10 of the index against the exact answer, over the table queries
CREATE FUNCTION pg_temp.recall(tbl text, op text) RETURNS float8 LANGUAGE plpgsql AS $$
BEGIN
	RETURN (SELECT avg((SELECT count(*) FROM unnest(pg_temp.top_ids(tbl, q.v, 10, op, true)) a
						WHERE a = ANY (pg_temp.top_ids(tbl, q.v, 10, op, false))) / 10.0)::float8
			FROM queries q);
END
$$;
-- with alex.probes at least the leaf count, the index returns exactly what a
-- seq scan returns, in the same order, for every query
CREATE FUNCTION pg_temp.exhaustive_equals_exact(tbl text, op text, k int) RETURNS bool
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('alex.probes', '100000', true);
	RETURN (SELECT bool_and(pg_temp.top_ids(tbl, q.v, k, op, true) =
							pg_temp.top_ids(tbl, q.v, k, op, false))
			FROM queries q);
END
$$;
