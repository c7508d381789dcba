/*-------------------------------------------------------------------------
 *
 * alextoast.c
 *	  Reading many out-of-line values of a table in one sequential pass
 *	  over its TOAST relation.
 *
 * A vector wider than about 500 dimensions is stored out of line, and
 * detoasting it costs a lookup in the TOAST relation's index and a heap
 * fetch for each of its chunks.  A build that reads every row pays that
 * for every row.  Instead, the build hands the reader each row's TOAST
 * pointer (AlexToastReaderDefer) and, after its heap pass, the reader
 * scans the TOAST relation once, assembles the values it was asked for
 * from their chunks and delivers each as an ordinary in-line datum
 * (AlexToastReaderFinish).
 *
 * The scan sees every chunk tuple (SnapshotAny): a value is immutable and
 * its OID is unique among the chunks present, dead ones included
 * (toast_save_datum checks with SnapshotAny), so the chunks named by a
 * row's pointer are exactly its value's.  Values it cannot assemble that
 * way (a TOAST relation much larger than the values asked for, missing
 * chunks) are detoasted one by one, which also reports any corruption as
 * PostgreSQL itself does.
 *
 * IDENTIFICATION
 *	  src/alextoast.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/heapam.h"
#include "access/heaptoast.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "alex.h"
#include "miscadmin.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/* Read the whole TOAST relation only when it is at most this many times the bytes asked for */
#define ALEX_TOAST_SCAN_RATIO	2.0

typedef struct DeferredValue
{
	Oid			valueid;
	int64		key;			/* the caller's, e.g. a row number */
	struct varatt_external pointer;
	bool		delivered;
} DeferredValue;

struct AlexToastReader
{
	Oid			toastrelid;
	MemoryContext context;		/* the reader's memory */
	DeferredValue *values;
	int64		n;
	int64		capacity;
	Size		bytes;			/* of all values asked for */
	int64		hint;			/* where FindDeferred found the last OID */
};

/* A value being assembled from its chunks */
typedef struct Assembly
{
	Oid			valueid;		/* hash key */
	struct varlena *value;
	Size		received;
} Assembly;

/*
 * A reader for the out-of-line values of heap, or NULL when it has no
 * TOAST relation.  Lives in the current memory context.
 */
AlexToastReader *
AlexToastReaderBegin(Relation heap)
{
	AlexToastReader *tr;

	if (!OidIsValid(heap->rd_rel->reltoastrelid))
		return NULL;
	tr = palloc0(sizeof(AlexToastReader));
	tr->toastrelid = heap->rd_rel->reltoastrelid;
	tr->context = AllocSetContextCreate(CurrentMemoryContext, "alex toast reader",
										ALLOCSET_DEFAULT_SIZES);
	return tr;
}

/*
 * Defer value (with the caller's key) to the TOAST pass if it is stored
 * out of line, uncompressed, in this table's TOAST relation; false if the
 * caller must read it itself.
 */
bool
AlexToastReaderDefer(AlexToastReader *tr, Datum value, int64 key)
{
	struct varlena *attr = (struct varlena *) DatumGetPointer(value);
	struct varatt_external pointer;
	DeferredValue *d;

	if (tr == NULL || !VARATT_IS_EXTERNAL_ONDISK(attr))
		return false;
	VARATT_EXTERNAL_GET_POINTER(pointer, attr);
	if (pointer.va_toastrelid != tr->toastrelid || VARATT_EXTERNAL_IS_COMPRESSED(pointer))
		return false;

	if (tr->n == tr->capacity)
	{
		tr->capacity = Max(1024, tr->capacity * 2);
		tr->values = tr->values == NULL ?
			MemoryContextAllocHuge(tr->context, sizeof(DeferredValue) * tr->capacity) :
			repalloc_huge(tr->values, sizeof(DeferredValue) * tr->capacity);
	}
	d = &tr->values[tr->n++];
	d->valueid = pointer.va_valueid;
	d->key = key;
	d->pointer = pointer;
	d->delivered = false;
	tr->bytes += VARATT_EXTERNAL_GET_EXTSIZE(pointer);
	return true;
}

static int
DeferredValueCompare(const void *a, const void *b)
{
	const DeferredValue *da = (const DeferredValue *) a;
	const DeferredValue *db = (const DeferredValue *) b;

	if (da->valueid != db->valueid)
		return da->valueid < db->valueid ? -1 : 1;
	return (da->key > db->key) - (da->key < db->key);
}

/*
 * The first deferred value with this OID, or -1.  Chunks come mostly in
 * the order their values were stored, which is the order of their OIDs:
 * the group found last or the next one is tried before a binary search.
 */
static int64
FindDeferred(AlexToastReader *tr, Oid valueid)
{
	int64		lo = 0;
	int64		hi = tr->n;
	int64		next = tr->hint;

	if (next < tr->n && tr->values[next].valueid == valueid)
		return next;
	while (next < tr->n && tr->values[next].valueid == tr->values[tr->hint].valueid)
		next++;
	if (next < tr->n && tr->values[next].valueid == valueid)
		return tr->hint = next;

	while (lo < hi)
	{
		int64		mid = lo + (hi - lo) / 2;

		if (tr->values[mid].valueid < valueid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < tr->n && tr->values[lo].valueid == valueid)
		return tr->hint = lo;
	return -1;
}

/* Deliver an assembled value to every key that asked for it */
static void
DeliverAll(AlexToastReader *tr, int64 first, struct varlena *value,
		   AlexToastDeliver deliver, void *arg)
{
	for (int64 i = first; i < tr->n && tr->values[i].valueid == tr->values[first].valueid; i++)
	{
		deliver(tr->values[i].key, PointerGetDatum(value), arg);
		tr->values[i].delivered = true;
	}
}

/*
 * One pass over the TOAST relation: assemble each deferred value from its
 * chunks and deliver it as soon as it is whole.
 */
static void
ScanToastRelation(AlexToastReader *tr, Relation toastrel, AlexToastDeliver deliver, void *arg)
{
	TupleDesc	desc = RelationGetDescr(toastrel);
	TableScanDesc scan;
	HeapTuple	tuple;
	HTAB	   *open;
	HASHCTL		ctl;
	uint64		tuples = 0;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(Assembly);
	ctl.hcxt = tr->context;
	open = hash_create("alex toast assemblies", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	scan = table_beginscan(toastrel, SnapshotAny, 0, NULL);
	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		bool		isnull;
		Oid			valueid;
		int32		seq;
		struct varlena *chunk;
		int64		first;
		Size		extsize;
		Size		offset;
		Size		len;
		const char *data;
		Assembly   *as;
		bool		found;

		if ((++tuples & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		valueid = DatumGetObjectId(heap_getattr(tuple, 1, desc, &isnull));
		first = FindDeferred(tr, valueid);
		if (first < 0 || tr->values[first].delivered)
			continue;
		seq = DatumGetInt32(heap_getattr(tuple, 2, desc, &isnull));
		chunk = (struct varlena *) DatumGetPointer(heap_getattr(tuple, 3, desc, &isnull));
		if (isnull || (VARATT_IS_EXTENDED(chunk) && !VARATT_IS_SHORT(chunk)))
			continue;			/* not ours to judge: the fallback reports it */
		data = VARDATA_ANY(chunk);
		len = VARSIZE_ANY_EXHDR(chunk);
		extsize = VARATT_EXTERNAL_GET_EXTSIZE(tr->values[first].pointer);
		offset = (Size) seq * TOAST_MAX_CHUNK_SIZE;
		if (seq < 0 || offset + len > extsize)
			continue;

		as = hash_search(open, &valueid, HASH_ENTER, &found);
		if (!found)
		{
			as->value = MemoryContextAlloc(tr->context, VARHDRSZ + extsize);
			SET_VARSIZE(as->value, VARHDRSZ + extsize);
			as->received = 0;
		}
		memcpy(VARDATA(as->value) + offset, data, len);
		as->received += len;
		if (as->received == extsize)
		{
			DeliverAll(tr, first, as->value, deliver, arg);
			pfree(as->value);
			hash_search(open, &valueid, HASH_REMOVE, NULL);
		}
	}
	table_endscan(scan);
	hash_destroy(open);
}

/*
 * Deliver every deferred value, each to every key that deferred it, then
 * free the reader.  The datum is valid only during the call.
 */
void
AlexToastReaderFinish(AlexToastReader *tr, AlexToastDeliver deliver, void *arg)
{
	Relation	toastrel;
	MemoryContext old;

	if (tr == NULL || tr->n == 0)
	{
		AlexToastReaderDiscard(tr);
		return;
	}
	old = MemoryContextSwitchTo(tr->context);
	qsort(tr->values, tr->n, sizeof(DeferredValue), DeferredValueCompare);

	toastrel = table_open(tr->toastrelid, AccessShareLock);
	if ((double) RelationGetNumberOfBlocks(toastrel) * BLCKSZ <=
		ALEX_TOAST_SCAN_RATIO * (double) tr->bytes + 16.0 * BLCKSZ)
	{
		elog(DEBUG1, "alex: out-of-line values read in one pass over their TOAST relation");
		ScanToastRelation(tr, toastrel, deliver, arg);
	}
	else
		elog(DEBUG1, "alex: out-of-line values looked up one by one: their TOAST relation is mostly other values");
	table_close(toastrel, AccessShareLock);

	/* what the pass could not assemble: one at a time, the usual way */
	for (int64 i = 0; i < tr->n; i++)
	{
		struct varlena *pointer;
		struct varlena *value;

		if (tr->values[i].delivered)
			continue;
		CHECK_FOR_INTERRUPTS();
		pointer = palloc(VARHDRSZ_EXTERNAL + sizeof(struct varatt_external));
		SET_VARTAG_EXTERNAL(pointer, VARTAG_ONDISK);
		memcpy(VARDATA_EXTERNAL(pointer), &tr->values[i].pointer, sizeof(struct varatt_external));
		value = detoast_external_attr(pointer);
		DeliverAll(tr, i, value, deliver, arg);
		pfree(value);
		pfree(pointer);
	}

	MemoryContextSwitchTo(old);
	AlexToastReaderDiscard(tr);
}

/* Free the reader without reading anything */
void
AlexToastReaderDiscard(AlexToastReader *tr)
{
	if (tr == NULL)
		return;
	MemoryContextDelete(tr->context);
	pfree(tr);
}
