--
-- vector_arith: element-wise + - * and concatenation ||
--
\set SHOW_CONTEXT never

\i test/sql/include/err.sql

--
-- Addition
--
-- [1+4, 2+5, 3+6] = [5,7,9]
SELECT '[1,2,3]'::vector + '[4,5,6]';
SELECT vector_add('[1,2,3]', '[4,5,6]');
-- [1.5-2, -2.25+0.25] = [-0.5,-2]
SELECT '[1.5,-2.25]'::vector + '[-2,0.25]';
-- float4 arithmetic: 0.1f + 0.2f = 0.30000001192092896, which is the float4 nearest 0.3
SELECT '[0.1]'::vector + '[0.2]';
-- largest float4 plus less than half its ulp (2^104 / 2 = 1.0141e31) rounds back to it
SELECT '[3.4028235e38]'::vector + '[1e31]';
SELECT '[1,2]'::vector + '[3,4]' = '[3,4]'::vector + '[1,2]' AS commutative;

--
-- Subtraction
--
-- [1-4, 2-5, 3-6] = [-3,-3,-3]
SELECT '[1,2,3]'::vector - '[4,5,6]';
SELECT vector_sub('[4,5,6]', '[1,2,3]');
-- x - x = 0
SELECT '[0.5,-7]'::vector - '[0.5,-7]';
-- float4 arithmetic: 0.3f - 0.1f = 0.20000001788139343, shortest text 0.20000002
SELECT '[0.3]'::vector - '[0.1]';

--
-- Multiplication
--
-- [1*4, 2*5, 3*6] = [4,10,18]
SELECT '[1,2,3]'::vector * '[4,5,6]';
SELECT vector_mul('[1,2,3]', '[4,5,6]');
-- [1.5*(-2), -0.5*(-0.5), 0*7] = [-3,0.25,0]
SELECT '[1.5,-0.5,0]'::vector * '[-2,-0.5,7]';
-- 0 * -1 = -0
SELECT '[0]'::vector * '[-1]';
-- a zero factor is not an underflow
SELECT '[0,1e-30]'::vector * '[1e-30,0]';
-- 1e-20 * 1e-20 is a denormal, not zero: float4(1e-20)^2 = 9.99994610111476e-41 rounds
-- to a multiple of 2^-149 (1.4e-45) whose shortest round-trip text is 1e-40
SELECT '[1e-20]'::vector * '[1e-20]';
SELECT '[2,3]'::vector * '[4,5]' = '[4,5]'::vector * '[2,3]' AS commutative;
-- ([1,2] + [3,4]) * [2,0.5] = [4,6] * [2,0.5] = [8,3]
SELECT ('[1,2]'::vector + '[3,4]') * '[2,0.5]';

--
-- Overflow and underflow
--
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT '[3e38]'::vector + '[3e38]'$$),
	($$SELECT '[1,-3e38]'::vector + '[1,-3e38]'$$),
	($$SELECT '[3.4028235e38]'::vector + '[2e31]'$$),
	($$SELECT '[-3e38]'::vector - '[3e38]'$$),
	($$SELECT '[3e38]'::vector - '[-3e38]'$$),
	($$SELECT '[1e20]'::vector * '[1e20]'$$),
	($$SELECT '[2,3e38]'::vector * '[2,-2]'$$),
	-- 1e-30 * 1e-30 = 1e-60 is below the smallest denormal (1.4e-45)
	($$SELECT '[1e-30]'::vector * '[1e-30]'$$),
	($$SELECT '[1,-1e-30]'::vector * '[1,1e-30]'$$)
) AS t(q);

--
-- Different dimensions
--
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT '[1,2]'::vector + '[1,2,3]'$$),
	($$SELECT '[1,2,3]'::vector - '[1,2]'$$),
	($$SELECT '[1]'::vector * '[1,2]'$$),
	($$SELECT vector_add('[1]', '[1,2]')$$)
) AS t(q);

--
-- NULL in, NULL out
--
SELECT (NULL::vector + '[1]') IS NULL AS add, ('[1]' - NULL::vector) IS NULL AS sub,
	(NULL::vector * NULL::vector) IS NULL AS mul, ('[1]' || NULL::vector) IS NULL AS concat;

--
-- Concatenation
--
SELECT '[1,2]'::vector || '[3]';
SELECT '[3]'::vector || '[1,2]';
SELECT vector_concat('[0.5]', '[-0,1e-45]');
-- different dimensions are fine for ||
SELECT vector_dims('[1,2,3]'::vector || '[4,5,6,7]');
-- up to 16,000 dimensions
SELECT vector_dims(array_fill(1, ARRAY[15999])::vector || '[2]');
SELECT subvector(array_fill(1, ARRAY[15999])::vector || '[2]', 15998, 3);
SELECT vector_dims(array_fill(1, ARRAY[8000])::vector || array_fill(2, ARRAY[8000])::vector);
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT array_fill(1, ARRAY[16000])::vector || '[1]'$$),
	($$SELECT array_fill(1, ARRAY[8000])::vector || array_fill(1, ARRAY[8001])::vector$$),
	($$SELECT array_fill(1, ARRAY[16000])::vector || array_fill(1, ARRAY[16000])::vector$$)
) AS t(q);

--
-- Operators on table columns, with type modifiers
--
CREATE TABLE arith (a vector(2), b vector(2));
INSERT INTO arith VALUES ('[1,2]', '[10,20]'), ('[-1,0.5]', '[4,4]'), (NULL, '[1,1]');
-- ordered by b: [1,1] (a NULL: all NULL); [4,4]: [3,4.5], [-5,-3.5], [-4,2], [-1,0.5,4,4];
-- [10,20]: [11,22], [-9,-18], [10,40], [1,2,10,20]
SELECT a + b AS sum, a - b AS diff, a * b AS prod, a || b AS concat FROM arith ORDER BY b;
-- the result of || can go into a column of the combined size
CREATE TABLE arith4 (v vector(4));
INSERT INTO arith4 SELECT a || b FROM arith WHERE a IS NOT NULL;
SELECT * FROM arith4 ORDER BY v;
SELECT pg_temp.err($$INSERT INTO arith4 SELECT a FROM arith$$);
DROP TABLE arith, arith4;
