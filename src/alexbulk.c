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
 * The pages bypass the checkpointer, so a WAL-logged build must make sure
 * they reach disk before a crash could skip replaying their records, that
 * is, before a checkpoint that started after the records completes.  When
 * no checkpoint started during the build, AlexBulkEnd hands the file's
 * sync to the next checkpoint (a sync request, as a write through shared
 * buffers would); otherwise it syncs the file itself.  This is the rule
 * PostgreSQL 17's bulk writer follows; on this project's VM the immediate
 * sync was 0.2 s of a 2.6 s fashion-mnist build.  Before PostgreSQL 15
 * (no DELAY_CHKPT_START) the file is always synced at the end.
 *
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

#include "access/xlog.h"
#include "access/xloginsert.h"
#include "alex.h"
#include "storage/bufmgr.h"
#include "storage/bufpage.h"
#include "storage/proc.h"
#include "storage/smgr.h"
#include "storage/sync.h"
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
	BlockNumber first;			/* the first block written */
	XLogRecPtr	start_redo;		/* the redo pointer when the writes began */
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
	w->reserved = w->written = w->first = RelationGetNumberOfBlocks(index);
	if (w->use_wal)
		w->start_redo = GetRedoRecPtr();
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

#if PG_VERSION_NUM >= 150000 && PG_VERSION_NUM < 170000
/*
 * Ask the checkpointer to sync the segments holding the written blocks, as
 * md.c does for a write without skipFsync (PostgreSQL 17 has
 * smgrregistersync for this).  Only segments that exist: a request for a
 * missing file would fail the checkpoint.
 */
static void
RegisterSegmentSyncs(AlexBulkWriter *w)
{
	SMgrRelation smgr = RelationGetSmgr(w->index);

	for (BlockNumber segno = w->first / RELSEG_SIZE;
		 segno <= (w->written - 1) / RELSEG_SIZE; segno++)
	{
		FileTag		tag;

		memset(&tag, 0, sizeof(tag));	/* the tag is hashed as bytes */
		tag.handler = SYNC_HANDLER_MD;
#if PG_VERSION_NUM >= 160000
		tag.rlocator = smgr->smgr_rlocator.locator;
#else
		tag.rnode = smgr->smgr_rnode.node;
#endif
		tag.forknum = MAIN_FORKNUM;
		tag.segno = segno;
		RegisterSyncRequest(&tag, SYNC_REQUEST, true);
	}
}
#endif

/*
 * The written blocks of a WAL-logged build are safe from a crash: handed
 * to the next checkpoint when none started since AlexBulkBegin, else synced
 * now (see the file's comment).
 */
static void
SyncWrittenBlocks(AlexBulkWriter *w)
{
#if PG_VERSION_NUM >= 150000
	bool		registered = false;

	/* no checkpoint may start between the check and the request */
	Assert((MyProc->delayChkptFlags & DELAY_CHKPT_START) == 0);
	MyProc->delayChkptFlags |= DELAY_CHKPT_START;
	if (w->start_redo == GetRedoRecPtr())
	{
#if PG_VERSION_NUM >= 170000
		smgrregistersync(RelationGetSmgr(w->index), MAIN_FORKNUM);
#else
		RegisterSegmentSyncs(w);
#endif
		registered = true;
	}
	MyProc->delayChkptFlags &= ~DELAY_CHKPT_START;
	if (registered)
		return;
#endif
	smgrimmedsync(RelationGetSmgr(w->index), MAIN_FORKNUM);
}

/*
 * Finish: every reserved block must have been written.  A WAL-logged
 * build's blocks are made safe from a crash (SyncWrittenBlocks).
 */
void
AlexBulkEnd(AlexBulkWriter *w)
{
	if (w->written != w->reserved)
		elog(ERROR, "alex bulk build reserved blocks up to %u but wrote up to %u",
			 w->reserved, w->written);
	if (w->use_wal && w->written > w->first)
		SyncWrittenBlocks(w);
	pfree(w);
}
