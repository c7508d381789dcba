--
-- alex_insert: an index created on an empty table grows by inserts,
-- splitting and expanding leaves, and stays as accurate as a bulk build
--
\set SHOW_CONTEXT never
\set VERBOSITY sqlstate

SELECT setseed(0.25);
CREATE TABLE source (id int, v vector(16));
INSERT INTO source
SELECT i, (SELECT array_agg(random() + (i % 7) + 0 * g) FROM generate_series(1, 16) g)::vector
FROM generate_series(1, 4000) i;
CREATE TABLE queries (id int, v vector(16));
INSERT INTO queries
SELECT i, (SELECT array_agg(random() + (i % 7) + 0 * g) FROM generate_series(1, 16) g)::vector
FROM generate_series(1, 20) i;

CREATE TABLE grown (id int, v vector(16));
CREATE INDEX grown_alex ON grown USING alex (v vector_l2_ops);
-- many small statements, as an application would insert
DO $$
BEGIN
	FOR b IN 0..39 LOOP
		INSERT INTO grown SELECT * FROM source WHERE id > b * 100 AND id <= (b + 1) * 100;
	END LOOP;
END
$$;
SELECT leaves > 10 AS split_into_many, splits > 0 AS split, entries
FROM alex_index_stats('grown_alex');
SELECT alex_index_check('grown_alex');

CREATE TABLE built AS SELECT * FROM source;
CREATE INDEX built_alex ON built USING alex (v vector_l2_ops);

\i test/sql/include/knn.sql

-- same probes, recall within 3 points of the bulk-built index
SET alex.probes = 5;
SELECT pg_temp.recall('grown', '<->') AS grown_recall, pg_temp.recall('built', '<->') AS built_recall \gset
SELECT :grown_recall >= :built_recall - 0.03 AS as_good_as_bulk;

-- exhaustive probes are exact on the grown index too
SET alex.probes = 100000;
SELECT pg_temp.exhaustive_equals_exact('grown', '<->', 40) AS exact;
RESET alex.probes;

-- updates insert new entries; the old ones wait for vacuum
UPDATE grown SET v = v + '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' WHERE id % 4 = 0;
SELECT entries FROM alex_index_stats('grown_alex');
SELECT alex_index_check('grown_alex');
SET alex.probes = 100000;
SELECT pg_temp.exhaustive_equals_exact('grown', '<->', 40) AS exact_after_update;
RESET alex.probes;

DROP TABLE source, queries, grown, built;
