/*-------------------------------------------------------------------------
 *
 * alexsplit.c
 *	  Replacing leaves: the split of a full leaf (from inserts), and the
 *	  merge and contraction of underfull leaves (from vacuum).
 *
 * Every replacement follows the same crash-safe steps: write the new
 * leaves (unreachable, so a crash only leaks pages), then switch the
 * routing in one WAL record that also marks the old leaf deleted.  Old
 * pages are reused only once no snapshot that could have read the old
 * routing is left (alexvacuum.c).
 *
 * A split (all crash-safe steps, see docs/architecture.md):
 *	1. with the leaf's head locked, read its entries, add the new one;
 *	2. 2-means in routing space, seeded by cutting at the median of the
 *	   leaf's 1-D key;
 *	3. LIRE: entries of the nearest neighbour leaves that are now closer
 *	   to one of the two new centroids than to their own move along;
 *	4. write the two new leaves (unreachable, so a crash only leaks pages);
 *	5. one WAL record replaces the routing entry by two, bumps the routing
 *	   version and marks the old leaf deleted;
 *	6. the moved entries are cleared from the neighbours.  Until then a scan
 *	   may meet them twice and drops the second copy.
 *
 * IDENTIFICATION
 *	  src/alexsplit.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/generic_xlog.h"
#include "alex.h"
#include "distance.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/* Neighbour leaves a split re-checks (LIRE) */
#define ALEX_LIRE_NEIGHBOURS	4
#define ALEX_SPLIT_ITERATIONS	6

/* Entries gathered for a split */
typedef struct SplitEntry
{
	ItemPointerData tid;
	int			source;			/* -1: the split leaf or the new row; else neighbour */
	int			side;			/* 0 or 1: which new leaf */
} SplitEntry;

typedef struct SplitSet
{
	int			dim;			/* of the stored vectors */
	int			rdim;			/* of the routing space */
	int			n;
	int			capacity;
	SplitEntry *entries;
	float	   *vectors;		/* as stored */
	float	   *routed;			/* in routing space */
	AlexMetricKind metric;
	const AlexIndexInfo *info;
} SplitSet;

static void
SplitSetAdd(SplitSet *set, ItemPointer tid, const float *vector, int source)
{
	if (set->n == set->capacity)
	{
		set->capacity *= 2;
		set->entries = repalloc(set->entries, sizeof(SplitEntry) * set->capacity);
		set->vectors = repalloc(set->vectors, sizeof(float) * set->dim * set->capacity);
		set->routed = repalloc(set->routed, sizeof(float) * set->rdim * set->capacity);
	}
	set->entries[set->n].tid = *tid;
	set->entries[set->n].source = source;
	set->entries[set->n].side = 0;
	memcpy(set->vectors + (Size) set->n * set->dim, vector, sizeof(float) * set->dim);
	AlexPrepareVector(set->info, vector, set->routed + (Size) set->n * set->rdim);
	set->n++;
}

static bool
CollectLane(ItemPointer tid, const char *payload, const float *vector,
			int dimensions, void *arg)
{
	SplitSet   *set = (SplitSet *) arg;

	/* a row gone from the table (rerank = table) leaves with its leaf */
	if (vector != NULL)
		SplitSetAdd(set, tid, vector, -1);
	return false;
}

/*
 * Read every entry of a leaf whose head the caller holds.
 */
static void
CollectLeaf(Relation index, Buffer head_buf, const AlexIndexInfo *info, AlexLaneVisitor visitor,
			void *arg)
{
	AlexLeafHead head = AlexPageGetLeafHead(BufferGetPage(head_buf));

	for (int i = 0; i < head->npages; i++)
		AlexVisitDataPage(index, head_buf, i, head->pages[i], info,
						  ALEX_VISIT_READ_OWNED, visitor, arg);
}

/* LIRE: a neighbour's entries that the new centroids now attract */
typedef struct NeighbourScan
{
	SplitSet   *set;
	int			source;
	const float *own_centroid;
	const float *centroids;		/* the two new ones */
} NeighbourScan;

static bool
CollectMovers(ItemPointer tid, const char *payload, const float *vector,
			  int dimensions, void *arg)
{
	NeighbourScan *ns = (NeighbourScan *) arg;
	const float *x = vector;
	int			rdim = ns->set->rdim;
	float	   *routed;
	float		own;

	if (x == NULL)
		return false;			/* its row is gone: vacuum's business */
	routed = palloc(sizeof(float) * rdim);

	AlexPrepareVector(ns->set->info, x, routed);
	own = AlexRouteDistance(ns->set->metric, routed, ns->own_centroid, rdim);
	if (AlexRouteDistance(ns->set->metric, routed, ns->centroids, rdim) < own ||
		AlexRouteDistance(ns->set->metric, routed, ns->centroids + rdim, rdim) < own)
		SplitSetAdd(ns->set, tid, x, ns->source);
	pfree(routed);
	return false;
}

/* The TIDs a split moved out of a neighbour */
typedef struct MovedTids
{
	ItemPointerData *tids;
	int			n;
} MovedTids;

static bool
IsMoved(ItemPointer tid, const char *payload, const float *vector,
		int dimensions, void *arg)
{
	MovedTids  *moved = (MovedTids *) arg;

	for (int i = 0; i < moved->n; i++)
		if (ItemPointerEquals(tid, &moved->tids[i]))
			return true;
	return false;
}

/*
 * Two centroids for the set: seeds from cutting at the median of the key,
 * then a few 2-means iterations.  Fills entries[].side and centroids.
 */
static void
TwoMeans(SplitSet *set, const float *direction, float *centroids)
{
	int			dim = set->dim;
	int			rdim = set->rdim;
	float	   *keys = palloc(sizeof(float) * set->n);
	float	   *sorted = palloc(sizeof(float) * set->n);
	double	   *sums = palloc(sizeof(double) * 2 * rdim);
	float		median;
	bool		spherical = AlexSphericalCentroids(set->metric);

	for (int i = 0; i < set->n; i++)
		keys[i] = sorted[i] = VectorInnerProduct(direction, set->vectors + (Size) i * dim, dim);
	qsort(sorted, set->n, sizeof(float), AlexFloatCompare);
	median = sorted[set->n / 2];
	for (int i = 0; i < set->n; i++)
		set->entries[i].side = keys[i] >= median ? 1 : 0;

	for (int iter = 0; iter <= ALEX_SPLIT_ITERATIONS; iter++)
	{
		int			counts[2] = {0, 0};

		memset(sums, 0, sizeof(double) * 2 * rdim);
		for (int i = 0; i < set->n; i++)
		{
			const float *x = set->routed + (Size) i * rdim;
			double	   *sum = sums + (Size) set->entries[i].side * rdim;

			counts[set->entries[i].side]++;
			for (int d = 0; d < rdim; d++)
				sum[d] += x[d];
		}
		if (counts[0] == 0 || counts[1] == 0)
		{
			/* degenerate (e.g. all keys equal): split by position */
			for (int i = 0; i < set->n; i++)
				set->entries[i].side = i % 2;
			continue;
		}
		for (int s = 0; s < 2; s++)
		{
			double		norm = 0;

			for (int d = 0; d < rdim; d++)
			{
				centroids[s * rdim + d] = (float) (sums[s * rdim + d] / counts[s]);
				norm += (double) centroids[s * rdim + d] * centroids[s * rdim + d];
			}
			if (spherical && norm > 0)
				for (int d = 0; d < rdim; d++)
					centroids[s * rdim + d] = (float) (centroids[s * rdim + d] / sqrt(norm));
		}
		if (iter == ALEX_SPLIT_ITERATIONS)
			break;

		for (int i = 0; i < set->n; i++)
		{
			const float *x = set->routed + (Size) i * rdim;

			set->entries[i].side =
				AlexRouteDistance(set->metric, x, centroids + rdim, rdim) <
				AlexRouteDistance(set->metric, x, centroids, rdim) ? 1 : 0;
		}
	}
	pfree(keys);
	pfree(sorted);
	pfree(sums);
}

/*
 * Write one side of a split into a new, still unreachable leaf.
 */
static BlockNumber
BuildSplitLeaf(Relation index, SplitSet *set, int side, const float *centroid)
{
	int			dim = set->dim;
	int			n = 0;
	float	   *members = palloc(sizeof(float) * dim * Max(set->n, 1));
	ItemPointerData *tids = palloc(sizeof(ItemPointerData) * Max(set->n, 1));
	BlockNumber leaf;

	for (int i = 0; i < set->n; i++)
		if (set->entries[i].side == side)
		{
			memcpy(members + (Size) n * dim, set->vectors + (Size) i * dim,
				   sizeof(float) * dim);
			tids[n++] = set->entries[i].tid;
		}
	leaf = AlexBuildLeaf(index, set->info, ALEX_GROWTH_DENSITY,
						 AlexCodeReference(set->info, centroid), tids, members, n, NULL);
	pfree(members);
	pfree(tids);
	return leaf;
}

/*
 * Split the full leaf (head_buf, locked exclusively by the caller, released
 * here) and place (vector, tid) in the result.
 */
void
AlexSplitLeaf(Relation index, AlexIndexInfo *info, AlexRouting *routing,
			  Buffer head_buf, const float *centroid,
			  const float *vector, ItemPointer tid)
{
	int			dim = info->dimensions;
	int			rdim = info->route_dimensions;
	BlockNumber leaf = BufferGetBlockNumber(head_buf);
	AlexLeafHead head = AlexPageGetLeafHead(BufferGetPage(head_buf));
	MemoryContext context = AllocSetContextCreate(CurrentMemoryContext,
												  "alex split", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(context);
	SplitSet	set;
	float	   *direction = palloc(sizeof(float) * dim);
	float	   *centroids = palloc(sizeof(float) * 2 * rdim);
	Buffer		neighbour_bufs[ALEX_LIRE_NEIGHBOURS];
	int			nneighbours = 0;
	BlockNumber new_leaves[2];
	int64		old_counted = head->counted;
	int			neighbour_moved = 0;

	set.dim = dim;
	set.rdim = rdim;
	set.n = 0;
	set.capacity = Max(64, head->entries + 1);
	set.metric = info->metric;
	set.info = info;
	set.entries = palloc(sizeof(SplitEntry) * set.capacity);
	set.vectors = palloc(sizeof(float) * dim * set.capacity);
	set.routed = palloc(sizeof(float) * rdim * set.capacity);

	/* 1. the leaf's entries and the new one */
	CollectLeaf(index, head_buf, info, CollectLane, &set);
	SplitSetAdd(&set, tid, vector, -1);

	/* 2. 2-means seeded by the median of the 1-D key */
	if (!AlexLeafGetDirection(head, dim, direction))
	{
		float		slope;
		float		intercept;

		AlexFitDirection(set.vectors, set.n, dim, direction, &slope, &intercept, 1);
	}
	TwoMeans(&set, direction, centroids);

	/*
	 * 3. LIRE: look at the nearest other leaves.  Only a conditional lock:
	 * we hold our own head, and waiting here could deadlock.
	 */
	{
		AlexProbe  *order = palloc(sizeof(AlexProbe) * Max(routing->nroutes, 1));
		int			n = AlexOrderRoutes(routing, info->metric, centroid,
										2 * ALEX_LIRE_NEIGHBOURS + 1,
										2 * ALEX_LIRE_NEIGHBOURS + 1, order);

		for (int i = 0; i < n && nneighbours < ALEX_LIRE_NEIGHBOURS; i++)
		{
			Buffer		buf;
			NeighbourScan ns;
			int			before = set.n;

			if (order[i].leaf == leaf)
				continue;
			buf = ReadBuffer(index, order[i].leaf);
			if (!ConditionalLockBuffer(buf))
			{
				ReleaseBuffer(buf);
				continue;
			}
			if (AlexPageGetOpaque(BufferGetPage(buf))->kind != ALEX_PAGE_LEAF_HEAD ||
				(AlexPageGetOpaque(BufferGetPage(buf))->flags & ALEX_PAGE_DELETED))
			{
				UnlockReleaseBuffer(buf);
				continue;
			}
			ns.set = &set;
			ns.source = nneighbours;
			ns.centroids = centroids;
			ns.own_centroid = NULL;
			{
				int			r = AlexFindRoute(routing, order[i].leaf);

				if (r >= 0)
					ns.own_centroid = routing->routes[r].centroid;
			}
			if (ns.own_centroid == NULL)
			{
				UnlockReleaseBuffer(buf);
				continue;
			}
			neighbour_bufs[nneighbours++] = buf;
			CollectLeaf(index, buf, info, CollectMovers, &ns);
			neighbour_moved += set.n - before;
		}
		pfree(order);

		/* place the movers on their side */
		for (int i = 0; i < set.n; i++)
			if (set.entries[i].source >= 0)
				set.entries[i].side =
					AlexRouteDistance(info->metric, set.routed + (Size) i * rdim, centroids + rdim, rdim) <
					AlexRouteDistance(info->metric, set.routed + (Size) i * rdim, centroids, rdim) ? 1 : 0;
	}

	/* 4. the two new leaves */
	new_leaves[0] = BuildSplitLeaf(index, &set, 0, centroids);
	new_leaves[1] = BuildSplitLeaf(index, &set, 1, centroids + rdim);
	if (alex_debug_abort_splits)
		ereport(ERROR,
				(errcode(ERRCODE_OPERATOR_INTERVENTION),
				 errmsg("alex split of index \"%s\" interrupted after writing its new leaves",
						RelationGetRelationName(index)),
				 errdetail("alex.debug_abort_splits is on.")));

	/* 5. switch the routing */
	AlexSwitchRoutes(index, info, -1, &leaf, &head_buf, 1, new_leaves, centroids, 2,
					 (int64) set.n - neighbour_moved - old_counted, ALEX_CHANGE_SPLIT);
	UnlockReleaseBuffer(head_buf);

	/*
	 * 6. mark the moved entries in the neighbours, then let them go.  They
	 * stay readable: a scan that read the routing before step 5 knows
	 * neither new leaf and finds them only here.  Vacuum clears them once
	 * no such scan can be left.
	 */
	for (int nb = 0; nb < nneighbours; nb++)
	{
		MovedTids	moved;
		AlexLeafHead nhead = AlexPageGetLeafHead(BufferGetPage(neighbour_bufs[nb]));

		moved.tids = palloc(sizeof(ItemPointerData) * Max(set.n, 1));
		moved.n = 0;
		for (int i = 0; i < set.n; i++)
			if (set.entries[i].source == nb)
				moved.tids[moved.n++] = set.entries[i].tid;
		if (moved.n > 0)
			for (int p = 0; p < nhead->npages; p++)
				AlexVisitDataPage(index, neighbour_bufs[nb], p, nhead->pages[p], info,
								  ALEX_VISIT_MARK_MOVED, IsMoved, &moved);
		UnlockReleaseBuffer(neighbour_bufs[nb]);
	}

	MemoryContextSwitchTo(old);
	MemoryContextDelete(context);
}


/*
 * Replace n_old leaves (1: contract, 2: merge), whose heads the caller holds
 * exclusively in block order, by one new leaf holding all their entries at
 * density 0.6, or by none when they are empty.  The caller keeps the locks
 * and releases them after.
 */
void
AlexMergeLeaves(Relation index, AlexIndexInfo *info, Buffer *head_bufs, int n_old)
{
	int			dim = info->dimensions;
	int			rdim = info->route_dimensions;
	MemoryContext context = AllocSetContextCreate(CurrentMemoryContext,
												  "alex merge", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(context);
	SplitSet	set;
	BlockNumber old_leaves[2];
	BlockNumber new_leaf;
	float	   *centroid = palloc0(sizeof(float) * rdim);
	int64		old_counted = 0;

	Assert(n_old >= 1 && n_old <= 2);
	set.dim = dim;
	set.rdim = rdim;
	set.n = 0;
	set.capacity = 64;
	set.metric = info->metric;
	set.info = info;
	set.entries = palloc(sizeof(SplitEntry) * set.capacity);
	set.vectors = palloc(sizeof(float) * dim * set.capacity);
	set.routed = palloc(sizeof(float) * rdim * set.capacity);

	for (int i = 0; i < n_old; i++)
	{
		old_leaves[i] = BufferGetBlockNumber(head_bufs[i]);
		old_counted += AlexPageGetLeafHead(BufferGetPage(head_bufs[i]))->counted;
		CollectLeaf(index, head_bufs[i], info, CollectLane, &set);
	}

	if (set.n == 0)
	{
		AlexSwitchRoutes(index, info, -1, old_leaves, head_bufs, n_old, NULL, NULL, 0,
						 -old_counted, ALEX_CHANGE_MERGE);
	}
	else
	{
		double		norm = 0;

		/* the new centroid: mean in routing space */
		for (int i = 0; i < set.n; i++)
			for (int d = 0; d < rdim; d++)
				centroid[d] += set.routed[(Size) i * rdim + d] / set.n;
		if (AlexSphericalCentroids(info->metric))
		{
			for (int d = 0; d < rdim; d++)
				norm += (double) centroid[d] * centroid[d];
			if (norm > 0)
				for (int d = 0; d < rdim; d++)
					centroid[d] = (float) (centroid[d] / sqrt(norm));
		}
		for (int i = 0; i < set.n; i++)
			set.entries[i].side = 0;

		new_leaf = BuildSplitLeaf(index, &set, 0, centroid);
		AlexSwitchRoutes(index, info, -1, old_leaves, head_bufs, n_old, &new_leaf, centroid, 1,
						 (int64) set.n - old_counted,
						 n_old > 1 ? ALEX_CHANGE_MERGE : ALEX_CHANGE_NEW_LEAF);
	}

	MemoryContextSwitchTo(old);
	MemoryContextDelete(context);
}
