--
-- vector_cast: casts between vector and arrays, text, and vector(n)
--
\set SHOW_CONTEXT never

\i test/sql/include/err.sql

--
-- real[] -> vector
--
SELECT ARRAY[1.5, -2.25, 300]::real[]::vector;
SELECT '{0.1,-0,1e-45}'::real[]::vector;
-- a lower bound other than 1 is still a 1-D array
SELECT '[0:2]={7,8,9}'::real[]::vector;
SELECT ARRAY[1, 2, 3]::real[]::vector(3);

--
-- integer[] -> vector
--
SELECT ARRAY[1, 2, 3]::vector;
SELECT ARRAY[-7, 0, 42]::integer[]::vector(3);
-- 16777217 = 2^24 + 1 rounds to 2^24 = 16777216 in float4;
-- 2147483647 = 2^31 - 1 rounds to 2^31 = 2147483648, shortest text 2.1474836e+09
SELECT ARRAY[16777217, 2147483647, -2147483648]::vector;

--
-- double precision[] -> vector: each element rounded once to float4
--
SELECT ARRAY[0.5, -1.25, 1e10]::double precision[]::vector;
-- 0.1 (float8) rounds to the float4 0x3dcccccd, printed 0.1;
-- 1 + 1e-10 rounds to 1; 1e-300 underflows to 0
SELECT ARRAY[0.1, 1.0000000001, 1e-300, -1e-300]::double precision[]::vector;
-- 3.4028235e38 (largest float4) is accepted, 1e300 and 3.5e38 overflow float4
SELECT ARRAY[3.4028235e38]::double precision[]::vector;

--
-- numeric[] -> vector
--
SELECT ARRAY[1.5, 0.1, -300, 123456789.123]::numeric[]::vector;
SELECT '{0.000001,1e20}'::numeric[]::vector;

--
-- vector -> real[]
--
SELECT '[1,2]'::vector::real[];
SELECT '[0.1,-0,1e-45,3.4028235e38]'::vector::real[];
SELECT array_length('[1,2,3]'::vector::real[], 1) AS len,
	array_lower('[1,2,3]'::vector::real[], 1) AS lower_bound;
SELECT pg_typeof('[1,2]'::vector::real[]);
-- round trip through real[] keeps every bit
SELECT v::real[]::vector = v AND vector_send(v::real[]::vector) = vector_send(v) AS round_trip
FROM (VALUES ('[0.1,0.33333334,-0,1e-45,-3.4028235e38]'::vector)) AS t(v);
-- the cast to real[] is implicit: a vector is stored into a real[] column
CREATE TABLE cast_arr (a real[]);
INSERT INTO cast_arr VALUES ('[4,5,6]'::vector);
SELECT a, pg_typeof(a) FROM cast_arr;
DROP TABLE cast_arr;
-- double precision[] goes through real[]
SELECT '[0.5,0.1]'::vector::real[]::double precision[];
SELECT NULL::vector::real[] IS NULL AS strict;

--
-- Assignment casts from arrays
--
CREATE TABLE cast_t (id int, v vector(3));
INSERT INTO cast_t VALUES (1, ARRAY[1, 2, 3]);
INSERT INTO cast_t VALUES (2, ARRAY[1.5, 2.5, 3.5]::real[]);
INSERT INTO cast_t VALUES (3, ARRAY[0.25, 0.5, 0.75]::double precision[]);
INSERT INTO cast_t VALUES (4, ARRAY[10.5, -20, 30]::numeric[]);
INSERT INTO cast_t VALUES (5, NULL::real[]);
SELECT * FROM cast_t ORDER BY id;
SELECT q, pg_temp.err(q) FROM (VALUES
	($$INSERT INTO cast_t VALUES (9, ARRAY[1, 2])$$),
	($$INSERT INTO cast_t VALUES (9, ARRAY[1, 2, 3, 4]::real[])$$),
	($$INSERT INTO cast_t VALUES (9, ARRAY[1, 2]::double precision[])$$),
	($$INSERT INTO cast_t VALUES (9, ARRAY[1, 2]::numeric[])$$)
) AS t(q);
DROP TABLE cast_t;
-- arrays are not implicitly vectors in function calls
SELECT pg_temp.err($$SELECT l2_distance(ARRAY[1, 2]::real[], '[1,2]'::vector)$$);

--
-- Type modifier on array casts
--
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT ARRAY[1, 2]::vector(3)$$),
	($$SELECT ARRAY[1, 2]::real[]::vector(3)$$),
	($$SELECT ARRAY[1, 2]::double precision[]::vector(3)$$),
	($$SELECT ARRAY[1, 2]::numeric[]::vector(3)$$),
	($$SELECT ARRAY[1, 2, 3, 4]::vector(3)$$)
) AS t(q);

--
-- Array cast errors
--
SELECT q, pg_temp.err(q) FROM (VALUES
	-- NULL elements
	($$SELECT ARRAY[1, NULL]::vector$$),
	($$SELECT ARRAY[NULL, 2]::real[]::vector$$),
	($$SELECT ARRAY[1, NULL]::double precision[]::vector$$),
	($$SELECT ARRAY[NULL]::numeric[]::vector$$),
	-- more than one dimension
	($$SELECT ARRAY[[1, 2], [3, 4]]::vector$$),
	($$SELECT ARRAY[[1, 2], [3, 4]]::real[]::vector$$),
	($$SELECT '{{{1}}}'::double precision[]::vector$$),
	-- no elements
	($$SELECT '{}'::real[]::vector$$),
	($$SELECT '{}'::integer[]::vector$$),
	-- NaN and infinities
	($$SELECT ARRAY['NaN']::real[]::vector$$),
	($$SELECT ARRAY[1, 'Infinity']::real[]::vector$$),
	($$SELECT ARRAY['-Infinity']::double precision[]::vector$$),
	($$SELECT ARRAY['NaN']::double precision[]::vector$$),
	($$SELECT ARRAY['NaN']::numeric[]::vector$$),
	($$SELECT ARRAY['Infinity']::numeric[]::vector$$),
	-- float8 values beyond float4 become infinite
	($$SELECT ARRAY[1e300]::double precision[]::vector$$),
	($$SELECT ARRAY[1, -3.5e38]::double precision[]::vector$$),
	-- numeric goes through float4, which rejects overflow and underflow
	($$SELECT ARRAY[1e39]::numeric[]::vector$$),
	($$SELECT ARRAY[1e-50]::numeric[]::vector$$),
	-- too many dimensions
	($$SELECT array_fill(1::real, ARRAY[16001])::vector$$),
	($$SELECT array_fill(1::numeric, ARRAY[16001])::vector$$)
) AS t(q);
SELECT vector_dims(array_fill(1::numeric, ARRAY[16000])::vector);

--
-- Casts that do not exist
--
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT ARRAY['1', '2']::text[]::vector$$),
	($$SELECT ARRAY[1, 2]::bigint[]::vector$$),
	($$SELECT ARRAY[1, 2]::smallint[]::vector$$),
	($$SELECT '[1,2]'::vector::double precision[]$$),
	($$SELECT '[1,2]'::vector::integer[]$$),
	($$SELECT 1::vector$$)
) AS t(q);

--
-- text <-> vector through the I/O functions
--
SELECT '[1,2.5]'::text::vector;
SELECT '[1,2.5]'::vector::text;
SELECT pg_typeof('[1]'::vector::text);
SELECT pg_temp.err($$SELECT 'x'::text::vector$$);

--
-- vector -> vector(n): the length coercion
--
SELECT '[1,2,3]'::vector::vector(3);
SELECT '[1,2,3]'::vector(3)::vector;
SELECT pg_temp.err($$SELECT '[1,2,3]'::vector(3)::vector(2)$$);
SELECT pg_temp.err($$SELECT '[1,2,3]'::vector::vector(4)$$);
-- the cast functions can be called directly: typmod -1 means no limit
SELECT vector('[1,2]'::vector, 2, true), vector('[1,2]'::vector, -1, false);
SELECT pg_temp.err($$SELECT vector('[1,2]'::vector, 3, true)$$);
SELECT array_to_vector('{1,2}'::integer[], -1, false),
	array_to_vector('{0.5}'::real[], 1, true),
	array_to_vector('{0.25}'::double precision[], -1, true),
	array_to_vector('{2.5}'::numeric[], -1, true);
SELECT vector_to_float4('[1,2]', -1, false);
