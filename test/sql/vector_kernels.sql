--
-- vector_kernels: the omendb.distance_kernel setting, and bit-identical
-- distances from every kernel implementation this CPU can run.
--
-- Nothing printed here may depend on the CPU: kernels the CPU lacks are
-- skipped silently, and the name "auto" resolves to is never shown.
--
\set SHOW_CONTEXT never

-- Set before the library is loaded: the value is kept for the real setting.
SET omendb.distance_kernel = portable;
SELECT '[1]'::vector;
SHOW omendb.distance_kernel;
RESET omendb.distance_kernel;

\i test/sql/include/err.sql

--
-- The setting
--
SELECT name, vartype, context, enumvals, boot_val, short_desc
FROM pg_settings WHERE name = 'omendb.distance_kernel';
SET omendb.distance_kernel = portable;
SHOW omendb.distance_kernel;
SELECT current_setting('omendb.distance_kernel');
SET omendb.distance_kernel = 'PORTABLE';
SHOW omendb.distance_kernel;
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SET omendb.distance_kernel = sse$$),
	($$SET omendb.distance_kernel = ''$$),
	($$SET omendb.distance_kernel = 1$$),
	($$SELECT set_config('omendb.distance_kernel', 'avx1024', false)$$),
	-- the prefix belongs to the extension
	($$SET omendb.no_such_setting = 1$$)
) AS t(q);
-- a failed SET leaves the setting alone
SHOW omendb.distance_kernel;
-- "auto" and the default resolve to some kernel; SET LOCAL reverts on rollback
RESET omendb.distance_kernel;
SELECT current_setting('omendb.distance_kernel') AS auto_kernel \gset
SELECT :'auto_kernel' IN ('portable', 'avx2', 'avx512') AS known_kernel;
SET omendb.distance_kernel = auto;
SELECT current_setting('omendb.distance_kernel') = :'auto_kernel' AS auto_is_default;
BEGIN;
SET LOCAL omendb.distance_kernel = portable;
SHOW omendb.distance_kernel;
ROLLBACK;
SELECT current_setting('omendb.distance_kernel') = :'auto_kernel' AS restored;
-- a function's SET clause applies only inside it
CREATE FUNCTION pg_temp.kernel_in_function() RETURNS text LANGUAGE sql
	SET omendb.distance_kernel = portable
	AS $$ SELECT current_setting('omendb.distance_kernel') $$;
SELECT pg_temp.kernel_in_function();
SELECT current_setting('omendb.distance_kernel') = :'auto_kernel' AS restored;

--
-- check_kernels(tbl): computes every distance of the pairs (n, a, b) in tbl
-- with the portable kernels, then with each other kernel the CPU runs, and
-- raises an error if any result differs in a single bit.
--
CREATE FUNCTION pg_temp.check_kernels(tbl regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	k text;
	bad record;
	pairs bigint;
	tested int := 0;
	dists CONSTANT text :=
		'float8send(a <-> b) AS l2, float8send(vector_l2_squared_distance(a, b)) AS l2sq, '
		'float8send(inner_product(a, b)) AS ip, float8send(a <#> b) AS nip, '
		'float8send(a <=> b) AS cos, float8send(a <+> b) AS l1, '
		'float8send(vector_spherical_distance(a, b)) AS sph';
BEGIN
	PERFORM set_config('omendb.distance_kernel', 'portable', true);
	EXECUTE format('CREATE TEMP TABLE kernel_ref AS SELECT n, %s FROM %s', dists, tbl);
	GET DIAGNOSTICS pairs = ROW_COUNT;
	FOREACH k IN ARRAY ARRAY['auto', 'avx2', 'avx512', 'portable'] LOOP
		BEGIN
			PERFORM set_config('omendb.distance_kernel', k, true);
		EXCEPTION WHEN invalid_parameter_value THEN
			CONTINUE;		-- this CPU lacks these kernels
		END;
		tested := tested + 1;
		EXECUTE format(
			'SELECT r.n, r.l2 <> t.l2 AS l2, r.l2sq <> t.l2sq AS l2sq, r.ip <> t.ip AS ip, '
			'r.nip <> t.nip AS nip, r.cos <> t.cos AS cos, r.l1 <> t.l1 AS l1, r.sph <> t.sph AS sph, '
			'r.ip AS ref_ip, t.ip AS got_ip '
			'FROM kernel_ref r FULL JOIN (SELECT n, %s FROM %s) t USING (n) '
			'WHERE (r.l2, r.l2sq, r.ip, r.nip, r.cos, r.l1, r.sph) IS DISTINCT FROM '
			'(t.l2, t.l2sq, t.ip, t.nip, t.cos, t.l1, t.sph) ORDER BY n LIMIT 1',
			dists, tbl) INTO bad;
		IF bad.n IS NOT NULL THEN
			RAISE EXCEPTION 'kernel "%" differs from "portable" for pair % (l2 %, l2sq %, ip %, nip %, cos %, l1 %, spherical %; inner product bytes % vs %)',
				current_setting('omendb.distance_kernel'), bad.n, bad.l2, bad.l2sq,
				bad.ip, bad.nip, bad.cos, bad.l1, bad.sph, bad.ref_ip, bad.got_ip;
		END IF;
	END LOOP;
	DROP TABLE kernel_ref;
	IF tested < 2 THEN
		RAISE EXCEPTION 'not even auto and portable could be tested';
	END IF;
	RETURN format('kernels agree on %s pairs', pairs);
END
$$;

--
-- Hand-computed results, with the portable kernels
--
SET omendb.distance_kernel = portable;
-- a = [1..100], b = [100..1]: sum (2i - 101)^2 = 333300, sqrt = 577.3214009544423;
-- inner product sum i (101 - i) = 101 * 5050 - 338350 = 171700; |a|^2 = |b|^2 = 338350;
-- cosine 1 - 171700 / 338350 = 0.4925373134328358; l1 = sum |2i - 101| = 5000
CREATE TABLE kernel_exact (n int, a vector, b vector);
INSERT INTO kernel_exact
SELECT 1, array_agg(i ORDER BY i)::vector, array_agg(101 - i ORDER BY i)::vector
FROM generate_series(1, 100) AS i;
-- 1536 ones vs 1536 twos: sqrt(1536) = 39.191835884530846, ip 3072, cosine 0, l1 1536
INSERT INTO kernel_exact
SELECT 2, array_fill(1, ARRAY[1536])::vector, array_fill(2, ARRAY[1536])::vector;
-- 16000 ones vs 16000 zeros: sqrt(16000) = 126.49110640673517, ip 0, cosine NaN, l1 16000
INSERT INTO kernel_exact
SELECT 3, array_fill(1, ARRAY[16000])::vector, array_fill(0, ARRAY[16000])::vector;
-- 16000 ones with themselves: 0, ip 16000, cosine 0, l1 0
INSERT INTO kernel_exact
SELECT 4, array_fill(1, ARRAY[16000])::vector, array_fill(1, ARRAY[16000])::vector;
SELECT n, a <-> b AS l2, vector_l2_squared_distance(a, b) AS l2sq, inner_product(a, b) AS ip,
	a <=> b AS cosine, a <+> b AS l1
FROM kernel_exact ORDER BY n;
SELECT pg_temp.check_kernels('kernel_exact');
-- and the same numbers with whatever kernel "auto" picks
RESET omendb.distance_kernel;
SELECT n, a <-> b AS l2, vector_l2_squared_distance(a, b) AS l2sq, inner_product(a, b) AS ip,
	a <=> b AS cosine, a <+> b AS l1
FROM kernel_exact ORDER BY n;
DROP TABLE kernel_exact;

--
-- Random pairs of 1 to 100 dimensions (every tail length of the 32 lanes),
-- at scales from 1e-3 to 1e3, with some zero elements, some equal pairs
-- and some zero vectors.
--
SELECT setseed(0.42);
CREATE TABLE kernel_pairs (n int, a vector, b vector);
INSERT INTO kernel_pairs
SELECT n,
	ARRAY(SELECT CASE WHEN random() < 0.1 THEN 0 ELSE (random() * 2 - 1) * scale END
		  FROM generate_series(1, d))::vector,
	ARRAY(SELECT CASE WHEN random() < 0.1 THEN 0 ELSE (random() * 2 - 1) * scale END
		  FROM generate_series(1, d))::vector
FROM (SELECT n, 1 + (n - 1) % 100 AS d, 10 ^ (random() * 6 - 3) AS scale
	  FROM generate_series(1, 400) AS n) AS s;
-- every tenth pair compares a vector with itself
UPDATE kernel_pairs SET b = a WHERE n % 10 = 0;
-- zero vectors (cosine NaN)
INSERT INTO kernel_pairs
SELECT 400 + d, array_fill(0, ARRAY[d])::vector,
	ARRAY(SELECT random() - 0.5 FROM generate_series(1, d))::vector
FROM unnest(ARRAY[1, 31, 32, 33, 100]) AS d;
SELECT count(*), min(vector_dims(a)), max(vector_dims(a)), count(DISTINCT vector_dims(a)),
	count(*) FILTER (WHERE vector_dims(a) <> vector_dims(b)) AS mismatched
FROM kernel_pairs;
SELECT pg_temp.check_kernels('kernel_pairs');

--
-- The same with float4 extremes: elements from about 1e-40 (denormal) to
-- 1e30, so that some products underflow and some sums overflow to infinity.
--
CREATE TABLE kernel_extreme (n int, a vector, b vector);
INSERT INTO kernel_extreme
SELECT n,
	ARRAY(SELECT (random() * 2 - 1) * scale FROM generate_series(1, d))::vector,
	ARRAY(SELECT (random() * 2 - 1) * scale FROM generate_series(1, d))::vector
FROM (SELECT n, 1 + (n - 1) % 100 AS d, 10 ^ (random() * 70 - 40) AS scale
	  FROM generate_series(1, 200) AS n) AS s;
SELECT count(*) FILTER (WHERE a <-> b = 'Infinity') > 0 AS some_infinite,
	count(*) FILTER (WHERE inner_product(a, b) = 0) > 0 AS some_zero
FROM kernel_extreme;
SELECT pg_temp.check_kernels('kernel_extreme');

--
-- Long vectors: 1536 (a common embedding size), 1535, 1537 and 16000 dimensions
--
CREATE TABLE kernel_long (n int, a vector, b vector);
INSERT INTO kernel_long
SELECT n,
	ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, d))::vector,
	ARRAY(SELECT random() * 2 - 1 FROM generate_series(1, d))::vector
FROM (VALUES (1, 1536), (2, 1536), (3, 1536), (4, 1535), (5, 1537),
	  (6, 16000), (7, 16000)) AS s(n, d);
SELECT n, vector_dims(a) FROM kernel_long ORDER BY n;
SELECT pg_temp.check_kernels('kernel_long');

--
-- Signed zeros.  Each fused step fma(-1e-30, 1e-30, lane) has the exact
-- result -1e-60 (+ 0 or - 0), which rounds to -0.  So in the canonical
-- order every lane that holds a product ends at -0, and once all 32 lanes
-- hold one (32 or more dimensions) the pairwise sum is -0 as well; with
-- fewer dimensions the unused lanes stay +0 and +0 + -0 = +0.  Every
-- kernel must give the same signed zero (the tails of 33, 40 and 65
-- dimensions must not turn the -0 lanes into +0).
--
CREATE TABLE kernel_zero (n int, a vector, b vector);
INSERT INTO kernel_zero
SELECT d, array_fill(-1e-30::real, ARRAY[d])::vector, array_fill(1e-30::real, ARRAY[d])::vector
FROM unnest(ARRAY[1, 31, 32, 33, 40, 64, 65]) AS d;
SET omendb.distance_kernel = portable;
SELECT n, inner_product(a, b), a <#> b AS neg_ip FROM kernel_zero ORDER BY n;
RESET omendb.distance_kernel;
SELECT pg_temp.check_kernels('kernel_zero');

DROP TABLE kernel_pairs, kernel_extreme, kernel_long, kernel_zero;
