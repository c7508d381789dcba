/*-------------------------------------------------------------------------
 *
 * alexinsert.c
 *	  Inserting into an alex index, and the adaptive part of ALEX: a full
 *	  leaf expands or splits as the cost model decides.
 *
 * Cost model.  A query routes over L leaf centroids and then scans p leaves
 * (alex.probes) of about n = N / L entries each, so its work is roughly
 * L + p * n distance computations with a recall set by the fraction of the
 * data scanned.  Keeping both terms balanced as N grows gives the leaf size
 * T(N) = sqrt(N) (and L = sqrt(N) leaves), the same rule the bulk build
 * uses, so an index grown by inserts matches a freshly built one.  A leaf
 * that fills up while still smaller than T(N) / 0.7 (a bulk-built leaf at
 * ALEX's full density) expands: it gets more data pages, to density 0.6.
 * A leaf that fills up at that size or beyond, or that cannot list more
 * pages, splits in two.
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
 * Entries a leaf should hold, on average, in an index of N entries.
 */
double
AlexTargetLeafSize(double tuples)
{
	return Max((double) ALEX_MIN_LEAF_ENTRIES, sqrt(Max(tuples, 0.0)));
}

/*
 * Grow a full leaf to density 0.6 and count its growth in the metapage.
 */
static bool
AlexExpandLeaf(Relation index, const AlexIndexInfo *info, Buffer head_buf)
{
	AlexLeafHead head = AlexPageGetLeafHead(BufferGetPage(head_buf));
	int			lanes = AlexLanesPerPage(info->dimensions);
	int			want = (int) ceil((head->entries + 1) / ALEX_GROWTH_DENSITY);
	int			extra = Max(1, (want - (int) head->capacity + lanes - 1) / lanes);
	Buffer		meta_buf;
	GenericXLogState *state;
	AlexMetaPage meta;

	if (!AlexLeafExpand(index, head_buf, info->dimensions, extra))
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
	int			dim = info->dimensions;
	int			capacity = (int) ceil(AlexTargetLeafSize(0) / ALEX_BUILD_DENSITY);
	BlockNumber leaf = AlexCreateLeaf(index, dim, capacity, NULL, 0, 0);

	AlexSwitchRoutes(index, info, NULL, NULL, 0, &leaf, routed, 1, 0,
					 ALEX_CHANGE_NEW_LEAF);
}

/*
 * Insert one vector: route to the nearest leaf, take a free lane, and when
 * the leaf is full let the cost model expand or split it.
 */
void
AlexInsertVector(Relation index, AlexIndexInfo *info, const float *vector,
				 ItemPointer tid)
{
	int			dim = info->dimensions;
	float	   *routed = palloc(sizeof(float) * dim);
	float	   *centroid = palloc(sizeof(float) * dim);

	AlexPrepareVector(info->metric, vector, routed, dim);

	for (;;)
	{
		AlexRouting *routing = AlexGetRouting(index, info);
		BlockNumber leaf;
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

		leaf = AlexNearestLeaf(routing, info->metric, routed, centroid);
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
		AlexCheckPage(index, page, leaf, ALEX_PAGE_LEAF_HEAD);
		head = AlexPageGetLeafHead(page);

		for (;;)
		{
			double		full_size;

			if (AlexLeafInsert(index, head_buf, vector, dim, tid))
			{
				UnlockReleaseBuffer(head_buf);
				goto done;
			}

			/* full: the cost model chooses expand or split */
			AlexReadIndexInfo(index, info);
			full_size = AlexTargetLeafSize(Max((double) info->tuples, head->entries)) /
				ALEX_BUILD_DENSITY;
			if (head->entries + 1 >= full_size || head->npages >= head->max_pages ||
				!AlexExpandLeaf(index, info, head_buf))
			{
				AlexSplitLeaf(index, info, AlexGetRouting(index, info), head_buf,
							  centroid, vector, tid);
				goto done;
			}
		}
	}

done:
	pfree(routed);
	pfree(centroid);
}
