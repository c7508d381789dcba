/*-------------------------------------------------------------------------
 *
 * distance_x86.c
 *	  AVX2/FMA and AVX-512 distance kernels.
 *
 * Both evaluate exactly the canonical order of distance.h: 32 lanes held in
 * four ymm (AVX2) or two zmm (AVX-512) accumulators, a zero-padded (masked)
 * final chunk, then the same pairwise halving reduction.  Functions carry
 * target attributes, so the file needs no special compiler flags and the
 * caller only runs them after checking the CPU.
 *
 * IDENTIFICATION
 *	  src/distance_x86.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#ifdef __x86_64__

#include <immintrin.h>

#include "distance.h"

#define AVX2_TARGET __attribute__((target("avx2,fma,popcnt")))
#define AVX512_TARGET __attribute__((target("avx512f,avx512vpopcntdq,avx2,fma,popcnt")))

/* ---------- AVX2: lanes 0-7, 8-15, 16-23, 24-31 in r0..r3 ---------- */

/*
 * Load up to 8 floats starting at chunk offset "offset" of a tail of
 * "remaining" floats; lanes past the end read as zero.
 */
AVX2_TARGET static inline __m256
Avx2LoadTail(const float *p, int offset, int remaining)
{
	__m256i		lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	__m256i		limit = _mm256_set1_epi32(remaining - offset);
	__m256i		mask = _mm256_cmpgt_epi32(limit, lane);

	if (remaining <= offset)
		return _mm256_setzero_ps();
	return _mm256_maskload_ps(p + offset, mask);
}

AVX2_TARGET static inline float
Avx2Reduce(__m256 r0, __m256 r1, __m256 r2, __m256 r3)
{
	__m256		s0 = _mm256_add_ps(r0, r2);		/* lane j + lane j+16 */
	__m256		s1 = _mm256_add_ps(r1, r3);
	__m256		t = _mm256_add_ps(s0, s1);	/* lane j + lane j+8 */
	__m128		u = _mm_add_ps(_mm256_castps256_ps128(t),
							   _mm256_extractf128_ps(t, 1));	/* j + j+4 */
	__m128		v = _mm_add_ps(u, _mm_movehl_ps(u, u)); /* j + j+2 */
	__m128		w = _mm_add_ss(v, _mm_shuffle_ps(v, v, 1));	/* j + j+1 */

	return _mm_cvtss_f32(w);
}

#define AVX2_CHUNK_LOOP(a, b, n, BODY) \
	do { \
		int			i_ = 0; \
		for (; i_ + DISTANCE_LANES <= (n); i_ += DISTANCE_LANES) \
		{ \
			__m256 a0 = _mm256_loadu_ps((a) + i_), b0 = _mm256_loadu_ps((b) + i_); \
			__m256 a1 = _mm256_loadu_ps((a) + i_ + 8), b1 = _mm256_loadu_ps((b) + i_ + 8); \
			__m256 a2 = _mm256_loadu_ps((a) + i_ + 16), b2 = _mm256_loadu_ps((b) + i_ + 16); \
			__m256 a3 = _mm256_loadu_ps((a) + i_ + 24), b3 = _mm256_loadu_ps((b) + i_ + 24); \
			BODY; \
		} \
		if (i_ < (n)) \
		{ \
			int			rem_ = (n) - i_; \
			__m256 a0 = Avx2LoadTail((a) + i_, 0, rem_), b0 = Avx2LoadTail((b) + i_, 0, rem_); \
			__m256 a1 = Avx2LoadTail((a) + i_, 8, rem_), b1 = Avx2LoadTail((b) + i_, 8, rem_); \
			__m256 a2 = Avx2LoadTail((a) + i_, 16, rem_), b2 = Avx2LoadTail((b) + i_, 16, rem_); \
			__m256 a3 = Avx2LoadTail((a) + i_, 24, rem_), b3 = Avx2LoadTail((b) + i_, 24, rem_); \
			BODY; \
		} \
	} while (0)

AVX2_TARGET static float
Avx2L2Squared(const float *a, const float *b, int n)
{
	__m256		r0 = _mm256_setzero_ps(), r1 = r0, r2 = r0, r3 = r0;

	AVX2_CHUNK_LOOP(a, b, n,
		{
			__m256 d0 = _mm256_sub_ps(a0, b0);
			__m256 d1 = _mm256_sub_ps(a1, b1);
			__m256 d2 = _mm256_sub_ps(a2, b2);
			__m256 d3 = _mm256_sub_ps(a3, b3);

			r0 = _mm256_fmadd_ps(d0, d0, r0);
			r1 = _mm256_fmadd_ps(d1, d1, r1);
			r2 = _mm256_fmadd_ps(d2, d2, r2);
			r3 = _mm256_fmadd_ps(d3, d3, r3);
		});
	return Avx2Reduce(r0, r1, r2, r3);
}

AVX2_TARGET static float
Avx2InnerProduct(const float *a, const float *b, int n)
{
	__m256		r0 = _mm256_setzero_ps(), r1 = r0, r2 = r0, r3 = r0;

	AVX2_CHUNK_LOOP(a, b, n,
		{
			r0 = _mm256_fmadd_ps(a0, b0, r0);
			r1 = _mm256_fmadd_ps(a1, b1, r1);
			r2 = _mm256_fmadd_ps(a2, b2, r2);
			r3 = _mm256_fmadd_ps(a3, b3, r3);
		});
	return Avx2Reduce(r0, r1, r2, r3);
}

AVX2_TARGET static void
Avx2CosineParts(const float *a, const float *b, int n,
				float *dot, float *norm_a, float *norm_b)
{
	__m256		d0 = _mm256_setzero_ps(), d1 = d0, d2 = d0, d3 = d0;
	__m256		x0 = d0, x1 = d0, x2 = d0, x3 = d0;
	__m256		y0 = d0, y1 = d0, y2 = d0, y3 = d0;

	AVX2_CHUNK_LOOP(a, b, n,
		{
			d0 = _mm256_fmadd_ps(a0, b0, d0);
			d1 = _mm256_fmadd_ps(a1, b1, d1);
			d2 = _mm256_fmadd_ps(a2, b2, d2);
			d3 = _mm256_fmadd_ps(a3, b3, d3);
			x0 = _mm256_fmadd_ps(a0, a0, x0);
			x1 = _mm256_fmadd_ps(a1, a1, x1);
			x2 = _mm256_fmadd_ps(a2, a2, x2);
			x3 = _mm256_fmadd_ps(a3, a3, x3);
			y0 = _mm256_fmadd_ps(b0, b0, y0);
			y1 = _mm256_fmadd_ps(b1, b1, y1);
			y2 = _mm256_fmadd_ps(b2, b2, y2);
			y3 = _mm256_fmadd_ps(b3, b3, y3);
		});
	*dot = Avx2Reduce(d0, d1, d2, d3);
	*norm_a = Avx2Reduce(x0, x1, x2, x3);
	*norm_b = Avx2Reduce(y0, y1, y2, y3);
}

AVX2_TARGET static float
Avx2L1(const float *a, const float *b, int n)
{
	__m256		r0 = _mm256_setzero_ps(), r1 = r0, r2 = r0, r3 = r0;
	__m256		abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));

	AVX2_CHUNK_LOOP(a, b, n,
		{
			r0 = _mm256_add_ps(r0, _mm256_and_ps(_mm256_sub_ps(a0, b0), abs_mask));
			r1 = _mm256_add_ps(r1, _mm256_and_ps(_mm256_sub_ps(a1, b1), abs_mask));
			r2 = _mm256_add_ps(r2, _mm256_and_ps(_mm256_sub_ps(a2, b2), abs_mask));
			r3 = _mm256_add_ps(r3, _mm256_and_ps(_mm256_sub_ps(a3, b3), abs_mask));
		});
	return Avx2Reduce(r0, r1, r2, r3);
}

/* Scalar POPCNT: every AVX2 CPU has it */
AVX2_TARGET static uint64
Avx2CodeDot(const uint64 *code, const uint64 *planes, int words, uint32 *nset)
{
	uint64		sums[DISTANCE_CODE_PLANES] = {0};
	uint64		total = 0;
	uint32		n = 0;

	for (int w = 0; w < words; w++)
	{
		uint64		c = code[w];

		n += _mm_popcnt_u64(c);
		for (int b = 0; b < DISTANCE_CODE_PLANES; b++)
			sums[b] += _mm_popcnt_u64(c & planes[b * words + w]);
	}
	for (int b = 0; b < DISTANCE_CODE_PLANES; b++)
		total += sums[b] << b;
	*nset = n;
	return total;
}

const DistanceKernels distance_kernels_avx2 = {
	"avx2",
	Avx2L2Squared,
	Avx2InnerProduct,
	Avx2CosineParts,
	Avx2L1,
	Avx2CodeDot
};

/* ---------- AVX-512: lanes 0-15 in z0, 16-31 in z1 ---------- */

AVX512_TARGET static inline float
Avx512Reduce(__m512 z0, __m512 z1)
{
	__m512		s = _mm512_add_ps(z0, z1);	/* lane j + lane j+16 */
	__m256		t = _mm256_add_ps(_mm512_castps512_ps256(s),
								  _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1)));	/* j + j+8 */
	__m128		u = _mm_add_ps(_mm256_castps256_ps128(t),
							   _mm256_extractf128_ps(t, 1));	/* j + j+4 */
	__m128		v = _mm_add_ps(u, _mm_movehl_ps(u, u)); /* j + j+2 */
	__m128		w = _mm_add_ss(v, _mm_shuffle_ps(v, v, 1));	/* j + j+1 */

	return _mm_cvtss_f32(w);
}

/* Mask of the lanes of a 16-lane group that lie before the end */
AVX512_TARGET static inline __mmask16
Avx512TailMask(int offset, int remaining)
{
	int			count = remaining - offset;

	if (count <= 0)
		return 0;
	if (count >= 16)
		return 0xFFFF;
	return (__mmask16) ((1u << count) - 1);
}

#define AVX512_CHUNK_LOOP(a, b, n, BODY) \
	do { \
		int			i_ = 0; \
		for (; i_ + DISTANCE_LANES <= (n); i_ += DISTANCE_LANES) \
		{ \
			__m512 a0 = _mm512_loadu_ps((a) + i_), b0 = _mm512_loadu_ps((b) + i_); \
			__m512 a1 = _mm512_loadu_ps((a) + i_ + 16), b1 = _mm512_loadu_ps((b) + i_ + 16); \
			BODY; \
		} \
		if (i_ < (n)) \
		{ \
			__mmask16 m0_ = Avx512TailMask(0, (n) - i_); \
			__mmask16 m1_ = Avx512TailMask(16, (n) - i_); \
			__m512 a0 = _mm512_maskz_loadu_ps(m0_, (a) + i_), b0 = _mm512_maskz_loadu_ps(m0_, (b) + i_); \
			__m512 a1 = _mm512_maskz_loadu_ps(m1_, (a) + i_ + 16), b1 = _mm512_maskz_loadu_ps(m1_, (b) + i_ + 16); \
			BODY; \
		} \
	} while (0)

AVX512_TARGET static float
Avx512L2Squared(const float *a, const float *b, int n)
{
	__m512		z0 = _mm512_setzero_ps(), z1 = z0;

	AVX512_CHUNK_LOOP(a, b, n,
		{
			__m512 d0 = _mm512_sub_ps(a0, b0);
			__m512 d1 = _mm512_sub_ps(a1, b1);

			z0 = _mm512_fmadd_ps(d0, d0, z0);
			z1 = _mm512_fmadd_ps(d1, d1, z1);
		});
	return Avx512Reduce(z0, z1);
}

AVX512_TARGET static float
Avx512InnerProduct(const float *a, const float *b, int n)
{
	__m512		z0 = _mm512_setzero_ps(), z1 = z0;

	AVX512_CHUNK_LOOP(a, b, n,
		{
			z0 = _mm512_fmadd_ps(a0, b0, z0);
			z1 = _mm512_fmadd_ps(a1, b1, z1);
		});
	return Avx512Reduce(z0, z1);
}

AVX512_TARGET static void
Avx512CosineParts(const float *a, const float *b, int n,
				  float *dot, float *norm_a, float *norm_b)
{
	__m512		d0 = _mm512_setzero_ps(), d1 = d0;
	__m512		x0 = d0, x1 = d0;
	__m512		y0 = d0, y1 = d0;

	AVX512_CHUNK_LOOP(a, b, n,
		{
			d0 = _mm512_fmadd_ps(a0, b0, d0);
			d1 = _mm512_fmadd_ps(a1, b1, d1);
			x0 = _mm512_fmadd_ps(a0, a0, x0);
			x1 = _mm512_fmadd_ps(a1, a1, x1);
			y0 = _mm512_fmadd_ps(b0, b0, y0);
			y1 = _mm512_fmadd_ps(b1, b1, y1);
		});
	*dot = Avx512Reduce(d0, d1);
	*norm_a = Avx512Reduce(x0, x1);
	*norm_b = Avx512Reduce(y0, y1);
}

AVX512_TARGET static float
Avx512L1(const float *a, const float *b, int n)
{
	__m512		z0 = _mm512_setzero_ps(), z1 = z0;
	__m512i		abs_mask = _mm512_set1_epi32(0x7fffffff);

	AVX512_CHUNK_LOOP(a, b, n,
		{
			__m512i e0 = _mm512_and_si512(_mm512_castps_si512(_mm512_sub_ps(a0, b0)), abs_mask);
			__m512i e1 = _mm512_and_si512(_mm512_castps_si512(_mm512_sub_ps(a1, b1)), abs_mask);

			z0 = _mm512_add_ps(z0, _mm512_castsi512_ps(e0));
			z1 = _mm512_add_ps(z1, _mm512_castsi512_ps(e1));
		});
	return Avx512Reduce(z0, z1);
}

/* Eight words at a time with VPOPCNTQ; a masked load takes the tail */
AVX512_TARGET static uint64
Avx512CodeDot(const uint64 *code, const uint64 *planes, int words, uint32 *nset)
{
	__m512i		sums[DISTANCE_CODE_PLANES];
	__m512i		count = _mm512_setzero_si512();
	uint64		total = 0;

	for (int b = 0; b < DISTANCE_CODE_PLANES; b++)
		sums[b] = _mm512_setzero_si512();
	for (int w = 0; w < words; w += 8)
	{
		__mmask8	mask = words - w >= 8 ? 0xFF : (__mmask8) ((1 << (words - w)) - 1);
		__m512i		c = _mm512_maskz_loadu_epi64(mask, code + w);

		count = _mm512_add_epi64(count, _mm512_popcnt_epi64(c));
		for (int b = 0; b < DISTANCE_CODE_PLANES; b++)
		{
			__m512i		p = _mm512_maskz_loadu_epi64(mask, planes + b * words + w);

			sums[b] = _mm512_add_epi64(sums[b],
									   _mm512_popcnt_epi64(_mm512_and_si512(c, p)));
		}
	}
	for (int b = 0; b < DISTANCE_CODE_PLANES; b++)
		total += (uint64) _mm512_reduce_add_epi64(sums[b]) << b;
	*nset = (uint32) _mm512_reduce_add_epi64(count);
	return total;
}

const DistanceKernels distance_kernels_avx512 = {
	"avx512",
	Avx512L2Squared,
	Avx512InnerProduct,
	Avx512CosineParts,
	Avx512L1,
	Avx512CodeDot
};

#endif							/* __x86_64__ */
