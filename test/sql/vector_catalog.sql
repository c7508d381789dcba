--
-- vector_catalog: what the extension puts in the catalogs
--
\set SHOW_CONTEXT never

--
-- The extension: trusted and relocatable
--
SELECT name, version, superuser, trusted, relocatable, schema, requires
FROM pg_available_extension_versions
WHERE name = 'omendb' AND version = (SELECT default_version FROM pg_available_extensions
									 WHERE name = 'omendb');
SELECT extname, extversion, extrelocatable, extnamespace::regnamespace
FROM pg_extension WHERE extname = 'omendb';

--
-- Every member object of the vector type's part of the extension (the
-- objects of the alex index access method are left to its own tests)
--
SELECT member FROM (
	SELECT pg_describe_object(classid, objid, 0) AS member
	FROM pg_depend
	WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'omendb')) AS m
WHERE member !~ 'alex'
ORDER BY member COLLATE "C";

--
-- Functions: all IMMUTABLE, STRICT and PARALLEL SAFE
--
SELECT p.oid::regprocedure AS function, p.prorettype::regtype AS returns,
	p.provolatile, p.proisstrict, p.proparallel, l.lanname
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.prokind = 'f' AND p.proname !~ '^alex' AND p.oid IN (
	SELECT objid FROM pg_depend
	WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	  AND classid = 'pg_proc'::regclass
	  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'omendb'))
ORDER BY p.oid::regprocedure::text COLLATE "C";
-- none in the whole extension that is not, except index access method
-- handlers, which are volatile by convention (like pgvector's hnswhandler),
-- and the alex inspection functions, volatile because they read the index
SELECT p.oid::regprocedure
FROM pg_proc p
WHERE p.prorettype <> 'index_am_handler'::regtype
  AND p.proname NOT IN ('alex_index_stats', 'alex_index_check') AND p.oid IN (
	SELECT objid FROM pg_depend
	WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	  AND classid = 'pg_proc'::regclass
	  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'omendb'))
  AND (p.provolatile <> 'i' OR p.proparallel <> 's' OR (p.prokind = 'f' AND NOT p.proisstrict));
-- the aggregates are parallel safe and have combine functions
SELECT p.oid::regprocedure AS aggregate, p.prokind, p.provolatile, p.proparallel,
	a.aggcombinefn <> 0 AS has_combine
FROM pg_proc p JOIN pg_aggregate a ON a.aggfnoid = p.oid
WHERE p.prorettype = 'vector'::regtype
ORDER BY p.oid::regprocedure::text COLLATE "C";

--
-- The type: a varlena of int alignment stored external (uncompressed, out of line)
--
SELECT typname, typlen, typbyval, typtype, typcategory, typalign, typstorage,
	typinput, typoutput, typreceive, typsend, typmodin, typmodout, typanalyze
FROM pg_type WHERE oid = 'vector'::regtype;
SELECT typstorage = 'e' AS storage_external FROM pg_type WHERE oid = 'vector'::regtype;
SELECT obj_description('vector'::regtype, 'pg_type');
-- a new column gets the type's storage
CREATE TABLE cat_t (id int, v vector);
SELECT attstorage FROM pg_attribute WHERE attrelid = 'cat_t'::regclass AND attname = 'v';
-- size: 4-byte header + int16 dim + int16 unused + 4 bytes per element: 4 + 4 + 3 * 4 = 20;
-- inside a row a short value has a 1-byte header: 1 + 4 + 12 = 17
SELECT pg_column_size('[1,2,3]'::vector);
INSERT INTO cat_t VALUES (1, '[1,2,3]');
-- 16000 dimensions: 4 + 4 + 64000 = 64008 bytes, moved out of line but never compressed;
-- for an out-of-line value pg_column_size reports the stored data without the header: 64004
INSERT INTO cat_t VALUES (2, array_fill(1, ARRAY[16000])::vector);
SELECT id, pg_column_size(v), pg_column_compression(v) FROM cat_t ORDER BY id;
SELECT count(*) > 0 AS toasted FROM pg_class c
WHERE c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = 'cat_t'::regclass)
  AND pg_relation_size(c.oid) > 0;
SELECT id, vector_dims(v), v = array_fill(1, ARRAY[16000])::vector AS same FROM cat_t WHERE id = 2;
DROP TABLE cat_t;

--
-- Casts
--
SELECT castsource::regtype, casttarget::regtype, castfunc::regprocedure,
	castcontext, castmethod
FROM pg_cast
WHERE castsource = 'vector'::regtype OR casttarget = 'vector'::regtype
ORDER BY castsource::regtype::text, casttarget::regtype::text;

--
-- Operators
--
SELECT oprname, oprleft::regtype, oprright::regtype, oprresult::regtype,
	oprcode, oprcom::regoperator, oprnegate::regoperator, oprrest, oprjoin
FROM pg_operator
WHERE oprleft IN ('vector'::regtype, 'bit'::regtype)
  AND oid IN (SELECT objid FROM pg_depend
			  WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
				AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'omendb'))
ORDER BY oprname COLLATE "C", oprleft::regtype::text;

--
-- Comments
--
SELECT p.oid::regprocedure, obj_description(p.oid, 'pg_proc')
FROM pg_proc p
WHERE obj_description(p.oid, 'pg_proc') IS NOT NULL AND p.proname !~ '^alex'
  AND p.oid IN (SELECT objid FROM pg_depend
				WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
				  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'omendb'))
ORDER BY p.oid::regprocedure::text COLLATE "C";

--
-- Relocatable: move the extension to another schema and back
--
CREATE SCHEMA regress_omendb_other;
ALTER EXTENSION omendb SET SCHEMA regress_omendb_other;
SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'omendb';
SELECT to_regtype('vector') IS NULL AS not_in_public,
	to_regtype('regress_omendb_other.vector') AS moved;
SET search_path = regress_omendb_other, public;
-- sqrt(3^2 + 4^2) = 5
SELECT '[1,2]'::vector <-> '[4,6]', regress_omendb_other.l2_distance('[1,2]', '[4,6]');
SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[3,6]')) AS t(v);
RESET search_path;
ALTER EXTENSION omendb SET SCHEMA public;
DROP SCHEMA regress_omendb_other;
SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'omendb';
SELECT '[1,2]'::vector <-> '[4,6]';

--
-- Trusted: a user with CREATE on the database (but no superuser) can
-- install it; the objects belong to the bootstrap superuser.
--
CREATE ROLE regress_omendb_user;
DO $$ BEGIN
	EXECUTE format('GRANT CREATE ON DATABASE %I TO regress_omendb_user', current_database());
END $$;
GRANT CREATE ON SCHEMA public TO regress_omendb_user;
DROP EXTENSION omendb;
SET ROLE regress_omendb_user;
CREATE EXTENSION omendb;
SELECT extowner::regrole FROM pg_extension WHERE extname = 'omendb';
SELECT typowner = 10 AS owned_by_bootstrap_superuser FROM pg_type WHERE oid = 'vector'::regtype;
-- sqrt(3^2 + 4^2) = 5
SELECT '[1,2]'::vector <-> '[4,6]';
DROP EXTENSION omendb;
RESET ROLE;
CREATE EXTENSION omendb;
DO $$ BEGIN
	EXECUTE format('REVOKE CREATE ON DATABASE %I FROM regress_omendb_user', current_database());
END $$;
REVOKE CREATE ON SCHEMA public FROM regress_omendb_user;
DROP ROLE regress_omendb_user;
SELECT extname, extversion FROM pg_extension WHERE extname = 'omendb';
