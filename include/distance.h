/*-------------------------------------------------------------------------
 *
 * distance.h
 *	  Float4 distance kernels shared by the vector type and the alex index.
 *
 * Every kernel follows one canonical evaluation order so that the portable
 * C path and the SIMD paths return bit-identical results: element i is
 * accumulated into lane (i % DISTANCE_LANES) with a fused multiply-add, the
 * lanes start at +0, a final partial chunk is padded with zeros (which
 * turns a -0 lane into +0), and the lanes are summed pairwise by halving
 * (lane j plus lane j + w, for w = 16, 8, 4, 2, 1).  The SIMD paths are just faster ways
 * to evaluate that same expression.
 *
 * IDENTIFICATION
 *	  include/distance.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMENDB_DISTANCE_H
#define OMENDB_DISTANCE_H

#define DISTANCE_LANES 32

typedef enum DistanceKernelKind
{
	DISTANCE_KERNEL_AUTO,
	DISTANCE_KERNEL_PORTABLE,
	DISTANCE_KERNEL_AVX2,
	DISTANCE_KERNEL_AVX512
} DistanceKernelKind;

/* One implementation of every kernel */
typedef struct DistanceKernels
{
	const char *name;
	float		(*l2_squared) (const float *a, const float *b, int n);
	float		(*inner_product) (const float *a, const float *b, int n);
	/* dot product and both squared norms in one pass, for cosine */
	void		(*cosine_parts) (const float *a, const float *b, int n,
								 float *dot, float *norm_a, float *norm_b);
	float		(*l1) (const float *a, const float *b, int n);

	/*
	 * Quantized codes, n of them: levels[i] is the sum over b <
	 * DISTANCE_CODE_PLANES of 2^b times the popcount of codes[i] AND
	 * planes[b] (each plane `words` long), nset[i] the popcount of codes[i]
	 * itself.  Integer: every kernel agrees.  A batch, so that the planes
	 * are loaded once for all the codes of a page.
	 */
	void		(*code_dots) (const uint64 *const *codes, int n, const uint64 *planes,
							  int words, uint64 *levels, uint32 *nset);

	/*
	 * out[i * nb + j] = inner_product(a_i, b_j) for nb rows b_j and na rows
	 * a_i of n floats each, bit for bit: the same sums, computed a tile of
	 * rows at a time so that each row is read once per tile, not per pair.
	 */
	void		(*dot_block) (const float *a, int na, const float *b, int nb, int n,
							  float *out);

	/*
	 * out[r] = sum over i < n of codes[r * n + i] * q[i], for nrows rows of
	 * 8-bit codes.  Integer: every kernel agrees.
	 */
	void		(*int8_dots) (const int8 *codes, int nrows, int n, const int8 *q,
							  int32 *out);
} DistanceKernels;

#define DISTANCE_CODE_PLANES 8

/* The kernels in use; set by DistanceKernelsInit() and the GUC */
extern const DistanceKernels *distance_kernels;

extern const DistanceKernels distance_kernels_portable;
#ifdef __x86_64__
extern const DistanceKernels distance_kernels_avx2;
extern const DistanceKernels distance_kernels_avx512;
#endif

/* code_dots a word at a time, for the kernels without vector popcounts */
static inline void
DistanceCodeDotsScalar(const uint64 *const *codes, int n, const uint64 *planes, int words,
					   uint64 *levels, uint32 *nset)
{
	for (int i = 0; i < n; i++)
	{
		uint64		sums[DISTANCE_CODE_PLANES] = {0};
		uint64		total = 0;
		uint32		count = 0;

		for (int w = 0; w < words; w++)
		{
			uint64		c = codes[i][w];

			count += __builtin_popcountll(c);
			for (int b = 0; b < DISTANCE_CODE_PLANES; b++)
				sums[b] += __builtin_popcountll(c & planes[b * words + w]);
		}
		for (int b = 0; b < DISTANCE_CODE_PLANES; b++)
			total += sums[b] << b;
		levels[i] = total;
		nset[i] = count;
	}
}

extern void DistanceDotBlockPairwise(float (*inner_product) (const float *, const float *, int),
									 const float *a, int na, const float *b, int nb,
									 int n, float *out);
extern void DistanceKernelsInit(void);
extern bool DistanceKernelSupported(DistanceKernelKind kind);

static inline float
VectorL2SquaredDistance(const float *a, const float *b, int n)
{
	return distance_kernels->l2_squared(a, b, n);
}

static inline float
VectorInnerProduct(const float *a, const float *b, int n)
{
	return distance_kernels->inner_product(a, b, n);
}

extern double VectorCosineDistance(const float *a, const float *b, int n);

static inline float
VectorL1Distance(const float *a, const float *b, int n)
{
	return distance_kernels->l1(a, b, n);
}

#endif							/* OMENDB_DISTANCE_H */
