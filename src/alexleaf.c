/*-------------------------------------------------------------------------
 *
 * alexleaf.c
 *	  Leaves (ALEX data nodes): a head page and a run of data pages, each a
 *	  gapped array of fixed-size lanes with an occupancy bitmap, plus the
 *	  per-leaf 1-D key and its linear position model.
 *
 * The lane format lives here and only here: a lane is a heap TID followed
 * by a payload, today the vector's float4 elements.  Nothing ever shifts:
 * an insert takes a free lane on the page the position model predicts (or
 * the nearest page with room), a delete clears a bit.
 *
 * IDENTIFICATION
 *	  src/alexleaf.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "alex.h"
#include "distance.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "vector.h"

/* Bytes of page contents: page minus page header and special space */
#define ALEX_PAGE_CONTENT_SIZE \
	(BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(AlexPageOpaqueData)))

/* ---------- the lane format ---------- */

/*
 * Bytes a lane keeps after its heap TID: the vector's RaBitQ code (see
 * alexquant.c).  The full vector lives in the data page's vector pages, or
 * with rerank = table only in the table's row (alexheap.c).
 */
Size
AlexLanePayloadSize(int dimensions)
{
	return AlexCodeSize(dimensions);
}

static Size
AlexLaneSize(int dimensions)
{
	return MAXALIGN(sizeof(ItemPointerData)) + MAXALIGN(AlexLanePayloadSize(dimensions));
}


/*
 * Exact distance between the query and a stored vector, as the scan ranks
 * it: what the SQL operator returns for the same two vectors, except that
 * L2 stays squared (the same order, no square root per candidate).
 */
double
AlexExactDistance(AlexMetricKind metric, const float *query, const float *x,
				  int dimensions)
{
	switch (metric)
	{
		case ALEX_METRIC_L2:
			/* squared: ranks alike, and the lower bounds are squared too */
			return (double) VectorL2SquaredDistance(query, x, dimensions);
		case ALEX_METRIC_INNER_PRODUCT:
			return -(double) VectorInnerProduct(query, x, dimensions);
		case ALEX_METRIC_COSINE:
			return VectorCosineDistance(query, x, dimensions);
		case ALEX_METRIC_L1:
			return (double) VectorL1Distance(query, x, dimensions);
	}
	return 0;
}

/* ---------- data page geometry ---------- */

#define BitmapWords(lanes)	(((lanes) + 63) / 64)

/*
 * A data page holds at most this many lanes, and lists at most this many
 * vector pages: enough lanes for a gapped array to absorb inserts, few
 * enough vector pages that a 16,000-dimension page stays small.
 */
#define ALEX_MAX_LANES_PER_PAGE		256
#define ALEX_MAX_VECTOR_PAGES		32

/* Vector bytes one vector page holds: all of its contents */
#define ALEX_VECTOR_PAGE_BYTES		ALEX_PAGE_CONTENT_SIZE

static inline Size
VectorBytes(int dimensions)
{
	return sizeof(float) * (Size) dimensions;
}

/* Bytes of vector pages a lane takes: none when vectors stay in the table */
static inline Size
LaneVectorBytes(const AlexIndexInfo *info)
{
	return info->vectors_in_index ? VectorBytes(info->dimensions) : 0;
}

static int
VectorSlotsFor(int lanes, const AlexIndexInfo *info)
{
	return (int) ((lanes * LaneVectorBytes(info) + ALEX_VECTOR_PAGE_BYTES - 1) /
				  ALEX_VECTOR_PAGE_BYTES);
}

static Size
AlexDataHeaderSize(int lanes, const AlexIndexInfo *info)
{
	return MAXALIGN(offsetof(AlexLeafDataHeader, occupied) +
					2 * sizeof(uint64) * BitmapWords(lanes) +
					sizeof(BlockNumber) * VectorSlotsFor(lanes, info));
}

int
AlexLanesPerPage(const AlexIndexInfo *info)
{
	Size		lane_size = AlexLaneSize(info->dimensions);
	int			lanes = ALEX_MAX_LANES_PER_PAGE;

	if (info->vectors_in_index)
		lanes = Min(lanes, (int) Max(1, ALEX_MAX_VECTOR_PAGES * ALEX_VECTOR_PAGE_BYTES /
									 LaneVectorBytes(info)));
	while (lanes > 1 &&
		   AlexDataHeaderSize(lanes, info) + lanes * lane_size > ALEX_PAGE_CONTENT_SIZE)
		lanes--;
	return lanes;
}

/* How many vector pages a data page lists */
int
AlexVectorSlots(const AlexIndexInfo *info)
{
	return VectorSlotsFor(AlexLanesPerPage(info), info);
}

/*
 * Widest vector an alex index takes: the vector type's own limit, since a
 * vector spans as many vector pages as it needs.
 */
int
AlexMaxDimensions(void)
{
	return VECTOR_MAX_DIM;
}

/*
 * Error out, never crash, when a data page's geometry is not what the
 * index's dimensions give (a corrupted page with the right kind).
 */
static void
AlexCheckDataGeometry(Relation index, AlexLeafDataHeader *hdr, BlockNumber blkno,
					  const AlexIndexInfo *info)
{
	int			lanes = AlexLanesPerPage(info);

	if (hdr->lanes != lanes || hdr->lane_size != AlexLaneSize(info->dimensions) ||
		hdr->lane_offset != AlexDataHeaderSize(lanes, info) ||
		hdr->vector_slots != VectorSlotsFor(lanes, info) ||
		hdr->used > lanes || hdr->moved > hdr->used)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has a corrupted leaf data page at block %u",
						RelationGetRelationName(index), blkno),
				 errhint("Please REINDEX it.")));
}

/*
 * The same for a leaf head page.
 */
void
AlexCheckLeafHead(Relation index, Page page, BlockNumber blkno, int dimensions)
{
	AlexLeafHead head;

	AlexCheckPage(index, page, blkno, ALEX_PAGE_LEAF_HEAD);
	head = AlexPageGetLeafHead(page);
	if (head->max_pages != AlexLeafMaxPages(dimensions) || head->npages > head->max_pages ||
		head->entries > head->capacity)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has a corrupted leaf head page at block %u",
						RelationGetRelationName(index), blkno),
				 errhint("Please REINDEX it.")));
}

#define LaneAt(hdr, i) \
	((char *) (hdr) + (hdr)->lane_offset + (Size) (i) * (hdr)->lane_size)

static inline bool
LaneOccupied(const AlexLeafDataHeader *hdr, int lane)
{
	return (hdr->occupied[lane / 64] >> (lane % 64)) & 1;
}

static inline uint64 *
MovedBitmap(AlexLeafDataHeader *hdr)
{
	return hdr->occupied + BitmapWords(hdr->lanes);
}

static inline bool
LaneMoved(AlexLeafDataHeader *hdr, int lane)
{
	return (MovedBitmap(hdr)[lane / 64] >> (lane % 64)) & 1;
}

BlockNumber *
AlexVectorPageList(AlexLeafDataHeader *hdr)
{
	return (BlockNumber *) (hdr->occupied + 2 * BitmapWords(hdr->lanes));
}

static void
AlexInitDataPage(Page page, const AlexIndexInfo *info, BlockNumber head)
{
	AlexLeafDataHeader *hdr;
	int			lanes = AlexLanesPerPage(info);

	AlexInitPage(page, ALEX_PAGE_LEAF_DATA);
	AlexPageGetOpaque(page)->owner = head;	/* for recycling checks */
	hdr = AlexPageGetLeafData(page);
	hdr->lanes = lanes;
	hdr->used = 0;
	hdr->lane_size = AlexLaneSize(info->dimensions);
	hdr->lane_offset = AlexDataHeaderSize(lanes, info);
	hdr->moved = 0;
	hdr->vector_slots = VectorSlotsFor(lanes, info);
	hdr->moved_xid = InvalidTransactionId;
	memset(hdr->occupied, 0, 2 * sizeof(uint64) * BitmapWords(lanes));
	for (int s = 0; s < hdr->vector_slots; s++)
		AlexVectorPageList(hdr)[s] = InvalidBlockNumber;
	/* keep the whole lane area inside pd_lower so GenericXLog logs it */
	((PageHeader) page)->pd_lower = MAXALIGN(SizeOfPageHeaderData) +
		hdr->lane_offset + lanes * hdr->lane_size;
}

/* ---------- vector pages ---------- */

/*
 * Where a lane's vector lies in its data page's vector stream: bytes
 * [start, end), held by vector page slots first .. last.
 */
typedef struct LaneSpan
{
	Size		start;
	Size		end;
	int			first;
	int			last;
} LaneSpan;

static inline LaneSpan
LaneSpanOf(int lane, int dimensions)
{
	LaneSpan	span;

	span.start = (Size) lane * VectorBytes(dimensions);
	span.end = span.start + VectorBytes(dimensions);
	span.first = span.start / ALEX_VECTOR_PAGE_BYTES;
	span.last = (span.end - 1) / ALEX_VECTOR_PAGE_BYTES;
	return span;
}

/*
 * The piece of a span in one slot's page: page_offset bytes into the page,
 * vector_offset bytes into the vector, len bytes long.
 */
static inline void
SpanPiece(const LaneSpan *span, int slot, Size *page_offset, Size *vector_offset, Size *len)
{
	Size		page_start = (Size) slot * ALEX_VECTOR_PAGE_BYTES;
	Size		from = Max(span->start, page_start);
	Size		to = Min(span->end, page_start + ALEX_VECTOR_PAGE_BYTES);

	*page_offset = from - page_start;
	*vector_offset = from - span->start;
	*len = to - from;
}

/* The block of a slot that holds part of an occupied lane's vector */
static BlockNumber
OccupiedSlotBlock(Relation index, BlockNumber data_blkno, const BlockNumber *vector_pages,
				  int slot)
{
	if (vector_pages[slot] == InvalidBlockNumber)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has an occupied lane without a vector page at block %u",
						RelationGetRelationName(index), data_blkno),
				 errhint("Please REINDEX it.")));
	return vector_pages[slot];
}

static void
AlexInitVectorPage(Page page, BlockNumber data_blkno)
{
	AlexInitPage(page, ALEX_PAGE_LEAF_VECTORS);
	AlexPageGetOpaque(page)->owner = data_blkno;
	((PageHeader) page)->pd_lower = MAXALIGN(SizeOfPageHeaderData) + ALEX_VECTOR_PAGE_BYTES;
}

/*
 * Is this the vector page of that data page?  Errors out if not.
 */
void
AlexCheckVectorPage(Relation index, Page page, BlockNumber blkno, BlockNumber data_blkno)
{
	AlexCheckPage(index, page, blkno, ALEX_PAGE_LEAF_VECTORS);
	if (AlexPageGetOpaque(page)->owner != data_blkno ||
		((PageHeader) page)->pd_lower < MAXALIGN(SizeOfPageHeaderData) + ALEX_VECTOR_PAGE_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has a corrupted vector page at block %u",
						RelationGetRelationName(index), blkno),
				 errhint("Please REINDEX it.")));
}

/*
 * Reads the vectors of one data page's lanes, holding one vector page (share
 * locked, after the data page: the lock order) at a time.
 */
typedef struct VectorReader
{
	Relation	index;
	BlockNumber data_blkno;
	AlexLeafDataHeader *hdr;
	int			dimensions;
	int			slot;			/* slot of buf, or -1 */
	Buffer		buf;
	float	   *scratch;		/* a vector that spans pages, copied */
} VectorReader;

static void
VectorReaderInit(VectorReader *r, Relation index, BlockNumber data_blkno,
				 AlexLeafDataHeader *hdr, int dimensions)
{
	r->index = index;
	r->data_blkno = data_blkno;
	r->hdr = hdr;
	r->dimensions = dimensions;
	r->slot = -1;
	r->buf = InvalidBuffer;
	r->scratch = NULL;
}

static const char *
VectorReaderHold(VectorReader *r, int slot)
{
	if (r->slot != slot)
	{
		BlockNumber blkno;

		if (r->slot >= 0)
			UnlockReleaseBuffer(r->buf);
		r->slot = -1;
		blkno = OccupiedSlotBlock(r->index, r->data_blkno, AlexVectorPageList(r->hdr), slot);
		r->buf = AlexReadBuffer(r->index, blkno);
		LockBuffer(r->buf, BUFFER_LOCK_SHARE);
		r->slot = slot;
		AlexCheckVectorPage(r->index, BufferGetPage(r->buf), blkno, r->data_blkno);
	}
	return PageGetContents(BufferGetPage(r->buf));
}

/* The vector of a lane; valid until the next call */
static const float *
VectorReaderGet(VectorReader *r, int lane)
{
	LaneSpan	span = LaneSpanOf(lane, r->dimensions);

	if (span.first == span.last)
		return (const float *) (VectorReaderHold(r, span.first) +
								span.start % ALEX_VECTOR_PAGE_BYTES);

	if (r->scratch == NULL)
		r->scratch = palloc(VectorBytes(r->dimensions));
	for (int slot = span.first; slot <= span.last; slot++)
	{
		Size		page_offset;
		Size		vector_offset;
		Size		len;

		SpanPiece(&span, slot, &page_offset, &vector_offset, &len);
		memcpy((char *) r->scratch + vector_offset, VectorReaderHold(r, slot) + page_offset,
			   len);
	}
	return r->scratch;
}

static void
VectorReaderEnd(VectorReader *r)
{
	if (r->slot >= 0)
		UnlockReleaseBuffer(r->buf);
	if (r->scratch)
		pfree(r->scratch);
}

/*
 * Copy the part of a lane's vector that falls in slot's page into that page.
 */
static void
CopyVectorPiece(Page page, int slot, const float *vector, const LaneSpan *span)
{
	Size		page_offset;
	Size		vector_offset;
	Size		len;

	SpanPiece(span, slot, &page_offset, &vector_offset, &len);
	memcpy(PageGetContents(page) + page_offset, (const char *) vector + vector_offset, len);
}

/*
 * Lock the vector page of a slot for writing; an empty slot gets a new
 * page, which the caller initialises and lists in the same WAL record.
 */
static Buffer
LockVectorSlot(Relation index, AlexLeafDataHeader *hdr, BlockNumber data_blkno,
			   int slot, bool *is_new)
{
	BlockNumber blkno = AlexVectorPageList(hdr)[slot];
	Buffer		buf;

	*is_new = blkno == InvalidBlockNumber;
	if (*is_new)
		return AlexNewBuffer(index);
	buf = ReadBuffer(index, blkno);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	AlexCheckVectorPage(index, BufferGetPage(buf), blkno, data_blkno);
	return buf;
}

/*
 * Write the vector of a lane into slots [first, first + n) of the data page
 * whose buffer the caller holds exclusively, inside the caller's record,
 * in which hdr is the registered data page.
 */
static void
WriteVectorSlots(Relation index, GenericXLogState *state, Buffer data_buf,
				 AlexLeafDataHeader *hdr, int first, int n, const float *vector,
				 const LaneSpan *span, Buffer *bufs)
{
	BlockNumber data_blkno = BufferGetBlockNumber(data_buf);

	for (int i = 0; i < n; i++)
	{
		bool		is_new;
		Page		page;

		bufs[i] = LockVectorSlot(index, hdr, data_blkno, first + i, &is_new);
		page = GenericXLogRegisterBuffer(state, bufs[i],
										 is_new ? GENERIC_XLOG_FULL_IMAGE : 0);
		if (is_new)
		{
			AlexInitVectorPage(page, data_blkno);
			AlexVectorPageList(hdr)[first + i] = BufferGetBlockNumber(bufs[i]);
		}
		CopyVectorPiece(page, first + i, vector, span);
	}
}

/* ---------- head page geometry ---------- */

static Size
AlexHeadFixedSize(void)
{
	return offsetof(AlexLeafHeadData, pages);
}

/*
 * How many data pages a leaf can list, and whether its code reference and
 * its key direction fit beside the list (the reference first: codes need
 * it more than placement needs the direction).  Each page costs a block
 * number and a used-lane count.
 */
static int
AlexHeadCapacity(int dimensions, bool *reference_room, bool *direction_room)
{
	Size		avail = ALEX_PAGE_CONTENT_SIZE - AlexHeadFixedSize() - MAXIMUM_ALIGNOF;
	Size		per_page = sizeof(BlockNumber) + sizeof(uint16);
	Size		vector = sizeof(float) * dimensions;

	/* keep each if that still leaves room for a useful leaf */
	*reference_room = avail > vector && (avail - vector) / per_page >= 64;
	if (*reference_room)
		avail -= vector;
	*direction_room = avail > vector && (avail - vector) / per_page >= 64;
	if (*direction_room)
		avail -= vector;
	return Min(avail / per_page, PG_UINT16_MAX);
}

int
AlexLeafMaxPages(int dimensions)
{
	bool		reference_room;
	bool		direction_room;

	return AlexHeadCapacity(dimensions, &reference_room, &direction_room);
}

/* Data pages a new leaf with room for capacity entries starts with */
int
AlexLeafPagesFor(const AlexIndexInfo *info, int capacity)
{
	int			lanes = AlexLanesPerPage(info);

	return Min(Max(1, (capacity + lanes - 1) / lanes), AlexLeafMaxPages(info->dimensions));
}

static inline uint16 *
HeadUsed(AlexLeafHead head)
{
	return (uint16 *) ((char *) head->pages + sizeof(BlockNumber) * head->max_pages);
}

/*
 * Layout after the fixed part: pages[max], used[max], then (MAXALIGNed)
 * direction[dim] and reference[dim] where the head has room for them.
 */
static inline float *
HeadDirection(AlexLeafHead head)
{
	return (float *) MAXALIGN((char *) HeadUsed(head) + sizeof(uint16) * head->max_pages);
}

static inline float *
HeadReference(AlexLeafHead head, int dimensions)
{
	bool		reference_room;
	bool		direction_room;

	AlexHeadCapacity(dimensions, &reference_room, &direction_room);
	return HeadDirection(head) + (direction_room ? dimensions : 0);
}

/* The vector the leaf's lane codes are relative to; NULL means zero */
const float *
AlexLeafReference(const AlexLeafHead head, int dimensions)
{
	if (!head->has_reference)
		return NULL;
	return HeadReference((AlexLeafHead) head, dimensions);
}

/*
 * Start a leaf head's reference on its way to the CPU cache.  The head's
 * fixed part, which says where the reference is, should be cached already.
 * The page is read without a lock: this is only a hint, and a prefetch of
 * a wrong address does no harm.
 */
void
AlexPrefetchLeafReference(Page page, int dimensions)
{
	AlexLeafHead head = AlexPageGetLeafHead(page);
	const char *reference = (const char *) HeadReference(head, dimensions);

	if (reference < (const char *) page || reference >= (const char *) page + BLCKSZ)
		return;
	for (Size off = 0; off < sizeof(float) * dimensions; off += 64)
		__builtin_prefetch(reference + off);
}

int
AlexLeafUsedCount(const AlexLeafHead head, int page_index)
{
	return HeadUsed((AlexLeafHead) head)[page_index];
}

float
AlexLeafKey(const AlexLeafHead head, const float *vector, int dimensions)
{
	if (!head->has_direction)
		return 0;
	return VectorInnerProduct(HeadDirection((AlexLeafHead) head), vector, dimensions);
}

/*
 * Copy the leaf's key direction into out; false when it has none.
 */
bool
AlexLeafGetDirection(const AlexLeafHead head, int dimensions, float *out)
{
	if (!head->has_direction)
		return false;
	memcpy(out, HeadDirection((AlexLeafHead) head), sizeof(float) * dimensions);
	return true;
}

static void
AlexInitHeadPage(Page page, int dimensions, const float *direction,
				 float slope, float intercept, const float *reference)
{
	AlexLeafHead head;
	bool		reference_room;
	bool		direction_room;
	int			max_pages = AlexHeadCapacity(dimensions, &reference_room, &direction_room);

	AlexInitPage(page, ALEX_PAGE_LEAF_HEAD);
	AlexStampWriter(page);
	head = AlexPageGetLeafHead(page);
	head->entries = 0;
	head->capacity = 0;
	head->npages = 0;
	head->max_pages = max_pages;
	head->has_direction = direction_room && direction != NULL;
	head->has_reference = reference_room && reference != NULL;
	head->counted = 0;
	head->key_slope = head->has_direction ? slope : 0;
	head->key_intercept = head->has_direction ? intercept : 0;
	if (head->has_direction)
		memcpy(HeadDirection(head), direction, sizeof(float) * dimensions);
	if (head->has_reference)
		memcpy(HeadReference(head, dimensions), reference, sizeof(float) * dimensions);
	((PageHeader) page)->pd_lower = MAXALIGN(SizeOfPageHeaderData) +
		((char *) HeadReference(head, dimensions) - (char *) head) +
		(reference_room ? sizeof(float) * dimensions : 0);
}

/*
 * Append up to 3 new data pages to a leaf whose head buffer the caller holds
 * exclusively, in one WAL record.  Returns how many were added.
 */
static int
AlexAddDataPages(Relation index, Buffer head_buf, const AlexIndexInfo *info, int count)
{
	BlockNumber head_blkno = BufferGetBlockNumber(head_buf);
	Buffer		bufs[3];
	GenericXLogState *state;
	AlexLeafHead head;
	int			room;

	head = AlexPageGetLeafHead(BufferGetPage(head_buf));
	room = Min(Min(count, 3), head->max_pages - head->npages);
	if (room <= 0)
		return 0;

	for (int i = 0; i < room; i++)
		bufs[i] = AlexNewBuffer(index);

	state = GenericXLogStart(index);
	head = AlexPageGetLeafHead(GenericXLogRegisterBuffer(state, head_buf, 0));
	for (int i = 0; i < room; i++)
	{
		Page		page = GenericXLogRegisterBuffer(state, bufs[i], GENERIC_XLOG_FULL_IMAGE);

		AlexInitDataPage(page, info, head_blkno);
		head->pages[head->npages] = BufferGetBlockNumber(bufs[i]);
		HeadUsed(head)[head->npages] = 0;
		head->npages++;
		head->capacity += AlexLanesPerPage(info);
	}
	GenericXLogFinish(state);

	for (int i = 0; i < room; i++)
		UnlockReleaseBuffer(bufs[i]);
	return room;
}

/*
 * Create an empty leaf with room for capacity entries.  It is unreachable
 * until the caller routes to it, so a crash before that only leaks pages.
 * Returns the head block.
 */
BlockNumber
AlexCreateLeaf(Relation index, const AlexIndexInfo *info, int capacity,
			   const float *direction, float key_slope, float key_intercept,
			   const float *reference)
{
	Buffer		head_buf = AlexNewBuffer(index);
	BlockNumber head_blkno = BufferGetBlockNumber(head_buf);
	GenericXLogState *state;
	int			pages = AlexLeafPagesFor(info, capacity);

	state = GenericXLogStart(index);
	AlexInitHeadPage(GenericXLogRegisterBuffer(state, head_buf, GENERIC_XLOG_FULL_IMAGE),
					 info->dimensions, direction, key_slope, key_intercept, reference);
	GenericXLogFinish(state);

	while (pages > 0)
	{
		CHECK_FOR_INTERRUPTS();
		pages -= AlexAddDataPages(index, head_buf, info, pages);
	}

	UnlockReleaseBuffer(head_buf);
	return head_blkno;
}

/* An entry of AlexBuildLeaf, ordered by its 1-D key */
typedef struct KeyedEntry
{
	float		key;
	int			index;
} KeyedEntry;

static int
KeyedEntryCompare(const void *a, const void *b)
{
	const KeyedEntry *ea = (const KeyedEntry *) a;
	const KeyedEntry *eb = (const KeyedEntry *) b;

	if (ea->key != eb->key)
		return ea->key < eb->key ? -1 : 1;
	return ea->index - eb->index;
}

/*
 * Register up to 4 new pages in one record each time, as full images.
 */
static void
LogNewPages(Relation index, Buffer *bufs, int n, void (*init) (Page page, int i, void *arg),
			void *arg)
{
	for (int first = 0; first < n; first += MAX_GENERIC_XLOG_PAGES)
	{
		GenericXLogState *state = GenericXLogStart(index);

		for (int i = first; i < Min(n, first + MAX_GENERIC_XLOG_PAGES); i++)
			init(GenericXLogRegisterBuffer(state, bufs[i], GENERIC_XLOG_FULL_IMAGE), i, arg);
		GenericXLogFinish(state);
	}
}

/* What one data page of AlexBuildLeaf holds */
typedef struct BuildPage
{
	const AlexIndexInfo *info;
	BlockNumber head;
	BlockNumber data_blkno;
	AlexEncoder *encoder;		/* codes relative to the leaf's reference */
	const ItemPointerData *tids;
	const float *vectors;
	const int  *members;		/* indexes into tids/vectors, in lane order */
	int			n;
	const BlockNumber *blknos;	/* the data page, then its vector pages */
} BuildPage;

static void
InitBuildPage(Page page, int i, void *arg)
{
	BuildPage  *bp = (BuildPage *) arg;
	int			dim = bp->info->dimensions;

	if (i == 0)
	{
		AlexLeafDataHeader *hdr;

		AlexInitDataPage(page, bp->info, bp->head);
		hdr = AlexPageGetLeafData(page);
		for (int lane = 0; lane < bp->n; lane++)
		{
			int			e = bp->members[lane];
			char	   *ptr = LaneAt(hdr, lane);

			memcpy(ptr, &bp->tids[e], sizeof(ItemPointerData));
			AlexEncode(bp->encoder, bp->vectors + (Size) e * dim,
					   ptr + MAXALIGN(sizeof(ItemPointerData)));
			hdr->occupied[lane / 64] |= UINT64CONST(1) << (lane % 64);
		}
		hdr->used = bp->n;
		for (int s = 0; s < VectorSlotsFor(bp->n, bp->info); s++)
			AlexVectorPageList(hdr)[s] = bp->blknos[1 + s];
	}
	else
	{
		int			slot = i - 1;

		AlexInitVectorPage(page, bp->data_blkno);
		for (int lane = 0; lane < bp->n; lane++)
		{
			LaneSpan	span = LaneSpanOf(lane, dim);

			if (slot >= span.first && slot <= span.last)
				CopyVectorPiece(page, slot, bp->vectors + (Size) bp->members[lane] * dim,
								&span);
		}
	}
}

/* Entries [PageEnd(p - 1), PageEnd(p)) of AlexBuildLeaf's key order go to its page p */
static inline int
PageEnd(int p, int n, int npages)
{
	return (int) (((int64) (p + 1) * n) / npages);
}

/*
 * Create a leaf holding n entries at the given density, written a page at
 * a time as full page images instead of a record per lane (bulk build,
 * splits, merges).  Its key direction and position model are fitted to the
 * entries, which go to the data pages in key order, spread evenly, so each
 * page keeps gaps for inserts; lane codes are relative to reference.  Like
 * AlexCreateLeaf, the leaf is unreachable until the caller routes to it,
 * whose switch counts the entries in the metapage.  With a bulk writer (the
 * serial build) the pages go straight to the file, in block order: the
 * data and vector pages, then the head.  Returns the head block.
 */
BlockNumber
AlexBuildLeaf(Relation index, const AlexIndexInfo *info, double density,
			  const float *reference, const ItemPointerData *tids,
			  const float *vectors, int n, AlexBulkWriter *bulk)
{
	int			dim = info->dimensions;
	int			lanes = AlexLanesPerPage(info);
	Buffer		head_buf = bulk ? InvalidBuffer : AlexNewBuffer(index);
	BlockNumber head_blkno;
	BlockNumber next_block = InvalidBlockNumber;	/* bulk: next reserved */
	PGAlignedBlock head_page;	/* built here, logged last */
	PGAlignedBlock page;		/* bulk: the page being written */
	GenericXLogState *state;
	AlexLeafHead head;
	KeyedEntry *order = palloc(sizeof(KeyedEntry) * Max(n, 1));
	int		   *members = palloc(sizeof(int) * Max(n, 1));
	Buffer	   *bufs = palloc(sizeof(Buffer) * (1 + ALEX_MAX_VECTOR_PAGES + 1));
	BlockNumber *blknos = palloc(sizeof(BlockNumber) * (1 + ALEX_MAX_VECTOR_PAGES + 1));
	int			capacity = (int) ceil(Max(n, 1) / density);
	int			npages = AlexLeafPagesFor(info, Max(capacity, n));
	float	   *direction = palloc(sizeof(float) * dim);
	float		key_slope;
	float		key_intercept;
	int			next = 0;
	AlexEncoder encoder;

	if (bulk)
	{
		/* the head comes last, so every block of the leaf is counted first */
		int			total = 0;

		for (int p = 0; p < npages; p++)
			total += 1 + VectorSlotsFor(PageEnd(p, n, npages) - PageEnd(p - 1, n, npages),
										info);
		next_block = AlexBulkReserve(bulk, total + 1);
		head_blkno = next_block + total;
	}
	else
		head_blkno = BufferGetBlockNumber(head_buf);

	AlexFitDirection(vectors, n, dim, direction, &key_slope, &key_intercept, npages);
	AlexInitHeadPage(head_page.data, dim, direction, key_slope, key_intercept, reference);
	head = AlexPageGetLeafHead(head_page.data);
	if ((int64) npages * lanes < n)
		elog(ERROR, "new leaf of index \"%s\" has no room for %d entries",
			 RelationGetRelationName(index), n);

	/* key order: the position model maps keys to pages the same way */
	for (int i = 0; i < n; i++)
	{
		order[i].key = head->has_direction ?
			VectorInnerProduct(HeadDirection(head), vectors + (Size) i * dim, dim) : 0;
		order[i].index = i;
	}
	qsort(order, n, sizeof(KeyedEntry), KeyedEntryCompare);

	AlexBeginEncoder(&encoder, AlexGetQuantizer(dim, info->rotation_seed), info->metric,
					 AlexLeafReference(head, dim));
	for (int p = 0; p < npages; p++)
	{
		int			end = PageEnd(p, n, npages);
		int			m = 0;
		BuildPage	bp;
		int			nbufs;

		CHECK_FOR_INTERRUPTS();
		for (; next < end; next++)
			members[m++] = order[next].index;
		nbufs = 1 + VectorSlotsFor(m, info);
		for (int b = 0; b < nbufs; b++)
		{
			if (bulk)
				blknos[b] = next_block++;
			else
			{
				bufs[b] = AlexNewBuffer(index);
				blknos[b] = BufferGetBlockNumber(bufs[b]);
			}
		}

		bp.info = info;
		bp.head = head_blkno;
		bp.data_blkno = blknos[0];
		bp.encoder = &encoder;
		bp.tids = tids;
		bp.vectors = vectors;
		bp.members = members;
		bp.n = m;
		bp.blknos = blknos;
		if (bulk)
		{
			for (int b = 0; b < nbufs; b++)
			{
				InitBuildPage(page.data, b, &bp);
				AlexBulkWrite(bulk, blknos[b], page.data);
			}
		}
		else
		{
			LogNewPages(index, bufs, nbufs, InitBuildPage, &bp);
			for (int b = 0; b < nbufs; b++)
				UnlockReleaseBuffer(bufs[b]);
		}

		head->pages[p] = bp.data_blkno;
		HeadUsed(head)[p] = m;
	}
	AlexEndEncoder(&encoder);
	head->npages = npages;
	head->capacity = npages * lanes;
	head->entries = n;
	head->counted = n;			/* the caller's routing switch counts them */

	if (bulk)
		AlexBulkWrite(bulk, head_blkno, head_page.data);
	else
	{
		state = GenericXLogStart(index);
		memcpy(GenericXLogRegisterBuffer(state, head_buf, GENERIC_XLOG_FULL_IMAGE),
			   head_page.data, BLCKSZ);
		GenericXLogFinish(state);
		UnlockReleaseBuffer(head_buf);
	}

	pfree(order);
	pfree(members);
	pfree(bufs);
	pfree(blknos);
	pfree(direction);
	return head_blkno;
}

/*
 * Grow a full leaf by extra_pages data pages (ALEX's expand); the position
 * model is rescaled to spread new keys over the larger array.  Returns
 * false when the head page has no room for more pages.
 */
bool
AlexLeafExpand(Relation index, Buffer head_buf, const AlexIndexInfo *info, int extra_pages)
{
	AlexLeafHead head = AlexPageGetLeafHead(BufferGetPage(head_buf));
	int			old_pages = head->npages;
	int			added = 0;

	if (head->npages >= head->max_pages)
		return false;

	while (added < extra_pages)
	{
		int			n = AlexAddDataPages(index, head_buf, info, extra_pages - added);

		if (n == 0)
			break;
		added += n;
	}

	/* rescale the position model; placed entries never move */
	if (added > 0 && old_pages > 0)
	{
		GenericXLogState *state = GenericXLogStart(index);
		float		scale;

		head = AlexPageGetLeafHead(GenericXLogRegisterBuffer(state, head_buf, 0));
		scale = (float) head->npages / (float) old_pages;
		head->key_slope *= scale;
		head->key_intercept *= scale;
		GenericXLogFinish(state);
	}
	return added > 0;
}

/*
 * Put (tid, vector) into a free lane of the leaf whose head buffer the
 * caller holds exclusively.  Returns false when every lane is taken.
 */
bool
AlexLeafInsert(Relation index, const AlexIndexInfo *info, Buffer head_buf,
			   const float *vector, ItemPointer tid)
{
	int			dimensions = info->dimensions;
	AlexLeafHead head = AlexPageGetLeafHead(BufferGetPage(head_buf));
	int			lanes = AlexLanesPerPage(info);
	int			predicted;
	int			target = -1;
	Buffer		data_buf;
	GenericXLogState *state;
	Page		data_page;
	AlexLeafDataHeader *hdr;
	uint16	   *used;
	int			lane;
	LaneSpan	span;
	int			slot;
	int			nvbufs;
	Buffer		vbufs[3];

	if (head->npages == 0 || head->entries >= head->capacity)
		return false;

	/* the linear model predicts a page; search outward for a free lane */
	predicted = (int) floorf(head->key_slope * AlexLeafKey(head, vector, dimensions) +
							 head->key_intercept);
	predicted = Max(0, Min(predicted, head->npages - 1));
	used = HeadUsed(head);
	for (int step = 0; step < head->npages && target < 0; step++)
	{
		int			below = predicted - step;
		int			above = predicted + step;

		if (below >= 0 && used[below] < lanes)
			target = below;
		else if (above < head->npages && used[above] < lanes)
			target = above;
	}
	if (target < 0)
		return false;

	data_buf = ReadBuffer(index, head->pages[target]);
	LockBuffer(data_buf, BUFFER_LOCK_EXCLUSIVE);
	AlexCheckPage(index, BufferGetPage(data_buf), head->pages[target], ALEX_PAGE_LEAF_DATA);
	hdr = AlexPageGetLeafData(BufferGetPage(data_buf));
	AlexCheckDataGeometry(index, hdr, head->pages[target], info);

	for (lane = 0; lane < hdr->lanes; lane++)
		if (!LaneOccupied(hdr, lane))
			break;
	if (lane == hdr->lanes)
	{
		/* the head's count was stale: fix it and let the caller retry */
		state = GenericXLogStart(index);
		head = AlexPageGetLeafHead(GenericXLogRegisterBuffer(state, head_buf, 0));
		HeadUsed(head)[target] = hdr->used;
		GenericXLogFinish(state);
		UnlockReleaseBuffer(data_buf);
		return AlexLeafInsert(index, info, head_buf, vector, tid);
	}

	/*
	 * The vector first, the occupancy bit last: a crash in between leaves a
	 * free lane with some bytes written, which nobody reads.  A vector over
	 * more than two pages takes several records of data page + 3 vector
	 * pages; the last record holds head, data page and up to 2.  Without
	 * vectors in the index the record is just head and data page.
	 */
	span = LaneSpanOf(lane, dimensions);
	slot = info->vectors_in_index ? span.first : span.last + 1;
	while (span.last - slot + 1 > 2)
	{
		state = GenericXLogStart(index);
		hdr = AlexPageGetLeafData(GenericXLogRegisterBuffer(state, data_buf, 0));
		WriteVectorSlots(index, state, data_buf, hdr, slot, 3, vector, &span, vbufs);
		GenericXLogFinish(state);
		for (int i = 0; i < 3; i++)
			UnlockReleaseBuffer(vbufs[i]);
		slot += 3;
	}

	state = GenericXLogStart(index);
	head = AlexPageGetLeafHead(GenericXLogRegisterBuffer(state, head_buf, 0));
	data_page = GenericXLogRegisterBuffer(state, data_buf, 0);
	hdr = AlexPageGetLeafData(data_page);
	nvbufs = span.last - slot + 1;
	WriteVectorSlots(index, state, data_buf, hdr, slot, nvbufs, vector, &span, vbufs);
	memcpy(LaneAt(hdr, lane), tid, sizeof(ItemPointerData));
	AlexEncodeCode(AlexGetQuantizer(dimensions, info->rotation_seed), info->metric, vector,
				   AlexLeafReference(head, dimensions),
				   LaneAt(hdr, lane) + MAXALIGN(sizeof(ItemPointerData)));
	hdr->occupied[lane / 64] |= UINT64CONST(1) << (lane % 64);
	hdr->used++;
	HeadUsed(head)[target] = hdr->used;
	head->entries++;
	GenericXLogFinish(state);
	for (int i = 0; i < nvbufs; i++)
		UnlockReleaseBuffer(vbufs[i]);
	UnlockReleaseBuffer(data_buf);
	return true;
}

/*
 * Visit the occupied lanes of one data page, as mode says: read them (all,
 * or those not moved away), clear the ones the visitor picks (vacuum), or
 * mark them moved (a split that copied them elsewhere).  Changes are
 * WAL-logged with the head, whose counts they keep right; the caller then
 * holds the head exclusively.  Returns the number of lanes changed.
 *
 * The READ modes hand the visitor each lane's full vector: from the
 * vector pages, or with rerank = table from the table's row, any version;
 * NULL when that row is gone (dead to all, awaiting vacuum).
 */
int
AlexVisitDataPage(Relation index, Buffer head_buf, int page_index,
				  BlockNumber blkno, const AlexIndexInfo *info, AlexVisitMode mode,
				  AlexLaneVisitor visitor, void *arg)
{
	int			dimensions = info->dimensions;
	bool		for_update = mode == ALEX_VISIT_CLEAR || mode == ALEX_VISIT_MARK_MOVED;
	Buffer		buf = ReadBuffer(index, blkno);
	Page		page;
	AlexLeafDataHeader *hdr;
	GenericXLogState *state = NULL;
	int			changed = 0;
	int			cleared = 0;
	VectorReader reader;
	AlexTableReader *table = NULL;
	float	   *row_vector = NULL;

	LockBuffer(buf, for_update ? BUFFER_LOCK_EXCLUSIVE : BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	AlexCheckPage(index, page, blkno, ALEX_PAGE_LEAF_DATA);
	hdr = AlexPageGetLeafData(page);
	AlexCheckDataGeometry(index, hdr, blkno, info);
	VectorReaderInit(&reader, index, blkno, hdr, dimensions);
	if (!for_update && !info->vectors_in_index && hdr->used > 0)
	{
		table = AlexBeginTableReader(index, NULL, SnapshotAny);
		row_vector = palloc(VectorBytes(dimensions));
	}

	for (int lane = 0; lane < hdr->lanes; lane++)
	{
		char	   *ptr;
		uint64		bit = UINT64CONST(1) << (lane % 64);
		bool		moved;
		const float *vector;

		if (!LaneOccupied(hdr, lane))
			continue;
		moved = LaneMoved(hdr, lane);
		if (moved && (mode == ALEX_VISIT_READ_OWNED || mode == ALEX_VISIT_MARK_MOVED))
			continue;
		ptr = LaneAt(hdr, lane);
		if (for_update)
			vector = NULL;
		else if (table == NULL)
			vector = VectorReaderGet(&reader, lane);
		else
			vector = AlexReadTableVector(table, (ItemPointer) ptr, row_vector, dimensions) ?
				row_vector : NULL;
		if (!visitor((ItemPointer) ptr, ptr + MAXALIGN(sizeof(ItemPointerData)), vector,
					 dimensions, arg) || !for_update)
			continue;

		if (state == NULL)
		{
			state = GenericXLogStart(index);
			page = GenericXLogRegisterBuffer(state, buf, 0);
			hdr = AlexPageGetLeafData(page);
		}
		if (mode == ALEX_VISIT_CLEAR)
		{
			hdr->occupied[lane / 64] &= ~bit;
			if (moved)
			{
				MovedBitmap(hdr)[lane / 64] &= ~bit;
				hdr->moved--;
			}
			hdr->used--;
			cleared++;
		}
		else
		{
			MovedBitmap(hdr)[lane / 64] |= bit;
			hdr->moved++;
			hdr->moved_xid = ReadNextTransactionId();
		}
		changed++;
	}
	VectorReaderEnd(&reader);
	if (table)
	{
		AlexEndTableReader(table);
		pfree(row_vector);
	}

	if (state != NULL)
	{
		AlexLeafHead head = AlexPageGetLeafHead(GenericXLogRegisterBuffer(state, head_buf, 0));

		HeadUsed(head)[page_index] = hdr->used;
		head->entries -= cleared;
		GenericXLogFinish(state);
	}
	UnlockReleaseBuffer(buf);
	return changed;
}

/*
 * The scan's first pass over a data page (pinned by the caller, who
 * releases it): the codes of every occupied lane (moved ones too: a scan
 * may hold the routing from before the move), a bitmap word of lanes at a
 * time.
 * Returns a copy, in the current context, of the page's vector page list,
 * for AlexReadLaneVector later.
 */
BlockNumber *
AlexVisitCodes(Relation index, Buffer buf, const AlexIndexInfo *info,
			   AlexCodeVisitor visitor, void *arg)
{
	BlockNumber blkno = BufferGetBlockNumber(buf);
	AlexLeafDataHeader *hdr;
	BlockNumber *vector_pages;
	AlexLaneCodes codes;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	AlexCheckPage(index, BufferGetPage(buf), blkno, ALEX_PAGE_LEAF_DATA);
	hdr = AlexPageGetLeafData(BufferGetPage(buf));
	AlexCheckDataGeometry(index, hdr, blkno, info);

	/* every occupied lane's memory on its way first, then the codes */
	for (int w = 0; w < BitmapWords(hdr->lanes); w++)
	{
		uint64		bits = hdr->occupied[w];

		while (bits)
		{
			char	   *ptr = LaneAt(hdr, w * 64 + pg_rightmost_one_pos64(bits));

			for (int off = 0; off < hdr->lane_size; off += 64)
				__builtin_prefetch(ptr + off);
			bits &= bits - 1;
		}
	}
	StaticAssertStmt(ALEX_CODE_BATCH == 64, "a batch is a bitmap word");
	for (int w = 0; w < BitmapWords(hdr->lanes); w++)
	{
		uint64		bits = hdr->occupied[w];

		codes.n = 0;
		while (bits)
		{
			int			lane = w * 64 + pg_rightmost_one_pos64(bits);
			char	   *ptr = LaneAt(hdr, lane);

			bits &= bits - 1;
			codes.lanes[codes.n] = lane;
			codes.tids[codes.n] = (ItemPointer) ptr;
			codes.payloads[codes.n] = ptr + MAXALIGN(sizeof(ItemPointerData));
			codes.n++;
		}
		if (codes.n > 0)
			visitor(&codes, arg);
	}
	vector_pages = palloc(sizeof(BlockNumber) * Max(hdr->vector_slots, 1));
	memcpy(vector_pages, AlexVectorPageList(hdr), sizeof(BlockNumber) * hdr->vector_slots);
	LockBuffer(buf, BUFFER_LOCK_UNLOCK);
	return vector_pages;
}

/* Most vector pages one vector spans */
int
AlexVectorSpan(int dimensions)
{
	return (int) ((VectorBytes(dimensions) + ALEX_VECTOR_PAGE_BYTES - 1) /
				  ALEX_VECTOR_PAGE_BYTES) + 1;
}

/*
 * Pin the vector page(s) of a lane, from the vector page list that
 * AlexVisitCodes returned, and start its bytes on their way to the CPU
 * cache, so that several candidates' vectors load at once.  bufs has room
 * for AlexVectorSpan(dimensions); returns how many were pinned.
 *
 * The data page is not locked: the lane may have been cleared and reused
 * since, but only for an entry vacuum removed, whose heap TID no MVCC
 * snapshot that saw the lane can see (see ai/DECISIONS.md); the pages
 * themselves stay vector pages of that data page while a snapshot that saw
 * the leaf lives.
 */
int
AlexPinLaneVector(Relation index, BlockNumber data_blkno, const BlockNumber *vector_pages,
				  int lane, int dimensions, Buffer *bufs)
{
	LaneSpan	span = LaneSpanOf(lane, dimensions);
	int			n = 0;

	for (int slot = span.first; slot <= span.last; slot++)
	{
		Size		page_offset;
		Size		vector_offset;
		Size		len;
		char	   *piece;

		SpanPiece(&span, slot, &page_offset, &vector_offset, &len);
		bufs[n] = AlexReadBuffer(index, OccupiedSlotBlock(index, data_blkno, vector_pages, slot));
		piece = PageGetContents(BufferGetPage(bufs[n])) + page_offset;
		__builtin_prefetch(BufferGetPage(bufs[n]));
		__builtin_prefetch(BufferGetPage(bufs[n]) + BLCKSZ - 64);	/* its kind */
		for (Size off = 0; off < len; off += 64)
			__builtin_prefetch(piece + off);
		n++;
	}
	return n;
}

/*
 * Copy the vector of a lane into out from the pages AlexPinLaneVector
 * pinned (bufs), and release them.
 */
void
AlexReadLaneVector(Relation index, BlockNumber data_blkno, const Buffer *bufs,
				   int lane, int dimensions, float *out)
{
	LaneSpan	span = LaneSpanOf(lane, dimensions);
	int			n = 0;

	for (int slot = span.first; slot <= span.last; slot++)
	{
		Size		page_offset;
		Size		vector_offset;
		Size		len;
		Buffer		buf = bufs[n++];

		SpanPiece(&span, slot, &page_offset, &vector_offset, &len);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		AlexCheckVectorPage(index, BufferGetPage(buf), BufferGetBlockNumber(buf), data_blkno);
		memcpy((char *) out + vector_offset, PageGetContents(BufferGetPage(buf)) + page_offset,
			   len);
		UnlockReleaseBuffer(buf);
	}
}

/*
 * Do a data page's bitmaps agree with its counts (moved lanes occupied)?
 */
bool
AlexDataPageBitsConsistent(AlexLeafDataHeader *hdr)
{
	int			occupied = 0;
	int			moved = 0;

	for (int w = 0; w < BitmapWords(hdr->lanes); w++)
	{
		occupied += pg_popcount64(hdr->occupied[w]);
		moved += pg_popcount64(MovedBitmap(hdr)[w]);
		if (MovedBitmap(hdr)[w] & ~hdr->occupied[w])
			return false;
	}
	return occupied == hdr->used && moved == hdr->moved;
}

/*
 * Clear the moved lanes of a data page once no snapshot can still need
 * them (they moved before every running transaction began).  The caller
 * holds the head exclusively.  Returns the number of lanes cleared.
 */
int
AlexPurgeMovedLanes(Relation index, Buffer head_buf, int page_index, BlockNumber blkno)
{
	Buffer		buf = ReadBuffer(index, blkno);
	Page		page;
	AlexLeafDataHeader *hdr;
	GenericXLogState *state;
	AlexLeafHead head;
	int			cleared = 0;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);
	AlexCheckPage(index, page, blkno, ALEX_PAGE_LEAF_DATA);
	hdr = AlexPageGetLeafData(page);
	if (hdr->moved == 0 || !GlobalVisCheckRemovableXid(NULL, hdr->moved_xid))
	{
		UnlockReleaseBuffer(buf);
		return 0;
	}

	state = GenericXLogStart(index);
	hdr = AlexPageGetLeafData(GenericXLogRegisterBuffer(state, buf, 0));
	for (int w = 0; w < BitmapWords(hdr->lanes); w++)
	{
		uint64		moved = MovedBitmap(hdr)[w];

		cleared += pg_popcount64(moved);
		hdr->occupied[w] &= ~moved;
		MovedBitmap(hdr)[w] = 0;
	}
	hdr->used -= cleared;
	hdr->moved = 0;
	head = AlexPageGetLeafHead(GenericXLogRegisterBuffer(state, head_buf, 0));
	HeadUsed(head)[page_index] = hdr->used;
	head->entries -= cleared;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	return cleared;
}

#define ALEX_DIRECTION_SAMPLE 128

/* out = (float) (x - mean), in double, two elements at a time */
static void
SubtractMean(const float *x, const double *mean, int dimensions, float *out)
{
	int			d = 0;

	for (; d + 2 <= dimensions; d += 2)
	{
		AlexDouble2	v = {x[d], x[d + 1]};
		AlexDouble2	m;

		memcpy(&m, mean + d, sizeof(m));
		v -= m;
		out[d] = (float) v[0];
		out[d + 1] = (float) v[1];
	}
	for (; d < dimensions; d++)
		out[d] = (float) (x[d] - mean[d]);
}

/*
 * out = sum of weight[s] * row s of rows (n rows of dimensions floats):
 * X^T y without a transposed copy of X.  Each element sums its rows in row
 * order, so every CPU gets the same bits.
 */
static void
RowCombination(const float *rows, int n, int dimensions, const float *weight, float *out)
{
	int			d = 0;

	for (; d + 8 <= dimensions; d += 8)
	{
		AlexFloat4	low = {0};
		AlexFloat4	high = {0};

		for (int s = 0; s < n; s++)
		{
			const float *x = rows + (Size) s * dimensions + d;
			AlexFloat4	a;
			AlexFloat4	b;

			memcpy(&a, x, sizeof(a));
			memcpy(&b, x + 4, sizeof(b));
			low += weight[s] * a;
			high += weight[s] * b;
		}
		memcpy(out + d, &low, sizeof(low));
		memcpy(out + d + 4, &high, sizeof(high));
	}
	for (; d < dimensions; d++)
	{
		float		sum = 0;

		for (int s = 0; s < n; s++)
			sum += weight[s] * rows[(Size) s * dimensions + d];
		out[d] = sum;
	}
}

/*
 * Principal direction of a set of vectors (a few power iterations on the
 * centred set, deterministic start), and the least-squares linear model
 * from the key to a page index in [0, npages).  Each iteration is
 * y = X v over the sampled members (the block dot kernel), then w = X^T y
 * as a sum of rows, each element summed in row order (no transposed copy:
 * writing one cost more than the iterations).
 */
void
AlexFitDirection(const float *vectors, int n, int dimensions,
				 float *direction, float *slope, float *intercept, int npages)
{
	AlexCentroidSums *sums;
	double	   *mean;
	float	   *centred;
	float	   *projections;
	float	   *w;
	float	   *keys;
	double		sk = 0,
				sr = 0,
				skk = 0,
				skr = 0;
	int			step;
	int			used = 0;

	*slope = 0;
	*intercept = 0;
	for (int d = 0; d < dimensions; d++)
		direction[d] = (d == 0) ? 1.0f : 0.0f;
	if (n < 2)
		return;

	/* the direction from at most ALEX_DIRECTION_SAMPLE evenly spaced members */
	step = Max(1, n / ALEX_DIRECTION_SAMPLE);
	used = (n + step - 1) / step;
	sums = AlexBeginCentroidSums(1, dimensions);
	centred = palloc(sizeof(float) * used * dimensions);
	projections = palloc(sizeof(float) * used);
	w = palloc(sizeof(float) * dimensions);
	for (int i = 0; i < n; i += step)
		AlexAddToCentroidSums(sums, vectors + (Size) i * dimensions, 1, NULL);
	mean = sums->sums;
	for (int d = 0; d < dimensions; d++)
		mean[d] /= used;
	for (int s = 0; s < used; s++)
		SubtractMean(vectors + (Size) s * step * dimensions, mean, dimensions,
					 centred + (Size) s * dimensions);
	for (int d = 0; d < dimensions; d++)
		direction[d] = (float) (1.0 / sqrt((double) dimensions) * ((d % 2) ? 1 : -1) + 1e-3 * d);

	for (int iter = 0; iter < 8; iter++)
	{
		double		norm;

		distance_kernels->dot_block(centred, used, direction, 1, dimensions, projections);
		RowCombination(centred, used, dimensions, projections, w);
		norm = sqrt(VectorInnerProduct(w, w, dimensions));
		if (!(norm > 0))
		{
			for (int d = 0; d < dimensions; d++)
				direction[d] = (d == 0) ? 1.0f : 0.0f;
			goto done;
		}
		for (int d = 0; d < dimensions; d++)
			direction[d] = (float) (w[d] / norm);
	}

	/* rank of each key, scaled to pages, regressed on the key */
	keys = palloc(sizeof(float) * n);
	distance_kernels->dot_block(vectors, n, direction, 1, dimensions, keys);
	qsort(keys, n, sizeof(float), AlexFloatCompare);
	for (int i = 0; i < n; i++)
	{
		double		rank = (i + 0.5) * npages / n;

		sk += keys[i];
		sr += rank;
		skk += (double) keys[i] * keys[i];
		skr += keys[i] * rank;
	}
	if (n * skk - sk * sk > 0)
	{
		*slope = (float) ((n * skr - sk * sr) / (n * skk - sk * sk));
		*intercept = (float) ((sr - *slope * sk) / n);
	}
	pfree(keys);

done:
	AlexEndCentroidSums(sums);
	pfree(centred);
	pfree(projections);
	pfree(w);
}

int
AlexFloatCompare(const void *a, const void *b)
{
	float		fa = *(const float *) a;
	float		fb = *(const float *) b;

	return (fa > fb) - (fa < fb);
}

/*
 * Entries of the leaves the routing reaches (leaves an aborted split left
 * unrouted do not count), less the lanes a split moved elsewhere, which
 * count where they live now.  Also their lane capacity, if asked.
 */
uint64
AlexCountEntries(Relation index, AlexIndexInfo *info, uint64 *capacity, int *leaves)
{
	AlexRouting *routing = AlexGetRouting(index, info);
	int			n = routing->nroutes;
	BlockNumber *heads = palloc(sizeof(BlockNumber) * Max(n, 1));
	uint64		entries = 0;

	if (capacity)
		*capacity = 0;
	if (leaves)
		*leaves = n;
	/* copy: reading pages below may reload the routing cache */
	for (int i = 0; i < n; i++)
		heads[i] = routing->routes[i].leaf;

	for (int i = 0; i < n; i++)
	{
		Buffer		buf = ReadBuffer(index, heads[i]);
		AlexLeafHead head;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		AlexCheckLeafHead(index, BufferGetPage(buf), heads[i], info->dimensions);
		head = AlexPageGetLeafHead(BufferGetPage(buf));
		entries += head->entries;
		if (capacity)
			*capacity += head->capacity;
		for (int p = 0; p < head->npages; p++)
		{
			Buffer		data_buf = ReadBuffer(index, head->pages[p]);

			LockBuffer(data_buf, BUFFER_LOCK_SHARE);
			AlexCheckPage(index, BufferGetPage(data_buf), head->pages[p], ALEX_PAGE_LEAF_DATA);
			entries -= AlexPageGetLeafData(BufferGetPage(data_buf))->moved;
			UnlockReleaseBuffer(data_buf);
		}
		UnlockReleaseBuffer(buf);
	}
	pfree(heads);
	return entries;
}
