/*
 * prng_check.c
 *	  alexrandom.h must give the same streams as PostgreSQL's pg_prng.
 *
 * omendb used pg_prng before it had its own generator; indexes built then
 * keep their rotation seed in the metapage and their content depends on the
 * stream.  Built by prng_check.sh against the server's libpgcommon.
 */
#include "postgres_fe.h"

#include "common/pg_prng.h"

#include "alexrandom.h"

#define DRAWS 200000

static int	failures = 0;

static void
mismatch(const char *what, uint64 seed, int i)
{
	if (failures++ < 10)
		fprintf(stderr, "%s differs: seed " UINT64_FORMAT ", draw %d\n", what, seed, i);
}

static void
check_seed(uint64 seed)
{
	/* bounds for the range draws: tiny, odd, powers of two and near them, huge */
	static const uint64 bounds[] = {1, 2, 3, 7, 8, 9, 1000, 65536, 65537,
		UINT64CONST(4294967301), UINT64CONST(0x8000000000000000),
	UINT64CONST(0xFFFFFFFFFFFFFFFF)};
	AlexRandom	ours;
	pg_prng_state theirs;

	AlexRandomSeed(&ours, seed);
	pg_prng_seed(&theirs, seed);
	if (ours.s0 != theirs.s0 || ours.s1 != theirs.s1)
		mismatch("seeded state", seed, 0);

	for (int i = 0; i < DRAWS; i++)
	{
		uint64		n = bounds[i % lengthof(bounds)];
		double		a,
					b;

		switch (i % 4)
		{
			case 0:
				if (AlexRandomNext(&ours) != pg_prng_uint64(&theirs))
					mismatch("uint64", seed, i);
				break;
			case 1:
				if (AlexRandomBelow(&ours, n) != pg_prng_uint64_range(&theirs, 0, n - 1))
					mismatch("bounded draw", seed, i);
				break;
			case 2:
				if (AlexRandomUint32(&ours) != pg_prng_uint32(&theirs))
					mismatch("uint32", seed, i);
				break;
			case 3:
				a = AlexRandomDouble(&ours);
				b = pg_prng_double(&theirs);
				if (memcmp(&a, &b, sizeof(double)) != 0 || a < 0.0 || a >= 1.0)
					mismatch("double", seed, i);
				break;
		}
	}
}

int
main(void)
{
	static const uint64 seeds[] = {0, 1, 42, UINT64CONST(0x00A1E7DB5EED0001),
		UINT64CONST(0x9E3779B97F4A7C15), UINT64CONST(0xFFFFFFFFFFFFFFFF)};

	for (int s = 0; s < lengthof(seeds); s++)
		check_seed(seeds[s]);
	if (failures > 0)
	{
		fprintf(stderr, "%d draws differ from pg_prng\n", failures);
		return 1;
	}
	printf("alexrandom.h matches pg_prng on %d seeds x %d draws\n",
		   (int) lengthof(seeds), DRAWS);
	return 0;
}
