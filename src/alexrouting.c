/*-------------------------------------------------------------------------
 *
 * alexrouting.c
 *	  Model nodes: reading, caching and changing the routing table of
 *	  centroids that sends a vector to its leaves.
 *
 * Consistency: every routing change (split, merge, a new leaf) modifies the
 * model pages it touches and bumps the metapage's routing_version in one
 * GenericXLog record, holding all those buffers exclusively.  A reader reads
 * the version, the model pages one at a time, then the version again, and
 * retries when it moved (a sequence lock), so it never mixes two routings.
 *
 * Lock order, everywhere: leaf head pages (ascending block number), then
 * model pages (in chain order), then the metapage.
 *
 * IDENTIFICATION
 *	  src/alexrouting.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "alex.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/*
 * Current routing_version of the metapage.
 */
static uint64
AlexReadRoutingVersion(Relation index)
{
	Buffer		buf = ReadBuffer(index, ALEX_METAPAGE_BLKNO);
	uint64		version;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	AlexCheckPage(index, BufferGetPage(buf), ALEX_METAPAGE_BLKNO, ALEX_PAGE_META);
	version = AlexPageGetMeta(BufferGetPage(buf))->routing_version;
	UnlockReleaseBuffer(buf);
	return version;
}

/*
 * Read all routing entries of the chain starting at root into one palloc'd
 * chunk in context (rd_amcache wants a single chunk).
 */
static AlexRouting *
AlexLoadRouting(Relation index, BlockNumber root, int dim, MemoryContext context)
{
	int			capacity = 64;
	int			n = 0;
	BlockNumber *leaves = palloc(sizeof(BlockNumber) * capacity);
	float	   *centroids = palloc(sizeof(float) * dim * capacity);
	BlockNumber blkno = root;
	AlexRouting *routing;
	Size		size;
	char	   *ptr;

	while (blkno != InvalidBlockNumber)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		OffsetNumber maxoff;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		AlexCheckPage(index, page, blkno, ALEX_PAGE_MODEL);
		maxoff = PageGetMaxOffsetNumber(page);

		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			AlexRouteEntry entry = (AlexRouteEntry) PageGetItem(page, PageGetItemId(page, off));

			if (n == capacity)
			{
				capacity *= 2;
				leaves = repalloc(leaves, sizeof(BlockNumber) * capacity);
				centroids = repalloc(centroids, sizeof(float) * dim * capacity);
			}
			leaves[n] = entry->child;
			memcpy(centroids + (Size) n * dim, entry->centroid, sizeof(float) * dim);
			n++;
		}
		blkno = AlexPageGetOpaque(page)->next;
		UnlockReleaseBuffer(buf);
	}

	size = MAXALIGN(sizeof(AlexRouting)) + MAXALIGN(sizeof(AlexRoute) * Max(n, 1)) +
		sizeof(float) * dim * Max(n, 1);
	ptr = MemoryContextAllocZero(context, size);
	routing = (AlexRouting *) ptr;
	routing->routes = (AlexRoute *) (ptr + MAXALIGN(sizeof(AlexRouting)));
	routing->centroids = (float *) ((char *) routing->routes + MAXALIGN(sizeof(AlexRoute) * Max(n, 1)));
	routing->nroutes = n;
	routing->dimensions = dim;
	memcpy(routing->centroids, centroids, sizeof(float) * dim * n);
	for (int i = 0; i < n; i++)
	{
		routing->routes[i].leaf = leaves[i];
		routing->routes[i].centroid = routing->centroids + (Size) i * dim;
	}
	pfree(leaves);
	pfree(centroids);
	return routing;
}

/*
 * The routing of the index as of info->routing_version or later, from the
 * backend's cache when the metapage says it is current.
 */
AlexRouting *
AlexGetRouting(Relation index, const AlexIndexInfo *info)
{
	AlexRouting *cached = (AlexRouting *) index->rd_amcache;
	uint64		version = info->routing_version;

	if (cached != NULL && cached->version == version &&
		RelFileNodeEquals(cached->node, index->rd_node))
		return cached;

	for (;;)
	{
		AlexRouting *routing = AlexLoadRouting(index, info->root, info->dimensions,
											   index->rd_indexcxt);
		uint64		after = AlexReadRoutingVersion(index);

		if (after == version)
		{
			routing->version = version;
			routing->relid = RelationGetRelid(index);
			routing->node = index->rd_node;
			if (index->rd_amcache != NULL)
				pfree(index->rd_amcache);
			index->rd_amcache = routing;
			return routing;
		}
		/* the routing changed while we read it: read it again */
		pfree(routing);
		version = after;
	}
}

/*
 * Re-read the metapage and the routing: for a backend that found a leaf
 * deleted under it.
 */
AlexRouting *
AlexRefreshRouting(Relation index, AlexIndexInfo *info)
{
	AlexReadIndexInfo(index, info);
	return AlexGetRouting(index, info);
}

static int
AlexProbeCompare(const void *a, const void *b)
{
	const AlexProbe *pa = (const AlexProbe *) a;
	const AlexProbe *pb = (const AlexProbe *) b;

	if (pa->distance < pb->distance)
		return -1;
	if (pa->distance > pb->distance)
		return 1;
	/* ties by block, so the order is deterministic */
	if (pa->leaf < pb->leaf)
		return -1;
	return pa->leaf > pb->leaf ? 1 : 0;
}

/*
 * All leaves ordered by routing distance from query (already prepared with
 * AlexPrepareVector).  out must hold routing->nroutes probes; returns the
 * count.
 */
int
AlexOrderRoutes(const AlexRouting *routing, AlexMetricKind metric,
				const float *query, AlexProbe *out)
{
	for (int i = 0; i < routing->nroutes; i++)
	{
		out[i].leaf = routing->routes[i].leaf;
		out[i].distance = AlexRouteDistance(metric, query,
											routing->routes[i].centroid,
											routing->dimensions);
	}
	qsort(out, routing->nroutes, sizeof(AlexProbe), AlexProbeCompare);
	return routing->nroutes;
}

/*
 * The leaf nearest to query, or InvalidBlockNumber when there is none.
 */
BlockNumber
AlexNearestLeaf(const AlexRouting *routing, AlexMetricKind metric,
				const float *query, float *centroid_out)
{
	BlockNumber best = InvalidBlockNumber;
	float		best_distance = 0;

	for (int i = 0; i < routing->nroutes; i++)
	{
		float		d = AlexRouteDistance(metric, query, routing->routes[i].centroid,
										  routing->dimensions);

		if (best == InvalidBlockNumber || d < best_distance)
		{
			best = routing->routes[i].leaf;
			best_distance = d;
			if (centroid_out)
				memcpy(centroid_out, routing->routes[i].centroid,
					   sizeof(float) * routing->dimensions);
		}
	}
	return best;
}

/*
 * Fill a model-page item for (leaf, centroid).
 */
static void
AlexFormRoute(AlexRouteEntry entry, BlockNumber leaf, const float *centroid, int dim)
{
	entry->child = leaf;
	entry->unused = 0;
	memcpy(entry->centroid, centroid, sizeof(float) * dim);
}

/*
 * Where the routing entry of a leaf lives.
 */
typedef struct RouteLocation
{
	BlockNumber blkno;
	OffsetNumber offset;
	int			position;		/* of the page in the chain */
} RouteLocation;

/*
 * Scan the root chain (share locks, one page at a time) for the entries of
 * the given leaves and for the first page with room for "extra" more
 * entries.  Returns false if some leaf has no entry.
 */
static bool
AlexLocateRoutes(Relation index, BlockNumber root, int dim,
				 const BlockNumber *leaves, int nleaves, RouteLocation *found,
				 int extra, RouteLocation *room, BlockNumber *tail)
{
	BlockNumber blkno = root;
	Size		entry_size = ALEX_ROUTE_ENTRY_SIZE(dim);
	int			nfound = 0;
	int			position = 0;

	room->blkno = InvalidBlockNumber;
	room->offset = InvalidOffsetNumber;
	room->position = 0;
	*tail = root;
	for (int i = 0; i < nleaves; i++)
		found[i].blkno = InvalidBlockNumber;

	while (blkno != InvalidBlockNumber)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		OffsetNumber maxoff;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		AlexCheckPage(index, page, blkno, ALEX_PAGE_MODEL);
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			AlexRouteEntry entry = (AlexRouteEntry) PageGetItem(page, PageGetItemId(page, off));

			for (int i = 0; i < nleaves; i++)
				if (entry->child == leaves[i] && found[i].blkno == InvalidBlockNumber)
				{
					found[i].blkno = blkno;
					found[i].offset = off;
					found[i].position = position;
					nfound++;
				}
		}
		if (extra > 0 && room->blkno == InvalidBlockNumber &&
			PageGetFreeSpace(page) >= (entry_size + sizeof(ItemIdData)) * extra)
		{
			room->blkno = blkno;
			room->position = position;
		}
		*tail = blkno;
		position++;
		blkno = AlexPageGetOpaque(page)->next;
		UnlockReleaseBuffer(buf);
	}
	return nfound == nleaves;
}

/*
 * Append an empty model page to the chain whose last page is tail.
 */
static void
AlexExtendModelChain(Relation index, BlockNumber tail)
{
	Buffer		tail_buf = ReadBuffer(index, tail);
	Buffer		new_buf;
	GenericXLogState *state;
	Page		tail_page;
	Page		new_page;

	LockBuffer(tail_buf, BUFFER_LOCK_EXCLUSIVE);
	if (AlexPageGetOpaque(BufferGetPage(tail_buf))->next != InvalidBlockNumber)
	{
		/* someone else extended it meanwhile; the caller looks again */
		UnlockReleaseBuffer(tail_buf);
		return;
	}
	new_buf = AlexNewBuffer(index);

	state = GenericXLogStart(index);
	tail_page = GenericXLogRegisterBuffer(state, tail_buf, 0);
	new_page = GenericXLogRegisterBuffer(state, new_buf, GENERIC_XLOG_FULL_IMAGE);
	AlexInitPage(new_page, ALEX_PAGE_MODEL);
	AlexPageGetOpaque(tail_page)->next = BufferGetBlockNumber(new_buf);
	GenericXLogFinish(state);

	UnlockReleaseBuffer(new_buf);
	UnlockReleaseBuffer(tail_buf);
}

/*
 * Replace the routing entries of old_leaves by entries for new_leaves (with
 * their centroids), in one WAL record that also bumps routing_version and
 * updates the metapage counters, and marks the first old leaf deleted; the
 * other old leaves are marked deleted in records of their own just after.
 *
 * The caller holds old_head_bufs exclusively locked (they come first in the
 * lock order).  n_new - n_old is at most 1.
 */
void
AlexSwitchRoutes(Relation index, const AlexIndexInfo *info,
				 const BlockNumber *old_leaves, Buffer *old_head_bufs, int n_old,
				 const BlockNumber *new_leaves, const float *new_centroids, int n_new,
				 int64 tuples_delta, AlexChange change)
{
	int			dim = info->dimensions;
	Size		entry_size = ALEX_ROUTE_ENTRY_SIZE(dim);
	AlexRouteEntry entry = palloc0(entry_size);
	int			extra = n_new - n_old;
	TransactionId delete_xid = ReadNextTransactionId();

	Assert(n_old <= 2 && n_new <= 2 && extra <= 1);

	for (;;)
	{
		RouteLocation found[2];
		RouteLocation room;
		RouteLocation touched[3];
		BlockNumber tail;
		BlockNumber blocks[3];
		Buffer		bufs[3];
		int			nblocks = 0;
		Buffer		meta_buf;
		GenericXLogState *state;
		Page		pages[3];
		Page		meta_page;
		AlexMetaPage meta;
		bool		valid = true;

		if (!AlexLocateRoutes(index, info->root, dim, old_leaves, n_old, found,
							  extra, &room, &tail))
			elog(ERROR, "alex index \"%s\" has no routing entry for a live leaf",
				 RelationGetRelationName(index));

		if (extra > 0 && room.blkno == InvalidBlockNumber)
		{
			AlexExtendModelChain(index, tail);
			continue;
		}

		/* the distinct model pages to change, locked in chain order */
		for (int i = 0; i < n_old + (extra > 0 ? 1 : 0); i++)
		{
			RouteLocation loc = i < n_old ? found[i] : room;
			int			j = nblocks;

			for (int k = 0; k < nblocks; k++)
				if (touched[k].blkno == loc.blkno)
					j = -1;
			if (j < 0)
				continue;
			while (j > 0 && touched[j - 1].position > loc.position)
			{
				touched[j] = touched[j - 1];
				j--;
			}
			touched[j] = loc;
			nblocks++;
		}
		for (int i = 0; i < nblocks; i++)
			blocks[i] = touched[i].blkno;

		for (int i = 0; i < nblocks; i++)
		{
			bufs[i] = ReadBuffer(index, blocks[i]);
			LockBuffer(bufs[i], BUFFER_LOCK_EXCLUSIVE);
		}
		meta_buf = ReadBuffer(index, ALEX_METAPAGE_BLKNO);
		LockBuffer(meta_buf, BUFFER_LOCK_EXCLUSIVE);

		/* re-check what we found under share locks */
		for (int i = 0; i < n_old && valid; i++)
		{
			Page		page = BufferGetPage(bufs[0]);

			for (int b = 0; b < nblocks; b++)
				if (blocks[b] == found[i].blkno)
					page = BufferGetPage(bufs[b]);
			valid = found[i].offset <= PageGetMaxOffsetNumber(page) &&
				((AlexRouteEntry) PageGetItem(page, PageGetItemId(page, found[i].offset)))->child == old_leaves[i];
		}
		if (valid && extra > 0)
		{
			for (int b = 0; b < nblocks; b++)
				if (blocks[b] == room.blkno)
					valid = PageGetFreeSpace(BufferGetPage(bufs[b])) >= entry_size + sizeof(ItemIdData);
		}
		if (!valid)
		{
			UnlockReleaseBuffer(meta_buf);
			for (int i = 0; i < nblocks; i++)
				UnlockReleaseBuffer(bufs[i]);
			continue;
		}

		state = GenericXLogStart(index);
		for (int i = 0; i < nblocks; i++)
			pages[i] = GenericXLogRegisterBuffer(state, bufs[i], 0);
		meta_page = GenericXLogRegisterBuffer(state, meta_buf, 0);
		if (n_old > 0)
		{
			Page		head = GenericXLogRegisterBuffer(state, old_head_bufs[0], 0);

			AlexPageGetOpaque(head)->flags |= ALEX_PAGE_DELETED;
			AlexPageGetOpaque(head)->delete_xid = delete_xid;
		}

		/* replace in place, then remove surplus old entries, then add */
		for (int i = 0; i < n_old; i++)
		{
			Page		page = NULL;

			for (int b = 0; b < nblocks; b++)
				if (blocks[b] == found[i].blkno)
					page = pages[b];
			if (i < n_new)
			{
				AlexRouteEntry old = (AlexRouteEntry) PageGetItem(page, PageGetItemId(page, found[i].offset));

				AlexFormRoute(old, new_leaves[i], new_centroids + (Size) i * dim, dim);
			}
		}
		/* delete from the highest offset down so offsets stay valid */
		for (int i = n_old - 1; i >= n_new; i--)
		{
			Page		page = NULL;

			for (int b = 0; b < nblocks; b++)
				if (blocks[b] == found[i].blkno)
					page = pages[b];
			PageIndexTupleDelete(page, found[i].offset);
			/* a second delete on the same page after a lower offset */
			for (int j = 0; j < i; j++)
				if (found[j].blkno == found[i].blkno && found[j].offset > found[i].offset)
					found[j].offset--;
		}
		for (int i = n_old; i < n_new; i++)
		{
			Page		page = NULL;

			for (int b = 0; b < nblocks; b++)
				if (blocks[b] == room.blkno)
					page = pages[b];
			AlexFormRoute(entry, new_leaves[i], new_centroids + (Size) i * dim, dim);
			if (PageAddItem(page, (Item) entry, entry_size, InvalidOffsetNumber,
							false, false) == InvalidOffsetNumber)
				elog(ERROR, "failed to add routing entry to index \"%s\"",
					 RelationGetRelationName(index));
		}

		meta = AlexPageGetMeta(meta_page);
		meta->routing_version++;
		meta->leaves += n_new - n_old;
		meta->tuples = (uint64) Max((int64) meta->tuples + tuples_delta, 0);
		if (change == ALEX_CHANGE_SPLIT)
			meta->splits++;
		else if (change == ALEX_CHANGE_MERGE)
			meta->merges++;
		GenericXLogFinish(state);

		UnlockReleaseBuffer(meta_buf);
		for (int i = 0; i < nblocks; i++)
			UnlockReleaseBuffer(bufs[i]);
		break;
	}

	/* the other replaced leaves are unreachable now; mark them for reuse */
	for (int i = 1; i < n_old; i++)
	{
		GenericXLogState *state = GenericXLogStart(index);
		Page		head = GenericXLogRegisterBuffer(state, old_head_bufs[i], 0);

		AlexPageGetOpaque(head)->flags |= ALEX_PAGE_DELETED;
		AlexPageGetOpaque(head)->delete_xid = delete_xid;
		GenericXLogFinish(state);
	}
	pfree(entry);
}

/*
 * Fill the empty root chain of a new index with n routing entries (build
 * only: nothing reads the index yet), then publish them in the metapage.
 */
void
AlexBuildRoutes(Relation index, const BlockNumber *leaves, const float *centroids,
				int n, int dimensions)
{
	Size		entry_size = ALEX_ROUTE_ENTRY_SIZE(dimensions);
	AlexRouteEntry entry = palloc0(entry_size);
	AlexIndexInfo info;
	Buffer		buf;
	int			i = 0;

	AlexReadIndexInfo(index, &info);
	buf = ReadBuffer(index, info.root);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);

	while (i < n)
	{
		GenericXLogState *state = GenericXLogStart(index);
		Page		page = GenericXLogRegisterBuffer(state, buf, 0);
		Buffer		next_buf = InvalidBuffer;

		while (i < n)
		{
			AlexFormRoute(entry, leaves[i], centroids + (Size) i * dimensions, dimensions);
			if (PageAddItem(page, (Item) entry, entry_size, InvalidOffsetNumber,
							false, false) == InvalidOffsetNumber)
				break;
			i++;
		}
		if (i < n)
		{
			Page		next_page;

			next_buf = AlexNewBuffer(index);
			next_page = GenericXLogRegisterBuffer(state, next_buf, GENERIC_XLOG_FULL_IMAGE);
			AlexInitPage(next_page, ALEX_PAGE_MODEL);
			AlexPageGetOpaque(page)->next = BufferGetBlockNumber(next_buf);
		}
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
		buf = next_buf;
	}
	if (BufferIsValid(buf))
		UnlockReleaseBuffer(buf);

	/* publish */
	buf = ReadBuffer(index, ALEX_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	{
		GenericXLogState *state = GenericXLogStart(index);
		AlexMetaPage meta = AlexPageGetMeta(GenericXLogRegisterBuffer(state, buf, 0));

		meta->leaves += n;
		meta->routing_version++;
		GenericXLogFinish(state);
	}
	UnlockReleaseBuffer(buf);
	pfree(entry);
}
