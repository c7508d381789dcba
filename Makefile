# omendb: a pgvector-compatible vector type and the alex ANN index access method
EXTENSION = omendb
EXTVERSION = 0.2.0

MODULE_big = omendb
OBJS = \
	src/omendb.o \
	src/vector.o \
	src/vector_ops.o \
	src/vector_distance.o \
	src/bitvec.o \
	src/distance_kernels.o \
	src/distance_x86.o \
	src/alex.o \
	src/alexbuild.o \
	src/alexbulk.o \
	src/alexheap.o \
	src/alexinsert.o \
	src/alexleaf.o \
	src/alexassign.o \
	src/alexkmeans.o \
	src/alexrouting.o \
	src/alexscan.o \
	src/alexsplit.o \
	src/alexstats.o \
	src/alextoast.o \
	src/alexquant.o \
	src/alexutils.o \
	src/alexvacuum.o \
	src/alexvalidate.o

DATA = sql/omendb--$(EXTVERSION).sql sql/omendb--0.1.0--0.2.0.sql
HEADERS_omendb = include/vector.h include/distance.h

PG_CPPFLAGS = -I$(srcdir)/include
# Same floating-point results on every CPU: no contraction of a*b+c into an FMA
# except where the kernels ask for one explicitly.
PG_CFLAGS = -ffp-contract=off

# `make WERROR=1` (the test command) turns every warning into an error
ifdef WERROR
PG_CFLAGS += -Werror
endif

REGRESS = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test --load-extension=$(EXTENSION)

TAP_TESTS = 1
PROVE_TESTS ?= $(wildcard test/t/*.pl)

EXTRA_CLEAN = results regression.diffs regression.out tmp_check log

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
