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
#define AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vpopcntdq,avx2,fma,popcnt")))

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

/* Scalar POPCNT: every AVX2 CPU has it (the inlined builtin becomes POPCNT) */
AVX2_TARGET static void
Avx2CodeDots(const uint64 *const *codes, int n, const uint64 *planes, int words,
			 uint64 *levels, uint32 *nset)
{
	DistanceCodeDotsScalar(codes, n, planes, words, levels, nset);
}

AVX2_TARGET static void
Avx2DotBlock(const float *a, int na, const float *b, int nb, int n, float *out)
{
	DistanceDotBlockPairwise(Avx2InnerProduct, a, na, b, nb, n, out);
}

/*
 * Sixteen bytes at a time, widened to 16 bits; VPMADDWD sums adjacent
 * products into 32 bits.  The scalar tail adds the rest: integers, so the
 * order does not matter.
 */
AVX2_TARGET static void
Avx2Int8Dots(const int8 *codes, int nrows, int n, const int8 *q, int32 *out)
{
	int			body = n & ~15;

	for (int r = 0; r < nrows; r++)
	{
		const int8 *c = codes + (Size) r * n;
		__m256i		acc = _mm256_setzero_si256();
		__m128i		sum4;
		int32		sum;

		for (int i = 0; i < body; i += 16)
		{
			__m256i		cw = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *) (c + i)));
			__m256i		qw = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *) (q + i)));

			acc = _mm256_add_epi32(acc, _mm256_madd_epi16(cw, qw));
		}
		sum4 = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
		sum4 = _mm_add_epi32(sum4, _mm_shuffle_epi32(sum4, 0x4E));
		sum4 = _mm_add_epi32(sum4, _mm_shuffle_epi32(sum4, 0xB1));
		sum = _mm_cvtsi128_si32(sum4);
		for (int i = body; i < n; i++)
			sum += (int32) c[i] * (int32) q[i];
		out[r] = sum;
	}
}

const DistanceKernels distance_kernels_avx2 = {
	"avx2",
	Avx2L2Squared,
	Avx2InnerProduct,
	Avx2CosineParts,
	Avx2L1,
	Avx2CodeDots,
	Avx2DotBlock,
	Avx2Int8Dots
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

/*
 * Eight words at a time with VPOPCNTQ; a masked load takes the tail.  Each
 * plane's counts are shifted by its weight into one accumulator, so there
 * is a single horizontal sum (the integers are the same either way); the
 * code's own count rides in the same sum, 40 bits up (a level sum is below
 * 2^8 * 2^14 for the widest code, 2^14 bits).
 */
#define CODE_COUNT_SHIFT 40

/* The words of a code chunk to load: the first `remaining`, at most 8 */
AVX512_TARGET static inline __mmask8
Avx512WordMask(int remaining)
{
	if (remaining <= 0)
		return 0;
	if (remaining >= 8)
		return 0xFF;
	return (__mmask8) ((1u << remaining) - 1);
}

AVX512_TARGET static inline void
Avx512SplitSum(__m512i total, uint64 *levels, uint32 *nset)
{
	uint64		sum = (uint64) _mm512_reduce_add_epi64(total);

	*levels = sum & ((UINT64CONST(1) << CODE_COUNT_SHIFT) - 1);
	*nset = (uint32) (sum >> CODE_COUNT_SHIFT);
}

/* Codes of up to 16 words (1,024 bits): every plane stays in a register */
AVX512_TARGET static void
Avx512CodeDotsShort(const uint64 *const *codes, int n, const uint64 *planes, int words,
					uint64 *levels, uint32 *nset)
{
	__mmask8	mask0 = Avx512WordMask(words);
	__mmask8	mask1 = Avx512WordMask(words - 8);
	__m512i		lo[DISTANCE_CODE_PLANES];
	__m512i		hi[DISTANCE_CODE_PLANES];

	for (int b = 0; b < DISTANCE_CODE_PLANES; b++)
	{
		lo[b] = _mm512_maskz_loadu_epi64(mask0, planes + b * words);
		hi[b] = _mm512_maskz_loadu_epi64(mask1, planes + b * words + 8);
	}
	for (int i = 0; i < n; i++)
	{
		__m512i		c0 = _mm512_maskz_loadu_epi64(mask0, codes[i]);
		__m512i		c1 = _mm512_maskz_loadu_epi64(mask1, codes[i] + 8);
		__m512i		total = _mm512_slli_epi64(_mm512_add_epi64(_mm512_popcnt_epi64(c0),
															   _mm512_popcnt_epi64(c1)),
											  CODE_COUNT_SHIFT);

		for (int b = 0; b < DISTANCE_CODE_PLANES; b++)
		{
			__m512i		hits = _mm512_add_epi64(_mm512_popcnt_epi64(_mm512_and_si512(c0, lo[b])),
												_mm512_popcnt_epi64(_mm512_and_si512(c1, hi[b])));

			total = _mm512_add_epi64(total, _mm512_slli_epi64(hits, b));
		}
		Avx512SplitSum(total, &levels[i], &nset[i]);
	}
}

AVX512_TARGET static void
Avx512CodeDots(const uint64 *const *codes, int n, const uint64 *planes, int words,
			   uint64 *levels, uint32 *nset)
{
	if (words <= 16)
	{
		Avx512CodeDotsShort(codes, n, planes, words, levels, nset);
		return;
	}
	for (int i = 0; i < n; i++)
	{
		__m512i		total = _mm512_setzero_si512();

		for (int w = 0; w < words; w += 8)
		{
			__mmask8	mask = Avx512WordMask(words - w);
			__m512i		c = _mm512_maskz_loadu_epi64(mask, codes[i] + w);

			total = _mm512_add_epi64(total,
									 _mm512_slli_epi64(_mm512_popcnt_epi64(c), CODE_COUNT_SHIFT));
			for (int b = 0; b < DISTANCE_CODE_PLANES; b++)
			{
				__m512i		p = _mm512_maskz_loadu_epi64(mask, planes + b * words + w);
				__m512i		hits = _mm512_popcnt_epi64(_mm512_and_si512(c, p));

				total = _mm512_add_epi64(total, _mm512_slli_epi64(hits, b));
			}
		}
		Avx512SplitSum(total, &levels[i], &nset[i]);
	}
}

/*
 * One 4 x 2 tile of dot_block: rows a0..a3 against rows b0, b1, each pair
 * summed exactly as Avx512InnerProduct sums it (lanes 0-15 and 16-31 in
 * two registers, masked zero tail, the same reduction), but each chunk of
 * a row is loaded once for the tile.  Written out, so that the sixteen
 * sums stay in registers.
 */
#define DOT_TILE_A 4
#define DOT_TILE_B 2

AVX512_TARGET static void
Avx512DotTile(const float *a, const float *b, int n, float *out, int ldo)
{
	__m512		s00 = _mm512_setzero_ps(), s01 = s00, s10 = s00, s11 = s00;
	__m512		s20 = s00, s21 = s00, s30 = s00, s31 = s00;
	__m512		t00 = s00, t01 = s00, t10 = s00, t11 = s00;
	__m512		t20 = s00, t21 = s00, t30 = s00, t31 = s00;

	for (int i = 0; i < n; i += DISTANCE_LANES)
	{
		__mmask16	m0 = Avx512TailMask(0, n - i);
		__mmask16	m1 = Avx512TailMask(16, n - i);
		__m512		b0 = _mm512_maskz_loadu_ps(m0, b + i);
		__m512		b0h = _mm512_maskz_loadu_ps(m1, b + i + 16);
		__m512		b1 = _mm512_maskz_loadu_ps(m0, b + n + i);
		__m512		b1h = _mm512_maskz_loadu_ps(m1, b + n + i + 16);
		__m512		x;
		__m512		xh;

#define DOT_TILE_ROW(r, sr0, sr1, tr0, tr1) \
		x = _mm512_maskz_loadu_ps(m0, a + (Size) (r) * n + i); \
		xh = _mm512_maskz_loadu_ps(m1, a + (Size) (r) * n + i + 16); \
		sr0 = _mm512_fmadd_ps(x, b0, sr0); \
		tr0 = _mm512_fmadd_ps(xh, b0h, tr0); \
		sr1 = _mm512_fmadd_ps(x, b1, sr1); \
		tr1 = _mm512_fmadd_ps(xh, b1h, tr1)

		DOT_TILE_ROW(0, s00, s01, t00, t01);
		DOT_TILE_ROW(1, s10, s11, t10, t11);
		DOT_TILE_ROW(2, s20, s21, t20, t21);
		DOT_TILE_ROW(3, s30, s31, t30, t31);
#undef DOT_TILE_ROW
	}
	out[0] = Avx512Reduce(s00, t00);
	out[1] = Avx512Reduce(s01, t01);
	out[ldo] = Avx512Reduce(s10, t10);
	out[ldo + 1] = Avx512Reduce(s11, t11);
	out[2 * ldo] = Avx512Reduce(s20, t20);
	out[2 * ldo + 1] = Avx512Reduce(s21, t21);
	out[3 * ldo] = Avx512Reduce(s30, t30);
	out[3 * ldo + 1] = Avx512Reduce(s31, t31);
}

/* A 4 x 1 tile, for a single row b (the same sums as Avx512DotTile) */
AVX512_TARGET static void
Avx512DotColumn(const float *a, const float *b, int n, float *out, int ldo)
{
	__m512		s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	__m512		t0 = s0, t1 = s0, t2 = s0, t3 = s0;

	for (int i = 0; i < n; i += DISTANCE_LANES)
	{
		__mmask16	m0 = Avx512TailMask(0, n - i);
		__mmask16	m1 = Avx512TailMask(16, n - i);
		__m512		b0 = _mm512_maskz_loadu_ps(m0, b + i);
		__m512		b0h = _mm512_maskz_loadu_ps(m1, b + i + 16);

#define DOT_COLUMN_ROW(r, sr, tr) \
		sr = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, a + (Size) (r) * n + i), b0, sr); \
		tr = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, a + (Size) (r) * n + i + 16), b0h, tr)

		DOT_COLUMN_ROW(0, s0, t0);
		DOT_COLUMN_ROW(1, s1, t1);
		DOT_COLUMN_ROW(2, s2, t2);
		DOT_COLUMN_ROW(3, s3, t3);
#undef DOT_COLUMN_ROW
	}
	out[0] = Avx512Reduce(s0, t0);
	out[ldo] = Avx512Reduce(s1, t1);
	out[2 * ldo] = Avx512Reduce(s2, t2);
	out[3 * ldo] = Avx512Reduce(s3, t3);
}

AVX512_TARGET static void
Avx512DotBlock(const float *a, int na, const float *b, int nb, int n, float *out)
{
	for (int j = 0; j < nb; j += DOT_TILE_B)
		for (int i = 0; i < na; i += DOT_TILE_A)
		{
			if (na - i >= DOT_TILE_A && nb - j >= DOT_TILE_B)
				Avx512DotTile(a + (Size) i * n, b + (Size) j * n, n, out + (Size) i * nb + j, nb);
			else if (na - i >= DOT_TILE_A)
				Avx512DotColumn(a + (Size) i * n, b + (Size) j * n, n, out + (Size) i * nb + j, nb);
			else
			{
				/* a partial tile at the edge: pair by pair */
				for (int x = i; x < Min(na, i + DOT_TILE_A); x++)
					for (int y = j; y < Min(nb, j + DOT_TILE_B); y++)
						out[(Size) x * nb + y] = Avx512InnerProduct(a + (Size) x * n,
																	b + (Size) y * n, n);
			}
		}
}

/* Thirty-two bytes at a time, as Avx2Int8Dots does sixteen; a masked load takes the tail */
AVX512_TARGET static void
Avx512Int8Dots(const int8 *codes, int nrows, int n, const int8 *q, int32 *out)
{
	for (int r = 0; r < nrows; r++)
	{
		const int8 *c = codes + (Size) r * n;
		__m512i		acc = _mm512_setzero_si512();

		for (int i = 0; i < n; i += 32)
		{
			__mmask64	mask = n - i >= 32 ? 0xFFFFFFFFu : (((__mmask64) 1) << (n - i)) - 1;
			__m512i		cw = _mm512_cvtepi8_epi16(_mm512_castsi512_si256(_mm512_maskz_loadu_epi8(mask, c + i)));
			__m512i		qw = _mm512_cvtepi8_epi16(_mm512_castsi512_si256(_mm512_maskz_loadu_epi8(mask, q + i)));

			acc = _mm512_add_epi32(acc, _mm512_madd_epi16(cw, qw));
		}
		out[r] = _mm512_reduce_add_epi32(acc);
	}
}

const DistanceKernels distance_kernels_avx512 = {
	"avx512",
	Avx512L2Squared,
	Avx512InnerProduct,
	Avx512CosineParts,
	Avx512L1,
	Avx512CodeDots,
	Avx512DotBlock,
	Avx512Int8Dots
};

#endif							/* __x86_64__ */
