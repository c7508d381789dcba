/*-------------------------------------------------------------------------
 *
 * alexvacuum.c
 *	  VACUUM for alex: clear dead lanes, merge and contract underfull
 *	  leaves, recycle the pages of replaced leaves.
 *
 * ambulkdelete walks the leaves the routing names and clears the lanes of
 * dead TIDs: a sequential pass, no graph to repair.  A leaf split during the
 * pass hands its entries (dead ones included) to new leaves, so the walk
 * repeats over leaves it has not seen until a pass finds none.
 *
 * amvacuumcleanup then
 *	- drops empty leaves, merges a leaf holding less than a quarter of the
 *	  target leaf size into its nearest neighbour, and contracts a leaf whose
 *	  density fell below 0.3 into fewer pages;
 *	- recycles the pages of leaves replaced so long ago that no snapshot can
 *	  still read them (their xid is older than every running
 *	  transaction: nbtree's rule), and gives them to the free space map;
 *	- recycles leaves and model nodes that an interrupted split wrote but
 *	  never routed to;
 *	- recounts the entries exactly.
 *
 * IDENTIFICATION
 *	  src/alexvacuum.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "alex.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#define ALEX_MERGE_FRACTION		0.25
#define ALEX_CONTRACT_DENSITY	0.3

typedef struct VacuumLaneState
{
	IndexBulkDeleteCallback callback;
	void	   *callback_state;
} VacuumLaneState;

static bool
VacuumLane(ItemPointer tid, const char *payload, const float *vector,
		   int dimensions, void *arg)
{
	VacuumLaneState *vs = (VacuumLaneState *) arg;

	return vs->callback(tid, vs->callback_state);
}

/*
 * The leaves the routing names now, copied out of the cache.
 */
static BlockNumber *
CurrentLeaves(Relation index, AlexIndexInfo *info, int *n)
{
	AlexRouting *routing;
	BlockNumber *leaves;

	AlexReadIndexInfo(index, info);
	routing = AlexGetRouting(index, info);
	leaves = palloc(sizeof(BlockNumber) * Max(routing->nroutes, 1));
	for (int i = 0; i < routing->nroutes; i++)
		leaves[i] = routing->routes[i].leaf;
	*n = routing->nroutes;
	return leaves;
}

static bool
SeenBefore(BlockNumber *seen, int nseen, BlockNumber leaf)
{
	for (int i = 0; i < nseen; i++)
		if (seen[i] == leaf)
			return true;
	return false;
}

/*
 * Lock a leaf head exclusively; false (and nothing held) if the page is no
 * longer a live leaf.
 */
static bool
LockLiveLeaf(Relation index, BlockNumber leaf, int dimensions, Buffer *buf)
{
	Page		page;

	*buf = ReadBuffer(index, leaf);
	LockBuffer(*buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(*buf);
	if (AlexPageGetOpaque(page)->kind != ALEX_PAGE_LEAF_HEAD ||
		(AlexPageGetOpaque(page)->flags & ALEX_PAGE_DELETED))
	{
		UnlockReleaseBuffer(*buf);
		return false;
	}
	AlexCheckLeafHead(index, page, leaf, dimensions);
	return true;
}

IndexBulkDeleteResult *
alexbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			   IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	AlexIndexInfo ii;
	VacuumLaneState vs;
	BlockNumber *seen = NULL;
	int			nseen = 0;
	int			seen_capacity = 0;

	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	vs.callback = callback;
	vs.callback_state = callback_state;

	for (;;)
	{
		int			nleaves;
		BlockNumber *leaves = CurrentLeaves(index, &ii, &nleaves);
		bool		any = false;

		for (int i = 0; i < nleaves; i++)
		{
			Buffer		head_buf;
			AlexLeafHead head;

			if (SeenBefore(seen, nseen, leaves[i]))
				continue;
			if (nseen == seen_capacity)
			{
				seen_capacity = Max(64, seen_capacity * 2);
				seen = seen ? repalloc(seen, sizeof(BlockNumber) * seen_capacity) :
					palloc(sizeof(BlockNumber) * seen_capacity);
			}
			seen[nseen++] = leaves[i];
			any = true;

			vacuum_delay_point();
			if (!LockLiveLeaf(index, leaves[i], ii.dimensions, &head_buf))
				continue;
			head = AlexPageGetLeafHead(BufferGetPage(head_buf));
			for (int p = 0; p < head->npages; p++)
				stats->tuples_removed +=
					AlexVisitDataPage(index, head_buf, p, head->pages[p], &ii,
									  ALEX_VISIT_CLEAR, VacuumLane, &vs);
			UnlockReleaseBuffer(head_buf);
		}
		pfree(leaves);
		if (!any)
			break;
	}
	if (seen)
		pfree(seen);
	return stats;
}

/*
 * Merge, contract or drop underfull leaves.
 */
static void
ReorganizeLeaves(Relation index)
{
	AlexIndexInfo ii;
	int			nleaves;
	BlockNumber *leaves = CurrentLeaves(index, &ii, &nleaves);
	double		target = AlexTargetLeafSize(&ii, (double) ii.tuples);

	for (int i = 0; i < nleaves; i++)
	{
		Buffer		bufs[2];
		AlexLeafHead head;
		uint32		entries;

		vacuum_delay_point();
		if (!LockLiveLeaf(index, leaves[i], ii.dimensions, &bufs[0]))
			continue;
		head = AlexPageGetLeafHead(BufferGetPage(bufs[0]));
		/* lanes a split copied elsewhere, once no scan can need them */
		for (int p = 0; p < head->npages; p++)
			AlexPurgeMovedLanes(index, bufs[0], p, head->pages[p]);
		entries = head->entries;
		AlexReadIndexInfo(index, &ii);

		if (ii.leaves > 1 && entries < target * ALEX_MERGE_FRACTION)
		{
			/* the nearest sibling: merges stay inside one model node */
			AlexRouting *routing = AlexGetRouting(index, &ii);
			int			self = AlexFindRoute(routing, leaves[i]);
			BlockNumber partner = InvalidBlockNumber;
			int			siblings = 0;

			if (self >= 0)
			{
				const AlexRouteNode *node = &routing->nodes[routing->routes[self].node];
				float		best = 0;

				siblings = node->count - 1;
				for (int r = node->first; r < node->first + node->count; r++)
				{
					float		d;

					if (r == self)
						continue;
					d = AlexRouteDistance(ii.metric, routing->routes[self].centroid,
										  routing->routes[r].centroid, ii.route_dimensions);
					if (partner == InvalidBlockNumber || d < best)
					{
						partner = routing->routes[r].leaf;
						best = d;
					}
				}
			}

			if (entries == 0 && siblings > 0)
			{
				AlexMergeLeaves(index, &ii, bufs, 1);
				UnlockReleaseBuffer(bufs[0]);
				continue;
			}
			if (partner != InvalidBlockNumber)
			{
				Buffer		first = bufs[0];

				/* relock both in block order */
				UnlockReleaseBuffer(first);
				if (partner < leaves[i])
				{
					if (!LockLiveLeaf(index, partner, ii.dimensions, &bufs[0]))
						continue;
					if (!LockLiveLeaf(index, leaves[i], ii.dimensions, &bufs[1]))
					{
						UnlockReleaseBuffer(bufs[0]);
						continue;
					}
				}
				else
				{
					if (!LockLiveLeaf(index, leaves[i], ii.dimensions, &bufs[0]))
						continue;
					if (!LockLiveLeaf(index, partner, ii.dimensions, &bufs[1]))
					{
						UnlockReleaseBuffer(bufs[0]);
						continue;
					}
				}
				if (AlexPageGetLeafHead(BufferGetPage(bufs[0]))->entries +
					AlexPageGetLeafHead(BufferGetPage(bufs[1]))->entries <
					target / ALEX_BUILD_DENSITY)
				{
					AlexReadIndexInfo(index, &ii);
					AlexMergeLeaves(index, &ii, bufs, 2);
				}
				UnlockReleaseBuffer(bufs[1]);
				UnlockReleaseBuffer(bufs[0]);
				continue;
			}
		}
		else if (head->npages > 1 &&
				 entries < ALEX_CONTRACT_DENSITY * head->capacity)
		{
			AlexMergeLeaves(index, &ii, bufs, 1);
		}
		UnlockReleaseBuffer(bufs[0]);
	}
	pfree(leaves);
}

/*
 * Turn a page into a free page, WAL-logged.
 */
static void
FreePage(Relation index, Buffer buf)
{
	GenericXLogState *state = GenericXLogStart(index);
	Page		page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);

	AlexInitPage(page, ALEX_PAGE_FREE);
	GenericXLogFinish(state);
}

/*
 * Is this still a page of that kind belonging to owner?  A page may have
 * been recycled and reused since the owner listed it: then it is not ours
 * to free.
 */
static bool
PageOwnedBy(Page page, uint16 kind, BlockNumber owner)
{
	return !PageIsNew(page) &&
		AlexPageGetOpaque(page)->page_id == ALEX_PAGE_ID &&
		AlexPageGetOpaque(page)->kind == kind &&
		AlexPageGetOpaque(page)->owner == owner;
}

/*
 * Recycle the vector pages a data page (locked exclusively by the caller)
 * still owns.
 */
static int
RecycleVectorPages(Relation index, Buffer data_buf)
{
	BlockNumber data_blkno = BufferGetBlockNumber(data_buf);
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	AlexLeafDataHeader *hdr = AlexPageGetLeafData(BufferGetPage(data_buf));
	int			slots = Min(hdr->vector_slots,
							(BLCKSZ - MAXALIGN(SizeOfPageHeaderData)) / sizeof(BlockNumber));
	int			freed = 0;

	for (int s = 0; s < slots; s++)
	{
		BlockNumber blkno = AlexVectorPageList(hdr)[s];
		Buffer		buf;
		Page		page;

		if (blkno == InvalidBlockNumber || blkno >= nblocks)
			continue;
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		if (PageOwnedBy(page, ALEX_PAGE_LEAF_VECTORS, data_blkno))
		{
			FreePage(index, buf);
			RecordFreeIndexPage(index, blkno);
			freed++;
		}
		UnlockReleaseBuffer(buf);
	}
	return freed;
}

/*
 * Recycle a deleted leaf whose head the caller holds exclusively: first its
 * data pages (only those it still owns) with their vector pages, then the
 * head itself.
 */
static int
RecycleLeaf(Relation index, Buffer head_buf)
{
	BlockNumber head_blkno = BufferGetBlockNumber(head_buf);
	AlexLeafHead head = AlexPageGetLeafHead(BufferGetPage(head_buf));
	int			freed = 0;

	for (int p = 0; p < head->npages; p++)
	{
		Buffer		buf = ReadBuffer(index, head->pages[p]);
		Page		page;

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		if (PageOwnedBy(page, ALEX_PAGE_LEAF_DATA, head_blkno))
		{
			freed += RecycleVectorPages(index, buf);
			FreePage(index, buf);
			RecordFreeIndexPage(index, head->pages[p]);
			freed++;
		}
		UnlockReleaseBuffer(buf);
	}
	FreePage(index, head_buf);
	RecordFreeIndexPage(index, head_blkno);
	return freed + 1;
}

/*
 * Recycle a deleted (or unrouted) model node: the pages of its chain it
 * still owns, one at a time (never two locks at once, so no lock order to
 * keep), then its first page.
 */
static int
RecycleNode(Relation index, BlockNumber first, bool unrouted)
{
	BlockNumber blkno;
	int			freed = 0;
	Buffer		buf = ReadBuffer(index, first);

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	blkno = AlexPageGetOpaque(BufferGetPage(buf))->next;
	UnlockReleaseBuffer(buf);

	while (blkno != InvalidBlockNumber)
	{
		Page		page;
		BlockNumber next = InvalidBlockNumber;

		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		if (PageOwnedBy(page, ALEX_PAGE_MODEL, first))
		{
			next = AlexPageGetOpaque(page)->next;
			FreePage(index, buf);
			RecordFreeIndexPage(index, blkno);
			freed++;
		}
		UnlockReleaseBuffer(buf);
		blkno = next;
	}

	buf = ReadBuffer(index, first);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	if (AlexPageGetOpaque(BufferGetPage(buf))->kind == ALEX_PAGE_MODEL &&
		(unrouted || (AlexPageGetOpaque(BufferGetPage(buf))->flags & ALEX_PAGE_DELETED)))
	{
		FreePage(index, buf);
		RecordFreeIndexPage(index, first);
		freed++;
	}
	UnlockReleaseBuffer(buf);
	return freed;
}

/*
 * Has the transaction that wrote this leaf head or model node ended?  No
 * XID: its writer held a lock that keeps VACUUM out (AlexStampWriter).
 */
static bool
WriterGone(Page page)
{
	TransactionId xid = AlexPageGetOpaque(page)->xid;

	return !TransactionIdIsValid(xid) || GlobalVisCheckRemovableXid(NULL, xid);
}

/*
 * Recycle the candidates (live leaf heads and model nodes whose writer is
 * gone) that the routing does not reach: a split, merge or node split
 * failed (an error, a crash) after writing them and before routing to them.
 * Their writer can no longer route to them, so the routing misses them for
 * good; only vacuum frees pages, so a candidate it finds unrouted stays so.
 */
static BlockNumber
RecycleUnrouted(Relation index, const BlockNumber *candidates, int n)
{
	BlockNumber freed = 0;
	AlexIndexInfo info;
	BlockNumber *routed;
	int			nrouted;

	if (n == 0)
		return 0;
	AlexReadIndexInfo(index, &info);
	routed = AlexRoutedBlocks(AlexGetRouting(index, &info), &nrouted);
	for (int i = 0; i < n; i++)
	{
		Buffer		buf;
		Page		page;
		bool		node = false;

		if (AlexBlockIsRouted(routed, nrouted, candidates[i]))
			continue;
		vacuum_delay_point();
		buf = ReadBuffer(index, candidates[i]);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		/* a concurrent split may have replaced it since: then it is deleted */
		if (AlexPageStartsRoutable(page, candidates[i]))
		{
			if (AlexPageGetOpaque(page)->kind == ALEX_PAGE_LEAF_HEAD)
				freed += RecycleLeaf(index, buf);
			else
				node = true;
		}
		UnlockReleaseBuffer(buf);
		if (node)
			freed += RecycleNode(index, candidates[i], true);
	}
	pfree(routed);
	return freed;
}

IndexBulkDeleteResult *
alexvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	Relation	index = info->index;
	BlockNumber nblocks;
	uint64		entries = 0;
	BlockNumber free_pages = 0;
	BlockNumber *candidates;
	int			ncandidates = 0;

	if (info->analyze_only)
		return stats;
	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));

	ReorganizeLeaves(index);

	/* one sequential pass: recycle, find free pages, count entries */
	nblocks = RelationGetNumberOfBlocks(index);
	candidates = palloc(sizeof(BlockNumber) * Max(nblocks, 1));
	for (BlockNumber blkno = ALEX_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		AlexPageOpaque opaque;
		bool		recycle_node = false;

		vacuum_delay_point();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, info->strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		opaque = AlexPageGetOpaque(page);

		if (PageIsNew(page))
		{
			/* extended but never initialised (a crash): free */
			RecordFreeIndexPage(index, blkno);
			free_pages++;
		}
		else if (opaque->page_id != ALEX_PAGE_ID)
			AlexCheckPage(index, page, blkno, ALEX_PAGE_FREE);	/* reports it */
		else if (opaque->kind == ALEX_PAGE_FREE)
		{
			RecordFreeIndexPage(index, blkno);
			free_pages++;
		}
		else if (opaque->kind == ALEX_PAGE_LEAF_HEAD && (opaque->flags & ALEX_PAGE_DELETED) &&
				 GlobalVisCheckRemovableXid(NULL, opaque->xid))
			free_pages += RecycleLeaf(index, buf);
		else if (opaque->kind == ALEX_PAGE_MODEL && (opaque->flags & ALEX_PAGE_DELETED) &&
				 GlobalVisCheckRemovableXid(NULL, opaque->xid))
			recycle_node = true;
		else if (AlexPageStartsRoutable(page, blkno) && WriterGone(page))
			candidates[ncandidates++] = blkno;
		UnlockReleaseBuffer(buf);
		if (recycle_node)
			free_pages += RecycleNode(index, blkno, false);
	}

	free_pages += RecycleUnrouted(index, candidates, ncandidates);
	pfree(candidates);

	/* the exact count: routed leaves, moved lanes where they live now */
	{
		AlexIndexInfo ii;

		AlexReadIndexInfo(index, &ii);
		entries = AlexCountEntries(index, &ii, NULL, NULL);
	}
	AlexSetTupleCount(index, entries);
	IndexFreeSpaceMapVacuum(index);

	stats->num_pages = nblocks;
	stats->pages_free = free_pages;
	stats->num_index_tuples = (double) entries;
	stats->estimated_count = false;
	return stats;
}
