/*-------------------------------------------------------------------------
 *
 * alexheap.c
 *	  Vectors read back from the table's rows, for indexes built WITH
 *	  (rerank = table) that keep only codes in their leaves.
 *
 * A scan reranks with the row its snapshot sees (an invisible row is not a
 * result anyway); splits, merges and checks read any version with
 * SnapshotAny, since every version of a HOT chain carries the same indexed
 * value.  A row that is gone entirely (its line pointer dead or unused) is
 * dead to everyone, and its entry is only waiting for vacuum.
 *
 * The indexed value is the column itself or, for an expression index, the
 * expression evaluated over the row, exactly as the build and inserts
 * computed it.
 *
 * Lock order: callers may hold index buffer locks while this takes heap
 * (and TOAST) buffer locks; nothing takes an alex index lock while holding
 * a heap buffer lock, as heap inserts release theirs before the index
 * inserts.
 *
 * IDENTIFICATION
 *	  src/alexheap.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "alex.h"
#include "catalog/index.h"
#include "executor/executor.h"
#include "utils/memutils.h"
#include "utils/rel.h"

struct AlexTableReader
{
	Relation	index;
	Relation	heap;
	bool		opened_heap;	/* we opened heap and close it */
	Snapshot	snapshot;
	IndexFetchTableData *fetch;
	TupleTableSlot *slot;
	MemoryContext context;		/* per row: reset after each */
	/* expression indexes */
	IndexInfo  *index_info;
	EState	   *estate;
};

/*
 * Start reading rows of the index's table.  heap may be NULL: the table is
 * then opened here (its caller holds a lock on it already, through the
 * index's use, so AccessShareLock only counts up).
 */
AlexTableReader *
AlexBeginTableReader(Relation index, Relation heap, Snapshot snapshot)
{
	AlexTableReader *reader = palloc0(sizeof(AlexTableReader));

	reader->index = index;
	reader->opened_heap = heap == NULL;
	reader->heap = heap ? heap : table_open(index->rd_index->indrelid, AccessShareLock);
	reader->snapshot = snapshot;
	reader->fetch = table_index_fetch_begin(reader->heap);
	reader->slot = table_slot_create(reader->heap, NULL);
	reader->context = AllocSetContextCreate(CurrentMemoryContext, "alex table reader",
											ALLOCSET_SMALL_SIZES);
	if (index->rd_index->indkey.values[0] == 0)
	{
		reader->index_info = BuildIndexInfo(index);
		reader->estate = CreateExecutorState();
		GetPerTupleExprContext(reader->estate)->ecxt_scantuple = reader->slot;
	}
	return reader;
}

/*
 * Copy the indexed vector of the row at tid into out (dimensions floats).
 * False when the snapshot sees no version of the row, or its value is NULL.
 */
bool
AlexReadTableVector(AlexTableReader *reader, ItemPointer tid, float *out, int dimensions)
{
	bool		call_again = false;
	bool		all_dead = false;
	bool		found;
	Datum		value;
	bool		isnull;
	MemoryContext old;

	found = table_index_fetch_tuple(reader->fetch, tid, reader->snapshot, reader->slot,
									&call_again, &all_dead);
	if (!found)
		return false;

	old = MemoryContextSwitchTo(reader->context);
	if (reader->index_info == NULL)
		value = slot_getattr(reader->slot, reader->index->rd_index->indkey.values[0], &isnull);
	else
	{
		Datum		values[INDEX_MAX_KEYS];
		bool		nulls[INDEX_MAX_KEYS];

		FormIndexDatum(reader->index_info, reader->slot, reader->estate, values, nulls);
		value = values[0];
		isnull = nulls[0];
	}
	if (!isnull)
	{
		int			dim;
		const float *x = AlexDatumVector(reader->index, value, &dim);

		if (dim != dimensions)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has %d dimensions, but its table's row (%u,%u) has %d",
							RelationGetRelationName(reader->index), dimensions,
							ItemPointerGetBlockNumber(tid),
							ItemPointerGetOffsetNumber(tid), dim),
					 errhint("Please REINDEX it.")));
		memcpy(out, x, sizeof(float) * dimensions);
	}
	MemoryContextSwitchTo(old);

	if (reader->estate)
		ResetPerTupleExprContext(reader->estate);
	MemoryContextReset(reader->context);
	ExecClearTuple(reader->slot);
	return !isnull;
}

void
AlexEndTableReader(AlexTableReader *reader)
{
	if (reader->estate)
		FreeExecutorState(reader->estate);
	ExecDropSingleTupleTableSlot(reader->slot);
	table_index_fetch_end(reader->fetch);
	if (reader->opened_heap)
		table_close(reader->heap, AccessShareLock);
	MemoryContextDelete(reader->context);
	pfree(reader);
}
