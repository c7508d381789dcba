/*-------------------------------------------------------------------------
 *
 * distance_kernels.c
 *	  Portable distance kernels, run-time selection of the SIMD ones, and
 *	  the omendb.distance_kernel GUC.
 *
 * The portable kernels define the result: see the evaluation order in
 * distance.h.  They use fmaf(), which is correctly rounded everywhere, so
 * a CPU without AVX2 gets the very same numbers, only slower.
 *
 * IDENTIFICATION
 *	  src/distance_kernels.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "distance.h"
#include "utils/guc.h"

const DistanceKernels *distance_kernels = &distance_kernels_portable;

static int	distance_kernel_setting = DISTANCE_KERNEL_AUTO;

static const struct config_enum_entry distance_kernel_options[] = {
	{"auto", DISTANCE_KERNEL_AUTO, false},
	{"portable", DISTANCE_KERNEL_PORTABLE, false},
	{"avx2", DISTANCE_KERNEL_AVX2, false},
	{"avx512", DISTANCE_KERNEL_AVX512, false},
	{NULL, 0, false}
};

/*
 * Add the zero padding of a final partial chunk, as the SIMD paths load it:
 * x + 0 turns a -0 lane into +0, so skipping it would change signed zeros.
 */
static inline void
PadLanes(float *lanes, int n)
{
	for (int i = n; i % DISTANCE_LANES != 0; i++)
		lanes[i % DISTANCE_LANES] += 0.0f;
}

/*
 * Sum the lanes pairwise by halving, the order every path must follow.
 */
static inline float
ReduceLanes(float *lanes)
{
	for (int width = DISTANCE_LANES / 2; width >= 1; width /= 2)
		for (int j = 0; j < width; j++)
			lanes[j] = lanes[j] + lanes[j + width];
	return lanes[0];
}

static float
PortableL2Squared(const float *a, const float *b, int n)
{
	float		lanes[DISTANCE_LANES] = {0};

	for (int i = 0; i < n; i++)
	{
		float		diff = a[i] - b[i];

		lanes[i % DISTANCE_LANES] = fmaf(diff, diff, lanes[i % DISTANCE_LANES]);
	}
	PadLanes(lanes, n);
	return ReduceLanes(lanes);
}

static float
PortableInnerProduct(const float *a, const float *b, int n)
{
	float		lanes[DISTANCE_LANES] = {0};

	for (int i = 0; i < n; i++)
		lanes[i % DISTANCE_LANES] = fmaf(a[i], b[i], lanes[i % DISTANCE_LANES]);
	PadLanes(lanes, n);
	return ReduceLanes(lanes);
}

static void
PortableCosineParts(const float *a, const float *b, int n,
					float *dot, float *norm_a, float *norm_b)
{
	float		dot_lanes[DISTANCE_LANES] = {0};
	float		a_lanes[DISTANCE_LANES] = {0};
	float		b_lanes[DISTANCE_LANES] = {0};

	for (int i = 0; i < n; i++)
	{
		int			lane = i % DISTANCE_LANES;

		dot_lanes[lane] = fmaf(a[i], b[i], dot_lanes[lane]);
		a_lanes[lane] = fmaf(a[i], a[i], a_lanes[lane]);
		b_lanes[lane] = fmaf(b[i], b[i], b_lanes[lane]);
	}
	PadLanes(dot_lanes, n);
	PadLanes(a_lanes, n);
	PadLanes(b_lanes, n);
	*dot = ReduceLanes(dot_lanes);
	*norm_a = ReduceLanes(a_lanes);
	*norm_b = ReduceLanes(b_lanes);
}

static float
PortableL1(const float *a, const float *b, int n)
{
	float		lanes[DISTANCE_LANES] = {0};

	for (int i = 0; i < n; i++)
		lanes[i % DISTANCE_LANES] += fabsf(a[i] - b[i]);
	PadLanes(lanes, n);
	return ReduceLanes(lanes);
}

static void
PortableCodeDots(const uint64 *const *codes, int n, const uint64 *planes, int words,
				 uint64 *levels, uint32 *nset)
{
	DistanceCodeDotsScalar(codes, n, planes, words, levels, nset);
}

/*
 * dot_block one pair at a time, for the paths without a tiled kernel (the
 * caller's blocking still keeps the rows in cache).
 */
void
DistanceDotBlockPairwise(float (*inner_product) (const float *, const float *, int),
						 const float *a, int na, const float *b, int nb, int n, float *out)
{
	for (int j = 0; j < nb; j++)
		for (int i = 0; i < na; i++)
			out[(Size) i * nb + j] = inner_product(a + (Size) i * n, b + (Size) j * n, n);
}

static void
PortableDotBlock(const float *a, int na, const float *b, int nb, int n, float *out)
{
	DistanceDotBlockPairwise(PortableInnerProduct, a, na, b, nb, n, out);
}

static void
PortableInt8Dots(const int8 *codes, int nrows, int n, const int8 *q, int32 *out)
{
	for (int r = 0; r < nrows; r++)
	{
		const int8 *c = codes + (Size) r * n;
		int32		sum = 0;

		for (int i = 0; i < n; i++)
			sum += (int32) c[i] * (int32) q[i];
		out[r] = sum;
	}
}

const DistanceKernels distance_kernels_portable = {
	"portable",
	PortableL2Squared,
	PortableInnerProduct,
	PortableCosineParts,
	PortableL1,
	PortableCodeDots,
	PortableDotBlock,
	PortableInt8Dots
};

/*
 * Cosine distance from the kernel's parts, as pgvector defines it: NaN when
 * either vector is zero, similarity clamped to [-1, 1] against rounding.
 */
double
VectorCosineDistance(const float *a, const float *b, int n)
{
	float		dot;
	float		norm_a;
	float		norm_b;
	double		similarity;

	distance_kernels->cosine_parts(a, b, n, &dot, &norm_a, &norm_b);
	similarity = (double) dot / sqrt((double) norm_a * (double) norm_b);

	if (similarity > 1.0)
		similarity = 1.0;
	else if (similarity < -1.0)
		similarity = -1.0;

	return 1.0 - similarity;
}

/*
 * Can this CPU (and OS, for the wide registers) run the given kernels?
 */
bool
DistanceKernelSupported(DistanceKernelKind kind)
{
	switch (kind)
	{
		case DISTANCE_KERNEL_AUTO:
		case DISTANCE_KERNEL_PORTABLE:
			return true;
#ifdef __x86_64__
		case DISTANCE_KERNEL_AVX2:
			return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
		case DISTANCE_KERNEL_AVX512:
			return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma") &&
				__builtin_cpu_supports("avx512vpopcntdq") &&
				__builtin_cpu_supports("avx512bw");
#else
		case DISTANCE_KERNEL_AVX2:
		case DISTANCE_KERNEL_AVX512:
			return false;
#endif
	}
	return false;
}

static const DistanceKernels *
ChooseKernels(DistanceKernelKind kind)
{
#ifdef __x86_64__
	if (kind == DISTANCE_KERNEL_AUTO)
	{
		if (DistanceKernelSupported(DISTANCE_KERNEL_AVX512))
			return &distance_kernels_avx512;
		if (DistanceKernelSupported(DISTANCE_KERNEL_AVX2))
			return &distance_kernels_avx2;
	}
	else if (kind == DISTANCE_KERNEL_AVX512)
		return &distance_kernels_avx512;
	else if (kind == DISTANCE_KERNEL_AVX2)
		return &distance_kernels_avx2;
#endif
	return &distance_kernels_portable;
}

static bool
CheckDistanceKernel(int *newval, void **extra, GucSource source)
{
	if (!DistanceKernelSupported((DistanceKernelKind) *newval))
	{
		GUC_check_errdetail("This CPU does not support these distance kernels.");
		return false;
	}
	return true;
}

static void
AssignDistanceKernel(int newval, void *extra)
{
	distance_kernels = ChooseKernels((DistanceKernelKind) newval);
}

static const char *
ShowDistanceKernel(void)
{
	return distance_kernels->name;
}

/*
 * Pick the fastest kernels this CPU runs and register the GUC that lets a
 * test (or a suspicious user) force another implementation.
 */
void
DistanceKernelsInit(void)
{
#ifdef __x86_64__
	__builtin_cpu_init();
#endif
	distance_kernels = ChooseKernels(DISTANCE_KERNEL_AUTO);

	DefineCustomEnumVariable("omendb.distance_kernel",
							 "Selects the distance kernel implementation.",
							 "\"auto\" picks the fastest one the CPU supports; all give identical results.",
							 &distance_kernel_setting,
							 DISTANCE_KERNEL_AUTO,
							 distance_kernel_options,
							 PGC_USERSET,
							 0,
							 CheckDistanceKernel,
							 AssignDistanceKernel,
							 ShowDistanceKernel);
}
