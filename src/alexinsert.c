/*-------------------------------------------------------------------------
 *
 * alexinsert.c
 *	  Inserting into an alex index, and the adaptive part of ALEX: a full
 *	  leaf expands or splits as the cost model decides.
 *
 * Cost model.  A query routes over L leaf centroids and then scans p leaves
 * (alex.probes) of about n = N / L entries each, so its work is roughly
 * c_route L + c_scan p n with a recall set by the fraction of the data
 * scanned.  Keeping both terms balanced as N grows gives leaves of
 * T(N) = k sqrt(N) entries, the same rule the bulk build uses, so an index
 * grown by inserts matches a freshly built one.  Routing a leaf costs less
 * than scanning its rows (8-bit centroids and a prefilter, alexrouting.c),
 * and smaller leaves mix fewer neighbourhoods, so k is 0.5
 * (ALEX_LEAF_SIZE_FACTOR; ai/DECISIONS.md #23), or 1 with rerank = table,
 * whose small index would grow by a part-empty page per leaf (#27).  A
 * leaf that reaches T(N) / 0.7 entries (a bulk-built leaf at ALEX's full
 * density) splits in two.  A leaf that fills its lanes while still smaller
 * expands: it gets more data pages, to density 0.6; if its head page can
 * list no more pages, it splits instead.
 *
 * Splits, merges and contractions live in alexsplit.c.
 *
 * IDENTIFICATION
 *	  src/alexinsert.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/generic_xlog.h"
#include "alex.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/*
 * Entries a leaf should hold, on average, in an index of N entries.  With
 * rerank = table a leaf is a head page and code pages only, so each leaf's
 * part-empty last page and head are a larger share of the index: k = 1
 * keeps it at a tenth of an HNSW graph (ai/DECISIONS.md #27).
 */
double
AlexTargetLeafSize(const AlexIndexInfo *info, double tuples)
{
	double		factor = info->vectors_in_index ? ALEX_LEAF_SIZE_FACTOR :
		ALEX_TABLE_LEAF_SIZE_FACTOR;

	return Max((double) ALEX_MIN_LEAF_ENTRIES, factor * sqrt(Max(tuples, 0.0)));
}

/*
 * Grow a full leaf to density 0.6 and count its growth in the metapage.
 */
static bool
AlexExpandLeaf(Relation index, const AlexIndexInfo *info, Buffer head_buf)
{
	AlexLeafHead head = AlexPageGetLeafHead(BufferGetPage(head_buf));
	int			lanes = AlexLanesPerPage(info);
	int			want = (int) ceil((head->entries + 1) / ALEX_GROWTH_DENSITY);
	int			extra = Max(1, (want - (int) head->capacity + lanes - 1) / lanes);
	Buffer		meta_buf;
	GenericXLogState *state;
	AlexMetaPage meta;

	if (!AlexLeafExpand(index, head_buf, info, extra))
		return false;

	meta_buf = ReadBuffer(index, ALEX_METAPAGE_BLKNO);
	LockBuffer(meta_buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	head = AlexPageGetLeafHead(GenericXLogRegisterBuffer(state, head_buf, 0));
	meta = AlexPageGetMeta(GenericXLogRegisterBuffer(state, meta_buf, 0));
	meta->expands++;
	meta->tuples += head->entries - head->counted;
	head->counted = head->entries;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(meta_buf);
	return true;
}

/*
 * Create the first leaf of an empty index around vector.
 */
static void
AlexAddFirstLeaf(Relation index, AlexIndexInfo *info, const float *routed)
{
	int			capacity = (int) ceil(AlexTargetLeafSize(info, 0) / ALEX_BUILD_DENSITY);
	BlockNumber leaf = AlexCreateLeaf(index, info, capacity, NULL, 0, 0,
									  AlexCodeReference(info, routed));

	AlexSwitchRoutes(index, info, -1, NULL, NULL, 0, &leaf, routed, 1, 0,
					 ALEX_CHANGE_NEW_LEAF);
}

/*
 * Insert one vector: route to the nearest leaf, take a free lane, and let
 * the cost model expand or split the leaf when it is full or too large.
 * building: the bulk load, which leaves leaf sizes to k-means.
 */
void
AlexInsertVector(Relation index, AlexIndexInfo *info, const float *vector,
				 ItemPointer tid, bool building)
{
	int			dim = info->dimensions;
	int			rdim = info->route_dimensions;
	float	   *routed = palloc(sizeof(float) * rdim);
	float	   *centroid = palloc(sizeof(float) * rdim);

	AlexPrepareVector(info, vector, routed);

	for (;;)
	{
		AlexRouting *routing = AlexGetRouting(index, info);
		BlockNumber leaf;
		int			route;
		Buffer		head_buf;
		Page		page;
		AlexLeafHead head;

		CHECK_FOR_INTERRUPTS();
		if (routing->nroutes == 0)
		{
			AlexAddFirstLeaf(index, info, routed);
			AlexReadIndexInfo(index, info);
			continue;
		}

		route = AlexNearestRoute(routing, info->metric, routed);
		leaf = routing->routes[route].leaf;
		memcpy(centroid, routing->routes[route].centroid, sizeof(float) * rdim);
		head_buf = ReadBuffer(index, leaf);
		LockBuffer(head_buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(head_buf);

		/* split or merged away since we read the routing: look again */
		if (AlexPageGetOpaque(page)->kind != ALEX_PAGE_LEAF_HEAD ||
			(AlexPageGetOpaque(page)->flags & ALEX_PAGE_DELETED))
		{
			UnlockReleaseBuffer(head_buf);
			AlexRefreshRouting(index, info);
			continue;
		}
		AlexCheckLeafHead(index, page, leaf, dim);
		head = AlexPageGetLeafHead(page);

		for (;;)
		{
			double		split_size = AlexTargetLeafSize(info, Max((double) info->tuples,
																  head->entries)) /
				ALEX_BUILD_DENSITY;

			/*
			 * A leaf past the size the cost model wants splits even if it
			 * has free lanes (small vectors pack many lanes on a page); the
			 * bulk load leaves leaf sizes to k-means, as ALEX's bulk load.
			 */
			if (!building && head->entries + 1 >= split_size)
			{
				AlexSplitLeaf(index, info, AlexGetRouting(index, info), head_buf,
							  centroid, vector, tid);
				AlexSplitNodes(index, info);
				goto done;
			}

			if (AlexLeafInsert(index, info, head_buf, vector, tid))
			{
				UnlockReleaseBuffer(head_buf);
				goto done;
			}

			/* full but still small: expand; if it cannot grow, split */
			if (!AlexExpandLeaf(index, info, head_buf))
			{
				AlexSplitLeaf(index, info, AlexGetRouting(index, info), head_buf,
							  centroid, vector, tid);
				AlexSplitNodes(index, info);
				goto done;
			}
			AlexReadIndexInfo(index, info);
		}
	}

done:
	pfree(routed);
	pfree(centroid);
}
