/*-------------------------------------------------------------------------
 *
 * alexutils.c
 *	  Page helpers, the metapage, page allocation and the metric of an
 *	  alex index.
 *
 * IDENTIFICATION
 *	  src/alexutils.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/xact.h"
#include "alex.h"
#include "distance.h"
#include "common/hashfn.h"
#include "pgstat.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "vector.h"

/*
 * Initialise a page of the given kind, with the alex special space.
 */
void
AlexInitPage(Page page, uint16 kind)
{
	AlexPageOpaque opaque;

	PageInit(page, BLCKSZ, sizeof(AlexPageOpaqueData));
	opaque = AlexPageGetOpaque(page);
	opaque->next = InvalidBlockNumber;
	opaque->owner = InvalidBlockNumber;
	opaque->xid = InvalidTransactionId;
	opaque->kind = kind;
	opaque->flags = 0;
	opaque->level = 0;
	opaque->page_id = ALEX_PAGE_ID;
}

/*
 * Stamp a new leaf head or model node's first page with the transaction
 * writing it.  Until something routes to it the page is unreachable; vacuum
 * reclaims it once it is still unrouted after that transaction is gone (an
 * error or a crash mid-split).  Writers without an XID (a build, CREATE INDEX
 * CONCURRENTLY's validation, vacuum itself) hold a lock that keeps VACUUM
 * out while they run; parallel build workers share their leader's XID.
 */
void
AlexStampWriter(Page page)
{
	AlexPageGetOpaque(page)->xid = GetTopTransactionIdIfAny();
}

/*
 * Does the page start something the routing names: a live leaf head or the
 * first page of a live model node?
 */
bool
AlexPageStartsRoutable(Page page, BlockNumber blkno)
{
	AlexPageOpaque opaque = AlexPageGetOpaque(page);

	if (PageIsNew(page) || opaque->page_id != ALEX_PAGE_ID ||
		(opaque->flags & ALEX_PAGE_DELETED))
		return false;
	return opaque->kind == ALEX_PAGE_LEAF_HEAD ||
		(opaque->kind == ALEX_PAGE_MODEL && opaque->owner == blkno);
}

/*
 * Which shared buffer last held a page of an alex index, remembered by this
 * backend: an array of buffers by block number for each of the few indexes
 * it used last.  A scan reads a few dozen pages (leaf heads, data pages,
 * the vector pages of reranked rows), and looking each up in the shared
 * buffer mapping table (a hash, under a partition lock) was ~12% of a
 * query's backend time on fashion-mnist.  Four bytes a block is 0.05% of
 * the index, small enough to stay in the CPU cache; a hashed table of
 * 65,536 slots before it was 768 kB, missed the cache on every lookup and
 * lost a fifth of fashion-mnist's pages to collisions.
 * ReadRecentBuffer pins the remembered buffer and checks its tag, so a
 * stale entry costs one failed check and an ordinary ReadBuffer, never a
 * wrong page.  PostgreSQL 13 has no ReadRecentBuffer: plain ReadBuffer.
 */
#if PG_VERSION_NUM >= 140000
#define ALEX_RECENT_INDEXES		4
#define ALEX_RECENT_MAX_BLOCKS	(1 << 20)	/* 4 MB: an 8 GB index */

typedef struct AlexRecentBuffers
{
	Oid			file_number;	/* AlexRelationFileNumber; InvalidOid: unused */
	BlockNumber nblocks;		/* room in buffers[] */
	Buffer	   *buffers;		/* by block number; InvalidBuffer: not known */
	uint64		last_used;
} AlexRecentBuffers;

static AlexRecentBuffers recent_indexes[ALEX_RECENT_INDEXES];
static uint64 recent_clock = 0;

/* The remembered buffers of an index, made (replacing the least recent) if new */
static AlexRecentBuffers *
RecentBuffersOf(Relation index)
{
	Oid			file_number = AlexRelationFileNumber(index);
	AlexRecentBuffers *oldest = &recent_indexes[0];

	for (int i = 0; i < ALEX_RECENT_INDEXES; i++)
	{
		AlexRecentBuffers *r = &recent_indexes[i];

		if (r->file_number == file_number)
		{
			r->last_used = ++recent_clock;
			return r;
		}
		if (r->last_used < oldest->last_used)
			oldest = r;
	}
	if (oldest->buffers != NULL)
		pfree(oldest->buffers);
	oldest->file_number = file_number;
	oldest->nblocks = 0;
	oldest->buffers = NULL;
	oldest->last_used = ++recent_clock;
	return oldest;
}

static Buffer
RecentBuffer(AlexRecentBuffers *r, BlockNumber blkno)
{
	return blkno < r->nblocks ? r->buffers[blkno] : InvalidBuffer;
}

static void
RememberBuffer(AlexRecentBuffers *r, BlockNumber blkno, Buffer buffer)
{
	if (blkno >= r->nblocks)
	{
		BlockNumber nblocks = Max(Max(r->nblocks * 2, 1024), blkno + 1);

		if (blkno >= ALEX_RECENT_MAX_BLOCKS)
			return;
		nblocks = Min(nblocks, ALEX_RECENT_MAX_BLOCKS);
		if (r->buffers == NULL)
			r->buffers = MemoryContextAllocZero(TopMemoryContext, sizeof(Buffer) * nblocks);
		else
		{
			r->buffers = repalloc(r->buffers, sizeof(Buffer) * nblocks);
			memset(r->buffers + r->nblocks, 0, sizeof(Buffer) * (nblocks - r->nblocks));
		}
		r->nblocks = nblocks;
	}
	r->buffers[blkno] = buffer;
}
#endif

/* ReadBuffer of a main-fork page of an alex index, by the remembered buffer first */
Buffer
AlexReadBuffer(Relation index, BlockNumber blkno)
{
#if PG_VERSION_NUM >= 140000
	AlexRecentBuffers *recent;
	Buffer		buf;

	if (RelationUsesLocalBuffers(index))
		return ReadBuffer(index, blkno);
	recent = RecentBuffersOf(index);
	buf = RecentBuffer(recent, blkno);
	if (BufferIsValid(buf) &&
		ReadRecentBuffer(AlexRelationFile(index), MAIN_FORKNUM, blkno, buf))
	{
		/* counted in pg_statio_*_indexes as ReadBuffer counts a hit */
		pgstat_count_buffer_read(index);
		pgstat_count_buffer_hit(index);
		return buf;
	}
	buf = ReadBuffer(index, blkno);
	RememberBuffer(recent, blkno, buf);
	return buf;
#else
	return ReadBuffer(index, blkno);
#endif
}

/*
 * Start reading a page that AlexReadBuffer will read soon, unless this
 * backend saw it in shared buffers lately (it is most likely still there).
 */
void
AlexPrefetchBuffer(Relation index, BlockNumber blkno)
{
#if PG_VERSION_NUM >= 140000
	AlexRecentBuffers *recent;
	PrefetchBufferResult r;

	if (RelationUsesLocalBuffers(index))
		return;
	recent = RecentBuffersOf(index);
	if (BufferIsValid(RecentBuffer(recent, blkno)))
		return;
	r = PrefetchBuffer(index, MAIN_FORKNUM, blkno);
	if (BufferIsValid(r.recent_buffer))
		RememberBuffer(recent, blkno, r.recent_buffer);
#else
	PrefetchBuffer(index, MAIN_FORKNUM, blkno);
#endif
}

/*
 * Error out, never crash, when a page is not what the structure says it is.
 */
void
AlexCheckPage(Relation index, Page page, BlockNumber blkno, uint16 kind)
{
	AlexPageOpaque opaque;

	if (PageIsNew(page) ||
		PageGetSpecialSize(page) != MAXALIGN(sizeof(AlexPageOpaqueData)))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" contains unexpected zero or foreign page at block %u",
						RelationGetRelationName(index), blkno),
				 errhint("Please REINDEX it.")));

	opaque = AlexPageGetOpaque(page);
	if (opaque->page_id != ALEX_PAGE_ID || opaque->kind != kind)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has a corrupted page at block %u",
						RelationGetRelationName(index), blkno),
				 errdetail("Expected page kind %u, found kind %u with page id 0x%04X.",
						   kind, opaque->kind, opaque->page_id),
				 errhint("Please REINDEX it.")));
}

/*
 * Get an exclusively locked buffer for a new page: a recycled page from the
 * free space map when there is one, else a new block at the end.  The
 * caller initialises it inside its GenericXLog record.
 */
Buffer
AlexNewBuffer(Relation index)
{
	Buffer		buf;

	for (;;)
	{
		BlockNumber blkno = GetFreeIndexPage(index);
		Page		page;

		if (blkno == InvalidBlockNumber)
			break;

		buf = ReadBuffer(index, blkno);

		/* someone else may have taken it already; the FSM is only a hint */
		if (ConditionalLockBuffer(buf))
		{
			page = BufferGetPage(buf);
			if (PageIsNew(page) ||
				(AlexPageGetOpaque(page)->page_id == ALEX_PAGE_ID &&
				 AlexPageGetOpaque(page)->kind == ALEX_PAGE_FREE))
				return buf;
			LockBuffer(buf, BUFFER_LOCK_UNLOCK);
		}
		ReleaseBuffer(buf);
	}

	return AlexExtendFork(index, MAIN_FORKNUM);
}

/*
 * Add a block to a fork of the index; returns it exclusively locked.
 */
Buffer
AlexExtendFork(Relation index, ForkNumber fork)
{
	Buffer		buf;

#if PG_VERSION_NUM >= 160000
	buf = ExtendBufferedRel(BMR_REL(index), fork, NULL, EB_LOCK_FIRST);
#else
	LockRelationForExtension(index, ExclusiveLock);
	buf = ReadBufferExtended(index, fork, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	UnlockRelationForExtension(index, ExclusiveLock);
#endif
	return buf;
}

/*
 * Read the metapage into *info, checking magic and format version.
 */
void
AlexReadIndexInfo(Relation index, AlexIndexInfo *info)
{
	Buffer		buf = ReadBuffer(index, ALEX_METAPAGE_BLKNO);
	Page		page;
	AlexMetaPage meta;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	AlexCheckPage(index, page, ALEX_METAPAGE_BLKNO, ALEX_PAGE_META);
	meta = AlexPageGetMeta(page);

	if (meta->magic != ALEX_MAGIC_NUMBER)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not an alex index",
						RelationGetRelationName(index)),
				 errhint("Please REINDEX it.")));
	if (meta->version != ALEX_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("index \"%s\" has on-disk format version %u, but this omendb reads version %d",
						RelationGetRelationName(index), meta->version,
						ALEX_FORMAT_VERSION),
				 errhint("REINDEX it to rebuild it in the current format.")));

	info->dimensions = meta->dimensions;
	info->route_dimensions = AlexRouteDimensions(meta->dimensions);
	info->metric = (AlexMetricKind) meta->metric;
	info->root = meta->root;
	info->routing_version = meta->routing_version;
	info->tuples = meta->tuples;
	info->leaves = meta->leaves;
	info->fanout = meta->fanout;
	info->levels = meta->levels;
	info->rotation_seed = meta->rotation_seed;
	info->vectors_in_index = (meta->flags & ALEX_META_VECTORS_IN_TABLE) == 0;
	UnlockReleaseBuffer(buf);
}

/*
 * The metric of the index, from its operator class's metric support
 * function.
 */
AlexMetricKind
AlexGetMetric(Relation index)
{
	FmgrInfo   *proc = index_getprocinfo(index, 1, ALEX_METRIC_PROC);
	int32		kind = DatumGetInt32(FunctionCall1(proc, PointerGetDatum(NULL)));

	if (kind < ALEX_METRIC_L2 || kind > ALEX_METRIC_L1)
		elog(ERROR, "alex metric support function returned unknown metric %d", kind);
	return (AlexMetricKind) kind;
}

/*
 * The float4 elements of an indexed value.  This is the one place that
 * knows the column type, so halfvec and friends plug in here.
 */
const float *
AlexDatumVector(Relation index, Datum value, int *dim)
{
	Vector	   *vector = DatumGetVector(value);

	*dim = vector->dim;
	return vector->x;
}

/*
 * Dimensions of the routing space: the vectors' own when a centroid fits on
 * a model page, else a sketch of ALEX_SKETCH_DIMENSIONS.
 */
int
AlexRouteDimensions(int dimensions)
{
	Size		room = BLCKSZ - MAXALIGN(SizeOfPageHeaderData) -
		MAXALIGN(sizeof(AlexPageOpaqueData)) - sizeof(ItemIdData);

	return ALEX_ROUTE_ENTRY_SIZE(dimensions) <= room ? dimensions : ALEX_SKETCH_DIMENSIONS;
}

/* The metrics that route on unit vectors */
static inline bool
MetricRoutesUnitVectors(AlexMetricKind metric)
{
	return metric == ALEX_METRIC_COSINE || metric == ALEX_METRIC_INNER_PRODUCT;
}

/* Unit length for the angular metrics; false for a zero vector there */
static bool
AlexNormaliseForMetric(AlexMetricKind metric, float *x, int dim)
{
	if (!MetricRoutesUnitVectors(metric))
		return true;
	/* a zero vector has an inner product (0) with anything, but no angle */
	return AlexScaleToUnitLength(x, dim) || metric == ALEX_METRIC_INNER_PRODUCT;
}

/*
 * Scale x to unit length in place; false (x untouched) for a zero vector.
 * The squared norm comes from the distance kernel (the same bits on every
 * CPU), the scaling is one multiply an element.
 */
bool
AlexScaleToUnitLength(float *x, int dim)
{
	float		norm = VectorInnerProduct(x, x, dim);
	float		inverse;

	if (!(norm > 0))
		return false;
	inverse = (float) (1.0 / sqrt((double) norm));
	for (int i = 0; i < dim; i++)
		x[i] *= inverse;
	return true;
}

/*
 * A count sketch: element i adds, with a sign, into one of the sketch's
 * dimensions, both chosen by a fixed hash of i.  Inner products and
 * squared L2 distances are preserved in expectation, in O(dimensions).
 */
static void
AlexSketch(const float *in, int dim, float *out, int sketch_dim)
{
	memset(out, 0, sizeof(float) * sketch_dim);
	for (int i = 0; i < dim; i++)
	{
		uint32		h = murmurhash32((uint32) i);

		out[h % sketch_dim] += (h & 0x80000000) ? -in[i] : in[i];
	}
}

/*
 * Whether AlexPrepareVector leaves vectors as they are (L2 and L1 at a width
 * the routing takes whole), so that a caller can route the vectors
 * themselves instead of prepared copies.
 */
bool
AlexRoutesVectorsAsGiven(const AlexIndexInfo *info)
{
	return info->route_dimensions == info->dimensions && !MetricRoutesUnitVectors(info->metric);
}

/*
 * Copy a vector into the space the routing works in (out has
 * info->route_dimensions elements): unit length for the angular metrics,
 * sketched when the vectors are too wide to route on.  Returns false for a
 * zero vector there, which has no direction and so cannot be routed (cosine
 * does not index it).
 */
bool
AlexPrepareVector(const AlexIndexInfo *info, const float *in, float *out)
{
	int			dim = info->dimensions;
	float	   *full;
	bool		ok;

	if (info->route_dimensions == dim)
	{
		memcpy(out, in, sizeof(float) * dim);
		return AlexNormaliseForMetric(info->metric, out, dim);
	}

	full = palloc(sizeof(float) * dim);
	memcpy(full, in, sizeof(float) * dim);
	ok = AlexNormaliseForMetric(info->metric, full, dim);
	AlexSketch(full, dim, out, info->route_dimensions);
	pfree(full);
	if (ok)
		AlexNormaliseForMetric(info->metric, out, info->route_dimensions);
	return ok;
}

/*
 * Distance used to route between a (prepared) vector and a centroid.  L2
 * skips the square root.  Cosine: squared L2 between the unit vector and a
 * centroid that is the plain mean of unit vectors, not renormalised.  The
 * mean's length says how tight its cluster is, and ignoring it (spherical
 * k-means) let centroids of mixed clusters compete as equals: on the
 * synthetic 1536-d set a quarter-size build held 3% foreign rows a leaf and
 * growth never separated them (recall@10 -3 points), as L2 on the same unit
 * vectors did.  A unit centroid (older indexes) ranks the same either way.
 * Inner product keeps the angle: its vectors' lengths are the point.
 */
float
AlexRouteDistance(AlexMetricKind metric, const float *a, const float *b, int dim)
{
	switch (metric)
	{
		case ALEX_METRIC_L2:
		case ALEX_METRIC_COSINE:
			return VectorL2SquaredDistance(a, b, dim);
		case ALEX_METRIC_L1:
			return VectorL1Distance(a, b, dim);
		case ALEX_METRIC_INNER_PRODUCT:
			return -VectorInnerProduct(a, b, dim);
	}
	return 0;
}

/* Are centroids kept at unit length (see AlexRouteDistance)? */
bool
AlexSphericalCentroids(AlexMetricKind metric)
{
	return metric == ALEX_METRIC_INNER_PRODUCT;
}

/*
 * The reference vector for the lane codes of a leaf with this routing
 * centroid: the centroid itself when it lives in the vectors' own space
 * (the estimator takes any reference), else none (zero).
 */
const float *
AlexCodeReference(const AlexIndexInfo *info, const float *centroid)
{
	return info->route_dimensions == info->dimensions ? centroid : NULL;
}

/*
 * Set the metapage's entry count (build, and vacuum's exact recount).
 */
void
AlexSetTupleCount(Relation index, uint64 tuples)
{
	Buffer		buf = ReadBuffer(index, ALEX_METAPAGE_BLKNO);
	GenericXLogState *state;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	AlexPageGetMeta(GenericXLogRegisterBuffer(state, buf, 0))->tuples = tuples;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/*
 * Where to cut values to keep at least want of the least: a histogram of
 * ALEX_CUT_BUCKETS buckets between the least and the largest value, in
 * two passes without sorting.  Keeps everything when the values do not
 * spread (all equal, or too few, or not finite).
 */
void
AlexFindLeastCut(const double *values, int n, int want, AlexLeastCut *cut)
{
	double		most = -DBL_MAX;
	int			counts[ALEX_CUT_BUCKETS];
	int			total = 0;

	cut->least = DBL_MAX;
	cut->scale = 0;				/* keep everything */
	cut->bucket = ALEX_CUT_BUCKETS - 1;
	if (n <= want)
		return;
	for (int i = 0; i < n; i++)
	{
		cut->least = Min(cut->least, values[i]);
		most = Max(most, values[i]);
	}
	cut->scale = ALEX_CUT_BUCKETS / (most - cut->least);
	if (!isfinite(cut->scale) || cut->scale <= 0)
	{
		cut->scale = 0;
		return;
	}
	memset(counts, 0, sizeof(counts));
	for (int i = 0; i < n; i++)
		counts[AlexCutBucket(cut, values[i])]++;
	for (cut->bucket = 0; cut->bucket < ALEX_CUT_BUCKETS - 1; cut->bucket++)
	{
		total += counts[cut->bucket];
		if (total >= want)
			break;
	}
}
