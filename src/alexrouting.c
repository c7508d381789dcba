/*-------------------------------------------------------------------------
 *
 * alexrouting.c
 *	  Model nodes: reading, caching, searching and changing the tree of
 *	  centroid tables that routes a vector to its leaves.
 *
 * A model node is a chain of ALEX_PAGE_MODEL pages whose items are routing
 * entries {child, centroid}; a level-0 node's children are leaves, a
 * level-n node's children are level n-1 nodes.  The root is named by the
 * metapage.  A node holds at most "fanout" entries (an index option): when
 * a leaf split pushes it past that, the node splits in two the same way a
 * leaf does, and a root split adds a level.
 *
 * Consistency: every routing change modifies the model pages it touches
 * and bumps the metapage's routing_version in one GenericXLog record,
 * holding all those buffers exclusively.  A reader reads the version, the
 * model pages one at a time, then the version again, and retries when it
 * moved (a sequence lock), so it never mixes two routings.
 *
 * Lock order, everywhere: leaf head pages (ascending block number), leaf
 * data pages, then model pages by level (lowest first; within a node its
 * first page, which every change to the node holds, then block number),
 * then the metapage.
 *
 * IDENTIFICATION
 *	  src/alexrouting.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "alex.h"
#include "distance.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/*
 * Error out, never crash, if a model page's items are not routing entries
 * of this index's size lying inside the page.
 */
static void
AlexCheckModelItems(Relation index, Page page, BlockNumber blkno, int dimensions)
{
	Size		entry_size = ALEX_ROUTE_ENTRY_SIZE(dimensions);

	for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
	{
		ItemId		item = PageGetItemId(page, off);

		if (!ItemIdIsNormal(item) || ItemIdGetLength(item) != entry_size ||
			ItemIdGetOffset(item) + entry_size > BLCKSZ)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has a corrupted model page at block %u",
							RelationGetRelationName(index), blkno),
					 errhint("Please REINDEX it.")));
	}
}

/* Called for each page of a model node; return false to stop the walk */
typedef bool (*AlexNodePageVisitor) (BlockNumber blkno, Page page, void *arg);

/*
 * Walk the chain of a model node from its first page, one page at a time
 * under a share lock, checking its items, calling visitor for each page.
 */
static void
AlexWalkNode(Relation index, BlockNumber first, int dimensions,
			 AlexNodePageVisitor visitor, void *arg)
{
	BlockNumber blkno = first;

	while (blkno != InvalidBlockNumber)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		bool		go_on;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		AlexCheckPage(index, page, blkno, ALEX_PAGE_MODEL);
		AlexCheckModelItems(index, page, blkno, dimensions);
		go_on = visitor(blkno, page, arg);
		blkno = AlexPageGetOpaque(page)->next;
		UnlockReleaseBuffer(buf);
		if (!go_on)
			break;
	}
}

#define NodeEntry(page, off) ((AlexRouteEntry) PageGetItem(page, PageGetItemId(page, off)))

/* Growable arrays used while loading */
typedef struct LoadList
{
	int			n;
	int			capacity;
	BlockNumber *blocks;
	int		   *parents;
	float	   *centroids;
	int			dim;
} LoadList;

static void
LoadListAdd(LoadList *list, BlockNumber blkno, int parent, const float *centroid)
{
	if (list->n == list->capacity)
	{
		list->capacity = Max(64, list->capacity * 2);
		list->blocks = list->blocks ? repalloc(list->blocks, sizeof(BlockNumber) * list->capacity) :
			palloc(sizeof(BlockNumber) * list->capacity);
		list->parents = list->parents ? repalloc(list->parents, sizeof(int) * list->capacity) :
			palloc(sizeof(int) * list->capacity);
		list->centroids = list->centroids ?
			repalloc_huge(list->centroids, sizeof(float) * list->dim * list->capacity) :
			palloc(sizeof(float) * list->dim * list->capacity);
	}
	list->blocks[list->n] = blkno;
	list->parents[list->n] = parent;
	if (centroid)
		memcpy(list->centroids + (Size) list->n * list->dim, centroid, sizeof(float) * list->dim);
	else
		memset(list->centroids + (Size) list->n * list->dim, 0, sizeof(float) * list->dim);
	list->n++;
}

typedef struct LoadState
{
	LoadList   *nodes;
	LoadList   *leaves;
	int			node;			/* index of the node being read */
	int			level;
} LoadState;

static bool
LoadNodePage(BlockNumber blkno, Page page, void *arg)
{
	LoadState  *ls = (LoadState *) arg;

	ls->level = AlexPageGetOpaque(page)->level;
	for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
	{
		AlexRouteEntry entry = NodeEntry(page, off);

		LoadListAdd(ls->level > 0 ? ls->nodes : ls->leaves, entry->child, ls->node,
					entry->centroid);
	}
	return true;
}

/*
 * The 8-bit copy of a vector (a centroid, a query): x ~= scale * code, the scale set by its
 * largest coordinate, each code rounded to nearest.
 */
static void
QuantizeInt8(const float *x, int dim, int8 *code, float *scale)
{
	float		largest = 0;

	for (int i = 0; i < dim; i++)
		largest = Max(largest, fabsf(x[i]));
	*scale = largest / 127.0f;
	for (int i = 0; i < dim; i++)
		code[i] = largest > 0 ? (int8) rintf(x[i] / *scale) : 0;
}

/*
 * The routing prefilter (AlexRouting): from how many leaves and dimensions,
 * in how many directions, and how many leaves beyond those asked for get
 * their 8-bit score.  On fashion-mnist (907 leaves, 784-d) scoring a query
 * against every 8-bit centroid read 0.7 MB and took a tenth of its time.
 */
#define PREFILTER_MIN_LEAVES		256
#define PREFILTER_MIN_DIMENSIONS	128
#define PREFILTER_DIRECTIONS		32
#define PREFILTER_MARGIN			32

/*
 * An insert's leaf: the float distance decides among the nearest few by
 * 8-bit centroids; a beam of model nodes covering this many leaves.
 */
#define NEAREST_CANDIDATES			4
#define NEAREST_BEAM_LEAVES			8

/*
 * Read the tree breadth-first from root into one palloc'd chunk in context
 * (rd_amcache wants a single chunk).  Breadth-first order keeps the
 * children of a node contiguous.
 */
static AlexRouting *
AlexLoadRouting(Relation index, BlockNumber root, int dim, MemoryContext context)
{
	LoadList	nodes = {0, 0, NULL, NULL, NULL, dim};
	LoadList	leaves = {0, 0, NULL, NULL, NULL, dim};
	int		   *levels;
	int			nlevels_cap = 64;
	AlexRouting *routing;
	Size		size;
	char	   *ptr;
	float	   *cptr;
	int			directions;

	levels = palloc(sizeof(int) * nlevels_cap);
	LoadListAdd(&nodes, root, -1, NULL);

	for (int i = 0; i < nodes.n; i++)
	{
		LoadState	ls = {&nodes, &leaves, i, -1};

		AlexWalkNode(index, nodes.blocks[i], dim, LoadNodePage, &ls);
		if (i >= nlevels_cap)
		{
			nlevels_cap *= 2;
			levels = repalloc(levels, sizeof(int) * nlevels_cap);
		}
		levels[i] = ls.level;
	}

	directions = leaves.n >= PREFILTER_MIN_LEAVES && dim >= PREFILTER_MIN_DIMENSIONS ?
		PREFILTER_DIRECTIONS : 0;
	size = MAXALIGN(sizeof(AlexRouting)) +
		MAXALIGN(sizeof(AlexRoute) * Max(leaves.n, 1)) +
		MAXALIGN(sizeof(AlexRouteNode) * nodes.n) +
		MAXALIGN(sizeof(float) * dim * (Size) (leaves.n + nodes.n)) +
		MAXALIGN(sizeof(float) * 2 * leaves.n) +
		MAXALIGN(sizeof(int8) * dim * (Size) leaves.n) +
		(directions > 0 ? sizeof(float) * ((Size) directions * (dim + leaves.n) + leaves.n) : 0);
	ptr = MemoryContextAllocExtended(context, size, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	routing = (AlexRouting *) ptr;
	ptr += MAXALIGN(sizeof(AlexRouting));
	routing->routes = (AlexRoute *) ptr;
	ptr += MAXALIGN(sizeof(AlexRoute) * Max(leaves.n, 1));
	routing->nodes = (AlexRouteNode *) ptr;
	ptr += MAXALIGN(sizeof(AlexRouteNode) * nodes.n);
	routing->centroids = cptr = (float *) ptr;
	ptr += MAXALIGN(sizeof(float) * dim * (Size) (leaves.n + nodes.n));
	routing->route_scales = (float *) ptr;
	routing->route_norms = routing->route_scales + leaves.n;
	ptr += MAXALIGN(sizeof(float) * 2 * leaves.n);
	routing->route_codes = (int8 *) ptr;
	ptr += MAXALIGN(sizeof(int8) * dim * (Size) leaves.n);
	routing->prefilter_directions = directions;
	if (directions > 0)
	{
		routing->prefilter_basis = (float *) ptr;
		routing->prefilter_projected = routing->prefilter_basis + (Size) directions * dim;
		routing->prefilter_residuals = routing->prefilter_projected + (Size) directions * leaves.n;
	}
	routing->dimensions = dim;
	routing->nroutes = leaves.n;
	routing->nnodes = nodes.n;

	for (int i = 0; i < nodes.n; i++)
	{
		AlexRouteNode *node = &routing->nodes[i];

		node->blkno = nodes.blocks[i];
		node->level = levels[i];
		node->parent = nodes.parents[i];
		node->first = -1;
		node->count = 0;
		node->leaves = 0;
		node->centroid = NULL;
		if (i > 0)
		{
			memcpy(cptr, nodes.centroids + (Size) i * dim, sizeof(float) * dim);
			node->centroid = cptr;
			cptr += dim;
		}
		if (node->parent >= 0)
		{
			AlexRouteNode *parent = &routing->nodes[node->parent];

			if (parent->first < 0)
				parent->first = i;
			parent->count++;
		}
	}
	for (int i = 0; i < leaves.n; i++)
	{
		AlexRoute  *route = &routing->routes[i];
		AlexRouteNode *parent = &routing->nodes[leaves.parents[i]];

		route->leaf = leaves.blocks[i];
		route->node = leaves.parents[i];
		memcpy(cptr, leaves.centroids + (Size) i * dim, sizeof(float) * dim);
		route->centroid = cptr;
		cptr += dim;
		QuantizeInt8(route->centroid, dim, routing->route_codes + (Size) i * dim,
						 &routing->route_scales[i]);
		routing->route_norms[i] = VectorInnerProduct(route->centroid, route->centroid, dim);
		if (parent->first < 0)
			parent->first = i;
		parent->count++;
	}
	/* leaves below each node: children come after their parent */
	for (int i = nodes.n - 1; i >= 0; i--)
	{
		AlexRouteNode *node = &routing->nodes[i];

		if (node->level == 0)
			node->leaves = node->count;
		if (node->parent >= 0)
			routing->nodes[node->parent].leaves += node->leaves;
	}

	if (nodes.blocks)
	{
		pfree(nodes.blocks);
		pfree(nodes.parents);
		pfree(nodes.centroids);
	}
	if (leaves.blocks)
	{
		pfree(leaves.blocks);
		pfree(leaves.parents);
		pfree(leaves.centroids);
	}
	pfree(levels);
	return routing;
}

/*
 * The routing of the index as of info->routing_version or later, from the
 * backend's cache when the metapage says it is current.  The result lives
 * until the next call for this index: copy what must outlive that.
 */
AlexRouting *
AlexGetRouting(Relation index, const AlexIndexInfo *info)
{
	AlexRouting *cached = (AlexRouting *) index->rd_amcache;
	uint64		version = info->routing_version;
	BlockNumber root = info->root;

	if (cached != NULL && cached->version == version &&
		AlexFileIdEquals(cached->node, AlexRelationFile(index)))
		return cached;

	for (;;)
	{
		AlexRouting *routing = AlexLoadRouting(index, root, info->route_dimensions,
											   index->rd_indexcxt);
		AlexIndexInfo now;

		AlexReadIndexInfo(index, &now);
		if (now.routing_version == version)
		{
			routing->version = version;
			routing->relid = RelationGetRelid(index);
			routing->node = AlexRelationFile(index);
			/* the old basis still spans where the centroids differ */
			if (cached != NULL && cached->prefilter_basis_ready &&
				cached->dimensions == routing->dimensions &&
				cached->prefilter_directions == routing->prefilter_directions)
			{
				memcpy(routing->prefilter_basis, cached->prefilter_basis,
					   sizeof(float) * routing->prefilter_directions * routing->dimensions);
				routing->prefilter_basis_ready = true;
			}
			if (index->rd_amcache != NULL)
				pfree(index->rd_amcache);
			index->rd_amcache = routing;
			return routing;
		}
		/* the routing changed while we read it: read it again */
		pfree(routing);
		version = now.routing_version;
		root = now.root;
	}
}

/*
 * Re-read the metapage and the routing: for a backend that found a leaf or
 * node deleted under it.
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
 * Put the k smallest probes (by AlexProbeCompare) first, in any order:
 * quickselect with a middle pivot.
 */
static void
SelectSmallest(AlexProbe *probes, int n, int k)
{
	int			lo = 0;
	int			hi = n - 1;

	while (lo < hi)
	{
		AlexProbe	pivot = probes[lo + (hi - lo) / 2];
		int			i = lo;
		int			j = hi;

		while (i <= j)
		{
			while (AlexProbeCompare(&probes[i], &pivot) < 0)
				i++;
			while (AlexProbeCompare(&probes[j], &pivot) > 0)
				j--;
			if (i <= j)
			{
				AlexProbe	tmp = probes[i];

				probes[i++] = probes[j];
				probes[j--] = tmp;
			}
		}
		if (k - 1 <= j)
			hi = j;
		else if (k - 1 >= i)
			lo = i;
		else
			break;
	}
}

/*
 * Descend the model levels with a beam: at each level the nearest nodes are
 * kept, at least two, until they hold at least min_leaves leaves.  Fills
 * beam (room for routing->nnodes) with level-0 nodes; returns how many.
 */
static int
BeamDescend(const AlexRouting *routing, AlexMetricKind metric, const float *query,
			int min_leaves, int *beam)
{
	int			dim = routing->dimensions;
	int			nbeam = 1;
	AlexProbe  *scratch = palloc(sizeof(AlexProbe) * routing->nnodes);

	beam[0] = 0;
	while (routing->nodes[beam[0]].level > 0)
	{
		int			nchildren = 0;
		int			covered = 0;
		int			kept = 0;

		for (int b = 0; b < nbeam; b++)
		{
			const AlexRouteNode *node = &routing->nodes[beam[b]];

			for (int c = node->first; c < node->first + node->count; c++)
			{
				scratch[nchildren].leaf = (BlockNumber) c;	/* node index */
				scratch[nchildren].distance =
					AlexRouteDistance(metric, query, routing->nodes[c].centroid, dim);
				nchildren++;
			}
		}
		if (nchildren == 0)
			break;
		qsort(scratch, nchildren, sizeof(AlexProbe), AlexProbeCompare);
		while (kept < nchildren && (kept < 2 || covered < min_leaves))
		{
			beam[kept] = (int) scratch[kept].leaf;
			covered += routing->nodes[beam[kept]].leaves;
			kept++;
		}
		nbeam = kept;
	}
	pfree(scratch);
	return nbeam;
}

/*
 * Make the routing's prefilter ready, when it has room for one and the
 * metric uses it: fit the directions unless a reload kept them, and
 * project the centroids.
 */
void
AlexPrepareRoutePrefilter(AlexRouting *routing, AlexMetricKind metric)
{
	int			m = routing->prefilter_directions;
	int			dim = routing->dimensions;
	float	   *centroids;

	/* L1 orders its leaves by float distances, one by one */
	if (m == 0 || routing->prefilter_ready || metric == ALEX_METRIC_L1)
		return;
	/* the leaf centroids are contiguous, in route order (AlexLoadRouting) */
	centroids = (float *) routing->routes[0].centroid;
	if (!routing->prefilter_basis_ready)
	{
		AlexFitDirections(centroids, routing->nroutes, dim, m, routing->prefilter_basis);
		routing->prefilter_basis_ready = true;
	}
	distance_kernels->dot_block(centroids, routing->nroutes, routing->prefilter_basis, m, dim,
								routing->prefilter_projected);
	for (int r = 0; r < routing->nroutes; r++)
	{
		const float *p = routing->prefilter_projected + (Size) r * m;

		routing->prefilter_residuals[r] =
			sqrtf(Max(0.0f, routing->route_norms[r] - VectorInnerProduct(p, p, m)));
	}
	routing->prefilter_ready = true;
}

/* A query as the 8-bit scoring and the prefilter see it */
typedef struct RouteQuery
{
	int8	   *code;
	float		scale;
	float	   *projected;		/* P q, with the prefilter */
	float		residual;		/* |q - P'P q| */
} RouteQuery;

/*
 * The score that orders the leaves (smaller is nearer) from a dot product
 * with the query: -<q, c> for inner product, else |c|^2 - 2 <q, c>, which
 * is |q - c|^2 less the same |q|^2 for every leaf.
 */
static inline float
RouteScore(const AlexRouting *routing, AlexMetricKind metric, int r, float dot)
{
	return metric == ALEX_METRIC_INNER_PRODUCT ? -dot : routing->route_norms[r] - 2 * dot;
}

static inline float
CodeScore(const AlexRouting *routing, AlexMetricKind metric, int r, const RouteQuery *rq,
		  int32 dot)
{
	return RouteScore(routing, metric, r, rq->scale * routing->route_scales[r] * (float) dot);
}

/*
 * Score n leaves of a node by their 8-bit centroids into out: the first n,
 * or those at the chosen offsets.  Chosen leaves lie scattered in memory:
 * their codes are prefetched first, so the loads overlap.
 */
static void
ScoreLeavesByCodes(const AlexRouting *routing, AlexMetricKind metric,
				   const AlexRouteNode *node, const RouteQuery *rq, const int *chosen,
				   int n, AlexProbe *out)
{
	int			dim = routing->dimensions;
	int32	   *dots = palloc(sizeof(int32) * Max(n, 1));

	if (chosen == NULL)
		distance_kernels->int8_dots(routing->route_codes + (Size) node->first * dim,
									n, dim, rq->code, dots);
	else
	{
		for (int i = 0; i < n; i++)
		{
			const int8 *code = routing->route_codes + (Size) (node->first + chosen[i]) * dim;

			for (int offset = 0; offset < dim; offset += 64)
				__builtin_prefetch(code + offset);
		}
		for (int i = 0; i < n; i++)
			distance_kernels->int8_dots(routing->route_codes +
										(Size) (node->first + chosen[i]) * dim,
										1, dim, rq->code, &dots[i]);
	}
	for (int i = 0; i < n; i++)
	{
		int			r = node->first + (chosen ? chosen[i] : i);

		out[i].leaf = routing->routes[r].leaf;
		out[i].distance = CodeScore(routing, metric, r, rq, dots[i]);
	}
	pfree(dots);
}

/*
 * Score the leaves of a level-0 node by their 8-bit centroids into out (as
 * leaf blocks), at least its min_leaves best; returns how many.  With the
 * prefilter, not all: split q and c into P q and the residual q' = q -
 * P'P q (c likewise); then <q, c> = <Pq, Pc> + <q', c'> and |<q', c'>| <=
 * |q'| |c'|, which bounds every score from below.  Only the leaves of the
 * least bounds get a score, then every other leaf whose bound is below the
 * min_leaves-th score so far: the best come out as without the prefilter
 * (fashion-mnist, 907 leaves, 18 probes: about 80 of them scored).
 */
static int
ScoreNodeLeaves(const AlexRouting *routing, AlexMetricKind metric, const AlexRouteNode *node,
				const RouteQuery *rq, int min_leaves, AlexProbe *out)
{
	int			m = routing->prefilter_directions;
	double	   *bounds;
	float	   *dots;
	int		   *chosen;
	int			nchosen = 0;
	int			nlate = 0;
	AlexLeastCut cut;
	float		threshold = -FLT_MAX;

	if (!routing->prefilter_ready || node->count - PREFILTER_MARGIN <= min_leaves)
	{
		ScoreLeavesByCodes(routing, metric, node, rq, NULL, node->count, out);
		return node->count;
	}

	bounds = palloc(sizeof(double) * node->count);
	dots = palloc(sizeof(float) * node->count);
	chosen = palloc(sizeof(int) * node->count);
	distance_kernels->dot_block(routing->prefilter_projected + (Size) node->first * m,
								node->count, rq->projected, 1, m, dots);
	for (int i = 0; i < node->count; i++)
	{
		int			r = node->first + i;

		/* the score of the largest <q, c> the bound allows */
		bounds[i] = RouteScore(routing, metric, r,
							   dots[i] + rq->residual * routing->prefilter_residuals[r]);
	}

	/* the least bounds, at least min_leaves + PREFILTER_MARGIN of them */
	AlexFindLeastCut(bounds, node->count, min_leaves + PREFILTER_MARGIN, &cut);
	for (int i = 0; i < node->count; i++)
		if (AlexBelowCut(&cut, bounds[i]))
			chosen[nchosen++] = i;
	ScoreLeavesByCodes(routing, metric, node, rq, chosen, nchosen, out);

	/* then any other leaf whose bound is below the min_leaves-th score */
	SelectSmallest(out, nchosen, min_leaves);
	for (int j = 0; j < min_leaves; j++)
		threshold = Max(threshold, out[j].distance);
	for (int i = 0; i < node->count; i++)
		if (!AlexBelowCut(&cut, bounds[i]) && bounds[i] < threshold)
			chosen[nlate++] = i;
	ScoreLeavesByCodes(routing, metric, node, rq, chosen, nlate, out + nchosen);

	pfree(bounds);
	pfree(dots);
	pfree(chosen);
	return nchosen + nlate;
}

/*
 * The nearest leaves to query (already prepared with AlexPrepareVector),
 * nearest first: of the leaves of the nodes BeamDescend keeps (covering
 * at least beam_leaves), the min_leaves nearest (all of them when
 * min_leaves covers every leaf).  out must have room for routing->nroutes
 * probes; returns how many it filled.
 */
int
AlexOrderRoutes(const AlexRouting *routing, AlexMetricKind metric,
				const float *query, int min_leaves, int beam_leaves, AlexProbe *out)
{
	int		   *beam;
	int			nbeam;
	int			n = 0;
	int			dim = routing->dimensions;
	bool		by_codes = metric != ALEX_METRIC_L1;
	RouteQuery	rq = {0};

	if (routing->nroutes == 0)
		return 0;
	beam = palloc(sizeof(int) * routing->nnodes);
	nbeam = BeamDescend(routing, metric, query, Max(min_leaves, beam_leaves), beam);

	/*
	 * Leaves by the 8-bit centroids (not for L1): a quarter of the memory
	 * traffic of the floats, which dominates routing (fashion-mnist: 436 x
	 * 784 floats, 1.4 MB a query).  The rounding only swaps leaves about
	 * equally near; the scan's results stay exact either way.
	 */
	if (by_codes)
	{
		rq.code = palloc(dim);
		QuantizeInt8(query, dim, rq.code, &rq.scale);
		if (routing->prefilter_ready)
		{
			int			m = routing->prefilter_directions;

			rq.projected = palloc(sizeof(float) * m);
			distance_kernels->dot_block(query, 1, routing->prefilter_basis, m, dim,
										rq.projected);
			rq.residual = sqrtf(Max(0.0f, VectorInnerProduct(query, query, dim) -
									VectorInnerProduct(rq.projected, rq.projected, m)));
		}
	}
	for (int b = 0; b < nbeam; b++)
	{
		const AlexRouteNode *node = &routing->nodes[beam[b]];

		if (node->level != 0)
			continue;
		if (by_codes)
		{
			n += ScoreNodeLeaves(routing, metric, node, &rq, min_leaves, out + n);
			continue;
		}
		for (int i = 0; i < node->count; i++)
		{
			int			r = node->first + i;

			out[n].leaf = routing->routes[r].leaf;
			out[n].distance = AlexRouteDistance(metric, query, routing->routes[r].centroid, dim);
			n++;
		}
	}
	if (rq.code)
		pfree(rq.code);
	if (rq.projected)
		pfree(rq.projected);
	if (min_leaves < n)
	{
		SelectSmallest(out, n, min_leaves);
		n = min_leaves;
	}
	qsort(out, n, sizeof(AlexProbe), AlexProbeCompare);
	pfree(beam);
	return n;
}

/*
 * Index into routing->routes of the leaf nearest to query, or -1 when there
 * is none.  Every insert routes this way, so not by float distances to
 * every leaf (at 1536-d and 1,271 leaves that read 7.8 MB of centroids a
 * row): AlexOrderRoutes picks the few nearest by their 8-bit centroids,
 * and of those the float distance decides.
 */
int
AlexNearestRoute(const AlexRouting *routing, AlexMetricKind metric, const float *query)
{
	AlexProbe  *probes;
	int			n;
	int			result = -1;
	float		best = 0;

	if (routing->nroutes == 0)
		return -1;
	probes = palloc(sizeof(AlexProbe) * routing->nroutes);
	n = AlexOrderRoutes(routing, metric, query, NEAREST_CANDIDATES, NEAREST_BEAM_LEAVES,
						probes);
	for (int i = 0; i < n; i++)
	{
		int			r = AlexFindRoute(routing, probes[i].leaf);
		float		d = AlexRouteDistance(metric, query, routing->routes[r].centroid,
										  routing->dimensions);

		if (result < 0 || d < best)
		{
			result = r;
			best = d;
		}
	}
	pfree(probes);
	return result;
}

/*
 * Index into routing->routes of a leaf, or -1.
 */
int
AlexFindRoute(const AlexRouting *routing, BlockNumber leaf)
{
	for (int i = 0; i < routing->nroutes; i++)
		if (routing->routes[i].leaf == leaf)
			return i;
	return -1;
}

/*
 * Fill a model-page item for (child, centroid).
 */
static void
AlexFormRoute(AlexRouteEntry entry, BlockNumber child, const float *centroid, int dim)
{
	entry->child = child;
	entry->unused = 0;
	memcpy(entry->centroid, centroid, sizeof(float) * dim);
}

/*
 * Write a model node of n entries at the given level, starting in
 * first_buf (exclusively locked, released here) or, when that is invalid,
 * in a new page.  The node is unreachable until someone routes to it, so
 * pages are logged as full images as they fill.  Returns its first block.
 */
BlockNumber
AlexWriteNode(Relation index, Buffer first_buf, int level, const BlockNumber *children,
			  const float *centroids, int n, int dimensions)
{
	Size		entry_size = ALEX_ROUTE_ENTRY_SIZE(dimensions);
	AlexRouteEntry entry = palloc0(entry_size);
	Buffer		buf = BufferIsValid(first_buf) ? first_buf : AlexNewBuffer(index);
	BlockNumber first = BufferGetBlockNumber(buf);
	int			i = 0;

	for (;;)
	{
		GenericXLogState *state = GenericXLogStart(index);
		Page		page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
		Buffer		next_buf = InvalidBuffer;

		AlexInitPage(page, ALEX_PAGE_MODEL);
		AlexPageGetOpaque(page)->level = level;
		AlexPageGetOpaque(page)->owner = first;
		if (BufferGetBlockNumber(buf) == first)
			AlexStampWriter(page);
		for (; i < n; i++)
		{
			AlexFormRoute(entry, children[i], centroids + (Size) i * dimensions, dimensions);
			if (PageAddItem(page, (Item) entry, entry_size, InvalidOffsetNumber,
							false, false) == InvalidOffsetNumber)
				break;
		}
		if (i < n)
		{
			next_buf = AlexNewBuffer(index);
			AlexPageGetOpaque(page)->next = BufferGetBlockNumber(next_buf);
		}
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
		if (!BufferIsValid(next_buf))
			break;
		buf = next_buf;
	}
	pfree(entry);
	return first;
}

/*
 * Where the routing entry of a child lives.
 */
typedef struct RouteLocation
{
	BlockNumber blkno;
	OffsetNumber offset;
} RouteLocation;

typedef struct LocateState
{
	const BlockNumber *children;
	int			nchildren;
	RouteLocation *found;
	int			nfound;
	Size		room_needed;
	BlockNumber room;
	BlockNumber tail;
} LocateState;

static bool
LocateInPage(BlockNumber blkno, Page page, void *arg)
{
	LocateState *ls = (LocateState *) arg;

	for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		for (int i = 0; i < ls->nchildren; i++)
			if (NodeEntry(page, off)->child == ls->children[i] &&
				ls->found[i].blkno == InvalidBlockNumber)
			{
				ls->found[i].blkno = blkno;
				ls->found[i].offset = off;
				ls->nfound++;
			}
	if (ls->room_needed > 0 && ls->room == InvalidBlockNumber &&
		PageGetFreeSpace(page) >= ls->room_needed)
		ls->room = blkno;
	ls->tail = blkno;
	return true;
}

/*
 * Scan a node's chain for the entries of the given children and for the
 * first page with room for "extra" more entries.  Returns false if some
 * child has no entry there.
 */
static bool
AlexLocateRoutes(Relation index, BlockNumber node, int dim,
				 const BlockNumber *children, int nchildren, RouteLocation *found,
				 int extra, BlockNumber *room, BlockNumber *tail)
{
	LocateState ls;

	for (int i = 0; i < nchildren; i++)
		found[i].blkno = InvalidBlockNumber;
	ls.children = children;
	ls.nchildren = nchildren;
	ls.found = found;
	ls.nfound = 0;
	ls.room_needed = extra > 0 ? (ALEX_ROUTE_ENTRY_SIZE(dim) + sizeof(ItemIdData)) * extra : 0;
	ls.room = InvalidBlockNumber;
	ls.tail = node;
	AlexWalkNode(index, node, dim, LocateInPage, &ls);
	*room = ls.room;
	*tail = ls.tail;
	return ls.nfound == nchildren;
}

/*
 * Append an empty page to the chain of node whose last page is tail.
 */
static void
AlexExtendModelChain(Relation index, BlockNumber node, BlockNumber tail)
{
	Buffer		tail_buf = ReadBuffer(index, tail);
	Buffer		new_buf;
	GenericXLogState *state;
	Page		tail_page;
	Page		new_page;

	LockBuffer(tail_buf, BUFFER_LOCK_EXCLUSIVE);
	tail_page = BufferGetPage(tail_buf);
	if (AlexPageGetOpaque(tail_page)->next != InvalidBlockNumber ||
		(AlexPageGetOpaque(tail_page)->flags & ALEX_PAGE_DELETED))
	{
		/* someone else extended or replaced it meanwhile: look again */
		UnlockReleaseBuffer(tail_buf);
		return;
	}
	new_buf = AlexNewBuffer(index);

	state = GenericXLogStart(index);
	tail_page = GenericXLogRegisterBuffer(state, tail_buf, 0);
	new_page = GenericXLogRegisterBuffer(state, new_buf, GENERIC_XLOG_FULL_IMAGE);
	AlexInitPage(new_page, ALEX_PAGE_MODEL);
	AlexPageGetOpaque(new_page)->level = AlexPageGetOpaque(tail_page)->level;
	AlexPageGetOpaque(new_page)->owner = node;
	AlexPageGetOpaque(tail_page)->next = BufferGetBlockNumber(new_buf);
	GenericXLogFinish(state);

	UnlockReleaseBuffer(new_buf);
	UnlockReleaseBuffer(tail_buf);
}

typedef struct ParentSearch
{
	BlockNumber child;
	int			min_level;
	BlockNumber node;			/* the node being walked */
	BlockNumber result;
	BlockNumber *queue;
	int			tail;
	int			capacity;
} ParentSearch;

static bool
SearchParentPage(BlockNumber blkno, Page page, void *arg)
{
	ParentSearch *ps = (ParentSearch *) arg;
	int			level = AlexPageGetOpaque(page)->level;

	if (level < ps->min_level)
		return false;
	for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
	{
		BlockNumber child = NodeEntry(page, off)->child;

		if (child == ps->child)
		{
			ps->result = ps->node;
			return false;
		}
		if (level > ps->min_level)
		{
			if (ps->tail == ps->capacity)
			{
				ps->capacity *= 2;
				ps->queue = repalloc(ps->queue, sizeof(BlockNumber) * ps->capacity);
			}
			ps->queue[ps->tail++] = child;
		}
	}
	return true;
}

/*
 * The model node (first page) whose entries name child, reading only the
 * nodes of level >= min_level (so a node splitter holding the pages of a
 * level min_level - 1 node never waits for itself), consistently against
 * routing changes.  InvalidBlockNumber if no node names it.
 */
static BlockNumber
AlexParentOf(Relation index, AlexIndexInfo *info, BlockNumber child, int min_level)
{
	for (;;)
	{
		ParentSearch ps;
		uint64		version;

		AlexReadIndexInfo(index, info);
		version = info->routing_version;
		ps.child = child;
		ps.min_level = min_level;
		ps.result = InvalidBlockNumber;
		ps.capacity = 64;
		ps.queue = palloc(sizeof(BlockNumber) * ps.capacity);
		ps.tail = 0;
		ps.queue[ps.tail++] = info->root;
		for (int head = 0; head < ps.tail && ps.result == InvalidBlockNumber; head++)
		{
			ps.node = ps.queue[head];
			AlexWalkNode(index, ps.node, info->route_dimensions, SearchParentPage, &ps);
		}
		pfree(ps.queue);

		AlexReadIndexInfo(index, info);
		if (info->routing_version == version)
			return ps.result;
	}
}

static int
BlockNumberCompare(const void *a, const void *b)
{
	BlockNumber ba = *(const BlockNumber *) a;
	BlockNumber bb = *(const BlockNumber *) b;

	return (ba > bb) - (ba < bb);
}

/*
 * The blocks a routing reaches, sorted: every leaf head and every model
 * node's first page.  palloc'd in the caller's context.
 */
BlockNumber *
AlexRoutedBlocks(const AlexRouting *routing, int *n)
{
	BlockNumber *blocks;

	*n = routing->nroutes + routing->nnodes;
	blocks = palloc(sizeof(BlockNumber) * Max(*n, 1));
	for (int i = 0; i < routing->nroutes; i++)
		blocks[i] = routing->routes[i].leaf;
	for (int i = 0; i < routing->nnodes; i++)
		blocks[routing->nroutes + i] = routing->nodes[i].blkno;
	qsort(blocks, *n, sizeof(BlockNumber), BlockNumberCompare);
	return blocks;
}

bool
AlexBlockIsRouted(const BlockNumber *routed, int n, BlockNumber blkno)
{
	return bsearch(&blkno, routed, n, sizeof(BlockNumber), BlockNumberCompare) != NULL;
}

/*
 * Replace the routing entries of old_children (all in one node, at level
 * child_level + 1; child_level is -1 for leaves) by entries
 * for new_children (with their centroids), in one WAL record that also bumps
 * routing_version, updates the metapage counters and marks the first old
 * child deleted; further old children are marked deleted in records of
 * their own just after.  With no old children (the first leaf of an empty
 * index) the entry goes into the root.
 *
 * The caller holds old_bufs (leaf heads, or the first pages of model nodes)
 * exclusively; they come first in the lock order.  n_new - n_old is at
 * most 1.
 */
void
AlexSwitchRoutes(Relation index, AlexIndexInfo *info, int child_level,
				 const BlockNumber *old_children, Buffer *old_bufs, int n_old,
				 const BlockNumber *new_children, const float *new_centroids, int n_new,
				 int64 tuples_delta, AlexChange change)
{
	int			dim = info->route_dimensions;
	Size		entry_size = ALEX_ROUTE_ENTRY_SIZE(dim);
	AlexRouteEntry entry = palloc0(entry_size);
	int			extra = n_new - n_old;
	TransactionId delete_xid = ReadNextTransactionId();

	Assert(n_old <= 2 && n_new <= 2 && extra <= 1);

	for (;;)
	{
		BlockNumber node;
		RouteLocation found[2];
		BlockNumber room;
		BlockNumber tail;
		BlockNumber blocks[4];
		Buffer		bufs[4];
		Page		pages[4];
		int			nblocks = 0;
		Buffer		meta_buf;
		GenericXLogState *state;
		Page		meta_page;
		AlexMetaPage meta;
		bool		valid = true;

		CHECK_FOR_INTERRUPTS();
		AlexReadIndexInfo(index, info);
		node = n_old > 0 ? AlexParentOf(index, info, old_children[0], child_level + 1) :
			info->root;
		if (node == InvalidBlockNumber)
			elog(ERROR, "alex index \"%s\" has no routing entry for a live child %u",
				 RelationGetRelationName(index), old_children[0]);

		if (!AlexLocateRoutes(index, node, dim, old_children, n_old, found,
							  extra, &room, &tail))
			continue;			/* the node changed under us: look again */

		if (extra > 0 && room == InvalidBlockNumber)
		{
			AlexExtendModelChain(index, node, tail);
			continue;
		}

		/*
		 * The node's first page (to see it is live; holding it serializes
		 * all changes to the node), then the other pages to change in block
		 * order.
		 */
		blocks[nblocks++] = node;
		for (int i = 0; i < n_old + (extra > 0 ? 1 : 0); i++)
		{
			BlockNumber b = i < n_old ? found[i].blkno : room;
			bool		dup = false;

			for (int k = 0; k < nblocks; k++)
				dup |= blocks[k] == b;
			if (!dup)
				blocks[nblocks++] = b;
		}
		qsort(blocks + 1, nblocks - 1, sizeof(BlockNumber), BlockNumberCompare);
		for (int i = 0; i < nblocks; i++)
		{
			bufs[i] = ReadBuffer(index, blocks[i]);
			LockBuffer(bufs[i], BUFFER_LOCK_EXCLUSIVE);
		}
		meta_buf = ReadBuffer(index, ALEX_METAPAGE_BLKNO);
		LockBuffer(meta_buf, BUFFER_LOCK_EXCLUSIVE);

		/* re-check under exclusive locks what we found under share locks */
		for (int b = 0; b < nblocks; b++)
		{
			Page		page = BufferGetPage(bufs[b]);

			if (blocks[b] == node && (AlexPageGetOpaque(page)->flags & ALEX_PAGE_DELETED))
				valid = false;
			for (int i = 0; i < n_old && valid; i++)
				if (found[i].blkno == blocks[b])
					valid = found[i].offset <= PageGetMaxOffsetNumber(page) &&
						((AlexRouteEntry) PageGetItem(page, PageGetItemId(page, found[i].offset)))->child == old_children[i];
			if (valid && extra > 0 && blocks[b] == room)
				valid = PageGetFreeSpace(page) >= entry_size + sizeof(ItemIdData);
		}
		if (valid && n_old == 0)
			valid = AlexPageGetMeta(BufferGetPage(meta_buf))->root == node;
		if (!valid)
		{
			UnlockReleaseBuffer(meta_buf);
			for (int i = 0; i < nblocks; i++)
				UnlockReleaseBuffer(bufs[i]);
			continue;
		}

		/*
		 * Register only the pages that change: with the metapage and the
		 * old child that is at most 4 (a split: the page of the replaced
		 * entry and the page with room; a merge: the pages of both entries).
		 */
		state = GenericXLogStart(index);
		for (int i = 0; i < nblocks; i++)
		{
			bool		modified = extra > 0 && blocks[i] == room;

			for (int j = 0; j < n_old; j++)
				modified |= found[j].blkno == blocks[i];
			pages[i] = modified ? GenericXLogRegisterBuffer(state, bufs[i], 0) : NULL;
		}
		meta_page = GenericXLogRegisterBuffer(state, meta_buf, 0);
		if (n_old > 0)
		{
			Page		old = GenericXLogRegisterBuffer(state, old_bufs[0], 0);

			AlexPageGetOpaque(old)->flags |= ALEX_PAGE_DELETED;
			AlexPageGetOpaque(old)->xid = delete_xid;
		}

		/* replace in place, remove surplus old entries (highest first), add */
		for (int i = 0; i < n_old && i < n_new; i++)
		{
			for (int b = 0; b < nblocks; b++)
				if (blocks[b] == found[i].blkno)
					AlexFormRoute((AlexRouteEntry) PageGetItem(pages[b], PageGetItemId(pages[b], found[i].offset)),
								  new_children[i], new_centroids + (Size) i * dim, dim);
		}
		for (int i = n_old - 1; i >= n_new; i--)
		{
			for (int b = 0; b < nblocks; b++)
				if (blocks[b] == found[i].blkno)
					PageIndexTupleDelete(pages[b], found[i].offset);
			for (int j = 0; j < i; j++)
				if (found[j].blkno == found[i].blkno && found[j].offset > found[i].offset)
					found[j].offset--;
		}
		for (int i = n_old; i < n_new; i++)
		{
			Page		page = NULL;

			for (int b = 0; b < nblocks; b++)
				if (blocks[b] == room)
					page = pages[b];
			AlexFormRoute(entry, new_children[i], new_centroids + (Size) i * dim, dim);
			if (page == NULL ||
				PageAddItem(page, (Item) entry, entry_size, InvalidOffsetNumber,
							false, false) == InvalidOffsetNumber)
				elog(ERROR, "failed to add routing entry to index \"%s\"",
					 RelationGetRelationName(index));
		}

		meta = AlexPageGetMeta(meta_page);
		meta->routing_version++;
		if (change != ALEX_CHANGE_NODE_SPLIT)
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

	/* the other replaced children are unreachable now; mark them for reuse */
	for (int i = 1; i < n_old; i++)
	{
		GenericXLogState *state = GenericXLogStart(index);
		Page		old = GenericXLogRegisterBuffer(state, old_bufs[i], 0);

		AlexPageGetOpaque(old)->flags |= ALEX_PAGE_DELETED;
		AlexPageGetOpaque(old)->xid = delete_xid;
		GenericXLogFinish(state);
	}
	pfree(entry);
}

/* ---------- model node splits ---------- */

/* The entries of a node, gathered for its split */
typedef struct CollectState
{
	int			dim;
	int			n;
	int			capacity;
	BlockNumber *children;
	float	   *centroids;
} CollectState;

static bool
CollectNodePage(BlockNumber blkno, Page page, void *arg)
{
	CollectState *cs = (CollectState *) arg;

	for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
	{
		AlexRouteEntry entry = NodeEntry(page, off);

		if (cs->n == cs->capacity)
		{
			cs->capacity *= 2;
			cs->children = repalloc(cs->children, sizeof(BlockNumber) * cs->capacity);
			cs->centroids = repalloc_huge(cs->centroids,
										  sizeof(float) * cs->dim * cs->capacity);
		}
		cs->children[cs->n] = entry->child;
		memcpy(cs->centroids + (Size) cs->n * cs->dim, entry->centroid,
			   sizeof(float) * cs->dim);
		cs->n++;
	}
	return true;
}

/*
 * Split the model node (first page node_blkno) if it holds more than
 * fanout entries: its entries go to two new nodes (2-means on their
 * centroids), the parent's entry is replaced by two (or, for the root, a
 * new root with two entries adds a level).  Returns true if it split.
 */
static bool
AlexSplitNode(Relation index, AlexIndexInfo *info, BlockNumber node_blkno)
{
	int			dim = info->route_dimensions;
	Buffer		first_buf;
	Page		first_page;
	int			level;
	CollectState cs;
	float	   *centroids;
	BlockNumber *children;
	int			n;
	int		   *side;
	float	   *means = palloc0(sizeof(float) * 2 * dim);
	BlockNumber new_nodes[2];
	bool		split = false;

	/*
	 * The node's first page, held exclusively, serializes every change to
	 * the node's entries (AlexSwitchRoutes always takes it first), so the
	 * rest of the chain can be read one page at a time: no need to hold
	 * hundreds of buffer locks at once.
	 */
	first_buf = ReadBuffer(index, node_blkno);
	LockBuffer(first_buf, BUFFER_LOCK_EXCLUSIVE);
	first_page = BufferGetPage(first_buf);
	AlexCheckPage(index, first_page, node_blkno, ALEX_PAGE_MODEL);
	if (AlexPageGetOpaque(first_page)->owner != node_blkno ||
		(AlexPageGetOpaque(first_page)->flags & ALEX_PAGE_DELETED))
	{
		UnlockReleaseBuffer(first_buf);
		pfree(means);
		return false;
	}
	level = AlexPageGetOpaque(first_page)->level;
	AlexCheckModelItems(index, first_page, node_blkno, dim);

	cs.dim = dim;
	cs.n = 0;
	cs.capacity = 256;
	cs.children = palloc(sizeof(BlockNumber) * cs.capacity);
	cs.centroids = palloc(sizeof(float) * dim * cs.capacity);
	CollectNodePage(node_blkno, first_page, &cs);
	if (AlexPageGetOpaque(first_page)->next != InvalidBlockNumber)
		AlexWalkNode(index, AlexPageGetOpaque(first_page)->next, dim, CollectNodePage, &cs);
	children = cs.children;
	centroids = cs.centroids;
	n = cs.n;

	if (n <= (int) info->fanout || n < 2)
		goto done;

	/* 2-means over the entries' centroids, deterministic seeds */
	side = palloc(sizeof(int) * n);
	AlexKmeans(centroids, n, dim, info->metric, 2, means);
	{
		int			counts[2] = {0, 0};

		for (int i = 0; i < n; i++)
		{
			side[i] = AlexNearestCentroid(info->metric, centroids + (Size) i * dim, means, 2, dim);
			counts[side[i]]++;
		}
		if (counts[0] == 0 || counts[1] == 0)
			for (int i = 0; i < n; i++)
				side[i] = i % 2;
	}

	/* the two new nodes, unreachable until the switch */
	for (int s = 0; s < 2; s++)
	{
		BlockNumber *sc = palloc(sizeof(BlockNumber) * n);
		float	   *cc = palloc(sizeof(float) * dim * n);
		int			m = 0;

		for (int i = 0; i < n; i++)
			if (side[i] == s)
			{
				sc[m] = children[i];
				memcpy(cc + (Size) m * dim, centroids + (Size) i * dim, sizeof(float) * dim);
				m++;
			}
		new_nodes[s] = AlexWriteNode(index, InvalidBuffer, level, sc, cc, m, dim);
		pfree(sc);
		pfree(cc);
	}

	{
		AlexReadIndexInfo(index, info);
		if (info->root == node_blkno)
		{
			/* a root split adds a level */
			BlockNumber new_root = AlexWriteNode(index, InvalidBuffer, level + 1,
												 new_nodes, means, 2, dim);
			Buffer		meta_buf = ReadBuffer(index, ALEX_METAPAGE_BLKNO);
			GenericXLogState *state;
			AlexMetaPage meta;
			Page		first;

			LockBuffer(meta_buf, BUFFER_LOCK_EXCLUSIVE);
			state = GenericXLogStart(index);
			meta = AlexPageGetMeta(GenericXLogRegisterBuffer(state, meta_buf, 0));
			first = GenericXLogRegisterBuffer(state, first_buf, 0);
			meta->root = new_root;
			meta->levels = level + 2;
			meta->routing_version++;
			AlexPageGetOpaque(first)->flags |= ALEX_PAGE_DELETED;
			AlexPageGetOpaque(first)->xid = ReadNextTransactionId();
			GenericXLogFinish(state);
			UnlockReleaseBuffer(meta_buf);
		}
		else
			AlexSwitchRoutes(index, info, level, &node_blkno, &first_buf, 1, new_nodes,
							 means, 2, 0, ALEX_CHANGE_NODE_SPLIT);
	}
	split = true;

done:
	UnlockReleaseBuffer(first_buf);
	pfree(children);
	pfree(centroids);
	pfree(means);
	return split;
}

/*
 * After a leaf split: split every model node that is over the fanout (the
 * leaf's parent, then maybe its parent, up to the root).  Bounded, as a
 * split may race with others; a node left over the fanout splits at the
 * next leaf split below it.
 */
void
AlexSplitNodes(Relation index, AlexIndexInfo *info)
{
	for (int round = 0; round < 16; round++)
	{
		AlexRouting *routing = AlexRefreshRouting(index, info);
		BlockNumber over = InvalidBlockNumber;

		for (int i = 0; i < routing->nnodes && over == InvalidBlockNumber; i++)
			if (routing->nodes[i].count > (int) info->fanout)
				over = routing->nodes[i].blkno;
		if (over == InvalidBlockNumber || !AlexSplitNode(index, info, over))
			return;
	}
}
