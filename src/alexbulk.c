/*-------------------------------------------------------------------------
 *
 * alexbulk.c
 *	  The serial build's leaf pages, written straight to the index's file.
 *
 * A serial build writes every leaf once, whole, into blocks no other
 * backend can reach.  Going through shared buffers would cost, per page, a
 * zero page written at extension, a buffer to fill, and the real write
 * later (on this project's 2-core VM the extension alone was a fifth of a
 * 1536-d build).  Instead each page is built in local memory, WAL-logged as
 * a full page image (an XLOG_FPI record: PostgreSQL replays it itself, so
 * there is no resource manager of ours to preload) and appended with
 * smgrextend, the way nbtree's sorted build writes.
 *
 * The checkpointer never hears of these writes.  A checkpoint that starts
 * after some of the records would let a later crash skip replaying them,
 * so a WAL-logged build syncs the file before it returns (AlexBulkEnd).
 * Without WAL (wal_level = minimal in the creating transaction, or an
 * unlogged index) the relation's pending sync at commit covers it, as for
 * nbtree.
 *
 * IDENTIFICATION
 *	  src/alexbulk.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xloginsert.h"
#include "alex.h"
#include "storage/bufmgr.h"
#include "storage/bufpage.h"
#include "storage/smgr.h"
#include "utils/rel.h"

#if PG_VERSION_NUM < 150000
static inline SMgrRelation
RelationGetSmgr(Relation rel)
{
	RelationOpenSmgr(rel);
	return rel->rd_smgr;
}
#endif

struct AlexBulkWriter
{
	Relation	index;
	bool		use_wal;
	BlockNumber reserved;		/* the next block AlexBulkReserve hands out */
	BlockNumber written;		/* the next block to write: pages go in order */
	PGAlignedBlock page;		/* scratch: a page is copied here to be
								 * logged and checksummed */
};

/*
 * Start writing pages after the index's current end.  Until AlexBulkEnd,
 * nothing else may extend the index.
 */
AlexBulkWriter *
AlexBulkBegin(Relation index)
{
	AlexBulkWriter *w = palloc0(sizeof(AlexBulkWriter));

	w->index = index;
	w->use_wal = RelationNeedsWAL(index);
	w->reserved = w->written = RelationGetNumberOfBlocks(index);
	return w;
}

/* Reserve n consecutive blocks; returns the first */
BlockNumber
AlexBulkReserve(AlexBulkWriter *w, int n)
{
	BlockNumber first = w->reserved;

	w->reserved += n;
	return first;
}

/*
 * Write page into block blkno, which must be the next reserved block not
 * written yet.  The caller's page is not changed.
 */
void
AlexBulkWrite(AlexBulkWriter *w, BlockNumber blkno, Page page)
{
	if (blkno != w->written || blkno >= w->reserved)
		elog(ERROR, "alex bulk write of block %u out of order (next %u, reserved up to %u)",
			 blkno, w->written, w->reserved);
	memcpy(w->page.data, page, BLCKSZ);
	if (w->use_wal)
		log_newpage(&AlexRelationFile(w->index), MAIN_FORKNUM, blkno, w->page.data, true);
	PageSetChecksumInplace(w->page.data, blkno);
	smgrextend(RelationGetSmgr(w->index), MAIN_FORKNUM, blkno, w->page.data, true);
	w->written++;
}

/*
 * Finish: every reserved block must have been written.  Syncs the file
 * when the pages were WAL-logged (see the file's comment).
 */
void
AlexBulkEnd(AlexBulkWriter *w)
{
	if (w->written != w->reserved)
		elog(ERROR, "alex bulk build reserved blocks up to %u but wrote up to %u",
			 w->reserved, w->written);
	if (w->use_wal)
		smgrimmedsync(RelationGetSmgr(w->index), MAIN_FORKNUM);
	pfree(w);
}
