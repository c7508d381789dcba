/*-------------------------------------------------------------------------
 *
 * alexbuild.c
 *	  Building an alex index: ALEX's bulk load for vectors.
 *
 * 1. One pass over the table draws a uniform (reservoir) sample of TOAST
 *	  pointers and counts the rows; only the final sample is read.  The
 *	  sample is bounded by maintenance_work_mem: a smaller budget means a
 *	  smaller sample, never a failure.
 * 2. k-means on the sample gives the leaf centroids.  The leaf count follows
 *	  the cost model of alexinsert.c (0.5 sqrt(rows) rows a leaf) unless the
 *	  "leaves" option sets it; a cluster the sample shows too large is cut.
 * 3. Serial: a second pass routes every row to its nearest centroid into a
 *	  tuplesort by leaf; each run (cut again by k-means when it came out
 *	  larger than the leaf size) becomes whole leaves, written straight to
 *	  the file (alexbulk.c) at ALEX's bulk-load density 0.7.
 *	  Parallel: the leaves are created empty and every participant inserts
 *	  its share of the rows through the ordinary insert path.
 * 4. The model nodes are built over the leaves and the metapage published.
 *
 * IDENTIFICATION
 *	  src/alexbuild.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#ifndef WIN32
#include <sys/mman.h>
#endif

#include "access/parallel.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/htup_details.h"
#include "access/xloginsert.h"
#include "alex.h"
#include "catalog/index.h"
#include "catalog/pg_operator_d.h"
#include "catalog/pg_type_d.h"
#include "executor/tuptable.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/tuplesort.h"
#include "vector.h"

#define ALEX_SAMPLE_SEED		0x5a3b1e
#define ALEX_MIN_SAMPLES		10000
#define ALEX_SAMPLES_PER_LEAF	32

/*
 * Shared state of a parallel load: every participant (the leader too) reads
 * blocks of one parallel heap scan and inserts its rows through the insert
 * path, which is safe for concurrent inserters.  Nothing else is shared, so
 * the DSM segment is a few hundred bytes.
 */
#define PARALLEL_KEY_ALEX_SHARED	UINT64CONST(0xA1E7B01D00000001)

typedef struct AlexParallelShared
{
	Oid			heaprelid;
	Oid			indexrelid;
	bool		isconcurrent;
	pg_atomic_uint64 tuples_done;
	/* a ParallelTableScanDescData follows, BUFFERALIGNed */
} AlexParallelShared;

#define ParallelScanFromShared(shared) \
	((ParallelTableScanDesc) ((char *) (shared) + BUFFERALIGN(sizeof(AlexParallelShared))))

PGDLLEXPORT void AlexParallelBuildMain(dsm_segment *seg, shm_toc *toc);

/*
 * Write the metapage and the empty root model page into a fork through
 * shared buffers, then WAL-log them as whole pages.
 */
static void
AlexWriteInitialPages(Relation index, ForkNumber fork, int dimensions,
					  AlexMetricKind metric, int fanout)
{
	Buffer		meta_buf = AlexExtendFork(index, fork);
	Buffer		root_buf = AlexExtendFork(index, fork);
	Page		page;
	AlexMetaPage meta;

	Assert(BufferGetBlockNumber(meta_buf) == ALEX_METAPAGE_BLKNO);

	START_CRIT_SECTION();
	page = BufferGetPage(meta_buf);
	AlexInitPage(page, ALEX_PAGE_META);
	meta = AlexPageGetMeta(page);
	memset(meta, 0, sizeof(AlexMetaPageData));
	meta->magic = ALEX_MAGIC_NUMBER;
	meta->version = ALEX_FORMAT_VERSION;
	meta->dimensions = dimensions;
	meta->metric = metric;
	meta->root = BufferGetBlockNumber(root_buf);
	meta->levels = 1;
	meta->fanout = fanout;
	meta->rotation_seed = ALEX_ROTATION_SEED;
	if (AlexRerankOption(index) == ALEX_RERANK_TABLE)
		meta->flags |= ALEX_META_VECTORS_IN_TABLE;
	((PageHeader) page)->pd_lower = (char *) meta + sizeof(AlexMetaPageData) - (char *) page;
	MarkBufferDirty(meta_buf);

	AlexInitPage(BufferGetPage(root_buf), ALEX_PAGE_MODEL);
	AlexPageGetOpaque(BufferGetPage(root_buf))->owner = BufferGetBlockNumber(root_buf);
	MarkBufferDirty(root_buf);
	END_CRIT_SECTION();

	UnlockReleaseBuffer(root_buf);
	UnlockReleaseBuffer(meta_buf);

	if (fork == INIT_FORKNUM || RelationNeedsWAL(index))
		log_newpage_range(index, fork, 0, 2, true);
}

/*
 * Dimensions of the indexed column, from its type modifier.
 */
static int
AlexIndexDimensions(Relation index)
{
	int			dimensions = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;

	if (dimensions < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column does not have dimensions"),
				 errhint("Declare the column as vector(n), for example vector(768).")));
	if (dimensions > AlexMaxDimensions())
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("column cannot have more than %d dimensions for alex index",
						AlexMaxDimensions())));
	return dimensions;
}

/*
 * Is this value indexable?  NULLs never are; zero vectors are not under
 * cosine, where they have no direction.  A wrong dimension is an error.
 */
bool
AlexIndexableValue(Relation index, const AlexIndexInfo *info, Datum value,
				   bool isnull, const float **vector)
{
	int			dim;

	if (isnull)
		return false;
	*vector = AlexDatumVector(index, value, &dim);
	if (dim != info->dimensions)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", info->dimensions, dim)));
	if (info->metric == ALEX_METRIC_COSINE)
	{
		for (int i = 0; i < dim; i++)
			if ((*vector)[i] != 0)
				return true;
		return false;
	}
	return true;
}

/*
 * Copy the vector of a non-null value into dest; false, copying nothing,
 * if it is not indexable.  A detoasted copy lives only in tmp_context.
 */
static bool
CopyIndexableVector(AlexBuildState *bs, Datum value, float *dest)
{
	const float *vector;
	MemoryContext old = MemoryContextSwitchTo(bs->tmp_context);
	bool		indexable = AlexIndexableValue(bs->index, &bs->info, value, false, &vector);

	if (indexable)
		memcpy(dest, vector, sizeof(float) * bs->info.dimensions);
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmp_context);
	return indexable;
}

/* Copy the vector of value into sample slot, or mark the slot empty */
static void
SampleVector(AlexBuildState *bs, int slot, Datum value)
{
	bs->sample_empty[slot] =
		!CopyIndexableVector(bs, value, bs->samples + (Size) slot * bs->info.dimensions);
}

/*
 * Room for n rows prepared for routing, or NULL when the routing takes the
 * vectors as they are (AlexPrepareVector would only copy them).
 */
static float *
PreparedRowsBuffer(AlexBuildState *bs, int n)
{
	if (AlexRoutesVectorsAsGiven(&bs->info))
		return NULL;
	return palloc_extended(sizeof(float) * bs->info.route_dimensions * (Size) Max(n, 1),
						   MCXT_ALLOC_HUGE);
}

/*
 * n vectors as the routing takes them: the vectors themselves, or their
 * prepared copies in prepared (from PreparedRowsBuffer).
 */
static const float *
RoutingRows(AlexBuildState *bs, const float *vectors, int n, float *prepared)
{
	if (prepared == NULL)
		return vectors;
	for (int i = 0; i < n; i++)
		AlexPrepareVector(&bs->info, vectors + (Size) i * bs->info.dimensions,
						  prepared + (Size) i * bs->info.route_dimensions);
	return prepared;
}

/*
 * Reservoir sampling of the non-null rows: row i replaces a random slot
 * with chance k/i.  Most rows are never kept, and a vector stored out of
 * line costs a TOAST index lookup to read, so a kept row's TOAST pointer
 * is copied and its vector fetched only once the sample is final
 * (FetchSampleVectors); the table is locked against VACUUM meanwhile.
 */
static void
SampleCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			   bool tupleIsAlive, void *state)
{
	AlexBuildState *bs = (AlexBuildState *) state;
	int			slot;

	if (isnull[0])
		return;
	bs->rows_seen++;
	if (bs->sample_count < bs->sample_target)
		slot = bs->sample_count++;
	else
	{
		uint64		pick = AlexRandomBelow(&bs->prng, (uint64) bs->rows_seen);

		if (pick >= (uint64) bs->sample_target)
			return;
		slot = (int) pick;
	}
	if (bs->sample_toasted[slot] != (Datum) 0)
		pfree(DatumGetPointer(bs->sample_toasted[slot]));
	bs->sample_toasted[slot] = (Datum) 0;
	bs->sample_empty[slot] = false;

	if (VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(values[0])))
	{
		Size		size = VARSIZE_EXTERNAL(DatumGetPointer(values[0]));
		void	   *copy = MemoryContextAlloc(bs->sample_context, size);

		memcpy(copy, DatumGetPointer(values[0]), size);
		bs->sample_toasted[slot] = PointerGetDatum(copy);
	}
	else
		SampleVector(bs, slot, values[0]);
}

/*
 * Fetch the vectors of the sampled rows still in TOAST, and drop the slots
 * of unindexable rows (zero vectors for cosine).
 */
static void
FetchSampleVectors(AlexBuildState *bs)
{
	int			kept = 0;

	for (int slot = 0; slot < bs->sample_count; slot++)
	{
		CHECK_FOR_INTERRUPTS();
		if (bs->sample_toasted[slot] != (Datum) 0)
			SampleVector(bs, slot, bs->sample_toasted[slot]);
		if (bs->sample_empty[slot])
			continue;
		if (kept != slot)
			memcpy(bs->samples + (Size) kept * bs->info.dimensions,
				   bs->samples + (Size) slot * bs->info.dimensions,
				   sizeof(float) * bs->info.dimensions);
		kept++;
	}
	bs->sample_count = kept;
	MemoryContextReset(bs->sample_context);
}

static void
LoadCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			 bool tupleIsAlive, void *state)
{
	AlexBuildState *bs = (AlexBuildState *) state;
	const float *vector;
	MemoryContext old = MemoryContextSwitchTo(bs->tmp_context);

	uint64		done;

	if (AlexIndexableValue(index, &bs->info, values[0], isnull[0], &vector))
	{
		AlexInsertVector(index, &bs->info, vector, tid, true);
		bs->index_tuples++;
		if (bs->shared)
			pg_atomic_fetch_add_u64(&bs->shared->tuples_done, 1);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmp_context);

	done = bs->shared ? pg_atomic_read_u64(&bs->shared->tuples_done) : (uint64) bs->index_tuples;
	if (bs->report_progress)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) done);
}

/*
 * How many samples to draw: enough for k-means on the cost model's leaves,
 * bounded by maintenance_work_mem.
 */
static int
AlexSampleTarget(Relation heap, const AlexIndexInfo *info, int leaves_option)
{
	double		estimate = heap->rd_rel->reltuples;
	double		leaves;
	double		target;
	double		budget = (double) maintenance_work_mem * 1024.0 / 2;

	if (estimate < 0)
		estimate = (double) RelationGetNumberOfBlocks(heap) * 64;
	leaves = leaves_option > 0 ? leaves_option :
		estimate / AlexTargetLeafSize(info, estimate);
	target = Max(ALEX_MIN_SAMPLES, ALEX_SAMPLES_PER_LEAF * leaves);
	target = Min(target, budget / (sizeof(float) * info->dimensions));
	return (int) Max(1, Min(target, (double) (MaxAllocSize / (sizeof(float) * info->dimensions))));
}

/*
 * Build the model nodes over n children (leaves, or the nodes of the level
 * below): while more than a node may hold, group them with k-means and go
 * up a level; the last level goes into the root page.  Then publish.
 */
static void
AlexBuildTree(AlexBuildState *bs, BlockNumber *children, float *centroids, int n,
			  int nleaves)
{
	Relation	index = bs->index;
	int			dim = bs->info.route_dimensions;
	int			fanout = bs->info.fanout;
	int			level = 0;
	Buffer		buf;
	GenericXLogState *state;
	AlexMetaPage meta;

	while (n > fanout)
	{
		int			groups = (int) Max(ceil(sqrt((double) n)),
									   ceil(n / (ALEX_BUILD_DENSITY * fanout)));
		float	   *group_centroids = palloc(sizeof(float) * dim * groups);
		int		   *assignment = palloc(sizeof(int) * n);
		BlockNumber *nodes = palloc(sizeof(BlockNumber) * groups);
		float	   *node_centroids = palloc(sizeof(float) * dim * groups);
		BlockNumber *members = palloc(sizeof(BlockNumber) * n);
		float	   *member_centroids = palloc(sizeof(float) * dim * n);
		int			nnodes = 0;

		groups = Min(groups, n);
		AlexKmeans(centroids, n, dim, bs->info.metric, groups, group_centroids);
		AlexNearestCentroids(bs->info.metric, centroids, n, group_centroids, groups, dim,
							 assignment);
		for (int g = 0; g < groups; g++)
		{
			int			m = 0;

			CHECK_FOR_INTERRUPTS();
			for (int i = 0; i < n; i++)
				if (assignment[i] == g)
				{
					members[m] = children[i];
					memcpy(member_centroids + (Size) m * dim, centroids + (Size) i * dim,
						   sizeof(float) * dim);
					m++;
				}
			if (m == 0)
				continue;		/* an empty cluster makes no node */
			nodes[nnodes] = AlexWriteNode(index, InvalidBuffer, level, members,
										  member_centroids, m, dim);
			memcpy(node_centroids + (Size) nnodes * dim, group_centroids + (Size) g * dim,
				   sizeof(float) * dim);
			nnodes++;
		}
		memcpy(children, nodes, sizeof(BlockNumber) * nnodes);
		memcpy(centroids, node_centroids, sizeof(float) * dim * nnodes);
		n = nnodes;
		level++;
		pfree(group_centroids);
		pfree(assignment);
		pfree(nodes);
		pfree(node_centroids);
		pfree(members);
		pfree(member_centroids);
	}

	/* the top level goes into the root page the index was created with */
	AlexReadIndexInfo(index, &bs->info);
	buf = ReadBuffer(index, bs->info.root);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	AlexWriteNode(index, buf, level, children, centroids, n, dim);

	buf = ReadBuffer(index, ALEX_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	meta = AlexPageGetMeta(GenericXLogRegisterBuffer(state, buf, 0));
	meta->leaves = nleaves;
	meta->levels = level + 1;
	meta->routing_version++;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/*
 * k-means clusters differ in size; a leaf built past the size the insert
 * path splits at would split on its first insert, rewriting hundreds of
 * entries (fashion-mnist: 42 of 245 leaves, and inserts into the fresh
 * index ran at a quarter of their steady rate).  So a cluster expected to
 * hold more than the cost model's leaf size is cut by k-means on its own
 * sample members into as many parts as that takes.  Returns the new
 * centroid array (k updated).
 */
static float *
AlexSplitLargeClusters(AlexBuildState *bs, const float *routed, float *centroids, int *k)
{
	int			rdim = bs->info.route_dimensions;
	int			n = bs->sample_count;
	double		target = AlexTargetLeafSize(&bs->info, bs->rows_seen);
	double		per_sample = bs->rows_seen / Max(n, 1);
	int		   *assignment = palloc(sizeof(int) * Max(n, 1));
	int		   *counts = palloc0(sizeof(int) * *k);
	float	   *members = palloc(sizeof(float) * rdim * Max(n, 1));
	int			out_k = 0;
	int			max_k = *k;
	float	   *out = palloc(sizeof(float) * rdim * max_k);

	AlexNearestCentroids(bs->info.metric, routed, n, centroids, *k, rdim, assignment);
	for (int i = 0; i < n; i++)
		counts[assignment[i]]++;

	for (int c = 0; c < *k; c++)
	{
		int			parts = (int) ceil(counts[c] * per_sample / target);
		int			m = 0;

		CHECK_FOR_INTERRUPTS();
		parts = Max(1, Min(parts, counts[c]));
		if (out_k + parts > max_k)
		{
			max_k = Max(max_k * 2, out_k + parts);
			out = repalloc(out, sizeof(float) * rdim * max_k);
		}
		if (parts == 1)
		{
			memcpy(out + (Size) out_k++ * rdim, centroids + (Size) c * rdim,
				   sizeof(float) * rdim);
			continue;
		}
		for (int i = 0; i < n; i++)
			if (assignment[i] == c)
				memcpy(members + (Size) m++ * rdim, routed + (Size) i * rdim,
					   sizeof(float) * rdim);
		AlexKmeans(members, m, rdim, bs->info.metric, parts, out + (Size) out_k * rdim);
		out_k += parts;
	}

	pfree(assignment);
	pfree(counts);
	pfree(members);
	pfree(centroids);
	*k = out_k;
	return out;
}

/*
 * Create the leaves for the k-means centroids and route to them.
 */
static void
AlexCreateLeaves(AlexBuildState *bs, const float *centroids, int k)
{
	int			dim = bs->info.dimensions;
	int			rdim = bs->info.route_dimensions;
	int		   *counts = palloc0(sizeof(int) * k);
	int		   *assignment = palloc(sizeof(int) * bs->sample_count);
	BlockNumber *leaves = palloc(sizeof(BlockNumber) * k);
	float	   *prepared = PreparedRowsBuffer(bs, bs->sample_count);
	const float *routed = RoutingRows(bs, bs->samples, bs->sample_count, prepared);
	float	   *members = palloc(sizeof(float) * dim * Max(bs->sample_count, 1));
	float	   *direction = palloc(sizeof(float) * dim);
	float	   *tree_centroids = palloc(sizeof(float) * rdim * k);

	AlexNearestCentroids(bs->info.metric, routed, bs->sample_count, centroids, k, rdim,
						 assignment);
	for (int i = 0; i < bs->sample_count; i++)
		counts[assignment[i]]++;

	for (int c = 0; c < k; c++)
	{
		double		expected = counts[c] * bs->rows_seen / Max(bs->sample_count, 1);
		int			capacity = (int) ceil(Max(expected, 1) / ALEX_BUILD_DENSITY);
		int			pages = AlexLeafPagesFor(&bs->info, capacity);
		int			n = 0;
		float		slope;
		float		intercept;

		CHECK_FOR_INTERRUPTS();
		for (int i = 0; i < bs->sample_count; i++)
			if (assignment[i] == c)
				memcpy(members + (Size) n++ * dim, bs->samples + (Size) i * dim,
					   sizeof(float) * dim);
		AlexFitDirection(members, n, dim, direction, &slope, &intercept, pages);
		leaves[c] = AlexCreateLeaf(bs->index, &bs->info, capacity, direction, slope, intercept,
								   AlexCodeReference(&bs->info, centroids + (Size) c * rdim));
	}

	memcpy(tree_centroids, centroids, sizeof(float) * rdim * k);
	AlexBuildTree(bs, leaves, tree_centroids, k, k);

	pfree(counts);
	pfree(assignment);
	pfree(leaves);
	if (prepared)
		pfree(prepared);
	pfree(members);
	pfree(direction);
	pfree(tree_centroids);
}

/* Rows routed to their leaves together (AlexFindNearestCentroids) */
#define BULK_LOAD_BLOCK 64

/*
 * A k-means part of a large run is cut again when it is over this many
 * times the leaf size, 95% of the size at which a leaf splits
 * (1 / ALEX_BUILD_DENSITY): such a leaf would split on its first inserts.
 * Cutting every part over the leaf size cost recall per probe (DECISIONS #34).
 */
#define ALEX_RECUT_FACTOR 1.35

/*
 * The serial load phase: one heap pass routes every row to its leaf into a
 * sort by leaf (spilling past maintenance_work_mem, never failing), then
 * each leaf is written whole, a page at a time (AlexBuildLeaf), and the
 * model nodes over them.  No WAL record per row, no leaf ever rewritten.
 */

typedef struct BulkLoadState
{
	AlexBuildState *bs;
	AlexCentroidSearch *search;	/* the leaves' centroids */
	Tuplesortstate *sort;
	TupleTableSlot *slot;
	/* rows waiting to be routed */
	int			pending;
	ItemPointerData tids[BULK_LOAD_BLOCK];
	float	   *vectors;		/* BULK_LOAD_BLOCK x dimensions */
	float	   *routed;			/* BULK_LOAD_BLOCK x route dimensions */
	int			leaves[BULK_LOAD_BLOCK];
} BulkLoadState;

/* Route the pending rows and put them into the sort by leaf */
static void
BulkLoadFlush(BulkLoadState *bl)
{
	AlexBuildState *bs = bl->bs;
	int			dim = bs->info.dimensions;
	Size		bytes = sizeof(float) * dim;
	MemoryContext old = MemoryContextSwitchTo(bs->tmp_context);
	TupleTableSlot *slot = bl->slot;
	bytea	   *copy = palloc(VARHDRSZ + bytes);

	AlexFindNearestCentroids(bl->search, bl->routed, bl->pending, bl->leaves, NULL, 0);
	SET_VARSIZE(copy, VARHDRSZ + bytes);
	for (int i = 0; i < bl->pending; i++)
	{
		memcpy(VARDATA(copy), bl->vectors + (Size) i * dim, bytes);
		ExecClearTuple(slot);
		slot->tts_values[0] = Int32GetDatum(bl->leaves[i]);
		slot->tts_values[1] = PointerGetDatum(&bl->tids[i]);
		slot->tts_values[2] = PointerGetDatum(copy);
		slot->tts_isnull[0] = slot->tts_isnull[1] = slot->tts_isnull[2] = false;
		ExecStoreVirtualTuple(slot);
		tuplesort_puttupleslot(bl->sort, slot);
	}
	bs->index_tuples += bl->pending;
	bl->pending = 0;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->index_tuples);
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmp_context);
}

static void
BulkLoadCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
				 bool tupleIsAlive, void *state)
{
	BulkLoadState *bl = (BulkLoadState *) state;
	AlexBuildState *bs = bl->bs;
	MemoryContext old = MemoryContextSwitchTo(bs->tmp_context);
	const float *vector;

	if (AlexIndexableValue(index, &bs->info, values[0], isnull[0], &vector))
	{
		int			i = bl->pending++;

		bl->tids[i] = *tid;
		memcpy(bl->vectors + (Size) i * bs->info.dimensions, vector,
			   sizeof(float) * bs->info.dimensions);
		AlexPrepareVector(&bs->info, vector,
						  bl->routed + (Size) i * bs->info.route_dimensions);
	}
	MemoryContextSwitchTo(old);
	/* the detoasted value lives in tmp_context: reset it only between rows */
	if (bl->pending == BULK_LOAD_BLOCK)
		BulkLoadFlush(bl);
	else
		MemoryContextReset(bs->tmp_context);
}

/* The leaves the bulk load wrote, with their centroids, for the tree */
typedef struct WrittenLeaves
{
	BlockNumber *leaves;
	float	   *centroids;
	int			n;
	int			capacity;
} WrittenLeaves;

static void
BeginWrittenLeaves(WrittenLeaves *wl, int k, int rdim)
{
	wl->n = 0;
	wl->capacity = Max(k, 1);
	wl->leaves = palloc(sizeof(BlockNumber) * wl->capacity);
	wl->centroids = palloc(sizeof(float) * rdim * wl->capacity);
}

/* The model nodes over the leaves written */
static void
FinishWrittenLeaves(AlexBuildState *bs, WrittenLeaves *wl)
{
	AlexBuildTree(bs, wl->leaves, wl->centroids, wl->n, wl->n);
	pfree(wl->leaves);
	pfree(wl->centroids);
}

static void
AddWrittenLeaf(WrittenLeaves *wl, int rdim, BlockNumber leaf, const float *centroid)
{
	if (wl->n == wl->capacity)
	{
		wl->capacity *= 2;
		wl->leaves = repalloc(wl->leaves, sizeof(BlockNumber) * wl->capacity);
		wl->centroids = repalloc(wl->centroids, sizeof(float) * rdim * wl->capacity);
	}
	wl->leaves[wl->n] = leaf;
	memcpy(wl->centroids + (Size) wl->n * rdim, centroid, sizeof(float) * rdim);
	wl->n++;
}

/*
 * Write the rows routed to one centroid as leaves.  The sample only
 * estimated cluster sizes, and a leaf larger than the cost model's leaf
 * size would split on its first inserts (synthetic-1536: 38 splits in the
 * first 2,000 inserts), so a run that came out larger is cut here, by
 * k-means on its own rows, and a part that still came out larger is cut
 * again (k-means parts are uneven), unless k-means could not divide it.
 * WITH (leaves = N) is taken as asked.
 */
static void
WriteRun(AlexBuildState *bs, const float *centroid, const ItemPointerData *tids,
		 const float *vectors, int n, WrittenLeaves *out)
{
	int			dim = bs->info.dimensions;
	int			rdim = bs->info.route_dimensions;
	double		target = AlexTargetLeafSize(&bs->info, bs->index_tuples);
	int			parts;
	const float *routed;
	float	   *part_centroids;
	int		   *assignment;
	ItemPointerData *part_tids;
	float	   *part_vectors;
	float	   *prepared = PreparedRowsBuffer(bs, n);

	routed = RoutingRows(bs, vectors, n, prepared);

	if (n <= target || AlexLeavesOption(bs->index) > 0)
	{
		float	   *mean = palloc(sizeof(float) * rdim);

		/*
		 * The run's own mean, not the sample's centroid: one more Lloyd
		 * step on all of its rows, so the leaf routes its rows better and
		 * their codes encode smaller residuals.  A centroid no row chose
		 * keeps its place, as an empty leaf.
		 */
		if (n > 0)
			AlexCentroidOf(routed, n, rdim, bs->info.metric, mean);
		else
			memcpy(mean, centroid, sizeof(float) * rdim);
		AddWrittenLeaf(out, rdim,
					   AlexBuildLeaf(bs->index, &bs->info, ALEX_BUILD_DENSITY,
									 AlexCodeReference(&bs->info, mean), tids, vectors, n,
									 bs->bulk),
					   mean);
		pfree(mean);
		if (prepared)
			pfree(prepared);
		return;
	}

	parts = (int) ceil(n / target);
	part_centroids = palloc(sizeof(float) * rdim * parts);
	assignment = palloc(sizeof(int) * n);
	part_tids = palloc(sizeof(ItemPointerData) * n);
	part_vectors = palloc(sizeof(float) * dim * n);
	AlexKmeans(routed, n, rdim, bs->info.metric, parts, part_centroids);
	AlexNearestCentroids(bs->info.metric, routed, n, part_centroids, parts, rdim, assignment);
	for (int p = 0; p < parts; p++)
	{
		const float *part_centroid = part_centroids + (Size) p * rdim;
		int			m = 0;

		for (int i = 0; i < n; i++)
			if (assignment[i] == p)
			{
				part_tids[m] = tids[i];
				memcpy(part_vectors + (Size) m * dim, vectors + (Size) i * dim,
					   sizeof(float) * dim);
				m++;
			}
		if (m > ALEX_RECUT_FACTOR * target && m < n)
			WriteRun(bs, part_centroid, part_tids, part_vectors, m, out);
		else if (m > 0)
			AddWrittenLeaf(out, rdim,
						   AlexBuildLeaf(bs->index, &bs->info, ALEX_BUILD_DENSITY,
										 AlexCodeReference(&bs->info, part_centroid),
										 part_tids, part_vectors, m, bs->bulk),
						   part_centroid);
	}
	if (prepared)
		pfree(prepared);
	pfree(part_centroids);
	pfree(assignment);
	pfree(part_tids);
	pfree(part_vectors);
}

static void
AlexBulkLoad(AlexBuildState *bs, const float *centroids, int k)
{
	int			dim = bs->info.dimensions;
	int			rdim = bs->info.route_dimensions;
	TupleDesc	desc = CreateTemplateTupleDesc(3);
	AttrNumber	keys[2] = {1, 2};
	Oid			operators[2] = {Int4LessOperator, TIDLessOperator};
	Oid			collations[2] = {InvalidOid, InvalidOid};
	bool		nulls_first[2] = {false, false};
	BulkLoadState bl;
	WrittenLeaves written;
	MemoryContext leaf_context = AllocSetContextCreate(CurrentMemoryContext,
													   "alex bulk leaf",
													   ALLOCSET_DEFAULT_SIZES);
	TupleTableSlot *out;
	int			current = 0;
	int			n = 0;
	int			max_n = 1024;
	ItemPointerData *tids;
	float	   *vectors;
	bool		more;

	TupleDescInitEntry(desc, 1, "leaf", INT4OID, -1, 0);
	TupleDescInitEntry(desc, 2, "tid", TIDOID, -1, 0);
	TupleDescInitEntry(desc, 3, "vector", BYTEAOID, -1, 0);
	bl.bs = bs;
	bl.search = AlexBeginCentroidSearch(bs->info.metric, centroids, k, rdim);
	bl.pending = 0;
	bl.vectors = palloc(sizeof(float) * dim * BULK_LOAD_BLOCK);
	bl.routed = palloc(sizeof(float) * rdim * BULK_LOAD_BLOCK);
	bl.slot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
#if PG_VERSION_NUM >= 150000
	bl.sort = tuplesort_begin_heap(desc, 2, keys, operators, collations, nulls_first,
								   maintenance_work_mem, NULL, TUPLESORT_NONE);
#else
	bl.sort = tuplesort_begin_heap(desc, 2, keys, operators, collations, nulls_first,
								   maintenance_work_mem, NULL, false);
#endif
	table_index_build_scan(bs->heap, bs->index, bs->index_info, true, true,
						   BulkLoadCallback, &bl, NULL);
	if (bl.pending > 0)
		BulkLoadFlush(&bl);
	tuplesort_performsort(bl.sort);

	/* leaves in centroid order, each from its run of the sorted rows */
	BeginWrittenLeaves(&written, k, rdim);
	out = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	bs->bulk = AlexBulkBegin(bs->index);
	tids = MemoryContextAlloc(leaf_context, sizeof(ItemPointerData) * max_n);
	vectors = MemoryContextAllocHuge(leaf_context, sizeof(float) * dim * max_n);
	do
	{
		int			leaf = k;

		more = tuplesort_gettupleslot(bl.sort, true, false, out, NULL);
		if (more)
		{
			slot_getallattrs(out);
			leaf = DatumGetInt32(out->tts_values[0]);
		}
		while (current < leaf)
		{
			CHECK_FOR_INTERRUPTS();
			WriteRun(bs, centroids + (Size) current * rdim, tids, vectors, n, &written);
			n = 0;
			current++;
		}
		if (more)
		{
			if (n == max_n)
			{
				max_n *= 2;
				tids = repalloc(tids, sizeof(ItemPointerData) * max_n);
				vectors = repalloc_huge(vectors, sizeof(float) * dim * max_n);
			}
			tids[n] = *(ItemPointer) DatumGetPointer(out->tts_values[1]);
			memcpy(vectors + (Size) n * dim, VARDATA_ANY(DatumGetPointer(out->tts_values[2])),
				   sizeof(float) * dim);
			n++;
		}
	} while (more);
	AlexBulkEnd(bs->bulk);
	bs->bulk = NULL;

	tuplesort_end(bl.sort);
	ExecDropSingleTupleTableSlot(bl.slot);
	ExecDropSingleTupleTableSlot(out);
	MemoryContextDelete(leaf_context);

	FinishWrittenLeaves(bs, &written);
	pfree(bl.routed);
	pfree(bl.vectors);
	AlexEndCentroidSearch(bl.search);
}

/*
 * The in-memory load, when every row's vector fits in maintenance_work_mem
 * (ai/DECISIONS.md #29): one heap pass keeps them all (vectors stored out of
 * line are read after it, in one pass over the TOAST relation: alextoast.c,
 * #39); the sample is drawn
 * from memory, and each leaf's rows are gathered from there by a counting
 * sort.  The table is read once instead of twice (a sample pass and a load
 * pass), and no row is copied into and out of a tuplesort: on the 1536-d
 * set those were about a quarter of the build.
 */
typedef struct MemoryRows
{
	AlexBuildState *bs;
	int			n;
	int			capacity;
	int			max_rows;		/* what maintenance_work_mem holds */
	bool		overflow;		/* more rows than that: load another way */
	ItemPointerData *tids;		/* invalid: dropped (a zero vector under cosine) */
	float	   *vectors;		/* n x dimensions */
	AlexToastReader *toast;		/* out-of-line vectors, read after the heap */
} MemoryRows;

/*
 * Bytes a row takes in memory: its TID, its vector, its leaf and place, and
 * its nearest centroids for the second routing
 */
#define MEMORY_ROW_BYTES(dim) \
	(sizeof(ItemPointerData) + sizeof(float) * (dim) + \
	 (2 + ALEX_REROUTE_CANDIDATES) * sizeof(int))

/* Room for one more row; false (and overflow set) when the budget is spent */
static bool
ReserveMemoryRow(MemoryRows *mr)
{
	int			dim = mr->bs->info.dimensions;

	if (mr->n < mr->capacity)
		return true;
	if (mr->capacity == mr->max_rows)
	{
		mr->overflow = true;
		return false;
	}
	mr->capacity = Min(mr->max_rows, Max(1024, mr->capacity * 2));
	mr->tids = repalloc_huge(mr->tids, sizeof(ItemPointerData) * mr->capacity);
	mr->vectors = repalloc_huge(mr->vectors, sizeof(float) * dim * (Size) mr->capacity);
	return true;
}

/* Copy row's vector from value, or mark the row dropped */
static void
StoreMemoryRow(MemoryRows *mr, int row, Datum value)
{
	if (!CopyIndexableVector(mr->bs, value, mr->vectors + (Size) row * mr->bs->info.dimensions))
		ItemPointerSetInvalid(&mr->tids[row]);
}

static void
MemoryRowsCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
				   bool tupleIsAlive, void *state)
{
	MemoryRows *mr = (MemoryRows *) state;

	if (isnull[0] || mr->overflow)
		return;
	mr->bs->rows_seen++;
	if (!ReserveMemoryRow(mr))
		return;
	mr->tids[mr->n] = *tid;
	if (!AlexToastReaderDefer(mr->toast, values[0], mr->n))
		StoreMemoryRow(mr, mr->n, values[0]);
	mr->n++;
}

static void
DeliverMemoryRow(int64 row, Datum value, void *arg)
{
	StoreMemoryRow((MemoryRows *) arg, (int) row, value);
}

/* Close the gaps of dropped rows, keeping the heap order */
static void
CompactMemoryRows(MemoryRows *mr)
{
	int			dim = mr->bs->info.dimensions;
	int			kept = 0;

	for (int i = 0; i < mr->n; i++)
	{
		if (!ItemPointerIsValid(&mr->tids[i]))
			continue;
		if (kept != i)
		{
			mr->tids[kept] = mr->tids[i];
			memcpy(mr->vectors + (Size) kept * dim, mr->vectors + (Size) i * dim,
				   sizeof(float) * dim);
		}
		kept++;
	}
	mr->n = kept;
}

/*
 * Ask the kernel to back a large, fresh array with huge pages where it
 * does so only when asked (Linux, transparent_hugepage = madvise): its
 * first touch then faults once per 2 MB instead of once per 4 kB.
 */
static void
AdviseHugePages(void *ptr, Size size)
{
#ifdef MADV_HUGEPAGE
	const uintptr_t huge = 2 * 1024 * 1024;
	uintptr_t	start = TYPEALIGN(huge, (uintptr_t) ptr);
	uintptr_t	end = TYPEALIGN_DOWN(huge, (uintptr_t) ptr + size);

	if (end > start)
		(void) madvise((void *) start, end - start, MADV_HUGEPAGE);
#endif
}

/*
 * Read every row into memory when the table's estimated rows fit in
 * maintenance_work_mem with room to spare; false (and nothing kept) when
 * they do not, or turned out not to.
 */
static bool
ReadRowsIntoMemory(AlexBuildState *bs, MemoryRows *mr)
{
	double		estimate = bs->heap->rd_rel->reltuples;
	double		budget = (double) maintenance_work_mem * 1024.0;
	int			dim = bs->info.dimensions;

	memset(mr, 0, sizeof(*mr));
	mr->bs = bs;
	mr->max_rows = (int) Min(budget / MEMORY_ROW_BYTES(dim),
							 (double) (MaxAllocHugeSize / (sizeof(float) * dim)));
	mr->max_rows = Min(mr->max_rows, INT_MAX / 2);
	/* never analysed: at most as many rows as its pages can hold */
	if (estimate < 0)
		estimate = (double) RelationGetNumberOfBlocks(bs->heap) * MaxHeapTuplesPerPage;
	/* near the limit: the two-pass load, rather than risk a wasted pass */
	if (estimate > 0.8 * mr->max_rows)
	{
		elog(DEBUG1, "alex build: about %.0f rows are too many for maintenance_work_mem, sorting them by leaf",
			 estimate);
		return false;
	}
	mr->capacity = Max(1024, (int) Min(estimate * 1.1, (double) mr->max_rows));
	mr->tids = palloc_extended(sizeof(ItemPointerData) * mr->capacity, MCXT_ALLOC_HUGE);
	mr->vectors = palloc_extended(sizeof(float) * dim * (Size) mr->capacity, MCXT_ALLOC_HUGE);
	AdviseHugePages(mr->vectors, sizeof(float) * dim * (Size) mr->capacity);
	mr->toast = AlexToastReaderBegin(bs->heap);
	bs->heap_tuples = table_index_build_scan(bs->heap, bs->index, bs->index_info, true, true,
											 MemoryRowsCallback, mr, NULL);
	if (mr->overflow)
		AlexToastReaderDiscard(mr->toast);
	else
	{
		AlexToastReaderFinish(mr->toast, DeliverMemoryRow, mr);
		CompactMemoryRows(mr);
	}
	mr->toast = NULL;
	if (mr->overflow)
	{
		elog(DEBUG1, "alex build: more than %d rows, too many for maintenance_work_mem, sorting them by leaf",
			 mr->max_rows);
		pfree(mr->tids);
		pfree(mr->vectors);
		mr->tids = NULL;
		mr->vectors = NULL;
		mr->n = 0;
		bs->rows_seen = 0;
		return false;
	}
	elog(DEBUG1, "alex build: %d rows read into memory", mr->n);
	return true;
}

/*
 * The sample from memory: rows drawn uniformly without replacement (a
 * partial Fisher-Yates shuffle), or every row.  Half the sample pass's
 * target is enough here, since AlexMemoryLoad's Lloyd step over all rows
 * refines the sample's centroids (DECISIONS #30), but no fewer than
 * ALEX_MIN_SAMPLES.
 */
static void
SampleFromMemory(AlexBuildState *bs, const MemoryRows *mr)
{
	int			dim = bs->info.dimensions;
	int			want = Max(bs->sample_target / 2, Min(ALEX_MIN_SAMPLES, bs->sample_target));
	int		   *pick = palloc_extended(sizeof(int) * Max(mr->n, 1), MCXT_ALLOC_HUGE);

	want = Min(want, mr->n);
	for (int i = 0; i < mr->n; i++)
		pick[i] = i;
	for (int i = 0; i < want; i++)
	{
		int			j = i + (int) AlexRandomBelow(&bs->prng, (uint64) (mr->n - i));
		int			tmp = pick[i];

		pick[i] = pick[j];
		pick[j] = tmp;
		memcpy(bs->samples + (Size) i * dim, mr->vectors + (Size) pick[i] * dim,
			   sizeof(float) * dim);
	}
	bs->sample_count = want;
	pfree(pick);
}

static int
MemoryRowTidCompare(const void *a, const void *b, void *arg)
{
	const MemoryRows *mr = (const MemoryRows *) arg;

	return ItemPointerCompare(&mr->tids[*(const int *) a], &mr->tids[*(const int *) b]);
}

/*
 * Route every row in memory to its leaf: leaf[i] for row i.
 *
 * Without candidates, row i goes to the nearest centroid, and with near it
 * also keeps its ALEX_REROUTE_CANDIDATES nearest there; with sums, each row
 * is added, in routing space, to its leaf's sum.  With candidates (a
 * former call's near), row i goes to the nearest of its own candidates.
 */
static void
RouteMemoryRows(AlexBuildState *bs, const MemoryRows *mr, const float *centroids, int k,
				int *leaf, int *near, const int *candidates, AlexCentroidSums *sums)
{
	int			dim = bs->info.dimensions;
	int			rdim = bs->info.route_dimensions;
	AlexCentroidSearch *search = NULL;
	float	   *prepared = PreparedRowsBuffer(bs, BULK_LOAD_BLOCK);

	if (!candidates)
		search = AlexBeginCentroidSearch(bs->info.metric, centroids, k, rdim);
	for (int first = 0; first < mr->n; first += BULK_LOAD_BLOCK)
	{
		int			count = Min(BULK_LOAD_BLOCK, mr->n - first);
		const float *routed = RoutingRows(bs, mr->vectors + (Size) first * dim, count,
										  prepared);

		CHECK_FOR_INTERRUPTS();
		if (candidates)
			AlexNearestAmong(bs->info.metric, routed, count, centroids, rdim,
							 candidates + (Size) first * ALEX_REROUTE_CANDIDATES,
							 ALEX_REROUTE_CANDIDATES, leaf + first);
		else
			AlexFindNearestCentroids(search, routed, count, leaf + first,
									 near ? near + (Size) first * ALEX_REROUTE_CANDIDATES : NULL,
									 ALEX_REROUTE_CANDIDATES);
		if (sums)
			AlexAddToCentroidSums(sums, routed, count, leaf + first);
	}
	if (prepared)
		pfree(prepared);
	if (search)
		AlexEndCentroidSearch(search);
}

/*
 * Route the rows in memory to their leaves, then write each leaf from its
 * rows in TID order, as the sorted load does.
 *
 * The sample's centroids first take one more Lloyd step over all the rows:
 * each moves to the mean of the rows routed to it, and the rows are routed
 * again.  The partition fits the table, not just the sample, and a query
 * finds its neighbours in fewer leaves (fashion-mnist recall@10 at 14 and
 * 18 probes +0.001-0.003 on two sample seeds, DECISIONS #30).  The second
 * routing only weighs each row's few nearest centroids of the first
 * (DECISIONS #33): the centroids moved a little, and a row that changes
 * leaves goes to a neighbour.
 */
static void
AlexMemoryLoad(AlexBuildState *bs, MemoryRows *mr, const float *sample_centroids, int k)
{
	int			dim = bs->info.dimensions;
	int			rdim = bs->info.route_dimensions;
	float	   *centroids = palloc(sizeof(float) * rdim * k);
	AlexCentroidSums *sums = AlexBeginCentroidSums(k, rdim);
	int		   *leaf = palloc_extended(sizeof(int) * Max(mr->n, 1), MCXT_ALLOC_HUGE);
	int		   *order = palloc_extended(sizeof(int) * Max(mr->n, 1), MCXT_ALLOC_HUGE);
	int		   *near = palloc_extended(sizeof(int) * ALEX_REROUTE_CANDIDATES * Max(mr->n, 1),
									   MCXT_ALLOC_HUGE);
	int		   *start = palloc0(sizeof(int) * (k + 1));
	int			max_run = 0;
	ItemPointerData *run_tids;
	float	   *run_vectors;
	WrittenLeaves written;

	memcpy(centroids, sample_centroids, sizeof(float) * rdim * k);
	RouteMemoryRows(bs, mr, centroids, k, leaf, near, NULL, sums);
	AlexFinishCentroidSums(sums, bs->info.metric, centroids);
	AlexEndCentroidSums(sums);
	RouteMemoryRows(bs, mr, centroids, k, leaf, NULL, near, NULL);
	pfree(near);
	bs->index_tuples = mr->n;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->index_tuples);

	/* counting sort by leaf; within a leaf, by TID */
	for (int i = 0; i < mr->n; i++)
		start[leaf[i] + 1]++;
	for (int c = 0; c < k; c++)
	{
		max_run = Max(max_run, start[c + 1]);
		start[c + 1] += start[c];
	}
	for (int i = 0; i < mr->n; i++)
		order[start[leaf[i]]++] = i;
	for (int c = k; c > 0; c--)
		start[c] = start[c - 1];
	start[0] = 0;

	BeginWrittenLeaves(&written, k, rdim);
	bs->bulk = AlexBulkBegin(bs->index);
	run_tids = palloc(sizeof(ItemPointerData) * Max(max_run, 1));
	run_vectors = palloc_extended(sizeof(float) * dim * (Size) Max(max_run, 1), MCXT_ALLOC_HUGE);
	for (int c = 0; c < k; c++)
	{
		int			n = start[c + 1] - start[c];
		int		   *members = order + start[c];

		CHECK_FOR_INTERRUPTS();
		qsort_arg(members, n, sizeof(int), MemoryRowTidCompare, mr);
		for (int i = 0; i < n; i++)
		{
			run_tids[i] = mr->tids[members[i]];
			memcpy(run_vectors + (Size) i * dim, mr->vectors + (Size) members[i] * dim,
				   sizeof(float) * dim);
		}
		WriteRun(bs, centroids + (Size) c * rdim, run_tids, run_vectors, n, &written);
	}
	AlexBulkEnd(bs->bulk);
	bs->bulk = NULL;
	FinishWrittenLeaves(bs, &written);

	pfree(run_tids);
	pfree(run_vectors);
	pfree(start);
	pfree(order);
	pfree(leaf);
	pfree(centroids);
}

/*
 * The load phase with parallel workers: each participant inserts the rows
 * of the heap blocks its share of one parallel scan hands it.
 */
static void
AlexParallelLoad(AlexBuildState *bs, int nworkers)
{
	ParallelContext *pcxt;
	Snapshot	snapshot;
	Size		size;
	AlexParallelShared *shared;
	TableScanDesc scan;
	bool		isconcurrent = bs->index_info->ii_Concurrent;

	EnterParallelMode();
	pcxt = CreateParallelContext("omendb", "AlexParallelBuildMain", nworkers);

	/* as nbtree: a non-concurrent build sees every tuple, CIC its snapshot */
	snapshot = isconcurrent ? RegisterSnapshot(GetTransactionSnapshot()) : SnapshotAny;
	size = BUFFERALIGN(sizeof(AlexParallelShared)) +
		table_parallelscan_estimate(bs->heap, snapshot);
	shm_toc_estimate_chunk(&pcxt->estimator, size);
	shm_toc_estimate_keys(&pcxt->estimator, 1);
	InitializeParallelDSM(pcxt);

	shared = shm_toc_allocate(pcxt->toc, size);
	shared->heaprelid = RelationGetRelid(bs->heap);
	shared->indexrelid = RelationGetRelid(bs->index);
	shared->isconcurrent = isconcurrent;
	pg_atomic_init_u64(&shared->tuples_done, 0);
	table_parallelscan_initialize(bs->heap, ParallelScanFromShared(shared), snapshot);
	shm_toc_insert(pcxt->toc, PARALLEL_KEY_ALEX_SHARED, shared);

	LaunchParallelWorkers(pcxt);

	/* the leader takes part */
	bs->shared = shared;
	scan = table_beginscan_parallel(bs->heap, ParallelScanFromShared(shared));
	table_index_build_scan(bs->heap, bs->index, bs->index_info, true, true,
						   LoadCallback, bs, scan);
	WaitForParallelWorkersToFinish(pcxt);

	bs->index_tuples = (double) pg_atomic_read_u64(&shared->tuples_done);
	bs->shared = NULL;
	if (IsMVCCSnapshot(snapshot))
		UnregisterSnapshot(snapshot);
	DestroyParallelContext(pcxt);
	ExitParallelMode();
}

/*
 * A parallel worker of the load phase.
 */
void
AlexParallelBuildMain(dsm_segment *seg, shm_toc *toc)
{
	AlexParallelShared *shared = shm_toc_lookup(toc, PARALLEL_KEY_ALEX_SHARED, false);
	LOCKMODE	heap_lockmode = shared->isconcurrent ? ShareUpdateExclusiveLock : ShareLock;
	LOCKMODE	index_lockmode = shared->isconcurrent ? RowExclusiveLock : AccessExclusiveLock;
	Relation	heap = table_open(shared->heaprelid, heap_lockmode);
	Relation	index = index_open(shared->indexrelid, index_lockmode);
	AlexBuildState bs;
	TableScanDesc scan;

	memset(&bs, 0, sizeof(bs));
	bs.heap = heap;
	bs.index = index;
	bs.index_info = BuildIndexInfo(index);
	bs.index_info->ii_Concurrent = shared->isconcurrent;
	bs.shared = shared;
	bs.report_progress = false;
	bs.tmp_context = AllocSetContextCreate(CurrentMemoryContext, "alex build worker",
										   ALLOCSET_DEFAULT_SIZES);
	AlexReadIndexInfo(index, &bs.info);

	scan = table_beginscan_parallel(heap, ParallelScanFromShared(shared));
	table_index_build_scan(heap, index, bs.index_info, true, false, LoadCallback, &bs, scan);

	MemoryContextDelete(bs.tmp_context);
	index_close(index, index_lockmode);
	table_close(heap, heap_lockmode);
}

/*
 * ambuild
 */
IndexBuildResult *
alexbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result = palloc0(sizeof(IndexBuildResult));
	AlexBuildState bs;
	int			leaves_option = AlexLeavesOption(index);
	int			k;
	int			nworkers;
	MemoryRows	rows = {0};
	bool		in_memory;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	memset(&bs, 0, sizeof(bs));
	bs.heap = heap;
	bs.index = index;
	bs.index_info = indexInfo;
	bs.info.dimensions = AlexIndexDimensions(index);
	bs.info.route_dimensions = AlexRouteDimensions(bs.info.dimensions);
	bs.info.metric = AlexGetMetric(index);
	bs.info.fanout = AlexFanoutOption(index);
	bs.info.vectors_in_index = AlexRerankOption(index) == ALEX_RERANK_INDEX;
	bs.tmp_context = AllocSetContextCreate(CurrentMemoryContext, "alex build",
										   ALLOCSET_DEFAULT_SIZES);
	AlexRandomSeed(&bs.prng, ALEX_SAMPLE_SEED);

	AlexWriteInitialPages(index, MAIN_FORKNUM, bs.info.dimensions, bs.info.metric,
						  AlexFanoutOption(index));

	/* 1. sample */
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, ALEX_PHASE_SAMPLE);
	bs.sample_target = AlexSampleTarget(heap, &bs.info, leaves_option);
	bs.samples = palloc_extended(sizeof(float) * bs.info.dimensions * bs.sample_target,
								 MCXT_ALLOC_HUGE);
	AdviseHugePages(bs.samples, sizeof(float) * bs.info.dimensions * bs.sample_target);
	bs.sample_toasted = palloc0(sizeof(Datum) * bs.sample_target);
	bs.sample_empty = palloc0(sizeof(bool) * bs.sample_target);
	bs.sample_context = AllocSetContextCreate(CurrentMemoryContext, "alex build sample",
											  ALLOCSET_DEFAULT_SIZES);
	nworkers = plan_create_index_workers(RelationGetRelid(heap), RelationGetRelid(index));
	in_memory = nworkers == 0 && ReadRowsIntoMemory(&bs, &rows);
	if (in_memory)
		SampleFromMemory(&bs, &rows);
	else
	{
		bs.heap_tuples = table_index_build_scan(heap, index, indexInfo, true, true,
												SampleCallback, &bs, NULL);
		FetchSampleVectors(&bs);
	}

	if (bs.sample_count > 0)
	{
		int			rdim = bs.info.route_dimensions;
		float	   *prepared = PreparedRowsBuffer(&bs, bs.sample_count);
		const float *routed;
		float	   *centroids;

		/* 2. k-means on the sample, in routing space */
		pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, ALEX_PHASE_KMEANS);
		k = leaves_option > 0 ? leaves_option :
			(int) round(bs.rows_seen / AlexTargetLeafSize(&bs.info, bs.rows_seen));
		k = Max(1, Min(k, bs.sample_count));
		if (prepared)
			AdviseHugePages(prepared, sizeof(float) * rdim * bs.sample_count);
		routed = RoutingRows(&bs, bs.samples, bs.sample_count, prepared);
		centroids = palloc(sizeof(float) * rdim * k);
		AlexKmeans(routed, bs.sample_count, rdim, bs.info.metric, k, centroids);
		if (leaves_option == 0)
			centroids = AlexSplitLargeClusters(&bs, routed, centroids, &k);
		if (prepared)
			pfree(prepared);

		/*
		 * 3. the rows: with parallel workers, empty leaves first and every
		 * row through the (concurrent-safe) insert path; alone, each leaf
		 * written whole from the rows in memory or from a sort by leaf.
		 */
		pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, ALEX_PHASE_LOAD);
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) bs.rows_seen);
		bs.report_progress = true;
		if (in_memory)
		{
			AlexReadIndexInfo(index, &bs.info);
			AlexMemoryLoad(&bs, &rows, centroids, k);
			AlexSetTupleCount(index, (uint64) bs.index_tuples);
		}
		else if (nworkers > 0)
		{
			AlexCreateLeaves(&bs, centroids, k);
			AlexSetTupleCount(index, (uint64) bs.rows_seen);
			AlexReadIndexInfo(index, &bs.info);
			AlexParallelLoad(&bs, nworkers);
		}
		else
		{
			AlexReadIndexInfo(index, &bs.info);
			AlexBulkLoad(&bs, centroids, k);
			AlexSetTupleCount(index, (uint64) bs.index_tuples);
		}
		pfree(centroids);
	}
	if (rows.tids)
	{
		pfree(rows.tids);
		pfree(rows.vectors);
	}
	pfree(bs.samples);
	pfree(bs.sample_toasted);
	pfree(bs.sample_empty);

	MemoryContextDelete(bs.sample_context);
	MemoryContextDelete(bs.tmp_context);
	result->heap_tuples = bs.heap_tuples;
	result->index_tuples = bs.index_tuples;
	return result;
}

/*
 * ambuildempty: the init fork of an unlogged index.
 */
void
alexbuildempty(Relation index)
{
	AlexWriteInitialPages(index, INIT_FORKNUM, AlexIndexDimensions(index),
						  AlexGetMetric(index), AlexFanoutOption(index));
}
