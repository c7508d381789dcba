/*-------------------------------------------------------------------------
 *
 * vector_distance.c
 *	  SQL-callable distance functions on vectors.
 *
 * Thin wrappers: check dimensions, call the kernels of distance.h, widen to
 * float8 the way pgvector does.
 *
 * IDENTIFICATION
 *	  src/vector_distance.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "distance.h"
#include "vector.h"

PG_FUNCTION_INFO_V1(l2_distance);
Datum
l2_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	CheckSameDims(a, b);
	PG_RETURN_FLOAT8(sqrt((double) VectorL2SquaredDistance(a->x, b->x, a->dim)));
}

PG_FUNCTION_INFO_V1(vector_l2_squared_distance);
Datum
vector_l2_squared_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	CheckSameDims(a, b);
	PG_RETURN_FLOAT8((double) VectorL2SquaredDistance(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(inner_product);
Datum
inner_product(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	CheckSameDims(a, b);
	PG_RETURN_FLOAT8((double) VectorInnerProduct(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(vector_negative_inner_product);
Datum
vector_negative_inner_product(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	CheckSameDims(a, b);
	PG_RETURN_FLOAT8(-(double) VectorInnerProduct(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(cosine_distance);
Datum
cosine_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	CheckSameDims(a, b);
	PG_RETURN_FLOAT8(VectorCosineDistance(a->x, b->x, a->dim));
}

/*
 * vector_spherical_distance: angle between unit vectors as a fraction of
 * pi, for inputs already normalised (pgvector's private helper).
 */
PG_FUNCTION_INFO_V1(vector_spherical_distance);
Datum
vector_spherical_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	double		dot;

	CheckSameDims(a, b);
	dot = (double) VectorInnerProduct(a->x, b->x, a->dim);
	if (dot > 1.0)
		dot = 1.0;
	else if (dot < -1.0)
		dot = -1.0;
	PG_RETURN_FLOAT8(acos(dot) / M_PI);
}

PG_FUNCTION_INFO_V1(l1_distance);
Datum
l1_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	CheckSameDims(a, b);
	PG_RETURN_FLOAT8((double) VectorL1Distance(a->x, b->x, a->dim));
}
