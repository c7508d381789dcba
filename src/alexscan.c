/*-------------------------------------------------------------------------
 *
 * alexscan.c
 *	  Ordered index scans: ORDER BY column <op> query LIMIT k.
 *
 * The query is routed to its nearest leaves; the first alex.probes leaves
 * are scanned.  Scanning a leaf reads only its lane codes: each gives a
 * lower bound of the entry's exact distance (alexquant.c).  The entries are
 * then reranked lazily: the one with the least lower bound gets its exact
 * distance from its vector page (or, with rerank = table, from its table
 * row), and an entry is returned once its exact
 * distance is no greater than every lower bound still waiting, so rows come
 * out in exact distance order and only entries near the boundary pay for an
 * exact distance.  If the executor keeps asking (a WHERE clause rejected
 * rows), the scan goes on with the next-nearest leaves, alex.probes at a
 * time, until it has probed alex.max_probes leaves, so filtered queries
 * still fill their LIMIT.  Each batch comes out in exact order; a later
 * batch may hold rows nearer than the end of an earlier one, the price of
 * not scanning everything up front.
 *
 * IDENTIFICATION
 *	  src/alexscan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>

#include "access/relscan.h"
#include "alex.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"

IndexScanDesc
alexbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	AlexScanOpaque so = palloc0(sizeof(AlexScanOpaqueData));

	so->scan_context = AllocSetContextCreate(CurrentMemoryContext, "alex scan",
											 ALLOCSET_DEFAULT_SIZES);
	scan->opaque = so;
	return scan;
}

void
alexrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys,
		   int norderbys)
{
	AlexScanOpaque so = (AlexScanOpaque) scan->opaque;

	if (so->table)
		AlexEndTableReader(so->table);
	so->table = NULL;
	MemoryContextReset(so->scan_context);
	so->started = false;
	memset(&so->bounds, 0, sizeof(AlexCandidateHeap));
	memset(&so->reserve, 0, sizeof(AlexCandidateHeap));
	memset(&so->exact, 0, sizeof(AlexCandidateHeap));
	so->pages = NULL;
	so->npages = so->max_pages = 0;
	so->vector = NULL;
	so->rerank_pins = NULL;
	so->probes = NULL;
	so->nprobes = so->next_probe = 0;
	so->nprobed = so->total_leaves = 0;
	so->routed_all = false;
	so->emitted = NULL;
	so->probed = NULL;

	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
}

/* ---------- candidate heaps ---------- */

static inline bool
CandidateBefore(const AlexCandidate *a, const AlexCandidate *b)
{
	if (a->bound != b->bound)
		return a->bound < b->bound;
	return ItemPointerCompare((ItemPointer) &a->tid, (ItemPointer) &b->tid) < 0;
}

static void
SiftDown(AlexCandidateHeap *heap, int i)
{
	AlexCandidate item = heap->items[i];

	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= heap->n)
			break;
		if (child + 1 < heap->n && CandidateBefore(&heap->items[child + 1], &heap->items[child]))
			child++;
		if (!CandidateBefore(&heap->items[child], &item))
			break;
		heap->items[i] = heap->items[child];
		i = child;
	}
	heap->items[i] = item;
}

/* Room for n more items */
static void
HeapReserve(AlexCandidateHeap *heap, int n)
{
	if (heap->n + n > heap->capacity)
	{
		heap->capacity = Max(Max(1024, heap->capacity * 2), heap->n + n);
		heap->items = heap->items == NULL ?
			palloc(sizeof(AlexCandidate) * heap->capacity) :
			repalloc_huge(heap->items, sizeof(AlexCandidate) * heap->capacity);
	}
}

/* Append without keeping heap order; HeapBuild restores it */
static void
HeapAppend(AlexCandidateHeap *heap, const AlexCandidate *c)
{
	HeapReserve(heap, 1);
	heap->items[heap->n++] = *c;
}

static void
HeapBuild(AlexCandidateHeap *heap)
{
	for (int i = heap->n / 2 - 1; i >= 0; i--)
		SiftDown(heap, i);
}

static void
HeapPush(AlexCandidateHeap *heap, const AlexCandidate *c)
{
	int			i;

	HeapAppend(heap, c);
	i = heap->n - 1;
	while (i > 0)
	{
		int			parent = (i - 1) / 2;

		if (!CandidateBefore(&heap->items[i], &heap->items[parent]))
			break;
		{
			AlexCandidate tmp = heap->items[i];

			heap->items[i] = heap->items[parent];
			heap->items[parent] = tmp;
		}
		i = parent;
	}
}

static AlexCandidate
HeapPop(AlexCandidateHeap *heap)
{
	AlexCandidate top = heap->items[0];

	heap->items[0] = heap->items[--heap->n];
	if (heap->n > 0)
		SiftDown(heap, 0);
	return top;
}

/*
 * The candidates still to rerank.  A query reranks a few dozen of the
 * thousands its leaves hold (fashion-mnist, 14 probes: about 50 of 2,200),
 * so heap-ordering them all cost more than the reranks' share of the scan.
 * They wait unordered in the reserve instead, and only the least come into
 * the bound heap, a chunk at a time, chosen by AlexFindLeastCut: no
 * candidate left in the reserve has a smaller bound than one moved.
 */
#define BOUNDS_CHUNK		64

/* Move the reserve's least bounds into the empty bound heap */
static void
RefillBounds(AlexScanOpaque so)
{
	AlexCandidateHeap *reserve = &so->reserve;
	double	   *bounds = palloc(sizeof(double) * reserve->n);
	AlexLeastCut cut;
	int			kept = 0;

	Assert(so->bounds.n == 0);
	for (int i = 0; i < reserve->n; i++)
		bounds[i] = reserve->items[i].bound;
	AlexFindLeastCut(bounds, reserve->n, BOUNDS_CHUNK, &cut);
	for (int i = 0; i < reserve->n; i++)
	{
		if (AlexBelowCut(&cut, bounds[i]))
			HeapAppend(&so->bounds, &reserve->items[i]);
		else
			reserve->items[kept++] = reserve->items[i];
	}
	reserve->n = kept;
	HeapBuild(&so->bounds);
	pfree(bounds);
}

/* The least bound not reranked yet, or NULL when none is left */
static const AlexCandidate *
PeekLeastBound(AlexScanOpaque so)
{
	if (so->bounds.n == 0 && so->reserve.n > 0)
		RefillBounds(so);
	return so->bounds.n > 0 ? &so->bounds.items[0] : NULL;
}

static AlexCandidate
PopLeastBound(AlexScanOpaque so)
{
	PeekLeastBound(so);
	Assert(so->bounds.n > 0);
	return HeapPop(&so->bounds);
}

/* ---------- scanning leaves ---------- */

/*
 * Leaf heads a scan pins ahead of the one it reads, and how many leaves
 * ahead it prefetches a head's reference (the head's first line, which says
 * where the reference is, must have arrived by then)
 */
#define ALEX_HEAD_WINDOW	16
#define ALEX_REFERENCE_AHEAD 2

typedef struct CodeCollector
{
	AlexScanOpaque so;
	AlexLeafTerms terms;
	int			page;
} CodeCollector;

static void
AddCandidates(const AlexLaneCodes *codes, void *arg)
{
	CodeCollector *cc = (CodeCollector *) arg;
	AlexScanOpaque so = cc->so;
	AlexCandidateHeap *heap = so->empty_query ? &so->exact : &so->reserve;
	double		bounds[ALEX_CODE_BATCH];

	/*
	 * No distance to rank by: every entry, in TID order.  The code's bound
	 * holds with high probability, not always; a scan of every leaf
	 * promises exactly the seq scan's answer, and codes of few dimensions
	 * bound poorly: there (rerank_all) every entry gets its exact distance
	 * before any is returned.
	 */
	if (so->empty_query || so->rerank_all)
	{
		for (int i = 0; i < codes->n; i++)
			bounds[i] = so->empty_query ? 0 : -DBL_MAX;
	}
	else
		AlexCodeLowerBounds(&so->query_code, &cc->terms, codes->payloads, codes->n, bounds);

	HeapReserve(heap, codes->n);
	for (int i = 0; i < codes->n; i++)
	{
		AlexCandidate *c = &heap->items[heap->n++];

		c->bound = bounds[i];
		c->tid = *codes->tids[i];
		c->lane = codes->lanes[i];
		c->page = cc->page;
	}
}

/*
 * Read the codes of every entry of one leaf, whose head page the caller
 * pinned (ScanLeaf releases it).  The leaf may have been split
 * since the scan read the routing: its pages stay intact (and are not
 * reused) while our snapshot could still need them, so reading them is
 * still right.
 */
static void
ScanLeaf(Relation index, AlexScanOpaque so, BlockNumber leaf, Buffer head_buf)
{
	AlexLeafHead head;
	BlockNumber *pages;
	int			npages;
	const float *reference;
	CodeCollector cc;
	Buffer	   *bufs;

	LockBuffer(head_buf, BUFFER_LOCK_SHARE);
	AlexCheckLeafHead(index, BufferGetPage(head_buf), leaf, so->info.dimensions);
	head = AlexPageGetLeafHead(BufferGetPage(head_buf));
	npages = head->npages;
	pages = palloc(sizeof(BlockNumber) * Max(npages, 1));
	memcpy(pages, head->pages, sizeof(BlockNumber) * npages);
	reference = AlexLeafReference(head, so->info.dimensions);
	if (!so->empty_query)
		AlexLeafQueryTerms(&so->query_code, reference, &cc.terms);
	UnlockReleaseBuffer(head_buf);

	/*
	 * Pin every data page first and touch its header, so the memory of the
	 * next pages is on its way while the codes of this one are read.
	 */
	bufs = palloc(sizeof(Buffer) * Max(npages, 1));
	for (int i = 0; i < npages; i++)
	{
		bufs[i] = AlexReadBuffer(index, pages[i]);
		__builtin_prefetch(BufferGetPage(bufs[i]));
		__builtin_prefetch(BufferGetPage(bufs[i]) + 64);
		__builtin_prefetch(BufferGetPage(bufs[i]) + BLCKSZ - 64);	/* its kind */
	}

	cc.so = so;
	for (int i = 0; i < npages; i++)
	{
		if (so->npages == so->max_pages)
		{
			so->max_pages = Max(64, so->max_pages * 2);
			so->pages = so->pages == NULL ?
				palloc(sizeof(AlexScannedPage) * so->max_pages) :
				repalloc(so->pages, sizeof(AlexScannedPage) * so->max_pages);
		}
		cc.page = so->npages;
		so->pages[so->npages].blkno = pages[i];
		so->pages[so->npages].vector_pages =
			AlexVisitCodes(index, bufs[i], &so->info, AddCandidates, &cc);
		so->npages++;
		ReleaseBuffer(bufs[i]);
	}
	pfree(pages);
	pfree(bufs);
}

/*
 * (Re)route the query: the leaves of the nodes a beam search keeps, at
 * least min_leaves of them, nearest first, less those already probed.
 */
static void
AlexRouteQuery(IndexScanDesc scan, int min_leaves, int beam_leaves)
{
	Relation	index = scan->indexRelation;
	AlexScanOpaque so = (AlexScanOpaque) scan->opaque;
	MemoryContext old = MemoryContextSwitchTo(so->scan_context);
	AlexRouting *routing = AlexGetRouting(index, &so->info);
	AlexProbe  *order = palloc(sizeof(AlexProbe) * Max(routing->nroutes, 1));
	int			n;

	AlexPrepareRoutePrefilter(routing, so->info.metric);
	n = AlexOrderRoutes(routing, so->info.metric, so->route_query, min_leaves, beam_leaves,
						order);

	so->total_leaves = routing->nroutes;
	so->routed_all = n >= routing->nroutes;
	so->nprobes = 0;
	so->next_probe = 0;
	for (int i = 0; i < n; i++)
	{
		if (so->probed != NULL &&
			hash_search(so->probed, &order[i].leaf, HASH_FIND, NULL) != NULL)
			continue;
		order[so->nprobes++] = order[i];
	}
	if (so->probes)
		pfree(so->probes);
	so->probes = order;
	MemoryContextSwitchTo(old);
}

/*
 * A hash set of fixed-size keys, living in context.
 */
static HTAB *
MakeSet(const char *name, Size keysize, MemoryContext context)
{
	HASHCTL		ctl;

	ctl.keysize = keysize;
	ctl.entrysize = keysize;
	ctl.hcxt = context;
	return hash_create(name, 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * Scan the next batch of leaves into the candidate list, sorted, without
 * entries already returned.  Returns false when the probe budget is spent.
 */
static bool
AlexScanNextBatch(IndexScanDesc scan)
{
	AlexScanOpaque so = (AlexScanOpaque) scan->opaque;
	int			limit = Min(so->total_leaves, Max(so->probes_per_batch, alex_max_probes));
	int			batch = so->empty_query ? so->total_leaves : so->probes_per_batch;
	MemoryContext old;
	int			end;

	if (so->nprobed >= limit)
		return false;
	if (so->next_probe >= so->nprobes)
	{
		/* the beam is used up: widen it */
		if (so->routed_all)
			return false;
		AlexRouteQuery(scan, Min(so->total_leaves, 2 * (so->nprobed + batch)),
					   Min(so->total_leaves, 8 * (so->nprobed + batch)));
		if (so->nprobes == 0)
			return false;
	}
	end = Min(so->nprobes, so->next_probe + Min(batch, limit - so->nprobed));

	old = MemoryContextSwitchTo(so->scan_context);
	if (so->probed == NULL)
		so->probed = MakeSet("alex probed leaves", sizeof(BlockNumber), so->scan_context);
	if (so->emitted == NULL)
		so->emitted = MakeSet("alex returned tids", sizeof(ItemPointerData), so->scan_context);

	so->rerank_all = so->probes_per_batch >= so->total_leaves ||
		!AlexCodesUsable(so->info.dimensions);

	/* a new batch: the last one's pages and candidates are done with */
	for (int i = 0; i < so->npages; i++)
		pfree(so->pages[i].vector_pages);
	so->npages = 0;
	so->bounds.n = 0;
	so->reserve.n = 0;
	so->exact.n = 0;

	for (int i = so->next_probe; i < end; i++)
		AlexPrefetchBuffer(scan->indexRelation, so->probes[i].leaf);
	while (so->next_probe < end)
	{
		/*
		 * Pin a window of heads first and start their memory on the way,
		 * each leaf's reference a few leaves ahead.
		 */
		Buffer		heads[ALEX_HEAD_WINDOW];
		int			n = Min(end - so->next_probe, ALEX_HEAD_WINDOW);

		for (int i = 0; i < n; i++)
		{
			heads[i] = AlexReadBuffer(scan->indexRelation, so->probes[so->next_probe + i].leaf);
			__builtin_prefetch(BufferGetPage(heads[i]));
			__builtin_prefetch(BufferGetPage(heads[i]) + 64);
		}
		for (int i = 0; i < Min(n, ALEX_REFERENCE_AHEAD); i++)
			AlexPrefetchLeafReference(BufferGetPage(heads[i]), so->info.dimensions);
		for (int i = 0; i < n; i++, so->next_probe++)
		{
			BlockNumber leaf = so->probes[so->next_probe].leaf;

			CHECK_FOR_INTERRUPTS();
			if (i + ALEX_REFERENCE_AHEAD < n)
				AlexPrefetchLeafReference(BufferGetPage(heads[i + ALEX_REFERENCE_AHEAD]),
										  so->info.dimensions);
			hash_search(so->probed, &leaf, HASH_ENTER, NULL);
			so->nprobed++;
			ScanLeaf(scan->indexRelation, so, leaf, heads[i]);
		}
	}
	HeapBuild(&so->exact);

	MemoryContextSwitchTo(old);
	return true;
}

/*
 * Rerank the least lower bound from the table's row (rerank = table).  A
 * row the scan's snapshot does not see is no result: it is dropped.
 */
static void
RerankFromTable(AlexScanOpaque so)
{
	AlexCandidate c = PopLeastBound(so);

	CHECK_FOR_INTERRUPTS();
	if (!AlexReadTableVector(so->table, &c.tid, so->vector, so->info.dimensions))
		return;
	c.bound = AlexExactDistance(so->info.metric, so->query, so->vector, so->info.dimensions);
	HeapPush(&so->exact, &c);
}

/*
 * Rerank the few least lower bounds at once: pin all their vector pages
 * and start the loads first, then compute the distances, so the memory
 * waits overlap.  Reranking one more than strictly needed costs little;
 * the order stays exact, as every reranked entry waits in the exact heap.
 */
#define ALEX_RERANK_BATCH 8

static void
RerankBatch(Relation index, AlexScanOpaque so)
{
	int			dim = so->info.dimensions;
	int			span = AlexVectorSpan(dim);
	int			n = Min(so->bounds.n + so->reserve.n, Max(1, ALEX_RERANK_BATCH * 2 / span));
	AlexCandidate batch[ALEX_RERANK_BATCH];

	if (so->rerank_pins == NULL)
		so->rerank_pins = MemoryContextAlloc(so->scan_context,
											 sizeof(Buffer) * ALEX_RERANK_BATCH * span);
	n = Min(n, ALEX_RERANK_BATCH);
	for (int i = 0; i < n; i++)
	{
		AlexScannedPage *page;

		batch[i] = PopLeastBound(so);
		page = &so->pages[batch[i].page];
		AlexPinLaneVector(index, page->blkno, page->vector_pages, batch[i].lane, dim,
						  so->rerank_pins + i * span);
	}
	for (int i = 0; i < n; i++)
	{
		AlexScannedPage *page = &so->pages[batch[i].page];

		CHECK_FOR_INTERRUPTS();
		AlexReadLaneVector(index, page->blkno, so->rerank_pins + i * span, batch[i].lane,
						   dim, so->vector);
		batch[i].bound = AlexExactDistance(so->info.metric, so->query, so->vector, dim);
		HeapPush(&so->exact, &batch[i]);
	}
}

/*
 * The next entry of this batch in exact distance order: rerank the least
 * lower bound until the best exact distance is no greater than every lower
 * bound left.  Copies of one entry (a split that moved it leaves two for a
 * while) come out once.  False when the batch is used up.
 */
static bool
AlexNextInBatch(IndexScanDesc scan, ItemPointer tid)
{
	AlexScanOpaque so = (AlexScanOpaque) scan->opaque;

	for (;;)
	{
		const AlexCandidate *least = PeekLeastBound(so);

		if (so->exact.n > 0 &&
			(least == NULL || so->exact.items[0].bound <= least->bound))
		{
			AlexCandidate c = HeapPop(&so->exact);
			bool		found;

			hash_search(so->emitted, &c.tid, HASH_ENTER, &found);
			if (found)
				continue;
			*tid = c.tid;
			return true;
		}
		if (least == NULL)
			return false;
		if (so->table)
			RerankFromTable(so);
		else
			RerankBatch(scan->indexRelation, so);
	}
}

/*
 * Prepare the query and route it.
 */
static void
AlexBeginSearch(IndexScanDesc scan)
{
	Relation	index = scan->indexRelation;
	AlexScanOpaque so = (AlexScanOpaque) scan->opaque;
	MemoryContext old = MemoryContextSwitchTo(so->scan_context);
	int			dim;

	AlexReadIndexInfo(index, &so->info);
	dim = so->info.dimensions;
	so->query = palloc0(sizeof(float) * dim);
	so->route_query = palloc0(sizeof(float) * so->info.route_dimensions);

	if (scan->numberOfOrderBys == 0 ||
		(scan->orderByData[0].sk_flags & SK_ISNULL))
		so->empty_query = true;
	else
	{
		int			qdim;
		const float *q = AlexDatumVector(index, scan->orderByData[0].sk_argument, &qdim);

		if (qdim != dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("expected %d dimensions, not %d", dim, qdim)));
		memcpy(so->query, q, sizeof(float) * dim);

		/* a zero query has no cosine distance (NaN) to anything */
		so->empty_query = !AlexPrepareVector(&so->info, q, so->route_query);
		if (!so->empty_query)
			AlexPrepareQueryCode(AlexGetQuantizer(dim, so->info.rotation_seed),
								 so->info.metric, q, &so->query_code);
	}
	so->vector = palloc(sizeof(float) * dim);
	if (!so->info.vectors_in_index)
		so->table = AlexBeginTableReader(index, scan->heapRelation, scan->xs_snapshot);
	MemoryContextSwitchTo(old);

	/*
	 * Probing every leaf must see every leaf; otherwise a beam covering
	 * eight times the probes finds the nearest leaves of nodes whose own
	 * centroid is not the nearest (fashion-mnist, fanout 16, 3 levels:
	 * recall@10 at 10 probes 0.90 with 4x and one node, 0.987 with 8x and
	 * at least two nodes a level; a single level gives 0.99).  Only twice
	 * the probes are put in order: most scans need one batch, and ordering
	 * many more leaves was a tenth of a query's time.
	 */
	so->probes_per_batch = AlexEffectiveProbes(so->info.leaves);
	if (so->empty_query)
		AlexRouteQuery(scan, INT_MAX, INT_MAX);
	else
		AlexRouteQuery(scan, 2 * so->probes_per_batch, 8 * so->probes_per_batch);
}

/*
 * amgettuple: the next row in distance order.
 */
bool
alexgettuple(IndexScanDesc scan, ScanDirection dir)
{
	AlexScanOpaque so = (AlexScanOpaque) scan->opaque;

	if (!ScanDirectionIsForward(dir))
		elog(ERROR, "alex index scans only go forward");

	if (!so->started)
	{
		AlexBeginSearch(scan);
		so->started = true;
		pgstat_count_index_scan(scan->indexRelation);
	}

	for (;;)
	{
		MemoryContext old = MemoryContextSwitchTo(so->scan_context);
		bool		found = AlexNextInBatch(scan, &scan->xs_heaptid);

		MemoryContextSwitchTo(old);
		if (found)
		{
			scan->xs_recheck = false;
			scan->xs_recheckorderby = false;
			return true;
		}
		if (!AlexScanNextBatch(scan))
			return false;
	}
}

void
alexendscan(IndexScanDesc scan)
{
	AlexScanOpaque so = (AlexScanOpaque) scan->opaque;

	if (so->table)
		AlexEndTableReader(so->table);
	MemoryContextDelete(so->scan_context);
	pfree(so);
	scan->opaque = NULL;
}
