/*-------------------------------------------------------------------------
 *
 * alexvalidate.c
 *	  amvalidate for alex: checks an operator class's members.
 *
 * An alex operator class has one ordering operator (strategy 1, returning
 * float8, FOR ORDER BY), support function 1 (the distance, two arguments of
 * the indexed type, returning float8) and support function 2 (the metric,
 * one internal argument, returning int4).  Problems are reported at INFO,
 * as the core access methods do.
 *
 * IDENTIFICATION
 *	  src/alexvalidate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/amvalidate.h"
#include "access/htup_details.h"
#include "alex.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

bool
alexvalidate(Oid opclassoid)
{
	bool		result = true;
	HeapTuple	classtup;
	Form_pg_opclass classform;
	Oid			opfamilyoid;
	Oid			opcintype;
	char	   *opclassname;
	CatCList   *proclist;
	CatCList   *oprlist;
	bool		has_proc[ALEX_NUM_PROCS + 1] = {false};
	bool		has_order_op = false;

	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);
	opfamilyoid = classform->opcfamily;
	opcintype = classform->opcintype;
	opclassname = NameStr(classform->opcname);

	/* support functions */
	proclist = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(opfamilyoid));
	for (int i = 0; i < proclist->n_members; i++)
	{
		Form_pg_amproc procform = (Form_pg_amproc) GETSTRUCT(&proclist->members[i]->tuple);
		bool		ok = true;

		if (procform->amproclefttype != opcintype ||
			procform->amprocrighttype != opcintype)
			continue;			/* belongs to another class of the family */

		switch (procform->amprocnum)
		{
			case ALEX_DISTANCE_PROC:
				ok = check_amproc_signature(procform->amproc, FLOAT8OID, true,
											2, 2, opcintype, opcintype);
				break;
			case ALEX_METRIC_PROC:
				ok = check_amproc_signature(procform->amproc, INT4OID, true,
											1, 1, INTERNALOID);
				break;
			default:
				ereport(INFO,
						(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
						 errmsg("alex operator class \"%s\" contains function %s with invalid support number %d",
								opclassname, format_procedure(procform->amproc),
								procform->amprocnum)));
				result = false;
				continue;
		}
		if (!ok)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("alex operator class \"%s\" contains function %s with wrong signature for support number %d",
							opclassname, format_procedure(procform->amproc),
							procform->amprocnum)));
			result = false;
			continue;
		}
		has_proc[procform->amprocnum] = true;
	}
	ReleaseSysCacheList(proclist);

	for (int i = 1; i <= ALEX_NUM_PROCS; i++)
	{
		if (!has_proc[i])
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("alex operator class \"%s\" is missing support function %d",
							opclassname, i)));
			result = false;
		}
	}

	/* operators: one ordering operator, strategy 1 */
	oprlist = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(opfamilyoid));
	for (int i = 0; i < oprlist->n_members; i++)
	{
		Form_pg_amop oprform = (Form_pg_amop) GETSTRUCT(&oprlist->members[i]->tuple);

		if (oprform->amoplefttype != opcintype || oprform->amoprighttype != opcintype)
			continue;
		if (oprform->amopstrategy != 1 || oprform->amoppurpose != AMOP_ORDER ||
			!check_amop_signature(oprform->amopopr, FLOAT8OID, opcintype, opcintype))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("alex operator class \"%s\" contains invalid operator %s with strategy %d",
							opclassname, format_operator(oprform->amopopr),
							oprform->amopstrategy),
					 errdetail("An alex operator class has one ordering operator, strategy 1, returning double precision.")));
			result = false;
			continue;
		}
		has_order_op = true;
	}
	ReleaseSysCacheList(oprlist);

	if (!has_order_op)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("alex operator class \"%s\" has no ordering operator",
						opclassname)));
		result = false;
	}

	ReleaseSysCache(classtup);
	return result;
}
