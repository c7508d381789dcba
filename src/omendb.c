/*-------------------------------------------------------------------------
 *
 * omendb.c
 *	  Module entry point: registers GUCs and picks the distance kernels.
 *
 * Everything here runs at load time in any backend; nothing needs
 * shared_preload_libraries.
 *
 * IDENTIFICATION
 *	  src/omendb.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "alex.h"
#include "distance.h"
#include "fmgr.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	DistanceKernelsInit();
	AlexInit();
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("omendb");
#endif
}
