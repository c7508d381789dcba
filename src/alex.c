/*-------------------------------------------------------------------------
 *
 * alex.c
 *	  The alex access method handler, its options, GUCs and cost estimate.
 *
 * IDENTIFICATION
 *	  src/alex.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/amapi.h"
#include "access/reloptions.h"
#include "alex.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/selfuncs.h"
#include "utils/spccache.h"

int			alex_probes = ALEX_DEFAULT_PROBES;
int			alex_max_probes = ALEX_DEFAULT_MAX_PROBES;
double		alex_bound_epsilon = ALEX_DEFAULT_BOUND_EPSILON;
bool		alex_debug_abort_splits = false;

static relopt_kind alex_relopt_kind;

typedef struct AlexOptions
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int			leaves;			/* 0: choose from the row count */
	int			fanout;			/* most entries of a model node */
	int			rerank;			/* AlexRerankSource */
} AlexOptions;

/* Values of the rerank reloption */
static relopt_enum_elt_def alex_rerank_values[] = {
	{"index", ALEX_RERANK_INDEX},
	{"table", ALEX_RERANK_TABLE},
	{NULL}
};

/*
 * Register reloptions and GUCs; called from _PG_init.
 */
void
AlexInit(void)
{
	alex_relopt_kind = add_reloption_kind();
	add_int_reloption(alex_relopt_kind, "leaves",
					  "Number of leaves at build time (0 chooses from the row count)",
					  0, 0, ALEX_MAX_LEAVES, AccessExclusiveLock);
	add_int_reloption(alex_relopt_kind, "fanout",
					  "Most entries a model node holds before it splits",
					  ALEX_DEFAULT_FANOUT, ALEX_MIN_FANOUT, ALEX_MAX_FANOUT,
					  AccessExclusiveLock);
	add_enum_reloption(alex_relopt_kind, "rerank",
					   "Where exact distances come from: full vectors kept in the index, or the table's rows (a much smaller index)",
					   alex_rerank_values, ALEX_RERANK_INDEX,
					   "Valid values are \"index\" and \"table\".",
					   AccessExclusiveLock);

	DefineCustomIntVariable("alex.probes",
							"Sets the number of leaves an alex index scan probes first.",
							"Higher is more accurate and slower; a value of at least the number of leaves gives exact results; 0 (the default) probes 3% of the leaves, at least 10.",
							&alex_probes, ALEX_DEFAULT_PROBES, 0, ALEX_MAX_PROBES_LIMIT,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("alex.max_probes",
							"Sets how many leaves an alex index scan may probe in all when rows are filtered out.",
							"The scan continues past alex.probes, nearest leaves first, until the query has its rows or this many leaves were probed.",
							&alex_max_probes, ALEX_DEFAULT_MAX_PROBES, 1, ALEX_MAX_PROBES_LIMIT,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("alex.bound_epsilon",
							 "Sets how wide the error bound of a quantized distance is, in standard deviations.",
							 "Rows come out in exact distance order unless an estimate errs by more than this; higher is stricter and slower.",
							 &alex_bound_epsilon, ALEX_DEFAULT_BOUND_EPSILON, 0, 20,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("alex.debug_abort_splits",
							 "Makes every alex leaf split fail after writing its new leaves.",
							 "For tests: the error leaves unrouted pages behind, which VACUUM must reclaim.",
							 &alex_debug_abort_splits, false,
							 PGC_SUSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("alex");
#endif
}

/*
 * Leaves a scan probes first: alex.probes, or when that is 0 a fixed share
 * of the leaves (at least ALEX_AUTO_MIN_PROBES).  A fixed share of the
 * leaves is a fixed share of the rows, which is what keeps recall steady as
 * a table grows: fashion-mnist (381 leaves, 11 probes) gives recall@10
 * about 0.986; the reference design's hard 1M x 128 set needed about 3% of
 * its leaves for 0.95.
 */
int
AlexEffectiveProbes(int leaves)
{
	if (alex_probes > 0)
		return alex_probes;
	return Max(ALEX_AUTO_MIN_PROBES, (int) ceil(ALEX_AUTO_PROBE_FRACTION * leaves));
}

static bytea *
alexoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"leaves", RELOPT_TYPE_INT, offsetof(AlexOptions, leaves)},
		{"fanout", RELOPT_TYPE_INT, offsetof(AlexOptions, fanout)},
		{"rerank", RELOPT_TYPE_ENUM, offsetof(AlexOptions, rerank)},
	};

	return (bytea *) build_reloptions(reloptions, validate, alex_relopt_kind,
									  sizeof(AlexOptions), tab, lengthof(tab));
}

int
AlexLeavesOption(Relation index)
{
	AlexOptions *opts = (AlexOptions *) index->rd_options;

	return opts ? opts->leaves : 0;
}

/*
 * Where a new build keeps full vectors.  The metapage records the choice,
 * so ALTER INDEX ... SET (rerank = ...) takes effect at the next REINDEX.
 */
AlexRerankSource
AlexRerankOption(Relation index)
{
	AlexOptions *opts = (AlexOptions *) index->rd_options;

	return opts ? (AlexRerankSource) opts->rerank : ALEX_RERANK_INDEX;
}

int
AlexFanoutOption(Relation index)
{
	AlexOptions *opts = (AlexOptions *) index->rd_options;

	return opts ? opts->fanout : ALEX_DEFAULT_FANOUT;
}

static char *
alexbuildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case ALEX_PHASE_SAMPLE:
			return "sampling table";
		case ALEX_PHASE_KMEANS:
			return "training routing model";
		case ALEX_PHASE_LOAD:
			return "loading leaves";
		default:
			return NULL;
	}
}

/*
 * Cost: all the work (routing, scanning alex.probes leaves, sorting)
 * happens before the first row, so startup cost is the total.  Without an
 * ORDER BY on the distance the index is useless: make it unattractive.
 */
void
alexcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				 Cost *indexStartupCost, Cost *indexTotalCost,
				 Selectivity *indexSelectivity, double *indexCorrelation,
				 double *indexPages)
{
	GenericCosts costs;
	double		leaves;
	double		fraction;
	AlexIndexInfo info;
	Relation	index;
	double		random_page_cost_ts;
	double		seq_page_cost_ts;

	if (path->indexorderbys == NIL)
	{
		*indexStartupCost = disable_cost;
		*indexTotalCost = disable_cost;
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}

	index = index_open(path->indexinfo->indexoid, NoLock);
	AlexReadIndexInfo(index, &info);
	index_close(index, NoLock);
	leaves = Max(info.leaves, 1);
	fraction = Min(1.0, AlexEffectiveProbes((int) leaves) / leaves);

	MemSet(&costs, 0, sizeof(costs));
	costs.numIndexTuples = path->indexinfo->tuples * fraction;
	genericcostestimate(root, path, loop_count, &costs);

	/*
	 * The pages of a leaf are read in runs, not at random.  And the seq scan
	 * we compete with is charged only for the table's main fork, not for the
	 * TOASTed vectors it really reads, so charge at most that many pages:
	 * otherwise a wide-vector table would never get its index used.
	 */
	get_tablespace_page_costs(path->indexinfo->reltablespace, &random_page_cost_ts,
							  &seq_page_cost_ts);
	costs.indexTotalCost -= costs.numIndexPages * random_page_cost_ts;
	costs.indexTotalCost += Min(costs.numIndexPages, Max(path->indexinfo->rel->pages, 1)) *
		seq_page_cost_ts;

	/* routing: one distance per leaf centroid */
	costs.indexTotalCost += leaves * cpu_operator_cost;

	*indexStartupCost = costs.indexTotalCost;
	*indexTotalCost = costs.indexTotalCost;
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages;
}

/*
 * The handler: capability flags, then callbacks in amapi.h order.
 */
PG_FUNCTION_INFO_V1(alexhandler);
Datum
alexhandler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *amroutine = makeNode(IndexAmRoutine);

	amroutine->amstrategies = 0;
	amroutine->amsupport = ALEX_NUM_PROCS;
	amroutine->amoptsprocnum = 0;
	amroutine->amcanorder = false;
	amroutine->amcanorderbyop = true;
	amroutine->amcanbackward = false;
	amroutine->amcanunique = false;
	amroutine->amcanmulticol = false;
	amroutine->amoptionalkey = true;
	amroutine->amsearcharray = false;
	amroutine->amsearchnulls = false;
	amroutine->amstorage = false;
	amroutine->amclusterable = false;
	amroutine->ampredlocks = false;
	amroutine->amcanparallel = false;
	amroutine->amcaninclude = false;
	amroutine->amusemaintenanceworkmem = false;
#if PG_VERSION_NUM >= 160000
	amroutine->amsummarizing = false;
#endif
	amroutine->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	amroutine->amkeytype = InvalidOid;

	amroutine->ambuild = alexbuild;
	amroutine->ambuildempty = alexbuildempty;
	amroutine->aminsert = alexinsert;
	amroutine->ambulkdelete = alexbulkdelete;
	amroutine->amvacuumcleanup = alexvacuumcleanup;
	amroutine->amcanreturn = NULL;
	amroutine->amcostestimate = alexcostestimate;
	amroutine->amoptions = alexoptions;
	amroutine->amproperty = NULL;
	amroutine->ambuildphasename = alexbuildphasename;
	amroutine->amvalidate = alexvalidate;
#if PG_VERSION_NUM >= 140000
	amroutine->amadjustmembers = NULL;
#endif
	amroutine->ambeginscan = alexbeginscan;
	amroutine->amrescan = alexrescan;
	amroutine->amgettuple = alexgettuple;
	amroutine->amgetbitmap = NULL;
	amroutine->amendscan = alexendscan;
	amroutine->ammarkpos = NULL;
	amroutine->amrestrpos = NULL;
	amroutine->amestimateparallelscan = NULL;
	amroutine->aminitparallelscan = NULL;
	amroutine->amparallelrescan = NULL;

	PG_RETURN_POINTER(amroutine);
}

/*
 * aminsert
 */
bool
alexinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
		   Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
		   IndexInfo *indexInfo)
{
	MemoryContext context = AllocSetContextCreate(CurrentMemoryContext,
												  "alex insert", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(context);
	AlexIndexInfo info;
	const float *vector;

	AlexReadIndexInfo(index, &info);
	if (AlexIndexableValue(index, &info, values[0], isnull[0], &vector))
		AlexInsertVector(index, &info, vector, heap_tid, false);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(context);
	return false;
}

/* Metric support functions named by the operator classes */
#define ALEX_METRIC_FUNCTION(name, kind) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_INT32(kind); \
}

ALEX_METRIC_FUNCTION(alex_l2_metric, ALEX_METRIC_L2)
ALEX_METRIC_FUNCTION(alex_ip_metric, ALEX_METRIC_INNER_PRODUCT)
ALEX_METRIC_FUNCTION(alex_cosine_metric, ALEX_METRIC_COSINE)
ALEX_METRIC_FUNCTION(alex_l1_metric, ALEX_METRIC_L1)
