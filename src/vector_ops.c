/*-------------------------------------------------------------------------
 *
 * vector_ops.c
 *	  Vector arithmetic, comparison, norms and aggregates.
 *
 * IDENTIFICATION
 *	  src/vector_ops.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/float.h"
#include "vector.h"

PG_FUNCTION_INFO_V1(vector_dims);
Datum
vector_dims(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);

	PG_RETURN_INT32(a->dim);
}

/* Squared L2 norm in double precision, the way norms are reported */
static double
SquaredNorm(const Vector *a)
{
	double		norm = 0.0;

	for (int i = 0; i < a->dim; i++)
		norm += (double) a->x[i] * (double) a->x[i];
	return norm;
}

PG_FUNCTION_INFO_V1(vector_norm);
Datum
vector_norm(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);

	PG_RETURN_FLOAT8(sqrt(SquaredNorm(a)));
}

/*
 * l2_normalize: the unit vector in a's direction; a zero vector stays zero.
 */
PG_FUNCTION_INFO_V1(l2_normalize);
Datum
l2_normalize(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	double		norm = sqrt(SquaredNorm(a));
	Vector	   *result = InitVector(a->dim);

	if (norm > 0)
	{
		for (int i = 0; i < a->dim; i++)
		{
			result->x[i] = (float) (a->x[i] / norm);
			if (isinf(result->x[i]))
				float_overflow_error();
		}
	}
	PG_RETURN_VECTOR_P(result);
}

typedef enum ElementwiseOp
{
	OP_ADD,
	OP_SUB,
	OP_MUL
} ElementwiseOp;

/*
 * Apply an element-wise operation, erroring on overflow (and, for
 * multiplication, on underflow) like float4 arithmetic does.
 */
static Vector *
ElementwiseApply(const Vector *a, const Vector *b, ElementwiseOp op)
{
	Vector	   *result;

	CheckSameDims(a, b);
	result = InitVector(a->dim);

	for (int i = 0; i < a->dim; i++)
	{
		float		x = a->x[i];
		float		y = b->x[i];
		float		r;

		switch (op)
		{
			case OP_ADD:
				r = x + y;
				break;
			case OP_SUB:
				r = x - y;
				break;
			default:
				r = x * y;
				if (r == 0.0f && x != 0.0f && y != 0.0f)
					float_underflow_error();
				break;
		}
		if (isinf(r))
			float_overflow_error();
		result->x[i] = r;
	}
	return result;
}

PG_FUNCTION_INFO_V1(vector_add);
Datum
vector_add(PG_FUNCTION_ARGS)
{
	PG_RETURN_VECTOR_P(ElementwiseApply(PG_GETARG_VECTOR_P(0),
										PG_GETARG_VECTOR_P(1), OP_ADD));
}

PG_FUNCTION_INFO_V1(vector_sub);
Datum
vector_sub(PG_FUNCTION_ARGS)
{
	PG_RETURN_VECTOR_P(ElementwiseApply(PG_GETARG_VECTOR_P(0),
										PG_GETARG_VECTOR_P(1), OP_SUB));
}

PG_FUNCTION_INFO_V1(vector_mul);
Datum
vector_mul(PG_FUNCTION_ARGS)
{
	PG_RETURN_VECTOR_P(ElementwiseApply(PG_GETARG_VECTOR_P(0),
										PG_GETARG_VECTOR_P(1), OP_MUL));
}

PG_FUNCTION_INFO_V1(vector_concat);
Datum
vector_concat(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	Vector	   *result;

	CheckVectorDim(a->dim + b->dim);
	result = InitVector(a->dim + b->dim);
	memcpy(result->x, a->x, sizeof(float) * a->dim);
	memcpy(result->x + a->dim, b->x, sizeof(float) * b->dim);
	PG_RETURN_VECTOR_P(result);
}

/*
 * subvector(v, start, count): count elements from the 1-based position
 * start, clipped to the vector; the result must keep at least one element.
 */
PG_FUNCTION_INFO_V1(subvector);
Datum
subvector(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	int32		start = PG_GETARG_INT32(1);
	int32		count = PG_GETARG_INT32(2);
	int64		end = (int64) start + count;	/* exclusive; no int32 overflow */
	Vector	   *result;

	if (count < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector must have at least 1 dimension")));

	if (start < 1)
		start = 1;
	if (end > (int64) a->dim + 1)
		end = a->dim + 1;
	if (end <= start)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector must have at least 1 dimension")));

	result = InitVector((int) (end - start));
	memcpy(result->x, a->x + (start - 1), sizeof(float) * result->dim);
	PG_RETURN_VECTOR_P(result);
}

/*
 * Total order for btree: element by element, then the shorter vector first.
 */
static int
VectorCompare(const Vector *a, const Vector *b)
{
	int			common = Min(a->dim, b->dim);

	for (int i = 0; i < common; i++)
	{
		if (a->x[i] < b->x[i])
			return -1;
		if (a->x[i] > b->x[i])
			return 1;
	}
	if (a->dim < b->dim)
		return -1;
	if (a->dim > b->dim)
		return 1;
	return 0;
}

#define VECTOR_COMPARISON(name, test) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	int			cmp = VectorCompare(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1)); \
	PG_RETURN_BOOL(test); \
}

VECTOR_COMPARISON(vector_lt, cmp < 0)
VECTOR_COMPARISON(vector_le, cmp <= 0)
VECTOR_COMPARISON(vector_eq, cmp == 0)
VECTOR_COMPARISON(vector_ne, cmp != 0)
VECTOR_COMPARISON(vector_ge, cmp >= 0)
VECTOR_COMPARISON(vector_gt, cmp > 0)

PG_FUNCTION_INFO_V1(vector_cmp);
Datum
vector_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(VectorCompare(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1)));
}

/*
 * avg(vector) keeps a float8[] state: {count, sum_1, ..., sum_dim}.  The
 * initial state is {0}, which takes its dimensions from the first input.
 */
static float8 *
CheckAvgState(ArrayType *state, const char *caller)
{
	if (ARR_NDIM(state) != 1 || ARR_DIMS(state)[0] < 1 ||
		ARR_HASNULL(state) || ARR_ELEMTYPE(state) != FLOAT8OID)
		elog(ERROR, "%s: expected state array", caller);
	return (float8 *) ARR_DATA_PTR(state);
}

static ArrayType *
MakeAvgState(const float8 *values, int n)
{
	Datum	   *datums = palloc(sizeof(Datum) * n);
	ArrayType  *result;

	for (int i = 0; i < n; i++)
		datums[i] = Float8GetDatum(values[i]);
	result = construct_array(datums, n, FLOAT8OID, sizeof(float8),
							 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	pfree(datums);
	return result;
}

PG_FUNCTION_INFO_V1(vector_accum);
Datum
vector_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	Vector	   *v = PG_GETARG_VECTOR_P(1);
	float8	   *old = CheckAvgState(state, "vector_accum");
	int			state_dim = ARR_DIMS(state)[0] - 1;
	float8	   *sums;

	/* {0}: the first value fixes the dimensions */
	if (old[0] != 0.0)
		CheckExpectedDim(state_dim, v->dim);

	sums = palloc(sizeof(float8) * (v->dim + 1));
	sums[0] = old[0] + 1.0;
	for (int i = 0; i < v->dim; i++)
	{
		sums[i + 1] = (old[0] != 0.0 ? old[i + 1] : 0.0) + (double) v->x[i];
		if (isinf(sums[i + 1]))
			float_overflow_error();
	}
	PG_RETURN_ARRAYTYPE_P(MakeAvgState(sums, v->dim + 1));
}

PG_FUNCTION_INFO_V1(vector_combine);
Datum
vector_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *state1 = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *state2 = PG_GETARG_ARRAYTYPE_P(1);
	float8	   *s1 = CheckAvgState(state1, "vector_combine");
	float8	   *s2 = CheckAvgState(state2, "vector_combine");
	int			dim1 = ARR_DIMS(state1)[0] - 1;
	int			dim2 = ARR_DIMS(state2)[0] - 1;
	float8	   *sums;

	/* an empty partial state adds nothing */
	if (s1[0] == 0.0)
		PG_RETURN_ARRAYTYPE_P(MakeAvgState(s2, dim2 + 1));
	if (s2[0] == 0.0)
		PG_RETURN_ARRAYTYPE_P(MakeAvgState(s1, dim1 + 1));

	CheckExpectedDim(dim1, dim2);
	sums = palloc(sizeof(float8) * (dim1 + 1));
	for (int i = 0; i <= dim1; i++)
	{
		sums[i] = s1[i] + s2[i];
		if (isinf(sums[i]))
			float_overflow_error();
	}
	PG_RETURN_ARRAYTYPE_P(MakeAvgState(sums, dim1 + 1));
}

PG_FUNCTION_INFO_V1(vector_avg);
Datum
vector_avg(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	float8	   *s = CheckAvgState(state, "vector_avg");
	int			dim = ARR_DIMS(state)[0] - 1;
	Vector	   *result;

	/* avg of no rows is NULL, like avg(float8) */
	if (s[0] == 0.0)
		PG_RETURN_NULL();

	CheckVectorDim(dim);
	result = InitVector(dim);
	for (int i = 0; i < dim; i++)
	{
		result->x[i] = (float) (s[i + 1] / s[0]);
		CheckVectorElement(result->x[i]);
	}
	PG_RETURN_VECTOR_P(result);
}
