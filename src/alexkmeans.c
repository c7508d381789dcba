/*-------------------------------------------------------------------------
 *
 * alexkmeans.c
 *	  k-means for the routing model: k-means++ seeding and Lloyd
 *	  iterations, deterministic from a fixed seed; spherical (unit-length
 *	  centroids) for inner product (see AlexRouteDistance).
 *
 * IDENTIFICATION
 *	  src/alexkmeans.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "alex.h"
#include "distance.h"
#include "miscadmin.h"

#define ALEX_KMEANS_SEED		0x0a1e7

/*
 * Lloyd iterations on the sample: 6 built as good a partition as 12
 * (fashion-mnist recall@10 at 10 probes 0.9867 vs 0.9844; synthetic-1536
 * 0.999 either way) in 20% less build time; 3 lost 1.5 points at 2 probes on
 * synthetic-1536.  Since the in-memory build ends with a Lloyd step over all
 * the rows (DECISIONS #30), 4 on the sample give better recall than 6 did
 * without it, in the same build time.
 */
#define ALEX_KMEANS_ITERATIONS	4

static void
NormaliseCentroid(float *c, int dimensions)
{
	double		norm = 0;

	for (int d = 0; d < dimensions; d++)
		norm += (double) c[d] * c[d];
	if (norm <= 0)
		return;
	norm = sqrt(norm);
	for (int d = 0; d < dimensions; d++)
		c[d] = (float) (c[d] / norm);
}

/*
 * k-means++ seeding: each next centre is a sample drawn with probability
 * proportional to its distance from the nearest centre chosen so far.
 * Every centre costs a pass over the samples, so only an evenly spaced
 * ALEX_SEED_SAMPLES_PER_CENTRE * k of them take part: the same spread of
 * seeds, and the passes stay in cache (fashion-mnist, 439 centres: the
 * seeding went from a quarter of the build to a few percent; Lloyd's
 * iterations over all the samples follow).
 */
#define ALEX_SEED_SAMPLES_PER_CENTRE 8

/*
 * At high widths the seeding measures squared L2 in a random projection of
 * the samples to this many dimensions (random signs: distances kept within
 * some 10%, enough for drawing seeds by distance; the centres are the
 * samples themselves, and Lloyd's iterations work in full width).
 */
#define ALEX_SEED_PROJECTION	128

static void
SeedCentroids(const float *samples, int n, int dimensions, AlexMetricKind metric,
			  int k, float *centroids, AlexRandom *prng)
{
	double	   *weight = palloc(sizeof(double) * n);
	float	   *norms = palloc(sizeof(float) * n);
	float	   *dots = palloc(sizeof(float) * n);
	bool		by_dot = metric != ALEX_METRIC_L1;
	/* squared L2 from dot products needs the norms; inner product does not */
	bool		with_norms = by_dot && metric != ALEX_METRIC_INNER_PRODUCT;
	const float *space = samples;	/* where distances are measured */
	int			width = dimensions;
	float	   *projected = NULL;
	int			last;

	/* worth it with many centres: projecting costs a pass over P centres' worth */
	if (with_norms && dimensions >= 8 * ALEX_SEED_PROJECTION && k >= 2 * ALEX_SEED_PROJECTION)
	{
		float	   *signs = palloc(sizeof(float) * ALEX_SEED_PROJECTION * dimensions);

		for (int i = 0; i < ALEX_SEED_PROJECTION * dimensions; i++)
			signs[i] = (AlexRandomUint32(prng) & 1) ? 1.0f : -1.0f;
		projected = palloc_extended(sizeof(float) * ALEX_SEED_PROJECTION * (Size) n,
									MCXT_ALLOC_HUGE);
		distance_kernels->dot_block(samples, n, signs, ALEX_SEED_PROJECTION, dimensions,
									projected);
		pfree(signs);
		space = projected;
		width = ALEX_SEED_PROJECTION;
	}

	last = (int) AlexRandomBelow(prng, n);
	memcpy(centroids, samples + (Size) last * dimensions, sizeof(float) * dimensions);
	for (int i = 0; i < n; i++)
	{
		weight[i] = DBL_MAX;
		norms[i] = with_norms ? VectorInnerProduct(space + (Size) i * width,
												   space + (Size) i * width, width) : 0;
	}
	for (int c = 1; c < k; c++)
	{
		const float *last_centre = space + (Size) last * width;
		float		last_norm = norms[last];
		double		total = 0;
		double		target;
		int			chosen = n - 1;

		CHECK_FOR_INTERRUPTS();
		/* every sample against the last centre in one block kernel call */
		if (by_dot)
			distance_kernels->dot_block(space, n, last_centre, 1, width, dots);
		for (int i = 0; i < n; i++)
		{
			double		d;

			if (!by_dot)
				d = AlexRouteDistance(metric, space + (Size) i * width, last_centre, width);
			else if (metric == ALEX_METRIC_INNER_PRODUCT)
				d = 1.0 - dots[i];	/* shift -1..1 to be non-negative */
			else
				d = Max(0, norms[i] + last_norm - 2 * dots[i]);
			if (d < weight[i])
				weight[i] = d;
			total += weight[i];
		}
		target = AlexRandomDouble(prng) * total;
		for (int i = 0; i < n; i++)
		{
			target -= weight[i];
			if (target <= 0)
			{
				chosen = i;
				break;
			}
		}
		last = chosen;
		memcpy(centroids + (Size) c * dimensions, samples + (Size) chosen * dimensions,
			   sizeof(float) * dimensions);
	}
	pfree(weight);
	pfree(norms);
	pfree(dots);
	if (projected)
		pfree(projected);
}

/*
 * Index of the centroid nearest to x.
 */
int
AlexNearestCentroid(AlexMetricKind metric, const float *x, const float *centroids,
					int k, int dimensions)
{
	int			best = 0;
	float		best_distance = FLT_MAX;

	for (int c = 0; c < k; c++)
	{
		float		d = AlexRouteDistance(metric, x, centroids + (Size) c * dimensions,
										  dimensions);

		if (d < best_distance)
		{
			best_distance = d;
			best = c;
		}
	}
	return best;
}

/*
 * Running sums of rows by cluster, for the update step of Lloyd's algorithm
 * when the rows come in blocks (AlexKmeans, AlexCentroidOf, and the build's
 * pass over all rows).  Sums are in double so the order rows come in barely
 * matters.
 */
AlexCentroidSums *
AlexBeginCentroidSums(int k, int dimensions)
{
	AlexCentroidSums *acc = palloc(sizeof(AlexCentroidSums));

	acc->k = k;
	acc->dimensions = dimensions;
	acc->sums = palloc_extended(sizeof(double) * k * dimensions, MCXT_ALLOC_HUGE);
	acc->counts = palloc(sizeof(int) * k);
	AlexResetCentroidSums(acc);
	return acc;
}

void
AlexResetCentroidSums(AlexCentroidSums *acc)
{
	memset(acc->sums, 0, sizeof(double) * acc->k * acc->dimensions);
	memset(acc->counts, 0, sizeof(int) * acc->k);
}

/* Add n rows, row i to cluster assignment[i] (NULL: all to cluster 0) */
void
AlexAddToCentroidSums(AlexCentroidSums *acc, const float *rows, int n,
					  const int *assignment)
{
	int			dimensions = acc->dimensions;

	for (int i = 0; i < n; i++)
	{
		int			c = assignment ? assignment[i] : 0;
		double	   *sum = acc->sums + (Size) c * dimensions;
		const float *x = rows + (Size) i * dimensions;
		int			d = 0;

		acc->counts[c]++;
		/* two elements at a time (SSE2 through the vector extension) */
		for (; d + 2 <= dimensions; d += 2)
		{
			AlexDouble2	s;
			AlexDouble2	v = {x[d], x[d + 1]};

			memcpy(&s, sum + d, sizeof(s));
			s += v;
			memcpy(sum + d, &s, sizeof(s));
		}
		for (; d < dimensions; d++)
			sum[d] += x[d];
	}
}

/*
 * Move each centroid with rows to their mean, of unit length where the
 * metric wants spherical centroids; a centroid no row chose is left as it
 * was, for the caller to decide.
 */
void
AlexFinishCentroidSums(const AlexCentroidSums *acc, AlexMetricKind metric, float *centroids)
{
	int			dimensions = acc->dimensions;
	bool		spherical = AlexSphericalCentroids(metric);

	for (int c = 0; c < acc->k; c++)
	{
		float	   *centroid = centroids + (Size) c * dimensions;
		const double *sum = acc->sums + (Size) c * dimensions;

		if (acc->counts[c] == 0)
			continue;
		for (int d = 0; d < dimensions; d++)
			centroid[d] = (float) (sum[d] / acc->counts[c]);
		if (spherical)
			NormaliseCentroid(centroid, dimensions);
	}
}

void
AlexEndCentroidSums(AlexCentroidSums *acc)
{
	pfree(acc->sums);
	pfree(acc->counts);
	pfree(acc);
}

/* The centroid of n > 0 rows in routing space */
void
AlexCentroidOf(const float *rows, int n, int dimensions, AlexMetricKind metric,
			   float *centroid)
{
	AlexCentroidSums *acc = AlexBeginCentroidSums(1, dimensions);

	Assert(n > 0);
	AlexAddToCentroidSums(acc, rows, n, NULL);
	AlexFinishCentroidSums(acc, metric, centroid);
	AlexEndCentroidSums(acc);
}

/*
 * Cluster n samples into k centroids (k <= n).  Samples are already in
 * routing space (unit length for the angular metrics).
 */
void
AlexKmeans(const float *samples, int n, int dimensions, AlexMetricKind metric,
		   int k, float *centroids)
{
	AlexRandom	prng;
	int		   *assignment = palloc(sizeof(int) * n);
	int		   *nearest = palloc(sizeof(int) * n);
	int		   *candidates = palloc_extended(sizeof(int) * ALEX_REROUTE_CANDIDATES * (Size) n,
											 MCXT_ALLOC_HUGE);
	AlexCentroidSums *acc = AlexBeginCentroidSums(k, dimensions);

	Assert(k >= 1 && k <= n);
	AlexRandomSeed(&prng, ALEX_KMEANS_SEED);
	if (n > ALEX_SEED_SAMPLES_PER_CENTRE * k)
	{
		int			m = ALEX_SEED_SAMPLES_PER_CENTRE * k;
		float	   *spread = palloc(sizeof(float) * m * dimensions);

		for (int i = 0; i < m; i++)
			memcpy(spread + (Size) i * dimensions,
				   samples + (Size) ((int64) i * n / m) * dimensions,
				   sizeof(float) * dimensions);
		SeedCentroids(spread, m, dimensions, metric, k, centroids, &prng);
		pfree(spread);
	}
	else
		SeedCentroids(samples, n, dimensions, metric, k, centroids, &prng);

	for (int iter = 0; iter < ALEX_KMEANS_ITERATIONS; iter++)
	{
		int			changed = 0;

		/*
		 * Assign each sample to its nearest centroid: the first time by a
		 * search of all of them, which also keeps each sample's few nearest;
		 * later among those few, as centroids now move a little an
		 * iteration (DECISIONS #40).
		 */
		if (iter == 0)
		{
			AlexCentroidSearch *search = AlexBeginCentroidSearch(metric, centroids, k,
																 dimensions);

			AlexFindNearestCentroids(search, samples, n, nearest, candidates,
									 ALEX_REROUTE_CANDIDATES);
			AlexEndCentroidSearch(search);
		}
		else
			AlexNearestAmong(metric, samples, n, centroids, dimensions, candidates,
							 ALEX_REROUTE_CANDIDATES, nearest);
		for (int i = 0; i < n; i++)
		{
			if (iter == 0 || assignment[i] != nearest[i])
				changed++;
			assignment[i] = nearest[i];
		}
		if (iter > 0 && changed == 0)
			break;

		/* move each centroid to the mean of its samples */
		AlexResetCentroidSums(acc);
		AlexAddToCentroidSums(acc, samples, n, assignment);
		AlexFinishCentroidSums(acc, metric, centroids);
		for (int c = 0; c < k; c++)
		{
			/* an empty cluster restarts at a random sample */
			if (acc->counts[c] == 0)
				memcpy(centroids + (Size) c * dimensions,
					   samples + (Size) AlexRandomBelow(&prng, n) * dimensions,
					   sizeof(float) * dimensions);
		}
	}

	pfree(assignment);
	pfree(nearest);
	pfree(candidates);
	AlexEndCentroidSums(acc);
}
