/*-------------------------------------------------------------------------
 *
 * alexstats.c
 *	  alex_index_stats(): what an alex index looks like, and
 *	  alex_index_check(): an amcheck-style verification of its structure.
 *
 * Both read every block of the index under share locks, one at a time,
 * and change nothing.  The check raises ERRCODE_INDEX_CORRUPTED on the
 * first problem; an entry present twice with the same vector (left by a
 * crash between the two halves of a split's LIRE move, harmless to scans)
 * is reported as a notice instead.
 *
 * IDENTIFICATION
 *	  src/alexstats.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/relation.h"
#include "alex.h"
#include "catalog/pg_am.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

/*
 * Open an index by OID and make sure it is an alex index the caller may
 * read.
 */
static Relation
AlexOpenForInspection(Oid relid)
{
	Relation	index = relation_open(relid, AccessShareLock);
	HeapTuple	amtup;
	bool		is_alex = false;

	if (index->rd_rel->relkind == RELKIND_INDEX)
	{
		amtup = SearchSysCache1(AMOID, ObjectIdGetDatum(index->rd_rel->relam));
		if (HeapTupleIsValid(amtup))
		{
			is_alex = strcmp(NameStr(((Form_pg_am) GETSTRUCT(amtup))->amname), "alex") == 0;
			ReleaseSysCache(amtup);
		}
	}
	if (!is_alex)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an alex index", RelationGetRelationName(index))));
	if (RELATION_IS_OTHER_TEMP(index))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot access temporary indexes of other sessions")));
	return index;
}

typedef struct AlexStats
{
	int64		pages;
	int64		model_pages;
	int64		leaf_heads;
	int64		deleted_leaves;
	int64		data_pages;
	int64		vector_pages;
	int64		free_pages;
	int64		entries;
	int64		capacity;
} AlexStats;

PG_FUNCTION_INFO_V1(alex_index_stats);
Datum
alex_index_stats(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	index = AlexOpenForInspection(relid);
	AlexStats	st;
	AlexIndexInfo info;
	Buffer		meta_buf;
	AlexMetaPageData meta;
	TupleDesc	tupdesc;
	Datum		values[14];
	bool		nulls[14] = {false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	AlexReadIndexInfo(index, &info);
	meta_buf = ReadBuffer(index, ALEX_METAPAGE_BLKNO);
	LockBuffer(meta_buf, BUFFER_LOCK_SHARE);
	meta = *AlexPageGetMeta(BufferGetPage(meta_buf));
	UnlockReleaseBuffer(meta_buf);

	memset(&st, 0, sizeof(st));
	st.pages = RelationGetNumberOfBlocks(index);
	for (BlockNumber blkno = ALEX_METAPAGE_BLKNO + 1; blkno < st.pages; blkno++)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		AlexPageOpaque opaque;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		opaque = AlexPageGetOpaque(page);
		if (PageIsNew(page) || opaque->kind == ALEX_PAGE_FREE)
			st.free_pages++;
		else if (opaque->kind == ALEX_PAGE_MODEL)
			st.model_pages++;
		else if (opaque->kind == ALEX_PAGE_LEAF_DATA)
			st.data_pages++;
		else if (opaque->kind == ALEX_PAGE_LEAF_VECTORS)
			st.vector_pages++;
		else if (opaque->kind == ALEX_PAGE_LEAF_HEAD && (opaque->flags & ALEX_PAGE_DELETED))
			st.deleted_leaves++;
		UnlockReleaseBuffer(buf);
	}

	/* the leaves the routing reaches (an aborted split can leave others) */
	{
		uint64		capacity;
		int			leaves;

		st.entries = (int64) AlexCountEntries(index, &info, &capacity, &leaves);
		st.capacity = (int64) capacity;
		st.leaf_heads = leaves;
	}
	relation_close(index, AccessShareLock);

	values[0] = Int32GetDatum(meta.levels);
	values[1] = Int64GetDatum(st.model_pages);
	values[2] = Int64GetDatum(st.leaf_heads);
	values[3] = Int64GetDatum(st.entries);
	values[4] = Int64GetDatum(st.capacity);
	values[5] = Float8GetDatum(st.capacity > 0 ? (double) st.entries / st.capacity : 0);
	values[6] = Int64GetDatum(st.pages);
	values[7] = Int64GetDatum(st.data_pages);
	values[8] = Int64GetDatum(st.vector_pages);
	values[9] = Int64GetDatum(st.free_pages);
	values[10] = Int64GetDatum(st.deleted_leaves);
	values[11] = Int64GetDatum((int64) meta.splits);
	values[12] = Int64GetDatum((int64) meta.expands);
	values[13] = Int64GetDatum((int64) meta.merges);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* ---------- alex_index_check ---------- */

typedef struct CheckedEntry
{
	ItemPointerData tid;
	uint32		hash;			/* of the vector, to tell copies from clashes */
} CheckedEntry;

typedef struct CheckState
{
	Relation	index;
	const AlexIndexInfo *info;
	CheckedEntry *entries;
	int64		n;
	int64		capacity;
} CheckState;

static void
CheckFailed(Relation index, BlockNumber blkno, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INDEX_CORRUPTED),
			 errmsg("alex index \"%s\" is corrupted at block %u",
					RelationGetRelationName(index), blkno),
			 errdetail("%s", what)));
}

static bool
RecordEntry(ItemPointer tid, const char *payload, const float *vector,
			int dimensions, void *arg)
{
	CheckState *cs = (CheckState *) arg;

	if (!ItemPointerIsValid(tid))
		CheckFailed(cs->index, InvalidBlockNumber, "An entry has an invalid heap TID.");
	if (cs->n == cs->capacity)
	{
		cs->capacity *= 2;
		cs->entries = repalloc_huge(cs->entries, sizeof(CheckedEntry) * cs->capacity);
	}
	cs->entries[cs->n].tid = *tid;
	/* no vector: rerank = table and the row is gone, so is every copy's */
	cs->entries[cs->n].hash = vector == NULL ? 0 :
		hash_bytes((const unsigned char *) vector, sizeof(float) * dimensions);
	cs->n++;
	return false;
}

static int
CheckedEntryCompare(const void *a, const void *b)
{
	const CheckedEntry *ea = (const CheckedEntry *) a;
	const CheckedEntry *eb = (const CheckedEntry *) b;

	return ItemPointerCompare((ItemPointer) &ea->tid, (ItemPointer) &eb->tid);
}

/*
 * Check one live leaf: its data pages, their lane bitmaps and counts.
 */
static void
CheckLeaf(CheckState *cs, BlockNumber leaf)
{
	Relation	index = cs->index;
	Buffer		head_buf = ReadBuffer(index, leaf);
	AlexLeafHead head;
	int64		used_total = 0;
	int64		lanes_total = 0;
	int64		moved_total = 0;
	int64		before = cs->n;

	LockBuffer(head_buf, BUFFER_LOCK_SHARE);
	AlexCheckLeafHead(index, BufferGetPage(head_buf), leaf, cs->info->dimensions);
	if (AlexPageGetOpaque(BufferGetPage(head_buf))->flags & ALEX_PAGE_DELETED)
		CheckFailed(index, leaf, "The routing names a deleted leaf.");
	head = AlexPageGetLeafHead(BufferGetPage(head_buf));
	if (head->npages > head->max_pages ||
		head->max_pages != AlexLeafMaxPages(cs->info->dimensions))
		CheckFailed(index, leaf, "The leaf head's page list is out of bounds.");
	if (head->has_direction)
	{
		float	   *direction = palloc(sizeof(float) * cs->info->dimensions);

		AlexLeafGetDirection(head, cs->info->dimensions, direction);
		for (int d = 0; d < cs->info->dimensions; d++)
			if (!isfinite(direction[d]))
				CheckFailed(index, leaf, "The leaf's key direction is not finite.");
		pfree(direction);
	}

	for (int p = 0; p < head->npages; p++)
	{
		Buffer		buf = ReadBuffer(index, head->pages[p]);
		Page		page;
		AlexLeafDataHeader *hdr;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		AlexCheckPage(index, page, head->pages[p], ALEX_PAGE_LEAF_DATA);
		if (AlexPageGetOpaque(page)->owner != leaf)
			CheckFailed(index, head->pages[p], "A data page belongs to another leaf.");
		hdr = AlexPageGetLeafData(page);
		if (hdr->lanes != AlexLanesPerPage(cs->info))
			CheckFailed(index, head->pages[p], "A data page has the wrong lane count.");
		if (!AlexDataPageBitsConsistent(hdr))
			CheckFailed(index, head->pages[p], "The lane bitmaps disagree with the page's counts.");
		if (hdr->vector_slots != AlexVectorSlots(cs->info))
			CheckFailed(index, head->pages[p], "A data page has the wrong vector page count.");
		for (int s = 0; s < hdr->vector_slots; s++)
		{
			BlockNumber vblkno = AlexVectorPageList(hdr)[s];
			Buffer		vbuf;

			if (vblkno == InvalidBlockNumber)
				continue;
			if (vblkno >= RelationGetNumberOfBlocks(index))
				CheckFailed(index, head->pages[p], "A vector page lies past the end of the index.");
			vbuf = ReadBuffer(index, vblkno);
			LockBuffer(vbuf, BUFFER_LOCK_SHARE);
			AlexCheckVectorPage(index, BufferGetPage(vbuf), vblkno, head->pages[p]);
			UnlockReleaseBuffer(vbuf);
		}
		moved_total += hdr->moved;
		if (AlexLeafUsedCount(head, p) != hdr->used)
			CheckFailed(index, head->pages[p], "The leaf head's used count disagrees with the page.");
		used_total += hdr->used;
		lanes_total += hdr->lanes;
		UnlockReleaseBuffer(buf);
	}
	if (used_total != head->entries)
		CheckFailed(index, leaf, "The leaf's entry count disagrees with its pages.");
	if (lanes_total != head->capacity)
		CheckFailed(index, leaf, "The leaf's capacity disagrees with its pages.");

	for (int p = 0; p < head->npages; p++)
		AlexVisitDataPage(index, InvalidBuffer, p, head->pages[p], cs->info,
						  ALEX_VISIT_READ_OWNED, RecordEntry, cs);
	if (cs->n - before + moved_total != head->entries)
		CheckFailed(index, leaf, "The leaf's lanes disagree with its entry count.");
	UnlockReleaseBuffer(head_buf);
}

PG_FUNCTION_INFO_V1(alex_index_check);
Datum
alex_index_check(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	index = AlexOpenForInspection(relid);
	AlexIndexInfo info;
	AlexRouting *routing;
	CheckState	cs;
	int64		copies = 0;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	BlockNumber *routable = palloc(sizeof(BlockNumber) * Max(nblocks, 1));
	int			nroutable = 0;
	int			unrouted = 0;

	AlexReadIndexInfo(index, &info);
	if (info.dimensions < 1 || info.dimensions > AlexMaxDimensions() ||
		info.metric < ALEX_METRIC_L2 || info.metric > ALEX_METRIC_L1 ||
		info.root >= nblocks)
		CheckFailed(index, ALEX_METAPAGE_BLKNO, "The metapage has impossible values.");

	/* every page is an alex page of a known kind */
	for (BlockNumber blkno = 1; blkno < nblocks; blkno++)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (!PageIsNew(page))
		{
			AlexPageOpaque opaque = AlexPageGetOpaque(page);

			if (PageGetSpecialSize(page) != MAXALIGN(sizeof(AlexPageOpaqueData)) ||
				opaque->page_id != ALEX_PAGE_ID ||
				opaque->kind < ALEX_PAGE_MODEL || opaque->kind > ALEX_PAGE_LEAF_VECTORS)
				CheckFailed(index, blkno, "The page is not an alex page of a known kind.");
			if (AlexPageStartsRoutable(page, blkno))
				routable[nroutable++] = blkno;
		}
		UnlockReleaseBuffer(buf);
	}

	/* the routing: finite centroids, each naming a distinct live leaf */
	routing = AlexGetRouting(index, &info);
	if (routing->nroutes != (int) info.leaves)
		CheckFailed(index, ALEX_METAPAGE_BLKNO, "The metapage's leaf count disagrees with the routing.");
	for (int i = 0; i < routing->nroutes; i++)
	{
		if (routing->routes[i].leaf >= nblocks)
			CheckFailed(index, info.root, "A routing entry points past the end of the index.");
		for (int d = 0; d < info.route_dimensions; d++)
			if (!isfinite(routing->routes[i].centroid[d]))
				CheckFailed(index, routing->routes[i].leaf, "A routing centroid is not finite.");
		for (int j = 0; j < i; j++)
			if (routing->routes[j].leaf == routing->routes[i].leaf)
				CheckFailed(index, routing->routes[i].leaf, "Two routing entries name the same leaf.");
	}

	/* model nodes: live, of the level the tree says, levels add up */
	for (int i = 0; i < routing->nnodes; i++)
	{
		AlexRouteNode *node = &routing->nodes[i];
		Buffer		buf;
		Page		page;

		if (node->blkno >= nblocks)
			CheckFailed(index, info.root, "A routing entry points past the end of the index.");
		buf = ReadBuffer(index, node->blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		AlexCheckPage(index, page, node->blkno, ALEX_PAGE_MODEL);
		if (AlexPageGetOpaque(page)->flags & ALEX_PAGE_DELETED)
			CheckFailed(index, node->blkno, "The routing names a deleted model node.");
		if (AlexPageGetOpaque(page)->owner != node->blkno)
			CheckFailed(index, node->blkno, "A model node's first page names another owner.");
		UnlockReleaseBuffer(buf);
		if (i == 0 && node->level + 1 != (int) info.levels)
			CheckFailed(index, node->blkno, "The metapage's level count disagrees with the root.");
		if (i > 0 && routing->nodes[node->parent].level != node->level + 1)
			CheckFailed(index, node->blkno, "A model node is not one level below its parent.");
		if (i > 0 && node->centroid != NULL)
			for (int d = 0; d < info.route_dimensions; d++)
				if (!isfinite(node->centroid[d]))
					CheckFailed(index, node->blkno, "A model node centroid is not finite.");
	}

	/* leaves and nodes the routing misses: left by interrupted splits */
	{
		int			nrouted;
		BlockNumber *routed = AlexRoutedBlocks(routing, &nrouted);

		for (int i = 0; i < nroutable; i++)
			if (!AlexBlockIsRouted(routed, nrouted, routable[i]))
				unrouted++;
		pfree(routed);
	}
	if (unrouted > 0)
		ereport(NOTICE,
				(errmsg("alex index \"%s\" holds %d unrouted leaves or model nodes",
						RelationGetRelationName(index), unrouted),
				 errdetail("A split was interrupted after writing them, or is writing them now; VACUUM reclaims their pages.")));

	/* every leaf, every lane; then no TID twice */
	cs.index = index;
	cs.info = &info;
	cs.n = 0;
	cs.capacity = 1024;
	cs.entries = palloc(sizeof(CheckedEntry) * cs.capacity);
	{
		int			n = routing->nroutes;
		BlockNumber *leaves = palloc(sizeof(BlockNumber) * Max(n, 1));

		for (int i = 0; i < n; i++)
			leaves[i] = routing->routes[i].leaf;
		for (int i = 0; i < n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			CheckLeaf(&cs, leaves[i]);
		}
		pfree(leaves);
	}

	qsort(cs.entries, cs.n, sizeof(CheckedEntry), CheckedEntryCompare);
	for (int64 i = 1; i < cs.n; i++)
	{
		if (!ItemPointerEquals(&cs.entries[i].tid, &cs.entries[i - 1].tid))
			continue;
		if (cs.entries[i].hash != cs.entries[i - 1].hash)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("alex index \"%s\" is corrupted", RelationGetRelationName(index)),
					 errdetail("Heap TID (%u,%u) appears twice with different vectors.",
							   ItemPointerGetBlockNumber(&cs.entries[i].tid),
							   ItemPointerGetOffsetNumber(&cs.entries[i].tid))));
		copies++;
	}
	if (copies > 0)
		ereport(NOTICE,
				(errmsg("alex index \"%s\" holds %lld duplicate copies of entries",
						RelationGetRelationName(index), (long long) copies),
				 errdetail("A split was interrupted between moving entries and clearing their old lanes; scans return each entry once.")));

	relation_close(index, AccessShareLock);
	PG_RETURN_INT64(cs.n - copies);
}
