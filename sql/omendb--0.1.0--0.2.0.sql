-- omendb 0.1.0 -> 0.2.0
-- alex indexes have a new on-disk format (quantized lanes, full vectors in
-- vector pages, so any width up to 16,000), and alex_index_stats reports the
-- vector pages.  Indexes built by 0.1.0 raise an error naming themselves
-- until they are rebuilt: REINDEX each alex index after this update.
\echo Use "ALTER EXTENSION omendb UPDATE TO '0.2.0'" to load this file. \quit

DROP FUNCTION alex_index_stats(regclass);

CREATE FUNCTION alex_index_stats(index regclass,
	OUT levels int4, OUT model_pages int8, OUT leaves int8, OUT entries int8,
	OUT capacity int8, OUT fill float8, OUT pages int8, OUT leaf_data_pages int8,
	OUT leaf_vector_pages int8, OUT free_pages int8, OUT deleted_leaves int8, OUT splits int8,
	OUT expands int8, OUT merges int8)
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT PARALLEL SAFE;

COMMENT ON FUNCTION alex_index_stats(regclass) IS 'shape and counters of an alex index';
