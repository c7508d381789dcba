-- clustered(n, dim, first_id): n rows (id, v) around 8 centres, each row its
-- centre plus noise (random(): seed it first for repeatable rows)
CREATE FUNCTION pg_temp.clustered(n int, dim int, first_id int)
RETURNS TABLE (id int, v vector) LANGUAGE sql AS $$
	SELECT i, (SELECT array_agg(sin(((i % 8) + 1) * g) + 0.3 * random())
			   FROM generate_series(1, dim) g)::vector
	FROM generate_series(first_id, first_id + n - 1) i
$$;
