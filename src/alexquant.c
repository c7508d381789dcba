/*-------------------------------------------------------------------------
 *
 * alexquant.c
 *	  RaBitQ codes for leaf lanes: one bit a dimension of the rotated
 *	  residual, three float factors, and the estimator that turns a code
 *	  into a lower bound of the exact distance.
 *
 * A vector o in a leaf with reference vector c (the leaf's centroid, or
 * zero) has residual r = o - c and unit residual u = r / |r|.  With P a
 * random rotation of the padded space (Dp, a power of two), the code is the
 * sign pattern of P u, read as the unit vector xbar = sign(P u) / sqrt(Dp).
 * f = <xbar, P u> = |P u|_1 / sqrt(Dp) is close to 0.8.  For any vector w,
 *
 *		<u, w> ~= <xbar, P w> / f
 *
 * with error at most |w| sqrt((1 - f^2) / f^2) eps0 / sqrt(Dp - 1) with high
 * probability (Gao & Long, SIGMOD 2024, who use eps0 = 1.9; the error is
 * close to normal with that scale, so 1.9 still fails for about 3% of
 * vectors: alex.bound_epsilon defaults to 3).  For L2 (and cosine on
 * unit vectors, and L1 bounded below by L2) w = q - c:
 *
 *		|q - o|^2 = |q - c|^2 + |r|^2 - 2 |r| <u, q - c>
 *				  = |q - c|^2 + offset - 2 scale <xbar, P q>
 *
 * with scale = |r| / f and offset = |r|^2 + 2 scale <xbar, P c> stored per
 * lane, so the centroid enters only through the lane's factors and a
 * per-leaf scalar: one table of P q serves every leaf a query probes.  For
 * inner product w = q and <o, q> = <c, q> + scale <xbar, P q>.
 *
 * <xbar, P q> = (2 sum_{bit i set} (Pq)_i - sum_i (Pq)_i) / sqrt(Dp).  The
 * query is stored in 8-bit steps as bit planes, so the sum over set bits is
 * eight popcounts of code AND plane a word (distance kernels: AVX-512
 * VPOPCNTQ, POPCNT, or portable, all the same integers); the rounding of
 * the query widens the bound by a deterministic amount.
 *
 * IDENTIFICATION
 *	  src/alexquant.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "alex.h"
#include "common/hashfn.h"
#include "distance.h"
#include "utils/memutils.h"

/* Rounds of random sign flips and a Walsh-Hadamard transform */
#define ALEX_ROTATION_ROUNDS	3

/* The per-lane factors, before the code bits */
typedef struct AlexCodeFactors
{
	float		offset;
	float		scale;
	float		error;			/* bound on |<r, w>| error, per unit |w| */
} AlexCodeFactors;

#define CODE_BITS_OFFSET	MAXALIGN(sizeof(AlexCodeFactors))

static int
PaddedDimensions(int dimensions)
{
	int			padded = 1;

	while (padded < dimensions)
		padded <<= 1;
	return Max(padded, 64);
}

/*
 * Are codes of this width worth estimating from?  In few dimensions the
 * bound is loose and exact distances are cheap.
 */
bool
AlexCodesUsable(int dimensions)
{
	return PaddedDimensions(dimensions) >= ALEX_MIN_CODE_DIMENSIONS;
}

Size
AlexCodeSize(int dimensions)
{
	return CODE_BITS_OFFSET + PaddedDimensions(dimensions) / 8;
}

/*
 * The rotation of an index: its sign flips come from the metapage's seed,
 * so every backend, a standby and a rebuild agree.  One is cached per
 * backend (rebuilt when another index needs another one: it is cheap).
 */
const AlexQuantizer *
AlexGetQuantizer(int dimensions, uint64 seed)
{
	static AlexQuantizer *cached = NULL;
	AlexRandom	prng;
	int			padded = PaddedDimensions(dimensions);

	if (cached && cached->dimensions == dimensions && cached->seed == seed)
		return cached;
	if (cached == NULL)
		cached = MemoryContextAllocZero(TopMemoryContext, sizeof(AlexQuantizer));
	else if (cached->signs)
		pfree(cached->signs);

	cached->dimensions = dimensions;
	cached->padded = padded;
	cached->seed = seed;
	cached->signs = MemoryContextAlloc(TopMemoryContext,
									   sizeof(float) * padded * ALEX_ROTATION_ROUNDS);
	AlexRandomSeed(&prng, seed);
	for (int i = 0; i < padded * ALEX_ROTATION_ROUNDS; i++)
		cached->signs[i] = (AlexRandomUint32(&prng) & 1) ? 1.0f : -1.0f;
	return cached;
}

/*
 * One round of the rotation, in place: flip the signs, then the fast
 * Walsh-Hadamard transform, scaled to be orthonormal.  On x86-64 it is
 * also compiled for AVX-512 and AVX2 and the CPU's best version runs: it
 * is only IEEE multiplies, adds and subtracts, one at a time per element,
 * so every version gives the same bits.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void
RotationRound(float *x, const float *signs, int n)
{
	AlexFloat8	scale = {0};

	scale += 1.0f / sqrtf((float) n);

	/* signs, then the first three stages within each group of 8 */
	for (int i = 0; i < n; i += 8)
	{
		float	   *y = x + i;
		float		a0 = y[0] * signs[i], a1 = y[1] * signs[i + 1];
		float		a2 = y[2] * signs[i + 2], a3 = y[3] * signs[i + 3];
		float		a4 = y[4] * signs[i + 4], a5 = y[5] * signs[i + 5];
		float		a6 = y[6] * signs[i + 6], a7 = y[7] * signs[i + 7];
		float		b0 = a0 + a1, b1 = a0 - a1, b2 = a2 + a3, b3 = a2 - a3;
		float		b4 = a4 + a5, b5 = a4 - a5, b6 = a6 + a7, b7 = a6 - a7;
		float		c0 = b0 + b2, c2 = b0 - b2, c1 = b1 + b3, c3 = b1 - b3;
		float		c4 = b4 + b6, c6 = b4 - b6, c5 = b5 + b7, c7 = b5 - b7;

		y[0] = c0 + c4;
		y[4] = c0 - c4;
		y[1] = c1 + c5;
		y[5] = c1 - c5;
		y[2] = c2 + c6;
		y[6] = c2 - c6;
		y[3] = c3 + c7;
		y[7] = c3 - c7;
	}
	/* the other stages, eight elements at a time */
	for (int len = 8; len < n; len <<= 1)
		for (int i = 0; i < n; i += len << 1)
			for (int j = i; j < i + len; j += 8)
			{
				AlexFloat8	a;
				AlexFloat8	b;
				AlexFloat8	sum;
				AlexFloat8	diff;

				memcpy(&a, x + j, sizeof(AlexFloat8));
				memcpy(&b, x + j + len, sizeof(AlexFloat8));
				sum = a + b;
				diff = a - b;
				memcpy(x + j, &sum, sizeof(AlexFloat8));
				memcpy(x + j + len, &diff, sizeof(AlexFloat8));
			}
	for (int i = 0; i < n; i += 8)
	{
		AlexFloat8	v;

		memcpy(&v, x + i, sizeof(AlexFloat8));
		v *= scale;
		memcpy(x + i, &v, sizeof(AlexFloat8));
	}
}

/* out (padded floats) = P in (dimensions floats, zero-padded) */
void
AlexRotate(const AlexQuantizer *qz, const float *in, float *out)
{
	memcpy(out, in, sizeof(float) * qz->dimensions);
	memset(out + qz->dimensions, 0, sizeof(float) * (qz->padded - qz->dimensions));
	for (int round = 0; round < ALEX_ROTATION_ROUNDS; round++)
		RotationRound(out, qz->signs + (Size) round * qz->padded, qz->padded);
}

/*
 * P c of a leaf's reference, cached: every insert into a leaf needs it, and
 * a rotation costs more than hashing the reference to find it again.  The
 * key is the reference's contents, so a recycled leaf cannot hit a stale
 * entry.
 */
#define ROTATED_CACHE_SIZE 64

typedef struct RotatedReference
{
	uint64		key;
	uint64		seed;
	int			dimensions;
	float	   *rotated;		/* padded floats, NULL when empty */
} RotatedReference;

static const float *
RotateReference(const AlexQuantizer *qz, const float *reference)
{
	static RotatedReference *cache = NULL;
	uint64		key = hash_bytes_extended((const unsigned char *) reference,
										  sizeof(float) * qz->dimensions, 0);
	RotatedReference *entry;

	if (cache == NULL)
		cache = MemoryContextAllocZero(TopMemoryContext,
									   sizeof(RotatedReference) * ROTATED_CACHE_SIZE);
	entry = &cache[key % ROTATED_CACHE_SIZE];
	if (entry->rotated != NULL && entry->key == key && entry->seed == qz->seed &&
		entry->dimensions == qz->dimensions)
		return entry->rotated;

	if (entry->rotated != NULL)
		pfree(entry->rotated);
	entry->rotated = NULL;
	{
		float	   *rotated = MemoryContextAlloc(TopMemoryContext,
												 sizeof(float) * qz->padded);

		AlexRotate(qz, reference, rotated);
		entry->key = key;
		entry->seed = qz->seed;
		entry->dimensions = qz->dimensions;
		entry->rotated = rotated;
	}
	return entry->rotated;
}

/*
 * The vector as the estimator sees it: unit length for cosine (cosine
 * distance is half the squared L2 distance of unit vectors).
 */
static void
EstimatorVector(AlexMetricKind metric, const float *in, float *out, int dim)
{
	memcpy(out, in, sizeof(float) * dim);
	if (metric == ALEX_METRIC_COSINE)
		(void) AlexScaleToUnitLength(out, dim);
}

/*
 * x[i] = (float) (x[i] / divisor), each division in double, two at a
 * time: the same bits as one at a time.
 */
static void
ScaleByInverse(float *x, int n, double divisor)
{
	AlexDouble2	by = {divisor, divisor};
	int			i = 0;

	for (; i + 2 <= n; i += 2)
	{
		AlexDouble2	v = {x[i], x[i + 1]};

		v /= by;
		x[i] = (float) v[0];
		x[i + 1] = (float) v[1];
	}
	for (; i < n; i++)
		x[i] = (float) (x[i] / divisor);
}

/*
 * Prepare to encode vectors relative to one leaf's reference vector (NULL:
 * zero): its rotation, needed by every code, is computed or found once
 * here, and the scratch space is allocated once, not for each vector.
 */
void
AlexBeginEncoder(AlexEncoder *enc, const AlexQuantizer *qz, AlexMetricKind metric,
				 const float *reference)
{
	enc->qz = qz;
	enc->metric = metric;
	enc->reference = reference;
	enc->scratch = palloc(sizeof(float) * qz->padded * 4);
	enc->rotated_reference = NULL;
	if (reference && metric != ALEX_METRIC_INNER_PRODUCT)
	{
		/* a copy: the cache may replace its entry while we encode */
		float	   *rotated = enc->scratch + (Size) qz->padded * 3;

		memcpy(rotated, RotateReference(qz, reference), sizeof(float) * qz->padded);
		enc->rotated_reference = rotated;
	}
}

void
AlexEndEncoder(AlexEncoder *enc)
{
	pfree(enc->scratch);
	enc->scratch = NULL;
}

/*
 * Encode a vector into a lane payload of AlexCodeSize bytes, relative to
 * the encoder's reference vector.
 */
void
AlexEncode(AlexEncoder *enc, const float *vector, char *payload)
{
	const AlexQuantizer *qz = enc->qz;
	const float *reference = enc->reference;
	int			dim = qz->dimensions;
	int			padded = qz->padded;
	AlexCodeFactors *factors = (AlexCodeFactors *) payload;
	uint8	   *bits = (uint8 *) (payload + CODE_BITS_OFFSET);
	float	   *r = enc->scratch;
	float	   *pr = r + padded;
	float	   *signs = pr + padded;
	double		norm;
	double		l1;
	double		inv_sqrt = 1.0 / sqrt((double) padded);
	double		f;

	EstimatorVector(enc->metric, vector, r, dim);
	if (reference)
		for (int i = 0; i < dim; i++)
			r[i] -= reference[i];
	norm = sqrt((double) VectorInnerProduct(r, r, dim));

	memset(factors, 0, sizeof(AlexCodeFactors));
	if (norm == 0)
	{
		/* o == c: the distance is exactly |q - c|, which the leaf term has */
		memset(bits, 0, padded / 8);
		return;
	}
	ScaleByInverse(r, dim, norm);
	AlexRotate(qz, r, pr);
	/* a byte of bits at a time (padded is a multiple of 64) */
	for (int byte = 0; byte < padded / 8; byte++)
	{
		uint8		b = 0;

		for (int j = 0; j < 8; j++)
		{
			bool		set = pr[byte * 8 + j] > 0;

			b |= set << j;
			signs[byte * 8 + j] = set ? 1.0f : -1.0f;
		}
		bits[byte] = b;
	}
	/* |P u|_1 = <sign(P u), P u>: one kernel pass, no branch a dimension */
	l1 = VectorInnerProduct(signs, pr, padded);
	f = Max(l1 * inv_sqrt, 1e-6);
	factors->scale = (float) (norm / f);
	factors->error = (float) (norm * sqrt(Max(0, 1 - f * f)) / f / sqrt((double) padded - 1));
	if (enc->rotated_reference)
	{
		/* <xbar, P c>, so that the query table needs no centroid */
		double		g = VectorInnerProduct(signs, enc->rotated_reference, padded) * inv_sqrt;

		factors->offset = (float) (norm * norm + 2 * factors->scale * g);
	}
	else
		factors->offset = (float) (norm * norm);
}

/* Encode one vector (an insert): AlexEncode with an encoder of its own */
void
AlexEncodeCode(const AlexQuantizer *qz, AlexMetricKind metric, const float *vector,
			   const float *reference, char *payload)
{
	AlexEncoder enc;

	AlexBeginEncoder(&enc, qz, metric, reference);
	AlexEncode(&enc, vector, payload);
	AlexEndEncoder(&enc);
}

/*
 * Transpose the 8x8 bit matrix whose row k is byte k: bit 8k + b moves to
 * bit 8b + k (three rounds of swapping blocks across the diagonal).
 */
static inline uint64
BitTranspose8x8(uint64 x)
{
	uint64		t;

	t = (x ^ (x >> 7)) & UINT64CONST(0x00AA00AA00AA00AA);
	x = x ^ t ^ (t << 7);
	t = (x ^ (x >> 14)) & UINT64CONST(0x0000CCCC0000CCCC);
	x = x ^ t ^ (t << 14);
	t = (x ^ (x >> 28)) & UINT64CONST(0x00000000F0F0F0F0);
	x = x ^ t ^ (t << 28);
	return x;
}

/*
 * Prepare a query: rotate it once and cut it into 8-bit bit planes.
 */
void
AlexPrepareQueryCode(const AlexQuantizer *qz, AlexMetricKind metric, const float *query,
					 AlexQueryCode *qc)
{
	int			padded = qz->padded;
	int			words = padded / 64;
	float	   *pq = palloc(sizeof(float) * padded);
	float	   *q = palloc(sizeof(float) * qz->dimensions);
	double		low;
	double		high;
	double		sum = 0;
	double		rounding = 0;

	EstimatorVector(metric, query, q, qz->dimensions);
	AlexRotate(qz, q, pq);
	low = high = pq[0];
	for (int i = 0; i < padded; i++)
	{
		low = Min(low, pq[i]);
		high = Max(high, pq[i]);
		sum += pq[i];
	}

	qc->metric = metric;
	qc->dimensions = qz->dimensions;
	qc->padded = padded;
	qc->query = q;
	qc->words = words;
	qc->low = low;
	qc->step = high > low ? (high - low) / 255.0 : 1.0;
	qc->sum = sum;
	qc->inv_sqrt = 1.0 / sqrt((double) padded);
	StaticAssertStmt(DISTANCE_CODE_PLANES == 8, "levels are bytes");
	qc->planes = palloc0(sizeof(uint64) * DISTANCE_CODE_PLANES * words);
	for (int i = 0; i < padded; i += 8)
	{
		uint64		levels = 0;		/* byte k: the level of element i + k */
		uint64	   *word = qc->planes + i / 64;

		for (int k = 0; k < 8; k++)
		{
			double		scaled = (pq[i + k] - low) / qc->step;
			uint64		level = (uint64) Max(0, Min((int) (scaled + 0.5), 255));

			rounding = Max(rounding, fabs(pq[i + k] - (low + qc->step * level)));
			levels |= level << (8 * k);
		}
		/* an 8x8 bit transpose: byte b now holds bit b of each level */
		levels = BitTranspose8x8(levels);
		for (int b = 0; b < DISTANCE_CODE_PLANES; b++)
			word[b * words] |= ((levels >> (8 * b)) & 0xFF) << (i % 64);
	}
	qc->rounding = rounding;
	pfree(pq);
}

/*
 * The per-leaf part of the estimate, from the leaf's reference vector
 * (NULL: zero): |q - c|^2 and |q - c| for the L2 forms, <c, q> and |q| for
 * inner product.
 */
void
AlexLeafQueryTerms(const AlexQueryCode *qc, const float *reference, AlexLeafTerms *terms)
{
	const float *q = qc->query;
	int			dim = qc->dimensions;

	if (qc->metric == ALEX_METRIC_INNER_PRODUCT)
	{
		terms->base = reference ? VectorInnerProduct(reference, q, dim) : 0;
		terms->norm = sqrtf(VectorInnerProduct(q, q, dim));
	}
	else
	{
		terms->base = reference ? VectorL2SquaredDistance(q, reference, dim) :
			VectorInnerProduct(q, q, dim);
		terms->norm = sqrtf(terms->base);
	}
}

/*
 * Lower bounds of the exact distances between the query and n lanes'
 * vectors (their payloads; n at most ALEX_CODE_BATCH), in
 * AlexExactDistance's units (L2 squared, the others as the SQL operator
 * returns them); each fails, rarely, only as the estimator's error bound
 * does.
 */
void
AlexCodeLowerBounds(const AlexQueryCode *qc, const AlexLeafTerms *terms,
					const char *const *payloads, int n, double *bounds)
{
	const uint64 *codes[ALEX_CODE_BATCH] = {0};
	uint64		levels[ALEX_CODE_BATCH];
	uint32		nsets[ALEX_CODE_BATCH];

	Assert(n <= ALEX_CODE_BATCH);
	for (int i = 0; i < n; i++)
		codes[i] = (const uint64 *) (payloads[i] + CODE_BITS_OFFSET);
	distance_kernels->code_dots(codes, n, qc->planes, qc->words, levels, nsets);

	for (int i = 0; i < n; i++)
	{
		const AlexCodeFactors *factors = (const AlexCodeFactors *) payloads[i];
		uint32		nset = nsets[i];
		double		set_sum = nset * qc->low + qc->step * (double) levels[i];
		double		dot = (2 * set_sum - qc->sum) * qc->inv_sqrt;

		/* the estimator's error, and the query's rounding (n_set * rounding) */
		double		slack = alex_bound_epsilon * factors->error * terms->norm +
			factors->scale * 2 * nset * qc->rounding * qc->inv_sqrt;
		double		d2;

		if (qc->metric == ALEX_METRIC_INNER_PRODUCT)
		{
			bounds[i] = -(terms->base + factors->scale * dot + slack);
			continue;
		}
		d2 = Max(terms->base + factors->offset - 2 * (factors->scale * dot + slack), 0);
		switch (qc->metric)
		{
			case ALEX_METRIC_COSINE:
				bounds[i] = d2 / 2.0;
				break;
			case ALEX_METRIC_L2:
				/* squared, as AlexExactDistance ranks L2: no square root a lane */
				bounds[i] = d2;
				break;
			case ALEX_METRIC_L1:	/* L1 >= L2 */
				bounds[i] = sqrt(d2);
				break;
			case ALEX_METRIC_INNER_PRODUCT:
				break;
		}
	}
}
