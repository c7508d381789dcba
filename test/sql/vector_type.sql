--
-- vector_type: text input and output, type modifiers, binary I/O
--
\set SHOW_CONTEXT never

\i test/sql/include/err.sql

--
-- Text output: the shortest text that reads back to the same float4
--
SELECT '[1,2,3]'::vector;
SELECT '[1.5,-2.25,300]'::vector;
SELECT '[-0]'::vector, '[0]'::vector;
-- 0.1 is not a float4; its nearest float4 0.100000001490116... prints as 0.1
-- 1/3 as float4 is 0.3333333432674408, whose shortest round-trip text is 0.33333334
SELECT '[0.1,0.33333334]'::vector;
SELECT ARRAY[0.1::real, 1::real / 3]::vector;
SELECT '[0.333333333333333333]'::vector;
-- float4 has 24 bits of mantissa: 16777217 = 2^24 + 1 rounds to 2^24 = 16777216
SELECT '[16777217]'::vector;
-- 1.00000001 is within half an ulp (2^-24) of 1
SELECT '[1.00000001]'::vector;
-- large and small magnitudes use exponent notation like float4out
SELECT '[3.4028235e38,-3.4028235e38,1e22,123456789,0.000001]'::vector;
-- the text form reads back exactly
SELECT v::text::vector = v AS round_trip
FROM (VALUES ('[0.1,0.33333334,-2.25,1e-40,3.4028235e+38]'::vector)) AS t(v);

--
-- Text input: white space and number formats
--
SELECT ' [ 1 , 2 ] '::vector;
SELECT E'\t[\t1\t,\n2\r\n]\n'::vector;
-- form feed (12) and vertical tab (11) are white space too
SELECT (chr(12) || '[' || chr(11) || '3' || chr(11) || ']' || chr(12))::vector;
SELECT '[1e3,-2.5E-2]'::vector;
SELECT '[+1,-1,.5,5.,1E+2]'::vector;
-- underflow quietly becomes 0, like float4in
SELECT '[1e-50]'::vector;
SELECT '[-1e-50]'::vector;
-- denormals are kept: 1e-40 and the smallest float4 2^-149 = 1.4e-45
SELECT '[1e-40,1e-45]'::vector;
-- NULL in, NULL out
SELECT NULL::vector IS NULL AS is_null;

--
-- Text input errors
--
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT '1,2'::vector$$),
	($$SELECT '[1,2'::vector$$),
	($$SELECT '[1,,2]'::vector$$),
	($$SELECT '[1,2,]'::vector$$),
	($$SELECT '[,1]'::vector$$),
	($$SELECT '[1,a]'::vector$$),
	($$SELECT '[1 2]'::vector$$),
	($$SELECT '[1] x'::vector$$),
	($$SELECT '[1]]'::vector$$),
	($$SELECT ''::vector$$),
	($$SELECT '   '::vector$$),
	($$SELECT '['::vector$$),
	($$SELECT '[ '::vector$$),
	($$SELECT '(1,2)'::vector$$),
	($$SELECT '{1,2}'::vector$$)
) AS t(q);
-- NaN and infinities are not allowed
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT '[NaN]'::vector$$),
	($$SELECT '[1,nan]'::vector$$),
	($$SELECT '[Infinity]'::vector$$),
	($$SELECT '[-inf]'::vector$$),
	($$SELECT '[1,INF]'::vector$$)
) AS t(q);
-- float4 overflow: the largest float4 is 3.4028235e38
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT '[1e39]'::vector$$),
	($$SELECT '[1,-1e39]'::vector$$),
	($$SELECT '[3.5e38]'::vector$$)
) AS t(q);
-- no dimensions
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT '[]'::vector$$),
	($$SELECT '[  ]'::vector$$),
	($$SELECT E'[\t]'::vector$$)
) AS t(q);

--
-- Dimension limit: 16,000
--
SELECT vector_dims(('[' || string_agg('1', ',') || ']')::vector)
FROM generate_series(1, 16000);
SELECT vector_dims(array_fill(1, ARRAY[16000])::vector);
SELECT pg_temp.err($$SELECT ('[' || string_agg('1', ',') || ']')::vector
	FROM generate_series(1, 16001)$$);
SELECT pg_temp.err($$SELECT array_fill(1, ARRAY[16001])::vector$$);
SELECT pg_temp.err($$SELECT array_fill(1.5::float8, ARRAY[20000])::vector$$);
-- a 16,000-dimension vector prints and reads back
SELECT v::text::vector = v AS round_trip, length(v::text) AS text_length
FROM (SELECT array_fill(0.5::real, ARRAY[16000])::vector AS v) AS t;

--
-- Type modifier
--
CREATE TABLE vt (id int, v vector(3));
INSERT INTO vt VALUES (1, '[1,2,3]');
INSERT INTO vt VALUES (2, '[4,5,6]'::vector);
INSERT INTO vt VALUES (3, NULL);
SELECT pg_temp.err($$INSERT INTO vt VALUES (9, '[1,2]')$$);
SELECT pg_temp.err($$INSERT INTO vt VALUES (9, '[1,2,3,4]'::vector)$$);
SELECT pg_temp.err($$UPDATE vt SET v = '[1]' WHERE id = 1$$);
SELECT * FROM vt ORDER BY id;
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'vt'::regclass AND attname = 'v';
\d vt
SELECT '[1,2,3]'::vector(3);
SELECT pg_temp.err($$SELECT '[1,2]'::vector(3)$$);
SELECT pg_temp.err($$SELECT '[1,2]'::vector::vector(3)$$);
SELECT q, pg_temp.err(q) FROM (VALUES
	($$SELECT '[1]'::vector(0)$$),
	($$SELECT '[1]'::vector(-1)$$),
	($$SELECT '[1]'::vector(16001)$$),
	($$SELECT '[1]'::vector(3,4)$$),
	($$CREATE TABLE vt_bad (v vector(0))$$),
	($$CREATE TABLE vt_bad (v vector(16001))$$),
	($$CREATE TABLE vt_bad (v vector(3, 4))$$)
) AS t(q);
SELECT format_type('vector'::regtype, 16000);
SELECT vector_dims(array_fill(1, ARRAY[16000])::vector(16000));
-- typmod -1 (plain vector) takes any dimensions
SELECT format_type('vector'::regtype, -1), format_type('vector'::regtype, NULL);
-- the type modifier is kept by views and CREATE TABLE AS
CREATE TABLE vt_copy AS SELECT v FROM vt;
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'vt_copy'::regclass AND attname = 'v';
DROP TABLE vt_copy;

--
-- Text COPY round trip
--
COPY vt TO STDOUT;
CREATE TABLE vt2 (id int, v vector(3));
COPY vt2 FROM STDIN;
1	[1,2,3]
2	 [ 4 , 5 , 6 ] 
3	\N
4	[0.1,-1e-3,3e38]
\.
SELECT * FROM vt2 ORDER BY id;
-- the type modifier applies to COPY input
SELECT pg_temp.err($$COPY vt2 FROM PROGRAM 'echo "5	[1,2]"'$$);
TRUNCATE vt2;

--
-- Binary output: int16 dim, int16 unused (0), then big-endian float4s
--
-- [1,2]: dim 0002, unused 0000, 1.0 = 3f800000, 2.0 = 40000000
SELECT vector_send('[1,2]');
SELECT vector_send('[1,2]') = '\x00020000' || '\x3f800000'::bytea || '\x40000000'::bytea AS expected_bytes;
-- -0.5 = bf000000, 2^-149 = 00000001, -0 = 80000000, 3.4028235e38 = 7f7fffff
SELECT vector_send('[-0.5,1e-45,-0,3.4028235e38]');
-- 0.1 as float4 is 0x3dcccccd, 300 = 1.171875 * 2^8 = 0x43960000
SELECT vector_send('[0.1,300]');
SELECT length(vector_send(array_fill(1, ARRAY[16000])::vector)) AS send_length; -- 4 + 4 * 16000 = 64004
SELECT vector_send(NULL) IS NULL AS strict;

--
-- Binary COPY round trip.  The file lives in the data directory (the
-- server's working directory) and is removed by the COPY that reads it.
--
COPY (SELECT id, v FROM vt WHERE id IN (1, 3) ORDER BY id)
	TO PROGRAM 'cat > omendb_regress_vector_type.bin' WITH (FORMAT binary);
-- header PGCOPY\n\377\r\n\0, flags 0, extension 0; each row: 2 fields,
-- int4 (length 4), vector (length 4 + 3 * 4 = 16, or -1 for NULL); trailer -1
SELECT encode(pg_read_binary_file('omendb_regress_vector_type.bin'), 'hex');
COPY vt2 FROM PROGRAM
	'cat omendb_regress_vector_type.bin; rm -f omendb_regress_vector_type.bin'
	WITH (FORMAT binary);
SELECT * FROM vt2 ORDER BY id;
TRUNCATE vt2;

-- a larger round trip: many rows with exactly representable values
CREATE TABLE vt_many (id int, v vector);
INSERT INTO vt_many
SELECT i, ARRAY[i, -i / 4.0, i * 1000.5, 1e-38, 0]::real[]::vector
FROM generate_series(1, 1000) AS i;
INSERT INTO vt_many VALUES (1001, array_fill(0.25, ARRAY[16000])::vector);
COPY vt_many TO PROGRAM 'cat > omendb_regress_vector_type.bin' WITH (FORMAT binary);
CREATE TABLE vt_many2 (LIKE vt_many);
COPY vt_many2 FROM PROGRAM
	'cat omendb_regress_vector_type.bin; rm -f omendb_regress_vector_type.bin'
	WITH (FORMAT binary);
SELECT count(*) AS rows_differing
FROM vt_many a FULL JOIN vt_many2 b USING (id)
WHERE a.v IS DISTINCT FROM b.v OR vector_send(a.v) <> vector_send(b.v);
SELECT count(*) FROM vt_many2;
DROP TABLE vt_many, vt_many2;

--
-- Binary input: feed vector_recv hand-made payloads.  A one-column bytea
-- row written with binary COPY has the same framing as a vector row, so
-- reading it into a vector column hands the payload to vector_recv.
--
CREATE FUNCTION pg_temp.recv(payload bytea, typ text DEFAULT 'vector') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	result text;
	st text;
	msg text;
BEGIN
	EXECUTE format('COPY (SELECT %L::bytea) TO PROGRAM %L WITH (FORMAT binary)',
				   payload, 'cat > omendb_regress_recv.bin');
	EXECUTE format('CREATE TEMP TABLE recv_out (v %s)', typ);
	BEGIN
		EXECUTE 'COPY recv_out FROM PROGRAM '
			'''cat omendb_regress_recv.bin; rm -f omendb_regress_recv.bin'' '
			'WITH (FORMAT binary)';
		SELECT v::text INTO result FROM recv_out;
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
		result := st || ': ' || msg;
	END;
	DROP TABLE recv_out;
	RETURN result;
END
$$;
-- dim 2, unused 0, 1.0, 2.0
SELECT pg_temp.recv('\x000200003f80000040000000');
-- dim 3: -0.5, 2^-149, -0
SELECT pg_temp.recv('\x00030000bf0000000000000180000000');
-- dim 1: 0x7f7fffff is the largest float4
SELECT pg_temp.recv('\x000100007f7fffff');
-- typmod: three dimensions into vector(3) and into vector(2)
SELECT pg_temp.recv('\x000300003f8000004000000040400000', 'vector(3)');
SELECT pg_temp.recv('\x000300003f8000004000000040400000', 'vector(2)');
-- dim 0
SELECT pg_temp.recv('\x00000000');
-- dim 0x3e81 = 16001, and 0xffff read as unsigned 65535
SELECT pg_temp.recv('\x3e810000');
SELECT pg_temp.recv('\xffff0000');
-- unused must be 0
SELECT pg_temp.recv('\x000100013f800000');
-- NaN (7fc00000), +Infinity (7f800000), -Infinity (ff800000)
SELECT pg_temp.recv('\x000100007fc00000');
SELECT pg_temp.recv('\x000200003f8000007f800000');
SELECT pg_temp.recv('\x00010000ff800000');
-- too few bytes for the dimensions, and bytes left over
SELECT pg_temp.recv('\x000200003f800000');
SELECT pg_temp.recv('\x000100003f80000000');

DROP TABLE vt, vt2;
