/*-------------------------------------------------------------------------
 *
 * bitvec.c
 *	  binary_quantize(vector) and distances between bit strings.
 *
 * IDENTIFICATION
 *	  src/bitvec.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "port/pg_bitutils.h"
#include "utils/varbit.h"
#include "vector.h"

/*
 * binary_quantize: one bit per dimension, set where the element is > 0.
 */
PG_FUNCTION_INFO_V1(binary_quantize);
Datum
binary_quantize(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Size		size = VARBITTOTALLEN(a->dim);
	VarBit	   *result = (VarBit *) palloc0(size);
	bits8	   *bits = VARBITS(result);

	SET_VARSIZE(result, size);
	VARBITLEN(result) = a->dim;

	/* bit strings are stored most significant bit first */
	for (int i = 0; i < a->dim; i++)
		if (a->x[i] > 0)
			bits[i / 8] |= (bits8) (0x80 >> (i % 8));

	PG_RETURN_VARBIT_P(result);
}

static void
CheckSameBitLength(VarBit *a, VarBit *b)
{
	if (VARBITLEN(a) != VARBITLEN(b))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different bit lengths %u and %u",
						VARBITLEN(a), VARBITLEN(b))));
}

/*
 * Count the one bits of a op b over whole bytes.  The padding bits of a
 * varbit's last byte are always zero, so they never count.
 */
static uint64
CountOnes(const bits8 *a, const bits8 *b, int bytes, bool intersect)
{
	uint64		count = 0;
	int			i = 0;

	for (; i + 8 <= bytes; i += 8)
	{
		uint64		x;
		uint64		y;

		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		count += pg_popcount64(intersect ? (x & y) : (x ^ y));
	}
	for (; i < bytes; i++)
		count += pg_number_of_ones[intersect ? (a[i] & b[i]) : (a[i] ^ b[i])];
	return count;
}

PG_FUNCTION_INFO_V1(hamming_distance);
Datum
hamming_distance(PG_FUNCTION_ARGS)
{
	VarBit	   *a = PG_GETARG_VARBIT_P(0);
	VarBit	   *b = PG_GETARG_VARBIT_P(1);

	CheckSameBitLength(a, b);
	PG_RETURN_FLOAT8((double) CountOnes(VARBITS(a), VARBITS(b),
										VARBITBYTES(a), false));
}

/*
 * jaccard_distance: 1 - |a & b| / |a | b|; 1 when nothing is shared.
 */
PG_FUNCTION_INFO_V1(jaccard_distance);
Datum
jaccard_distance(PG_FUNCTION_ARGS)
{
	VarBit	   *a = PG_GETARG_VARBIT_P(0);
	VarBit	   *b = PG_GETARG_VARBIT_P(1);
	uint64		both;
	uint64		ones_a;
	uint64		ones_b;

	CheckSameBitLength(a, b);
	both = CountOnes(VARBITS(a), VARBITS(b), VARBITBYTES(a), true);
	if (both == 0)
		PG_RETURN_FLOAT8(1.0);
	ones_a = pg_popcount((const char *) VARBITS(a), VARBITBYTES(a));
	ones_b = pg_popcount((const char *) VARBITS(b), VARBITBYTES(b));
	PG_RETURN_FLOAT8(1.0 - (double) both / (double) (ones_a + ones_b - both));
}
