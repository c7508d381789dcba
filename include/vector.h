/*-------------------------------------------------------------------------
 *
 * vector.h
 *	  The omendb vector type: a varlena of float4 values, byte-compatible
 *	  with pgvector's vector so dumps, drivers and pg_upgrade see no change.
 *
 * On disk: varlena header, int16 dim, int16 unused (always 0), float4 x[dim].
 *
 * IDENTIFICATION
 *	  include/vector.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMENDB_VECTOR_H
#define OMENDB_VECTOR_H

#include "fmgr.h"

#define VECTOR_MAX_DIM 16000

typedef struct Vector
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int16		dim;			/* number of dimensions */
	int16		unused;			/* reserved for future use, always zero */
	float		x[FLEXIBLE_ARRAY_MEMBER];
} Vector;

#define VECTOR_SIZE(_dim)		(offsetof(Vector, x) + sizeof(float) * (_dim))
#define DatumGetVector(x)		((Vector *) PG_DETOAST_DATUM(x))
#define PG_GETARG_VECTOR_P(x)	DatumGetVector(PG_GETARG_DATUM(x))
#define PG_RETURN_VECTOR_P(x)	PG_RETURN_POINTER(x)

extern Vector *InitVector(int dim);
extern void CheckVectorDim(int dim);
extern void CheckVectorElement(float value);
extern void CheckExpectedDim(int32 typmod, int dim);
extern void CheckSameDims(const Vector *a, const Vector *b);

#endif							/* OMENDB_VECTOR_H */
