--
-- vector_functions: distances, norms, normalize, subvector,
-- binary_quantize and bit-string distances
--
\set SHOW_CONTEXT never

\i test/sql/include/err.sql

--
-- L2 (Euclidean) distance: function and <->
--
-- sqrt((4-1)^2 + (5-2)^2 + (6-3)^2) = sqrt(27) = 5.196152422706632
SELECT l2_distance('[1,2,3]', '[4,5,6]'), '[1,2,3]'::vector <-> '[4,5,6]';
-- sqrt(3^2 + 4^2) = 5
SELECT l2_distance('[0,0]', '[3,4]'), '[3,4]'::vector <-> '[0,0]';
SELECT l2_distance('[1,2]', '[1,2]');
-- sqrt(1^2 + 1^2) = 1.4142135623730951
SELECT '[1,1]'::vector <-> '[0,0]';
-- in float4: 0.1 - 0.3 = -0.20000001043081284, 0.2 - 0.5 = -0.30000001192092896;
-- their squares rounded to float4 sum to 0.1300000101327896 (float4),
-- sqrt of that in float8 = 0.36055514159804963
SELECT l2_distance('[0.1,0.2]', '[0.3,0.5]');
SELECT vector_l2_squared_distance('[0.1,0.2]', '[0.3,0.5]');
-- squared: (4-1)^2 + (5-2)^2 + (6-3)^2 = 27
SELECT vector_l2_squared_distance('[1,2,3]', '[4,5,6]');
-- the difference 3e38 - (-3e38) overflows float4: the distance is infinite, as in pgvector
SELECT l2_distance('[3e38]', '[-3e38]');

--
-- Inner product: inner_product, and <#> which is its negation
--
-- 1*4 + 2*5 + 3*6 = 32
SELECT inner_product('[1,2,3]', '[4,5,6]'), '[1,2,3]'::vector <#> '[4,5,6]',
	vector_negative_inner_product('[1,2,3]', '[4,5,6]');
-- 1*(-1) + 2*0.5 = 0
SELECT inner_product('[1,2]', '[-1,0.5]');
-- 0.1 * 0.1 in float4 (one rounding of the exact product) = 0.010000000707805157
SELECT inner_product('[0.1]', '[0.1]');
-- -(2*3 + (-1)*4) = -2
SELECT '[2,-1]'::vector <#> '[3,4]';

--
-- Cosine distance: cosine_distance and <=>
--
-- 1 - 32 / sqrt(14 * 77) = 1 - 32 / sqrt(1078) = 1 - 0.9746318461970762 = 0.025368153802923787
SELECT cosine_distance('[1,2,3]', '[4,5,6]'), '[1,2,3]'::vector <=> '[4,5,6]';
-- parallel: 1 - 10 / sqrt(5 * 20) = 0
SELECT '[1,2]'::vector <=> '[2,4]';
-- opposite: 1 - (-5) / sqrt(5 * 5) = 2
SELECT '[1,2]'::vector <=> '[-1,-2]';
-- orthogonal: 1 - 0 / 1 = 1
SELECT '[1,0]'::vector <=> '[0,1]';
-- 1 - 1 / sqrt(2) = 1 - 0.7071067811865475 = 0.29289321881345254
SELECT '[1,1]'::vector <=> '[1,0]';
-- a zero vector has no direction: NaN (0 / 0)
SELECT '[0,0]'::vector <=> '[1,2]', cosine_distance('[1,2]', '[0,0]'),
	cosine_distance('[0,0]', '[0,0]');
-- the similarity is clamped to [-1, 1]: never a negative distance for equal vectors
SELECT cosine_distance('[0.1,0.2,0.3]', '[0.1,0.2,0.3]') >= 0 AS not_negative,
	cosine_distance(v, v) BETWEEN 0 AND 1e-7 AS near_zero
FROM (SELECT '[0.70710677,0.70710677]'::vector AS v) AS t;

--
-- L1 (taxicab) distance: l1_distance and <+>
--
-- |1-4| + |2-5| + |3-6| = 9
SELECT l1_distance('[1,2,3]', '[4,5,6]'), '[1,2,3]'::vector <+> '[4,5,6]';
-- |1.5-(-1)| + |-2-2| + |0-0| = 2.5 + 4 = 6.5
SELECT '[1.5,-2,0]'::vector <+> '[-1,2,0]';

--
-- Spherical distance: acos(a . b) / pi for unit vectors
--
-- acos(0) / pi = 0.5, acos(-1) / pi = 1, acos(1) / pi = 0
SELECT vector_spherical_distance('[1,0]', '[0,1]'),
	vector_spherical_distance('[1,0]', '[-1,0]'),
	vector_spherical_distance('[0,1]', '[0,1]');
-- the dot product is clamped to [-1, 1]: 2.25 -> 1 gives 0, -2.25 -> -1 gives 1
SELECT vector_spherical_distance('[1.5]', '[1.5]'),
	vector_spherical_distance('[1.5]', '[-1.5]');

--
-- Distances are symmetric (the operators are their own commutators)
--
SELECT a <-> b = b <-> a AS l2, a <#> b = b <#> a AS ip,
	a <=> b = b <=> a AS cosine, a <+> b = b <+> a AS l1
FROM (VALUES ('[1.5,-2,3.25]'::vector, '[0.1,7,-4]'::vector)) AS t(a, b);

--
-- Different dimensions are an error for every distance
--
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT l2_distance('[1,2]', '[1,2,3]')$$),
	($$SELECT '[1,2]'::vector <-> '[1,2,3]'$$),
	($$SELECT vector_l2_squared_distance('[1,2]', '[1,2,3]')$$),
	($$SELECT inner_product('[1,2]', '[1,2,3]')$$),
	($$SELECT vector_negative_inner_product('[1,2]', '[1,2,3]')$$),
	($$SELECT '[1,2]'::vector <#> '[1,2,3]'$$),
	($$SELECT cosine_distance('[1,2]', '[1,2,3]')$$),
	($$SELECT '[1,2]'::vector <=> '[1,2,3]'$$),
	($$SELECT l1_distance('[1,2,3]', '[1,2]')$$),
	($$SELECT '[1,2]'::vector <+> '[1,2,3]'$$),
	($$SELECT vector_spherical_distance('[1,0]', '[1]')$$)
) AS t(q);

--
-- NULL inputs give NULL (the functions are strict)
--
SELECT l2_distance(NULL, '[1]') IS NULL AS l2,
	inner_product('[1]', NULL) IS NULL AS ip,
	cosine_distance(NULL, NULL) IS NULL AS cosine,
	l1_distance(NULL, '[1]') IS NULL AS l1,
	vector_l2_squared_distance('[1]', NULL) IS NULL AS l2_squared,
	vector_negative_inner_product(NULL, '[1]') IS NULL AS neg_ip,
	vector_spherical_distance(NULL, '[1]') IS NULL AS spherical,
	(NULL::vector <-> '[1]') IS NULL AS op_l2,
	('[1]' <#> NULL::vector) IS NULL AS op_ip,
	(NULL::vector <=> '[1]') IS NULL AS op_cosine,
	('[1]' <+> NULL::vector) IS NULL AS op_l1;
SELECT vector_dims(NULL) IS NULL AS dims, vector_norm(NULL) IS NULL AS norm,
	l2_normalize(NULL) IS NULL AS normalize, subvector(NULL, 1, 1) IS NULL AS sub1,
	subvector('[1]', NULL, 1) IS NULL AS sub2, subvector('[1]', 1, NULL) IS NULL AS sub3,
	binary_quantize(NULL) IS NULL AS quantize,
	hamming_distance(NULL, B'1') IS NULL AS hamming,
	jaccard_distance(B'1', NULL) IS NULL AS jaccard,
	(NULL::bit <~> B'1') IS NULL AS op_hamming,
	(B'1' <%> NULL::bit) IS NULL AS op_jaccard;

--
-- Nearest-neighbour ordering with the operators
--
CREATE TABLE fn_items (id int, v vector(2));
INSERT INTO fn_items VALUES (1, '[1,1]'), (2, '[2,2]'), (3, '[-1,0]'), (4, '[0,3]'), (5, NULL);
-- distances to [1,0] for ids 1..4: l2 1, sqrt(5) = 2.23606797749979, 2, sqrt(10) = 3.1622776601683795;
-- negative inner product -1, -2, 1, -(0) = -0; cosine 0.293, 0.293, 2, 1; l1 1, 3, 2, 4;
-- NULL sorts last
SELECT id, v <-> '[1,0]' AS l2 FROM fn_items ORDER BY v <-> '[1,0]', id;
SELECT id, v <#> '[1,0]' AS neg_ip FROM fn_items ORDER BY v <#> '[1,0]', id;
SELECT id FROM fn_items ORDER BY v <=> '[1,0]', id;
SELECT id, v <+> '[1,0]' AS l1 FROM fn_items ORDER BY v <+> '[1,0]', id;
DROP TABLE fn_items;

--
-- vector_dims
--
SELECT vector_dims('[1,2,3]'), vector_dims('[0]');
SELECT vector_dims(array_fill(0, ARRAY[16000])::vector);

--
-- vector_norm: sqrt(sum of squares), computed in float8
--
-- sqrt(3^2 + 4^2) = 5
SELECT vector_norm('[3,4]');
SELECT vector_norm('[0,0,0]'), vector_norm('[-2]');
-- sqrt(1 + 1) = 1.4142135623730951
SELECT vector_norm('[1,1]');
-- the float4 0.1 is 0.100000001490116..., and its norm is itself as float8
SELECT vector_norm('[0.1]');
-- no float4 overflow: float4(3e38) = 3.0000000054977558e38, float4(2e38) = 1.9999999360571385e38,
-- sqrt(a^2 + b^2) = 3.605551244569281e38
SELECT vector_norm('[3e38,2e38]');

--
-- l2_normalize
--
-- [3,4] / 5 = [0.6,0.8]
SELECT l2_normalize('[3,4]');
SELECT l2_normalize('[-2]'), l2_normalize('[0,5,0]');
-- 1 / sqrt(2) = 0.7071067811865475, float4 0.70710677
SELECT l2_normalize('[1,1]');
-- a zero vector stays zero
SELECT l2_normalize('[0,0]'), l2_normalize('[0]');
-- the norm is computed in float8, so tiny and huge vectors normalise cleanly
SELECT l2_normalize('[1e-45,0]'), l2_normalize('[3e38,0,-3e38]');
-- the result has the same dimensions and unit norm
SELECT vector_dims(l2_normalize('[1,2,3,4,5]')),
	abs(vector_norm(l2_normalize('[1,2,3,4,5]')) - 1) < 1e-7 AS unit_norm;

--
-- subvector(v, start, count): 1-based, clipped to the vector
--
SELECT subvector('[1,2,3,4,5]', 2, 3);
SELECT subvector('[1,2,3,4,5]', 1, 5), subvector('[1,2,3,4,5]', 5, 1);
-- positions 0..2 of which only 1..2 exist
SELECT subvector('[1,2,3,4,5]', 0, 3);
-- positions -1..1
SELECT subvector('[1,2,3,4,5]', -1, 3);
-- positions 4..13 of which only 4..5 exist
SELECT subvector('[1,2,3,4,5]', 4, 10);
-- no integer overflow for extreme arguments
SELECT subvector('[1,2,3,4,5]', 2, 2147483647);
SELECT subvector('[1,2,3,4,5]', -10, 2147483647);
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT subvector('[1,2,3,4,5]', 1, 0)$$),
	($$SELECT subvector('[1,2,3,4,5]', 1, -1)$$),
	($$SELECT subvector('[1,2,3,4,5]', 6, 1)$$),
	($$SELECT subvector('[1,2,3,4,5]', 0, 1)$$),
	($$SELECT subvector('[1,2,3,4,5]', -5, 3)$$),
	($$SELECT subvector('[1,2,3,4,5]', 2147483647, 2147483647)$$),
	($$SELECT subvector('[1,2,3,4,5]', -2147483648, 5)$$),
	-- positions -2147483648..-2
	($$SELECT subvector('[1,2,3,4,5]', -2147483648, 2147483647)$$)
) AS t(q);
SELECT subvector(array_fill(7, ARRAY[16000])::vector, 15999, 5);

--
-- binary_quantize: bit i is set where element i > 0
--
SELECT binary_quantize('[1,0,-1,2]');
-- -0 is not > 0, the smallest denormal is
SELECT binary_quantize('[0.5,-0,1e-45,-1e-45]');
-- across a byte boundary: 9 and 17 bits
SELECT binary_quantize('[1,1,1,1,1,1,1,1,1]'), binary_quantize('[-1,1,-1,1,-1,1,-1,1,-1,1,-1,1,-1,1,-1,1,1]');
SELECT pg_typeof(binary_quantize('[1]')), length(binary_quantize(array_fill(1, ARRAY[16000])::vector));
-- 16000 ones
SELECT binary_quantize(array_fill(1, ARRAY[16000])::vector) = repeat('1', 16000)::bit(16000) AS all_ones;

--
-- Hamming distance: number of differing bits
--
-- 1010 xor 0110 = 1100: 2
SELECT hamming_distance(B'1010', B'0110'), B'1010' <~> B'0110';
SELECT B'1111' <~> B'1111', B'1111' <~> B'0000', B'0' <~> B'1';
-- 1010 vs 1100 from binary_quantize: xor 0110 = 2
SELECT binary_quantize('[1,-1,1,-1]') <~> binary_quantize('[1,1,-1,-1]');
-- 70 bits (eight whole bytes plus a partial one): 1010... vs 1111... differ in 35 places
SELECT repeat('10', 35)::bit(70) <~> repeat('11', 35)::bit(70);
SELECT repeat('1', 70)::bit(70) <~> repeat('0', 70)::bit(70);
-- bit varying works too
SELECT B'101'::varbit <~> B'011'::varbit;

--
-- Jaccard distance: 1 - |a and b| / |a or b|
--
-- 1010 and 0110 = 0010 (1), 1010 or 0110 = 1110 (3): 1 - 1/3 = 0.6666666666666667
SELECT jaccard_distance(B'1010', B'0110'), B'1010' <%> B'0110';
-- identical: 1 - 2/2 = 0; disjoint: nothing shared is 1; both empty: also 1
SELECT B'1010' <%> B'1010', B'1100' <%> B'0011', B'0000' <%> B'0000';
-- 1100 and 1110: 2 shared of 3 = 1 - 2/3 = 0.33333333333333337
SELECT B'1100' <%> B'1110';
-- 70 bits: 1010... (35 ones) vs 1111... (70 ones): 1 - 35/70 = 0.5
SELECT repeat('10', 35)::bit(70) <%> repeat('11', 35)::bit(70);

--
-- Bit strings of different lengths
--
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT hamming_distance(B'101', B'1010')$$),
	($$SELECT B'101' <~> B'1010'$$),
	($$SELECT jaccard_distance(B'1', B'10')$$),
	($$SELECT B'1' <%> B'10'$$)
) AS t(q);
