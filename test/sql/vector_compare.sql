--
-- vector_compare: comparison operators, vector_cmp, btree indexes, sorting
--
\set SHOW_CONTEXT never

\i test/sql/include/err.sql

--
-- The order: element by element, then the vector with fewer dimensions first
--
SELECT a, b, a < b AS lt, a <= b AS le, a = b AS eq, a <> b AS ne,
	a >= b AS ge, a > b AS gt, vector_cmp(a, b) AS cmp
FROM (VALUES
	('[1,2,3]'::vector, '[1,2,3]'::vector),	-- equal
	('[1,2,3]', '[1,2,4]'),		-- last element smaller
	('[1,2,4]', '[1,2,3]'),		-- last element larger
	('[0,9,9]', '[1,0,0]'),		-- the first difference decides
	('[1,2]', '[1,2,3]'),		-- a prefix is smaller
	('[1,2,3]', '[1,2]'),
	('[2]', '[1,5]'),			-- elements before dimensions
	('[1,5]', '[2]'),
	('[-1]', '[-0.5]'),
	('[0]', '[-0]'),			-- -0 equals 0
	('[1e-45]', '[0]'),			-- the smallest denormal is above 0
	('[-3.4028235e38]', '[3.4028235e38]')
) AS t(a, b);
-- the functions behind the operators
SELECT vector_lt('[1]', '[2]'), vector_le('[2]', '[2]'), vector_eq('[2]', '[2]'),
	vector_ne('[1]', '[2]'), vector_ge('[1]', '[2]'), vector_gt('[1]', '[2]');
-- NULL in, NULL out
SELECT ('[1]'::vector < NULL) IS NULL AS lt, (NULL::vector = '[1]') IS NULL AS eq,
	vector_cmp(NULL, '[1]') IS NULL AS cmp;
-- comparison of different dimensions is not an error
SELECT '[1,2]'::vector < '[1,2,3]' AS prefix_lt, '[1,2]'::vector = '[1,2,3]' AS prefix_eq;

--
-- Sorting, DISTINCT and GROUP BY
--
CREATE TABLE cmp_t (id int, v vector);
INSERT INTO cmp_t VALUES
	(1, '[1,2,3]'), (2, '[1,2]'), (3, '[0,100]'), (4, '[1,2,3]'),
	(5, '[-1]'), (6, '[1,2,2.5]'), (7, NULL), (8, '[1,2,3,0]'), (9, '[-0,5]'),
	(10, '[0,5]');
-- [-1] < [-0,5] = [0,5] < [0,100] < [1,2] < [1,2,2.5] < [1,2,3] < [1,2,3,0], NULL last
SELECT id, v FROM cmp_t ORDER BY v, id;
SELECT id, v FROM cmp_t ORDER BY v DESC, id;
SELECT DISTINCT v FROM cmp_t WHERE v IS NOT NULL AND id <> 9 ORDER BY v;
SELECT v, count(*) FROM cmp_t WHERE id <> 10 GROUP BY v ORDER BY v;
SELECT id FROM cmp_t WHERE v IN ('[1,2]', '[0,5]') ORDER BY id;
SELECT id FROM cmp_t WHERE v BETWEEN '[0,5]' AND '[1,2,3]' ORDER BY id;

--
-- btree index
--
CREATE INDEX cmp_t_v_idx ON cmp_t (v);
INSERT INTO cmp_t SELECT i, ARRAY[i % 10, i]::vector FROM generate_series(11, 2000) AS i;
ANALYZE cmp_t;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM cmp_t WHERE v = '[1,2,3]';
SELECT id FROM cmp_t WHERE v = '[1,2,3]' ORDER BY id;
SELECT id FROM cmp_t WHERE v = '[-0,5]' ORDER BY id;
EXPLAIN (COSTS OFF) SELECT id, v FROM cmp_t WHERE v < '[0,13]' ORDER BY v;
-- below [0,13]: [-1] (id 5), [-0,5] and [0,5] (ids 9, 10, equal); not [0,100];
-- the generated rows [i % 10, i] with i % 10 = 0 start at [0,20]
SELECT id, v FROM cmp_t WHERE v < '[0,13]' ORDER BY v, id;
EXPLAIN (COSTS OFF) SELECT id, v FROM cmp_t ORDER BY v LIMIT 3;
SELECT id, v FROM cmp_t ORDER BY v, id LIMIT 3;
-- descending: NULL first, then the largest first element 9 with i = 1999, 1989
EXPLAIN (COSTS OFF) SELECT id, v FROM cmp_t ORDER BY v DESC LIMIT 3;
SELECT id, v FROM cmp_t ORDER BY v DESC LIMIT 3;
-- the index returns the same as a sort
SET enable_indexscan = off;
SET enable_seqscan = on;
CREATE TEMP TABLE sorted_by_sort AS SELECT row_number() OVER (ORDER BY v, id) AS n, id FROM cmp_t;
RESET enable_indexscan;
SET enable_seqscan = off;
SELECT count(*) AS mismatches
FROM (SELECT row_number() OVER () AS n, id FROM (SELECT id FROM cmp_t ORDER BY v, id) AS s) AS i
FULL JOIN sorted_by_sort USING (n) WHERE i.id IS DISTINCT FROM sorted_by_sort.id;
RESET enable_seqscan;
RESET enable_bitmapscan;
DROP TABLE cmp_t;

--
-- unique btree index: equality is vector_cmp() = 0, so [0] and [-0] collide
--
CREATE TABLE cmp_u (v vector);
CREATE UNIQUE INDEX cmp_u_v_idx ON cmp_u (v);
INSERT INTO cmp_u VALUES ('[1,2]'), ('[1,2,0]'), ('[0]');
SELECT pg_temp.err($$INSERT INTO cmp_u VALUES ('[1,2]')$$);
SELECT pg_temp.err($$INSERT INTO cmp_u VALUES ('[-0]')$$);
SELECT v FROM cmp_u ORDER BY v;
DROP TABLE cmp_u;

--
-- the btree operator class
--
SELECT amopstrategy, amopopr::regoperator
FROM pg_amop
WHERE amopfamily = (SELECT opcfamily FROM pg_opclass
					WHERE opcname = 'vector_ops'
					  AND opcmethod = (SELECT oid FROM pg_am WHERE amname = 'btree'))
ORDER BY amopstrategy;
SELECT amprocnum, amproc::regprocedure
FROM pg_amproc
WHERE amprocfamily = (SELECT opcfamily FROM pg_opclass
					  WHERE opcname = 'vector_ops'
						AND opcmethod = (SELECT oid FROM pg_am WHERE amname = 'btree'))
ORDER BY amprocnum;
SELECT opcdefault FROM pg_opclass
WHERE opcname = 'vector_ops' AND opcmethod = (SELECT oid FROM pg_am WHERE amname = 'btree');
