/*-------------------------------------------------------------------------
 *
 * alexassign.c
 *	  Nearest centroids of many vectors at once, for the build: k-means
 *	  iterations and the bulk load's routing of every row to its leaf.
 *
 * For the metrics that route by squared L2 or inner product,
 * |x - c|^2 = |x|^2 + |c|^2 - 2 <x, c>, and |x|^2 is the same for every c,
 * so the dot products decide.  They come from the block kernel, which
 * reads each centroid once per tile of rows instead of once per row.
 *
 * With many centroids of many dimensions, most of those dot products only
 * confirm that a centroid is far.  The search then first scores every
 * centroid in a small subspace, the top principal directions of the
 * centroids themselves (where they differ most), and computes exact scores
 * only for a short list of the best there.  On fashion-mnist (439 leaves,
 * 784-d) 32 directions and a list of 16 pick the exact nearest centroid
 * for more than 99.99% of rows, with an eighth of the arithmetic; a row
 * that gets another one goes to a centroid nearly as near, which is a
 * right leaf too.
 *
 * Every step uses the distance kernels' fixed evaluation order, so every
 * kernel builds the same index (test alex_kernels).
 *
 * IDENTIFICATION
 *	  src/alexassign.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "alex.h"
#include "distance.h"
#include "miscadmin.h"

/* Rows scored per block kernel call */
#define ASSIGN_BLOCK_ROWS		64

/* The shortlist search: when, in how many directions, how long a list */
#define SHORTLIST_MIN_CENTROIDS	64
#define SHORTLIST_DIRECTIONS	32
#define SHORTLIST_MIN_DIMENSIONS (4 * SHORTLIST_DIRECTIONS)
#define SHORTLIST_LENGTH		16
#define SHORTLIST_ITERATIONS	8
#define SHORTLIST_GROUP			8	/* centroids a group, for the list's bound */

struct AlexCentroidSearch
{
	AlexMetricKind metric;
	const float *centroids;		/* k x dimensions, not copied */
	int			k;
	int			dimensions;
	float	   *norms;			/* |c|^2, or 0 for inner product */
	float	   *dots;			/* scratch: ASSIGN_BLOCK_ROWS x k */
	/* the shortlist search, when directions > 0 */
	int			directions;
	float	   *basis;			/* directions x dimensions, orthonormal rows */
	float	   *projected;		/* k x directions */
	float	   *projected_norms;	/* |P c|^2, or 0 for inner product */
	float	   *x_projected;	/* scratch: ASSIGN_BLOCK_ROWS x directions */
	float	   *scores;			/* scratch: k scores of one row */
	float	   *group_least;	/* scratch: each group's least score */
};

/*
 * Make the rows of basis orthonormal (modified Gram-Schmidt); a row that
 * is (nearly) a combination of the ones before it becomes zero, and its
 * projections are then zero for every vector alike.
 */
static void
Orthonormalise(float *basis, int rows, int dimensions)
{
	for (int i = 0; i < rows; i++)
	{
		float	   *b = basis + (Size) i * dimensions;
		float		norm;

		for (int j = 0; j < i; j++)
		{
			const float *prev = basis + (Size) j * dimensions;
			float		p = VectorInnerProduct(b, prev, dimensions);

			for (int d = 0; d < dimensions; d++)
				b[d] -= p * prev[d];
		}
		norm = sqrtf(VectorInnerProduct(b, b, dimensions));
		for (int d = 0; d < dimensions; d++)
			b[d] = norm > 1e-12f ? b[d] / norm : 0;
	}
}

/*
 * The top principal directions of the centroids, by subspace iteration on
 * the centred centroids: B <- orth((C B^T)^T C), starting from a spread of
 * the centroids themselves.
 */
void
AlexFitDirections(const float *centroids, int k, int dimensions, int directions, float *basis)
{
	double	   *mean = palloc0(sizeof(double) * dimensions);
	float	   *centred = palloc(sizeof(float) * k * dimensions);
	float	   *transposed = palloc(sizeof(float) * k * dimensions);
	float	   *y = palloc(sizeof(float) * k * directions);
	float	   *yt = palloc(sizeof(float) * k * directions);

	for (int c = 0; c < k; c++)
		for (int d = 0; d < dimensions; d++)
			mean[d] += centroids[(Size) c * dimensions + d];
	for (int c = 0; c < k; c++)
		for (int d = 0; d < dimensions; d++)
		{
			float		v = (float) (centroids[(Size) c * dimensions + d] - mean[d] / k);

			centred[(Size) c * dimensions + d] = v;
			transposed[(Size) d * k + c] = v;
		}
	for (int i = 0; i < directions; i++)
		memcpy(basis + (Size) i * dimensions,
			   centred + (Size) ((Size) i * k / directions) * dimensions,
			   sizeof(float) * dimensions);
	Orthonormalise(basis, directions, dimensions);

	for (int iter = 0; iter < SHORTLIST_ITERATIONS; iter++)
	{
		CHECK_FOR_INTERRUPTS();
		distance_kernels->dot_block(centred, k, basis, directions, dimensions, y);
		for (int c = 0; c < k; c++)
			for (int i = 0; i < directions; i++)
				yt[(Size) i * k + c] = y[(Size) c * directions + i];
		distance_kernels->dot_block(yt, directions, transposed, dimensions, k, basis);
		Orthonormalise(basis, directions, dimensions);
	}
	pfree(mean);
	pfree(centred);
	pfree(transposed);
	pfree(y);
	pfree(yt);
}

/*
 * Prepare to find nearest centroids among these k (kept by reference: they
 * must not change until AlexEndCentroidSearch).
 */
AlexCentroidSearch *
AlexBeginCentroidSearch(AlexMetricKind metric, const float *centroids, int k, int dimensions)
{
	AlexCentroidSearch *s = palloc0(sizeof(AlexCentroidSearch));
	bool		by_dot = metric != ALEX_METRIC_INNER_PRODUCT;

	s->metric = metric;
	s->centroids = centroids;
	s->k = k;
	s->dimensions = dimensions;
	s->scores = palloc(sizeof(float) * k);
	s->group_least = palloc(sizeof(float) * ((k + SHORTLIST_GROUP - 1) / SHORTLIST_GROUP));
	if (metric == ALEX_METRIC_L1)
		return s;				/* no dot products: one pair at a time */

	s->norms = palloc(sizeof(float) * k);
	s->dots = palloc(sizeof(float) * ASSIGN_BLOCK_ROWS * k);
	for (int c = 0; c < k; c++)
	{
		const float *centroid = centroids + (Size) c * dimensions;

		s->norms[c] = by_dot ? VectorInnerProduct(centroid, centroid, dimensions) : 0;
	}

	if (k >= SHORTLIST_MIN_CENTROIDS && dimensions >= SHORTLIST_MIN_DIMENSIONS)
	{
		int			m = SHORTLIST_DIRECTIONS;

		s->directions = m;
		s->basis = palloc(sizeof(float) * m * dimensions);
		s->projected = palloc(sizeof(float) * k * m);
		s->projected_norms = palloc(sizeof(float) * k);
		s->x_projected = palloc(sizeof(float) * ASSIGN_BLOCK_ROWS * m);
		AlexFitDirections(centroids, k, dimensions, m, s->basis);
		distance_kernels->dot_block(centroids, k, s->basis, m, dimensions, s->projected);
		for (int c = 0; c < k; c++)
		{
			const float *p = s->projected + (Size) c * m;

			s->projected_norms[c] = by_dot ? VectorInnerProduct(p, p, m) : 0;
		}
	}
	return s;
}

/* The least score, lowest index on ties */
static int
LeastScore(const float *norms, const float *dots, int k)
{
	int			best = 0;
	float		best_score = FLT_MAX;

	for (int c = 0; c < k; c++)
	{
		/* inner product: the norms are zero, the score is -2 <x, c> */
		float		score = norms[c] - 2 * dots[c];

		if (score < best_score)
		{
			best_score = score;
			best = c;
		}
	}
	return best;
}

/* Does (score, c) come before (other_score, other)? */
static inline bool
PairBefore(float score, int c, float other_score, int other)
{
	return score < other_score || (score == other_score && c < other);
}

/*
 * Insert (c, score) into a list of at most capacity pairs, least (score, c)
 * first; a full list ends as the least pairs whatever else passed through.
 */
static inline void
ListInsert(int *list, float *list_score, int *n, int capacity, int c, float score)
{
	int			at;

	if (*n == capacity && !PairBefore(score, c, list_score[*n - 1], list[*n - 1]))
		return;
	at = *n < capacity ? (*n)++ : *n - 1;
	while (at > 0 && PairBefore(score, c, list_score[at - 1], list[at - 1]))
	{
		list[at] = list[at - 1];
		list_score[at] = list_score[at - 1];
		at--;
	}
	list[at] = c;
	list_score[at] = score;
}

/*
 * The nearest of a row's scored centroids (scored[i], or i without scored):
 * near[0..nnear) receives the nnear nearest, nearest first (-1 past the
 * ones scored); returns near[0].
 */
static int
KeepNearest(int *near, int nnear, const int *scored, const float *scores, int n)
{
	int			list[ALEX_MAX_NEAR];
	float		list_score[ALEX_MAX_NEAR];
	int			count = 0;

	Assert(nnear >= 1 && nnear <= ALEX_MAX_NEAR);
	for (int i = 0; i < n; i++)
		ListInsert(list, list_score, &count, nnear, scored ? scored[i] : i, scores[i]);
	for (int i = 0; i < nnear; i++)
		near[i] = i < count ? list[i] : -1;
	return near[0];
}

/*
 * The nearest centroid of one row by its short list: the SHORTLIST_LENGTH
 * least scores in the subspace, then exact scores for those.
 *
 * Inserting every centroid into the list costs more than scoring them, so
 * the list only sees the centroids that can make it: the centroids come in
 * groups, and the SHORTLIST_LENGTH-th least of the groups' minima bounds
 * the list's last score from above (each group has one score at most its
 * minimum).  Only the groups whose minimum is within the bound can hold a
 * score within it, so only theirs are read again.
 */
static int
NearestByShortlist(const AlexCentroidSearch *s, const float *x, const float *approx,
				   int *near, int nnear)
{
	int			list[SHORTLIST_LENGTH];
	float		list_score[SHORTLIST_LENGTH];
	float		exact[SHORTLIST_LENGTH];
	int			n = 0;
	float	   *scores = s->scores;
	int			groups = (s->k + SHORTLIST_GROUP - 1) / SHORTLIST_GROUP;
	float		bound = FLT_MAX;

	for (int c = 0; c < s->k; c++)
		scores[c] = s->projected_norms[c] - 2 * approx[c];
	if (groups < SHORTLIST_LENGTH)
	{
		for (int c = 0; c < s->k; c++)
			if (scores[c] <= bound)
				ListInsert(list, list_score, &n, SHORTLIST_LENGTH, c, scores[c]);
	}
	else
	{
		float	   *least = s->group_least;

		for (int g = 0; g < groups; g++)
		{
			int			end = Min(s->k, (g + 1) * SHORTLIST_GROUP);

			least[g] = scores[g * SHORTLIST_GROUP];
			for (int c = g * SHORTLIST_GROUP + 1; c < end; c++)
				least[g] = Min(least[g], scores[c]);
			ListInsert(list, list_score, &n, SHORTLIST_LENGTH, g, least[g]);
		}
		bound = list_score[SHORTLIST_LENGTH - 1];
		n = 0;
		for (int g = 0; g < groups; g++)
		{
			if (least[g] > bound)
				continue;
			for (int c = g * SHORTLIST_GROUP; c < Min(s->k, (g + 1) * SHORTLIST_GROUP); c++)
				if (scores[c] <= bound)
					ListInsert(list, list_score, &n, SHORTLIST_LENGTH, c, scores[c]);
		}
	}
	for (int i = 0; i < n; i++)
		exact[i] = s->norms[list[i]] -
			2 * VectorInnerProduct(x, s->centroids + (Size) list[i] * s->dimensions,
								   s->dimensions);
	return KeepNearest(near, nnear, list, exact, n);
}

/*
 * best[i] = the centroid nearest to row i of x (n rows).  With near, also
 * near[i * nnear ...] = row i's nnear nearest centroids, nearest first
 * (-1 when there are fewer), for AlexNearestAmong.
 */
void
AlexFindNearestCentroids(AlexCentroidSearch *s, const float *x, int n, int *best,
						 int *near, int nnear)
{
	int			dim = s->dimensions;
	int			one[1];

	if (!near)
		nnear = 1;
	for (int start = 0; start < n; start += ASSIGN_BLOCK_ROWS)
	{
		int			rows = Min(ASSIGN_BLOCK_ROWS, n - start);
		const float *block = x + (Size) start * dim;

		CHECK_FOR_INTERRUPTS();
		if (s->metric == ALEX_METRIC_L1)
		{
			/* no dot products: every centroid, one pair at a time */
			for (int i = 0; i < rows; i++)
			{
				for (int c = 0; c < s->k; c++)
					s->scores[c] = AlexRouteDistance(s->metric, block + (Size) i * dim,
													 s->centroids + (Size) c * dim, dim);
				best[start + i] = KeepNearest(near ? near + (Size) (start + i) * nnear : one,
											  nnear, NULL, s->scores, s->k);
			}
		}
		else if (s->directions > 0)
		{
			int			m = s->directions;

			distance_kernels->dot_block(block, rows, s->basis, m, dim, s->x_projected);
			distance_kernels->dot_block(s->x_projected, rows, s->projected, s->k, m, s->dots);
			for (int i = 0; i < rows; i++)
				best[start + i] =
					NearestByShortlist(s, block + (Size) i * dim, s->dots + (Size) i * s->k,
									   near ? near + (Size) (start + i) * nnear : one, nnear);
		}
		else
		{
			distance_kernels->dot_block(block, rows, s->centroids, s->k, dim, s->dots);
			for (int i = 0; i < rows; i++)
			{
				const float *dots = s->dots + (Size) i * s->k;

				if (!near)
				{
					best[start + i] = LeastScore(s->norms, dots, s->k);
					continue;
				}
				for (int c = 0; c < s->k; c++)
					s->scores[c] = s->norms[c] - 2 * dots[c];
				best[start + i] = KeepNearest(near + (Size) (start + i) * nnear, nnear,
											  NULL, s->scores, s->k);
			}
		}
	}
}

/*
 * best[i] = the centroid nearest to row i of x (n rows) among row i's
 * candidates, candidates[i * ncandidates ...] (-1: none), lowest index on
 * ties.  It is for rows whose centroids moved a little since
 * AlexFindNearestCentroids gave the candidates: the nearest is then almost
 * always among the few that were nearest before.
 */
void
AlexNearestAmong(AlexMetricKind metric, const float *x, int n, const float *centroids,
				 int dimensions, const int *candidates, int ncandidates, int *best)
{
	for (int i = 0; i < n; i++)
	{
		const int  *cand = candidates + (Size) i * ncandidates;
		float		best_distance = FLT_MAX;

		best[i] = cand[0];
		for (int j = 0; j < ncandidates; j++)
		{
			float		d;

			if (cand[j] < 0)
				continue;
			d = AlexRouteDistance(metric, x + (Size) i * dimensions,
								  centroids + (Size) cand[j] * dimensions, dimensions);
			if (PairBefore(d, cand[j], best_distance, best[i]))
			{
				best_distance = d;
				best[i] = cand[j];
			}
		}
	}
}

void
AlexEndCentroidSearch(AlexCentroidSearch *s)
{
	if (s->norms)
		pfree(s->norms);
	if (s->dots)
		pfree(s->dots);
	if (s->basis)
	{
		pfree(s->basis);
		pfree(s->projected);
		pfree(s->projected_norms);
		pfree(s->x_projected);
	}
	pfree(s->scores);
	pfree(s->group_least);
	pfree(s);
}

/*
 * AlexNearestCentroid for n vectors at once (see the file header: a row
 * may get a nearly as near centroid instead of the nearest).
 */
void
AlexNearestCentroids(AlexMetricKind metric, const float *x, int n, const float *centroids,
					 int k, int dimensions, int *best)
{
	AlexCentroidSearch *s = AlexBeginCentroidSearch(metric, centroids, k, dimensions);

	AlexFindNearestCentroids(s, x, n, best, NULL, 0);
	AlexEndCentroidSearch(s);
}
