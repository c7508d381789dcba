--
-- alex_kernels: an index built with any distance kernel the CPU runs is
-- the same, byte for byte, as one built with the portable kernels.  The
-- build's block kernel (nearest centroids for k-means and the bulk load,
-- the leaf direction), the code encoder and the scan's code kernel must
-- all agree bit for bit (see include/distance.h).
--
-- Nothing printed may depend on the CPU: kernels it lacks are skipped.
--
\set SHOW_CONTEXT never
CREATE EXTENSION IF NOT EXISTS pageinspect;
\i test/sql/include/clustered.sql

SELECT setseed(0.42);
-- 130 dimensions: a partial chunk of 32 lanes, codes of 256 bits, and wide
-- enough for the build's short-list search of nearest centroids (which
-- needs 64 centroids or more: WITH (leaves = 70) below)
CREATE TABLE kern (id int, v vector(130));
INSERT INTO kern SELECT * FROM pg_temp.clustered(3000, 130, 1);

-- md5 of every page of the index without its header (the LSN differs)
CREATE FUNCTION pg_temp.index_digest(idx regclass) RETURNS text LANGUAGE sql AS $$
	SELECT md5(string_agg(substr(get_raw_page(idx::text, b::int), 25), '' ORDER BY b))
	FROM generate_series(0, pg_relation_size(idx) / current_setting('block_size')::int - 1) b
$$;

-- the ids of the 10 nearest rows of a few queries, through the index
CREATE FUNCTION pg_temp.answers() RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(ids, ';' ORDER BY q.id) FROM kern q,
	LATERAL (SELECT string_agg(id::text, ',') AS ids FROM
			 (SELECT id FROM kern ORDER BY v <-> q.v LIMIT 10) x) y
	WHERE q.id % 300 = 0
$$;

CREATE FUNCTION pg_temp.check_build_kernels(opclass text, options text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	k text;
	ref_digest text;
	ref_answers text;
	digest text;
	answers text;
	tested int := 0;
BEGIN
	PERFORM set_config('enable_seqscan', 'off', true);
	PERFORM set_config('alex.probes', '3', true);
	FOREACH k IN ARRAY ARRAY['portable', 'auto', 'avx2', 'avx512'] LOOP
		BEGIN
			PERFORM set_config('omendb.distance_kernel', k, true);
		EXCEPTION WHEN invalid_parameter_value THEN
			CONTINUE;		-- this CPU lacks these kernels
		END;
		tested := tested + 1;
		IF to_regclass('kern_alex') IS NOT NULL THEN
			DROP INDEX kern_alex;
		END IF;
		EXECUTE format('CREATE INDEX kern_alex ON kern USING alex (v %s) %s',
					   opclass, options);
		-- dynamic SQL: a cached plan would still name the dropped index
		EXECUTE 'SELECT pg_temp.index_digest(''kern_alex''), pg_temp.answers()'
			INTO digest, answers;
		IF ref_digest IS NULL THEN
			ref_digest := digest;
			ref_answers := answers;
		ELSIF digest <> ref_digest THEN
			RAISE EXCEPTION 'kernel "%" builds a different % index than "portable"',
				current_setting('omendb.distance_kernel'), opclass;
		ELSIF answers <> ref_answers THEN
			RAISE EXCEPTION 'kernel "%" answers differently than "portable" (%)',
				current_setting('omendb.distance_kernel'), opclass;
		END IF;
	END LOOP;
	DROP INDEX kern_alex;
	IF tested < 2 THEN
		RAISE EXCEPTION 'not even auto and portable could be tested';
	END IF;
	RETURN format('%s %s: the same index from every kernel', opclass, options);
END
$$;

SELECT pg_temp.check_build_kernels(opclass, options)
FROM unnest(ARRAY['vector_l2_ops', 'vector_ip_ops', 'vector_cosine_ops']) opclass,
	 unnest(ARRAY['', 'WITH (leaves = 70)']) options;

-- the check itself sees a difference: a build from other rows differs
CREATE INDEX kern_alex ON kern USING alex (v vector_l2_ops) WITH (leaves = 12);
SELECT pg_temp.index_digest('kern_alex') AS before \gset
UPDATE kern SET v = v + v WHERE id = 7;
REINDEX INDEX kern_alex;
SELECT pg_temp.index_digest('kern_alex') <> :'before' AS digest_sees_a_change;

-- The scan's code kernel, at both widths it has a path for (codes of up to
-- 1,024 bits, and wider: 1,100 dimensions have 2,048): with the index
-- fixed, every kernel reranks the same candidates (so the scans read the
-- same number of index blocks) and answers the same.
CREATE TABLE kern_wide (id int, v vector(1100));
INSERT INTO kern_wide SELECT * FROM pg_temp.clustered(400, 1100, 1);

CREATE FUNCTION pg_temp.check_scan_kernels(tbl text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	idx regclass;
	k text;
	ref text;
	got text;
	before int8;
	tested int := 0;
BEGIN
	PERFORM set_config('enable_seqscan', 'off', true);
	PERFORM set_config('alex.probes', '3', true);
	EXECUTE format('CREATE INDEX %I ON %I USING alex (v vector_l2_ops)', tbl || '_scan', tbl);
	idx := (tbl || '_scan')::regclass;
	-- the kernels in turn, after a first scan that caches the routing
	FOREACH k IN ARRAY ARRAY['auto', 'portable', 'auto', 'avx2', 'avx512'] LOOP
		BEGIN
			PERFORM set_config('omendb.distance_kernel', k, true);
		EXCEPTION WHEN invalid_parameter_value THEN
			CONTINUE;		-- this CPU lacks these kernels
		END;
		tested := tested + 1;
		before := pg_stat_get_xact_blocks_fetched(idx);
		EXECUTE format($q$
			SELECT md5(string_agg(ids, ';' ORDER BY q.id)) FROM %1$I q,
			LATERAL (SELECT string_agg(id::text, ',') AS ids FROM
					 (SELECT id FROM %1$I ORDER BY v <-> q.v LIMIT 10) x) y
			WHERE q.id %% 40 = 0$q$, tbl) INTO got;
		got := format('answers %s, %s index blocks', got,
					  pg_stat_get_xact_blocks_fetched(idx) - before);
		IF tested = 2 THEN
			ref := got;
		ELSIF tested > 2 AND got <> ref THEN
			RAISE EXCEPTION 'kernel "%" scans % differently than "portable": % against %',
				k, tbl, got, ref;
		END IF;
	END LOOP;
	EXECUTE format('DROP INDEX %I', tbl || '_scan');
	IF tested < 3 THEN
		RAISE EXCEPTION 'not even auto and portable could be tested';
	END IF;
	RETURN format('%s: every kernel scans the same', tbl);
END
$$;

SELECT pg_temp.check_scan_kernels('kern');
SELECT pg_temp.check_scan_kernels('kern_wide');

DROP TABLE kern, kern_wide;
