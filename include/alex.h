/*-------------------------------------------------------------------------
 *
 * alex.h
 *	  The alex index access method: an adaptive learned ANN index.
 *
 * Structure (all in ordinary buffer pages, every change WAL-logged through
 * GenericXLog):
 *
 *	block 0		metapage: magic, format version, dimensions, metric, root
 *				model node, counters
 *	model node	a chain of ALEX_PAGE_MODEL pages whose items are routing
 *				entries {child leaf, centroid}: the node's learned model is
 *				this table of centroids, routing is nearest-centroid
 *	leaf		an ALEX data node: one ALEX_PAGE_LEAF_HEAD page (counts, the
 *				per-leaf 1-D key and its linear position model, the list of
 *				data pages) and that many ALEX_PAGE_LEAF_DATA pages, each a
 *				gapped array of fixed-size lanes with an occupancy bitmap;
 *				each data page keeps the full vectors of its lanes in its own
 *				ALEX_PAGE_LEAF_VECTORS pages, one byte stream in which a wide
 *				vector simply spans page boundaries
 *
 * The bytes of one lane are the business of alexleaf.c alone (the "leaf
 * format"), so a new encoding changes that file and nothing else.
 *
 * IDENTIFICATION
 *	  include/alex.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMENDB_ALEX_H
#define OMENDB_ALEX_H

#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "access/itup.h"
#include "alexrandom.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "storage/bufmgr.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

/* The physical file of a relation: RelFileLocator since PostgreSQL 16 */
#if PG_VERSION_NUM >= 160000
typedef RelFileLocator AlexFileId;
#define AlexRelationFile(rel)		((rel)->rd_locator)
#define AlexRelationFileNumber(rel)	((rel)->rd_locator.relNumber)
#define AlexFileIdEquals(a, b)		RelFileLocatorEquals(a, b)
#else
typedef RelFileNode AlexFileId;
#define AlexRelationFile(rel)		((rel)->rd_node)
#define AlexRelationFileNumber(rel)	((rel)->rd_node.relNode)
#define AlexFileIdEquals(a, b)		RelFileNodeEquals(a, b)
#endif

/* On-disk identification */
#define ALEX_MAGIC_NUMBER		0xA1E7DB01
#define ALEX_FORMAT_VERSION		2
#define ALEX_PAGE_ID			0xFF8A
#define ALEX_METAPAGE_BLKNO		0

/* Page kinds, in AlexPageOpaqueData.kind */
#define ALEX_PAGE_META			1
#define ALEX_PAGE_MODEL			2
#define ALEX_PAGE_LEAF_HEAD		3
#define ALEX_PAGE_LEAF_DATA		4
#define ALEX_PAGE_FREE			5	/* recycled, waiting in the FSM */
#define ALEX_PAGE_LEAF_VECTORS	6	/* full vectors of one data page's lanes */

/* Page flags */
#define ALEX_PAGE_DELETED		0x0001	/* leaf replaced by a split */

/* Support function numbers */
#define ALEX_DISTANCE_PROC		1
#define ALEX_METRIC_PROC		2
#define ALEX_NUM_PROCS			2

/*
 * Vectors whose centroid does not fit on a model page route in a sketch of
 * this many dimensions (see AlexPrepareVector).
 */
#define ALEX_SKETCH_DIMENSIONS	1024

/* ALEX densities: bulk load at 0.7, after an expand or split at 0.6 */
#define ALEX_BUILD_DENSITY		0.7
#define ALEX_GROWTH_DENSITY		0.6

/* Leaf sizing of the cost model (see alexinsert.c) */
#define ALEX_MIN_LEAF_ENTRIES	64
#define ALEX_LEAF_SIZE_FACTOR	0.5
/* rerank = table: fewer, larger leaves, for fewer part-empty pages */
#define ALEX_TABLE_LEAF_SIZE_FACTOR	1.0

/* GUC defaults and bounds */
#define ALEX_DEFAULT_PROBES		0	/* automatic: see AlexEffectiveProbes */
#define ALEX_AUTO_MIN_PROBES	10
#define ALEX_AUTO_PROBE_FRACTION 0.03
#define ALEX_MAX_PROBES_LIMIT	100000
#define ALEX_DEFAULT_MAX_PROBES 1000
#define ALEX_DEFAULT_BOUND_EPSILON 3.0

/* Below this many padded dimensions codes estimate too loosely: rerank all */
#define ALEX_MIN_CODE_DIMENSIONS 128

/* Reloption bounds: leaves = 0 means "choose from the row count" */
#define ALEX_MAX_LEAVES			100000
#define ALEX_DEFAULT_FANOUT		4096
#define ALEX_MIN_FANOUT			4
#define ALEX_MAX_FANOUT			100000

/* Build phases for pg_stat_progress_create_index */
#define ALEX_PHASE_SAMPLE		2
#define ALEX_PHASE_KMEANS		3
#define ALEX_PHASE_LOAD			4

extern int	alex_probes;
extern bool alex_debug_abort_splits;
extern int	alex_max_probes;
extern double alex_bound_epsilon;

/*
 * Special space of every page.  Ends in the 2-byte page id, so tools can
 * tell an alex page from another AM's.
 */
typedef struct AlexPageOpaqueData
{
	BlockNumber next;			/* next page of the same model node chain */
	BlockNumber owner;			/* model page: its node's first page; leaf
								 * data page: its leaf head; vector page: its
								 * data page */
	TransactionId xid;			/* deleted page: the next XID at deletion;
								 * live leaf head or model node's first
								 * page: the top transaction that wrote it
								 * (AlexStampWriter) */
	uint16		kind;			/* ALEX_PAGE_* */
	uint16		flags;			/* ALEX_PAGE_DELETED, ... */
	uint16		level;			/* model page: 0 routes to leaves, n > 0 to
								 * model nodes of level n - 1 */
	uint16		page_id;		/* ALEX_PAGE_ID */
} AlexPageOpaqueData;

typedef AlexPageOpaqueData *AlexPageOpaque;

#define AlexPageGetOpaque(page) ((AlexPageOpaque) PageGetSpecialPointer(page))

/* Distance metric, chosen by the operator class's ALEX_METRIC_PROC */
typedef enum AlexMetricKind
{
	ALEX_METRIC_L2 = 1,
	ALEX_METRIC_INNER_PRODUCT = 2,
	ALEX_METRIC_COSINE = 3,
	ALEX_METRIC_L1 = 4
} AlexMetricKind;

/* Metapage contents */
typedef struct AlexMetaPageData
{
	uint32		magic;
	uint32		version;
	uint32		dimensions;
	uint32		metric;			/* AlexMetricKind */
	BlockNumber root;			/* first page of the root model node */
	uint32		levels;			/* model levels above the leaves */
	uint32		leaves;			/* live leaves */
	uint32		fanout;			/* most entries a model node keeps */
	uint64		tuples;			/* entries, recounted at each split */
	uint64		routing_version;	/* bumped at every routing change */
	uint64		splits;			/* leaf splits since build */
	uint64		expands;		/* leaf expansions since build */
	uint64		merges;			/* leaves merged away by vacuum */
	uint64		rotation_seed;	/* of the quantizer's rotation */
	uint32		flags;			/* ALEX_META_* */
} AlexMetaPageData;

/*
 * Metapage flags.  VECTORS_IN_TABLE (WITH (rerank = table)): the leaves
 * keep codes only, and exact distances come from the table's rows.  An
 * index of format 2 without the flags word reads it as 0: vectors in the
 * index.
 */
#define ALEX_META_VECTORS_IN_TABLE	0x0001

/* Values of the rerank reloption */
typedef enum AlexRerankSource
{
	ALEX_RERANK_INDEX = 0,
	ALEX_RERANK_TABLE = 1
} AlexRerankSource;

typedef AlexMetaPageData *AlexMetaPage;

#define AlexPageGetMeta(page)	((AlexMetaPage) PageGetContents(page))

/*
 * A routing entry of a model node, stored as a page item.  Several entries
 * of a node may name the same child (ALEX's duplicate pointers).
 */
typedef struct AlexRouteEntryData
{
	BlockNumber child;			/* leaf head page */
	uint32		unused;
	float		centroid[FLEXIBLE_ARRAY_MEMBER];
} AlexRouteEntryData;

typedef AlexRouteEntryData *AlexRouteEntry;

#define ALEX_ROUTE_ENTRY_SIZE(dim) \
	MAXALIGN(offsetof(AlexRouteEntryData, centroid) + sizeof(float) * (dim))

/*
 * Leaf head page contents.  The 1-D key of a vector is its projection on
 * "direction" (the leaf's principal axis); the linear model key_slope * key +
 * key_intercept predicts the data page (0 .. npages-1) an entry belongs in.
 * direction is stored only when it fits beside the page list.
 */
typedef struct AlexLeafHeadData
{
	uint32		entries;		/* live entries in the data pages */
	uint32		capacity;		/* lanes in the data pages */
	uint32		counted;		/* entries already counted in meta->tuples */
	uint16		npages;			/* data pages in use */
	uint16		max_pages;		/* room in pages[] */
	uint16		has_direction;
	uint16		has_reference;
	float		key_slope;
	float		key_intercept;

	/*
	 * BlockNumber pages[max_pages]; uint16 used[max_pages] (occupied lanes
	 * per page); then, if has_reference, float reference[dimensions] (the
	 * centroid lane codes are relative to); then, if has_direction, float
	 * direction[dimensions]
	 */
	BlockNumber pages[FLEXIBLE_ARRAY_MEMBER];
} AlexLeafHeadData;

typedef AlexLeafHeadData *AlexLeafHead;

#define AlexPageGetLeafHead(page)	((AlexLeafHead) PageGetContents(page))

/*
 * Leaf data page header; lanes follow at lane_offset, each lane_size bytes:
 * an ItemPointerData heap TID, then the leaf format's payload.
 */
typedef struct AlexLeafDataHeader
{
	uint16		lanes;			/* lanes on this page */
	uint16		used;			/* occupied lanes (moved ones included) */
	uint16		lane_size;
	uint16		lane_offset;	/* from the start of the contents */
	uint16		moved;			/* lanes a split copied to another leaf */
	uint16		vector_slots;	/* length of the vector page list */
	TransactionId moved_xid;	/* next XID when the last of them moved */

	/*
	 * Bitmaps, one bit per lane: occupied[words], then moved[words].  A
	 * moved lane stays readable until no snapshot can still be using the
	 * routing from before the move (see alexsplit.c), then vacuum clears it.
	 * Then BlockNumber vector_pages[vector_slots]: lane i's vector is bytes
	 * [i * vector size, (i + 1) * vector size) of the concatenated contents
	 * of these pages, allocated when a lane first reaches them.
	 */
	uint64		occupied[FLEXIBLE_ARRAY_MEMBER];
} AlexLeafDataHeader;

/* How AlexVisitDataPage treats lanes */
typedef enum AlexVisitMode
{
	ALEX_VISIT_READ,			/* every occupied lane, moved ones too */
	ALEX_VISIT_READ_OWNED,		/* occupied lanes not moved away */
	ALEX_VISIT_CLEAR,			/* the visitor's true clears the lane */
	ALEX_VISIT_MARK_MOVED		/* the visitor's true marks it moved */
} AlexVisitMode;

#define AlexPageGetLeafData(page)	((AlexLeafDataHeader *) PageGetContents(page))

/*
 * Called for each occupied lane; returning true clears (or marks) the lane.
 * vector is the lane's full vector in the READ modes, NULL in the others.
 */
typedef bool (*AlexLaneVisitor) (ItemPointer tid, const char *payload,
								 const float *vector, int dimensions, void *arg);

/* What kind of routing change, for the metapage counters */
typedef enum AlexChange
{
	ALEX_CHANGE_NEW_LEAF,
	ALEX_CHANGE_SPLIT,
	ALEX_CHANGE_MERGE,
	ALEX_CHANGE_NODE_SPLIT		/* children are model nodes, not leaves */
} AlexChange;

/* What a backend knows of one leaf while routing */
typedef struct AlexRoute
{
	BlockNumber leaf;
	float	   *centroid;
	int			node;			/* parent: index into AlexRouting.nodes */
} AlexRoute;

/* A model node as the routing cache knows it */
typedef struct AlexRouteNode
{
	BlockNumber blkno;			/* first page of its chain */
	int			level;
	int			parent;			/* index into nodes; -1 for the root */
	float	   *centroid;		/* its entry in the parent; NULL for the root */
	int			first;			/* level > 0: children nodes[first..];
								 * level 0: routes[first..] */
	int			count;
	int			leaves;			/* leaves below it */
} AlexRouteNode;

/*
 * The model nodes and their entries, cached in backend memory (the index
 * relcache entry's rd_amcache), reloaded when the metapage's
 * routing_version moves.  routes[] lists every leaf, grouped by parent.
 */
typedef struct AlexRouting
{
	Oid			relid;
	AlexFileId	node;			/* a REINDEX or TRUNCATE changes this */
	uint64		version;
	int			dimensions;		/* of the centroids: route dimensions */
	int			nroutes;
	AlexRoute  *routes;
	int			nnodes;
	AlexRouteNode *nodes;		/* nodes[0] is the root */
	float	   *centroids;		/* (nroutes + nnodes) x dimensions */
	/* the leaf centroids in 8 bits, to order a query's probes */
	int8	   *route_codes;	/* nroutes x dimensions: centroid ~= scale * code */
	float	   *route_scales;
	float	   *route_norms;	/* |centroid|^2, exact */

	/*
	 * With many leaves, a prefilter for ordering them: a lower bound of
	 * every leaf's score from the centroids' top principal directions P
	 * first, the 8-bit centroids only for the leaves whose bound can still
	 * win.  Room for it is in the chunk when prefilter_directions > 0; a
	 * scan fits it on first use (AlexPrepareRoutePrefilter), and a reload
	 * keeps the old basis.
	 */
	int			prefilter_directions;
	bool		prefilter_basis_ready;
	bool		prefilter_ready;
	float	   *prefilter_basis;	/* directions x dimensions, orthonormal */
	float	   *prefilter_projected;	/* nroutes x directions: P centroid */
	float	   *prefilter_residuals;	/* |centroid - P'P centroid| */
} AlexRouting;

/* Per-index facts needed everywhere, taken from the metapage and opclass */
typedef struct AlexIndexInfo
{
	int			dimensions;
	int			route_dimensions;	/* of centroids: dimensions, or the
									 * sketch's for vectors too wide for a
									 * model page */
	AlexMetricKind metric;
	BlockNumber root;
	uint64		routing_version;
	uint64		tuples;
	uint32		leaves;
	uint32		fanout;
	uint32		levels;
	uint64		rotation_seed;
	bool		vectors_in_index;	/* rerank = index: full vectors in
									 * vector pages; else only codes */
} AlexIndexInfo;

/* The RaBitQ quantizer of an index (alexquant.c) */
/*
 * A few floats or doubles as one value (GCC/clang vector extension): SIMD
 * registers where the target has them, plain code elsewhere.  Each element
 * is one IEEE operation either way, so every CPU gets the same bits.
 */
typedef float AlexFloat4 __attribute__((vector_size(4 * sizeof(float))));
typedef float AlexFloat8 __attribute__((vector_size(8 * sizeof(float))));
typedef double AlexDouble2 __attribute__((vector_size(2 * sizeof(double))));

typedef struct AlexQuantizer
{
	int			dimensions;
	int			padded;			/* a power of two >= dimensions */
	uint64		seed;
	float	   *signs;			/* the rotation's sign flips, rounds x padded */
} AlexQuantizer;

/* A query prepared for estimating against codes */
typedef struct AlexQueryCode
{
	AlexMetricKind metric;
	int			dimensions;
	int			padded;
	float	   *query;			/* as the estimator sees it */
	uint64	   *planes;			/* P q in 8-bit steps, one bit plane each */
	int			words;			/* of a code and of a plane */
	double		low;			/* P q ~= low + step * level */
	double		step;
	double		rounding;		/* largest |P q - (low + step * level)| */
	double		sum;			/* sum of P q */
	double		inv_sqrt;		/* 1 / sqrt(padded) */
} AlexQueryCode;

/* The per-leaf part of an estimate */
typedef struct AlexLeafTerms
{
	float		base;
	float		norm;
} AlexLeafTerms;

/* A (distance, leaf) pair for probe ordering */
typedef struct AlexProbe
{
	float		distance;
	BlockNumber leaf;
} AlexProbe;

/* Reads indexed vectors back from the table's rows (alexheap.c) */
typedef struct AlexTableReader AlexTableReader;

/* One candidate of a scan */
typedef struct AlexCandidate
{
	double		bound;			/* lower bound from the code; then exact */
	ItemPointerData tid;
	uint16		lane;
	int32		page;			/* index into the scan's data page list */
} AlexCandidate;

/* A data page a scan has read codes from, for reading vectors later */
typedef struct AlexScannedPage
{
	BlockNumber blkno;
	BlockNumber *vector_pages;
} AlexScannedPage;

/* A binary min-heap of candidates */
typedef struct AlexCandidateHeap
{
	AlexCandidate *items;
	int			n;
	int			capacity;
} AlexCandidateHeap;

/* Scan state */
typedef struct AlexScanOpaqueData
{
	MemoryContext scan_context;
	bool		started;
	bool		empty_query;	/* NULL or unindexable query: no rows */
	AlexIndexInfo info;
	float	   *query;			/* as given */
	float	   *route_query;	/* normalised for cosine routing */
	AlexProbe  *probes;			/* leaves nearest first */
	int			nprobes;
	int			next_probe;		/* next leaf to scan */
	AlexQueryCode query_code;	/* the query, for estimating from codes */
	AlexCandidateHeap bounds;	/* not reranked yet, the least by lower bound */
	AlexCandidateHeap reserve;	/* not reranked yet, unordered, no less */
	AlexCandidateHeap exact;	/* reranked, by exact distance */
	AlexScannedPage *pages;		/* data pages of this batch */
	int			npages;
	int			max_pages;
	float	   *vector;			/* a reranked vector */
	Buffer	   *rerank_pins;	/* vector pages of the batch being reranked */
	AlexTableReader *table;		/* rerank = table: the rows, as the scan's
								 * snapshot sees them */
	struct HTAB *emitted;		/* TIDs returned so far */
	struct HTAB *probed;		/* leaves already scanned */
	int			nprobed;
	int			total_leaves;
	bool		routed_all;		/* probes[] holds every leaf */
	bool		rerank_all;		/* every leaf probed, or codes too short:
								 * every candidate gets its exact distance */
	int			probes_per_batch;	/* alex.probes, or its automatic value */
} AlexScanOpaqueData;

typedef AlexScanOpaqueData *AlexScanOpaque;

/* The serial build's page writer (alexbulk.c) */
typedef struct AlexBulkWriter AlexBulkWriter;

/* Build state */
typedef struct AlexBuildState
{
	Relation	heap;
	Relation	index;
	IndexInfo  *index_info;
	AlexIndexInfo info;
	double		heap_tuples;
	double		index_tuples;
	struct AlexParallelShared *shared;	/* parallel load: all participants'
										 * count; NULL when serial */
	bool		report_progress;	/* the leader (or a serial build) */
	/* sampling */
	int			sample_target;
	int			sample_count;
	float	   *samples;
	Datum	   *sample_toasted;	/* per slot: the row's TOAST pointer while
								 * its vector is not fetched yet, else 0 */
	bool	   *sample_empty;	/* per slot: the row turned out unindexable */
	double		rows_seen;
	AlexRandom	prng;
	MemoryContext tmp_context;
	MemoryContext sample_context;	/* the sampled rows' TOAST pointers */
	AlexBulkWriter *bulk;		/* the serial load's leaf pages; else NULL */
} AlexBuildState;

/* alex.c */
extern void AlexInit(void);
extern int	AlexLeavesOption(Relation index);
extern int	AlexEffectiveProbes(int leaves);
extern int	AlexFanoutOption(Relation index);
extern AlexRerankSource AlexRerankOption(Relation index);
extern IndexBuildResult *alexbuild(Relation heap, Relation index, IndexInfo *indexInfo);
extern void alexbuildempty(Relation index);
extern bool alexinsert(Relation index, Datum *values, bool *isnull,
					   ItemPointer heap_tid, Relation heap,
					   IndexUniqueCheck checkUnique, bool indexUnchanged,
					   IndexInfo *indexInfo);
extern IndexBulkDeleteResult *alexbulkdelete(IndexVacuumInfo *info,
											 IndexBulkDeleteResult *stats,
											 IndexBulkDeleteCallback callback,
											 void *callback_state);
extern IndexBulkDeleteResult *alexvacuumcleanup(IndexVacuumInfo *info,
												IndexBulkDeleteResult *stats);
extern void alexcostestimate(PlannerInfo *root, IndexPath *path,
							 double loop_count, Cost *indexStartupCost,
							 Cost *indexTotalCost, Selectivity *indexSelectivity,
							 double *indexCorrelation, double *indexPages);
extern bool alexvalidate(Oid opclassoid);
extern IndexScanDesc alexbeginscan(Relation index, int nkeys, int norderbys);
extern void alexrescan(IndexScanDesc scan, ScanKey keys, int nkeys,
					   ScanKey orderbys, int norderbys);
extern bool alexgettuple(IndexScanDesc scan, ScanDirection dir);
extern void alexendscan(IndexScanDesc scan);

/* alexutils.c: pages, metapage, metric */
extern void AlexInitPage(Page page, uint16 kind);
extern void AlexStampWriter(Page page);
extern bool AlexPageStartsRoutable(Page page, BlockNumber blkno);
extern void AlexCheckPage(Relation index, Page page, BlockNumber blkno, uint16 kind);
extern Buffer AlexNewBuffer(Relation index);
extern Buffer AlexReadBuffer(Relation index, BlockNumber blkno);
extern void AlexPrefetchBuffer(Relation index, BlockNumber blkno);
extern Buffer AlexExtendFork(Relation index, ForkNumber fork);
extern void AlexReadIndexInfo(Relation index, AlexIndexInfo *info);
extern AlexMetricKind AlexGetMetric(Relation index);
extern const float *AlexDatumVector(Relation index, Datum value, int *dim);
extern int	AlexRouteDimensions(int dimensions);
extern bool AlexRoutesVectorsAsGiven(const AlexIndexInfo *info);
extern bool AlexPrepareVector(const AlexIndexInfo *info, const float *in, float *out);
extern bool AlexScaleToUnitLength(float *x, int dim);
extern float AlexRouteDistance(AlexMetricKind metric, const float *a, const float *b, int dim);
extern bool AlexSphericalCentroids(AlexMetricKind metric);
extern void AlexSetTupleCount(Relation index, uint64 tuples);
extern const float *AlexCodeReference(const AlexIndexInfo *info, const float *centroid);

/*
 * A cut through many values that keeps at least a wanted number of the
 * least (AlexFindLeastCut): a value is kept when AlexBelowCut.  Kept values
 * are never greater than values left out.
 */
#define ALEX_CUT_BUCKETS	256
typedef struct AlexLeastCut
{
	double		least;
	double		scale;			/* buckets per unit of value */
	int			bucket;			/* the last bucket kept */
} AlexLeastCut;

static inline int
AlexCutBucket(const AlexLeastCut *cut, double value)
{
	int			bucket;

	if (cut->scale == 0)
		return 0;				/* keep everything */
	/* monotonic in value, so buckets never reorder values */
	bucket = (int) ((value - cut->least) * cut->scale);
	return Min(bucket, ALEX_CUT_BUCKETS - 1);
}

static inline bool
AlexBelowCut(const AlexLeastCut *cut, double value)
{
	return AlexCutBucket(cut, value) <= cut->bucket;
}

extern void AlexFindLeastCut(const double *values, int n, int want, AlexLeastCut *cut);

/* alexbuild.c */
extern bool AlexIndexableValue(Relation index, const AlexIndexInfo *info, Datum value,
							   bool isnull, const float **vector);

/* alexrouting.c: model nodes */
extern AlexRouting *AlexGetRouting(Relation index, const AlexIndexInfo *info);
extern BlockNumber *AlexRoutedBlocks(const AlexRouting *routing, int *n);
extern bool AlexBlockIsRouted(const BlockNumber *routed, int n, BlockNumber blkno);
extern AlexRouting *AlexRefreshRouting(Relation index, AlexIndexInfo *info);
extern void AlexPrepareRoutePrefilter(AlexRouting *routing, AlexMetricKind metric);
extern int	AlexOrderRoutes(const AlexRouting *routing, AlexMetricKind metric,
							const float *query, int min_leaves, int beam_leaves,
							AlexProbe *out);
extern int	AlexNearestRoute(const AlexRouting *routing, AlexMetricKind metric,
							 const float *query);
extern int	AlexFindRoute(const AlexRouting *routing, BlockNumber leaf);
extern BlockNumber AlexWriteNode(Relation index, Buffer first_buf, int level,
								 const BlockNumber *children, const float *centroids,
								 int n, int dimensions);
extern void AlexSwitchRoutes(Relation index, AlexIndexInfo *info, int child_level,
							 const BlockNumber *old_children, Buffer *old_bufs,
							 int n_old, const BlockNumber *new_children,
							 const float *new_centroids, int n_new,
							 int64 tuples_delta, AlexChange change);
extern void AlexSplitNodes(Relation index, AlexIndexInfo *info);

/* alexleaf.c: leaves and the lane format */
extern Size AlexLanePayloadSize(int dimensions);
extern int	AlexLanesPerPage(const AlexIndexInfo *info);
extern int	AlexMaxDimensions(void);
extern int	AlexVectorSlots(const AlexIndexInfo *info);
extern BlockNumber *AlexVectorPageList(AlexLeafDataHeader *hdr);
extern void AlexCheckVectorPage(Relation index, Page page, BlockNumber blkno,
								BlockNumber data_blkno);
extern int	AlexLeafMaxPages(int dimensions);
extern int	AlexLeafPagesFor(const AlexIndexInfo *info, int capacity);
extern double AlexExactDistance(AlexMetricKind metric, const float *query,
								const float *vector, int dimensions);
extern BlockNumber AlexCreateLeaf(Relation index, const AlexIndexInfo *info, int capacity,
								  const float *direction, float key_slope,
								  float key_intercept, const float *reference);
extern BlockNumber AlexBuildLeaf(Relation index, const AlexIndexInfo *info, double density,
								 const float *reference, const ItemPointerData *tids,
								 const float *vectors, int n, AlexBulkWriter *bulk);
extern bool AlexLeafInsert(Relation index, const AlexIndexInfo *info, Buffer head_buf,
						   const float *vector, ItemPointer tid);
extern const float *AlexLeafReference(const AlexLeafHead head, int dimensions);
extern void AlexPrefetchLeafReference(Page page, int dimensions);
extern bool AlexLeafExpand(Relation index, Buffer head_buf, const AlexIndexInfo *info,
						   int extra_pages);
extern int	AlexVisitDataPage(Relation index, Buffer head_buf, int page_index,
							  BlockNumber blkno, const AlexIndexInfo *info,
							  AlexVisitMode mode,
							  AlexLaneVisitor visitor, void *arg);
extern uint64 AlexCountEntries(Relation index, AlexIndexInfo *info, uint64 *capacity,
							   int *leaves);
extern void AlexCheckLeafHead(Relation index, Page page, BlockNumber blkno, int dimensions);
extern bool AlexDataPageBitsConsistent(AlexLeafDataHeader *hdr);
/* Occupied lanes of a data page, up to ALEX_CODE_BATCH at a time */
#define ALEX_CODE_BATCH 64
typedef struct AlexLaneCodes
{
	int			n;
	int			lanes[ALEX_CODE_BATCH];
	ItemPointer tids[ALEX_CODE_BATCH];
	const char *payloads[ALEX_CODE_BATCH];
} AlexLaneCodes;
typedef void (*AlexCodeVisitor) (const AlexLaneCodes *codes, void *arg);
extern BlockNumber *AlexVisitCodes(Relation index, Buffer buf, const AlexIndexInfo *info,
								   AlexCodeVisitor visitor, void *arg);
extern int	AlexVectorSpan(int dimensions);
extern int	AlexPinLaneVector(Relation index, BlockNumber data_blkno,
							  const BlockNumber *vector_pages, int lane, int dimensions,
							  Buffer *bufs);
extern void AlexReadLaneVector(Relation index, BlockNumber data_blkno, const Buffer *bufs,
							   int lane, int dimensions, float *out);
extern int	AlexPurgeMovedLanes(Relation index, Buffer head_buf, int page_index,
								BlockNumber blkno);
extern int	AlexLeafUsedCount(const AlexLeafHead head, int page_index);
extern bool AlexLeafGetDirection(const AlexLeafHead head, int dimensions, float *out);
extern float AlexLeafKey(const AlexLeafHead head, const float *vector, int dimensions);
extern void AlexFitDirection(const float *vectors, int n, int dimensions,
							 float *direction, float *slope, float *intercept,
							 int npages);
extern int	AlexFloatCompare(const void *a, const void *b);

/* alexheap.c: vectors from the table's rows (rerank = table) */
extern AlexTableReader *AlexBeginTableReader(Relation index, Relation heap,
											 Snapshot snapshot);
extern bool AlexReadTableVector(AlexTableReader *reader, ItemPointer tid, float *out,
								int dimensions);
extern void AlexEndTableReader(AlexTableReader *reader);

/* alexquant.c: RaBitQ lane codes */
#define ALEX_ROTATION_SEED	UINT64CONST(0x0A1E7DB0C0DE5EED)

extern Size AlexCodeSize(int dimensions);
extern bool AlexCodesUsable(int dimensions);
extern const AlexQuantizer *AlexGetQuantizer(int dimensions, uint64 seed);
extern void AlexRotate(const AlexQuantizer *qz, const float *in, float *out);
extern void AlexEncodeCode(const AlexQuantizer *qz, AlexMetricKind metric,
						   const float *vector, const float *reference, char *payload);

/* Encoding many vectors relative to one reference (a leaf written whole) */
typedef struct AlexEncoder
{
	const AlexQuantizer *qz;
	AlexMetricKind metric;
	const float *reference;		/* NULL: zero */
	const float *rotated_reference; /* P reference, where the code needs it */
	float	   *scratch;		/* and the rotated reference's copy */
} AlexEncoder;

extern void AlexBeginEncoder(AlexEncoder *enc, const AlexQuantizer *qz,
							 AlexMetricKind metric, const float *reference);
extern void AlexEncode(AlexEncoder *enc, const float *vector, char *payload);
extern void AlexEndEncoder(AlexEncoder *enc);
extern void AlexPrepareQueryCode(const AlexQuantizer *qz, AlexMetricKind metric,
								 const float *query, AlexQueryCode *qc);
extern void AlexLeafQueryTerms(const AlexQueryCode *qc, const float *reference,
							   AlexLeafTerms *terms);
extern void AlexCodeLowerBounds(const AlexQueryCode *qc, const AlexLeafTerms *terms,
								const char *const *payloads, int n, double *bounds);

/* alexkmeans.c */
extern int	AlexNearestCentroid(AlexMetricKind metric, const float *x,
								const float *centroids, int k, int dimensions);
extern void AlexCentroidOf(const float *rows, int n, int dimensions, AlexMetricKind metric,
						   float *centroid);

typedef struct AlexCentroidSums
{
	int			k;
	int			dimensions;
	double	   *sums;			/* k x dimensions */
	int		   *counts;			/* rows added to each cluster */
} AlexCentroidSums;

extern AlexCentroidSums *AlexBeginCentroidSums(int k, int dimensions);
extern void AlexResetCentroidSums(AlexCentroidSums *acc);
extern void AlexAddToCentroidSums(AlexCentroidSums *acc, const float *rows, int n,
								  const int *assignment);
extern void AlexFinishCentroidSums(const AlexCentroidSums *acc, AlexMetricKind metric,
								   float *centroids);
extern void AlexEndCentroidSums(AlexCentroidSums *acc);

/* alexassign.c */
typedef struct AlexCentroidSearch AlexCentroidSearch;
/*
 * Centroids a row weighs again once centroids moved a little: its nearest
 * ones before the move (k-means after its first iteration, the in-memory
 * build's Lloyd step over all rows)
 */
#define ALEX_REROUTE_CANDIDATES 8

extern AlexCentroidSearch *AlexBeginCentroidSearch(AlexMetricKind metric,
												   const float *centroids, int k,
												   int dimensions);
#define ALEX_MAX_NEAR 16			/* most nearest centroids kept a row */
extern void AlexFindNearestCentroids(AlexCentroidSearch *search, const float *x, int n,
									 int *best, int *near, int nnear);
extern void AlexNearestAmong(AlexMetricKind metric, const float *x, int n,
							 const float *centroids, int dimensions, const int *candidates,
							 int ncandidates, int *best);
extern void AlexEndCentroidSearch(AlexCentroidSearch *search);
extern void AlexFitDirections(const float *centroids, int k, int dimensions, int directions,
							  float *basis);
extern void AlexNearestCentroids(AlexMetricKind metric, const float *x, int n,
								 const float *centroids, int k, int dimensions, int *best);
extern void AlexKmeans(const float *samples, int nsamples, int dimensions,
					   AlexMetricKind metric, int k, float *centroids);

/* alexbulk.c */
extern AlexBulkWriter *AlexBulkBegin(Relation index);
extern BlockNumber AlexBulkReserve(AlexBulkWriter *w, int n);
extern void AlexBulkWrite(AlexBulkWriter *w, BlockNumber blkno, Page page);
extern void AlexBulkEnd(AlexBulkWriter *w);

/* alextoast.c */
typedef struct AlexToastReader AlexToastReader;
typedef void (*AlexToastDeliver) (int64 key, Datum value, void *arg);
extern AlexToastReader *AlexToastReaderBegin(Relation heap);
extern bool AlexToastReaderDefer(AlexToastReader *tr, Datum value, int64 key);
extern void AlexToastReaderFinish(AlexToastReader *tr, AlexToastDeliver deliver, void *arg);
extern void AlexToastReaderDiscard(AlexToastReader *tr);

/* alexsplit.c */
extern void AlexSplitLeaf(Relation index, AlexIndexInfo *info, AlexRouting *routing,
						  Buffer head_buf, const float *centroid,
						  const float *vector, ItemPointer tid);
extern void AlexMergeLeaves(Relation index, AlexIndexInfo *info, Buffer *head_bufs,
							int n_old);

/* alexinsert.c */
extern double AlexTargetLeafSize(const AlexIndexInfo *info, double tuples);
extern void AlexInsertVector(Relation index, AlexIndexInfo *info,
							 const float *vector, ItemPointer tid, bool building);

#endif							/* OMENDB_ALEX_H */
