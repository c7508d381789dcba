/*-------------------------------------------------------------------------
 *
 * alexrandom.h
 *	  The seeded pseudo-random stream of the alex index.
 *
 * The index derives on-disk content from seeds: the rotation signs of its
 * quantizer (seed in the metapage), the build's sample and the k-means
 * seeding.  A standby, a rebuild and a pg_upgrade to another major version
 * must all see the same stream, so the generator is ours and not whatever
 * the server links: PostgreSQL's pg_prng only exists from version 15.
 *
 * The generator is xoroshiro128** 1.0 (Blackman and Vigna) with its state
 * expanded from a 64-bit seed by splitmix64, bounded draws by bitmask
 * rejection and doubles from the top 52 bits.  That is the same algorithm
 * and the same derivations as PostgreSQL 15's pg_prng, so indexes built
 * while omendb used pg_prng read back unchanged (test/client/prng_check.c checks
 * the streams agree, bit for bit).
 *
 * IDENTIFICATION
 *	  include/alexrandom.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMENDB_ALEXRANDOM_H
#define OMENDB_ALEXRANDOM_H

#include <math.h>

#include "port/pg_bitutils.h"

typedef struct AlexRandom
{
	uint64		s0;
	uint64		s1;
} AlexRandom;

static inline uint64
AlexRotateLeft64(uint64 x, int bits)
{
	return (x << bits) | (x >> (64 - bits));
}

/* One splitmix64 step: used only to spread a seed over the state. */
static inline uint64
AlexSplitMix64(uint64 *seed)
{
	uint64		z = (*seed += UINT64CONST(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static inline void
AlexRandomSeed(AlexRandom *r, uint64 seed)
{
	r->s0 = AlexSplitMix64(&seed);
	r->s1 = AlexSplitMix64(&seed);
	/* an all-zero state would be a fixed point: any other constant will do */
	if (r->s0 == 0 && r->s1 == 0)
	{
		r->s0 = UINT64CONST(0x5851F42D4C957F2D);
		r->s1 = UINT64CONST(0x14057B7EF767814F);
	}
}

/* The next 64 uniformly distributed bits. */
static inline uint64
AlexRandomNext(AlexRandom *r)
{
	uint64		s0 = r->s0;
	uint64		x = r->s1 ^ s0;
	uint64		result = AlexRotateLeft64(s0 * 5, 7) * 9;

	r->s0 = AlexRotateLeft64(s0, 24) ^ x ^ (x << 16);
	r->s1 = AlexRotateLeft64(x, 37);
	return result;
}

/* Uniform in [0, n); 0 when n <= 1.  Upper bits: they are the better ones. */
static inline uint64
AlexRandomBelow(AlexRandom *r, uint64 n)
{
	uint64		limit;
	int			shift;
	uint64		v;

	if (n <= 1)
		return 0;
	limit = n - 1;
	/* keep as many top bits as limit has; each try succeeds with p > 1/2 */
	shift = 63 - pg_leftmost_one_pos64(limit);
	do
		v = AlexRandomNext(r) >> shift;
	while (v > limit);
	return v;
}

static inline uint32
AlexRandomUint32(AlexRandom *r)
{
	return (uint32) (AlexRandomNext(r) >> 32);
}

/* Uniform in [0.0, 1.0). */
static inline double
AlexRandomDouble(AlexRandom *r)
{
	return ldexp((double) (AlexRandomNext(r) >> 12), -52);
}

#endif							/* OMENDB_ALEXRANDOM_H */
