#!/usr/bin/env bash
# The whole alex benchmark in one command, from a clean checkout on Debian 12:
#
#   bash bench/run.sh [options] [-- alex.py options]
#
# Installs missing Debian packages (as root), builds and installs omendb, starts a
# throwaway PostgreSQL 15 cluster in a temp dir on a free port, runs for each
# dataset bench/reference.py (hnswlib, faiss in-process) and then bench/alex.py
# (omendb alex, and pgvector when the server has the `vector` extension; this
# script never builds or downloads pgvector), redraws the plots, writes a Markdown
# report per dataset (bench/report.py), stops the cluster and prints where the
# CSVs, plots and reports are.  --help lists the options.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

PY=/usr/bin/python3 # Debian's python: psycopg, numpy, matplotlib, hnswlib, faiss
PACKAGES=(postgresql-15 postgresql-server-dev-15 build-essential python3-psycopg
	python3-numpy python3-matplotlib python3-hnswlib python3-faiss dataset-fashion-mnist)
# quick mode: the whole pipeline on small data, for smoke tests
QUICK_COMMON=(--rows 5000 --queries 100)
QUICK_REFERENCE=(--ef-search "10,40,120" --nprobe "1,3,10")
QUICK_ALEX=(--exact-queries 20 --insert-rows 500 --insert-batch 100 --batches 10
	--probes "1,3,10" --ef-search "10,40,120" --ivf-probes "1,3,10")

DATASETS=fashion-mnist,synthetic-1536
LARGE=0
QUICK=0
INSTALL=1
ROWS=""
QUERIES=""
OUT_DIR=""
WORK_PARENT=${TMPDIR:-/tmp}
SHARED_BUFFERS=4GB # both 1536-d tables and both indexes of the interleaved rounds
MAINTENANCE_WORK_MEM=1GB
MAX_WAL_SIZE=8GB
CHECKPOINT_TIMEOUT=30min
ALEX_EXTRA=()
WORK=""
PORT=""

usage() {
	cat <<EOF
usage: bash bench/run.sh [options] [-- alex.py options]

  --datasets A,B          datasets to run (default: $DATASETS)
  --large                 add synthetic-1m-128 (1,000,000 x 128; hours)
  --quick                 small rows, queries and sweeps: a smoke test of the
                          whole pipeline; results go to a temp dir, not the repo
  --rows N, --queries N   passed to reference.py and alex.py alike
  --no-install            no apt-get, no make / make install: use what is installed
  --out-dir DIR           CSVs, plots and reports go to DIR (default: CSVs to
                          bench/results, plots and reports to docs/benchmarks;
                          with --quick a new temp dir)
  --workdir DIR           where the temp dir of the cluster is made (default: $WORK_PARENT)
  --shared-buffers S      server setting (default: $SHARED_BUFFERS)
  --maintenance-work-mem S
                          server setting and alex.py's for every CREATE INDEX
                          (default: $MAINTENANCE_WORK_MEM)
  --max-wal-size S        server setting (default: $MAX_WAL_SIZE)
  --checkpoint-timeout S  server setting (default: $CHECKPOINT_TIMEOUT)
  -h, --help              this text

Everything after -- goes to every alex.py run (e.g. -- --no-pgvector --skip-growth).
EOF
}

parse_args() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--datasets | --rows | --queries | --out-dir | --workdir | --shared-buffers | \
			--maintenance-work-mem | --max-wal-size | --checkpoint-timeout)
			[ $# -ge 2 ] || die "$1 needs a value"
			;;
		esac
		case "$1" in
		--datasets) DATASETS=$2 && shift ;;
		--large) LARGE=1 ;;
		--quick) QUICK=1 ;;
		--rows) ROWS=$2 && shift ;;
		--queries) QUERIES=$2 && shift ;;
		--no-install) INSTALL=0 ;;
		--out-dir) OUT_DIR=$2 && shift ;;
		--workdir) WORK_PARENT=$2 && shift ;;
		--shared-buffers) SHARED_BUFFERS=$2 && shift ;;
		--maintenance-work-mem) MAINTENANCE_WORK_MEM=$2 && shift ;;
		--max-wal-size) MAX_WAL_SIZE=$2 && shift ;;
		--checkpoint-timeout) CHECKPOINT_TIMEOUT=$2 && shift ;;
		-h | --help) usage && exit 0 ;;
		--) shift && ALEX_EXTRA=("$@") && break ;;
		*) die "unknown option: $1 (see --help)" ;;
		esac
		shift
	done
	[ "$LARGE" -eq 1 ] && DATASETS="$DATASETS,synthetic-1m-128"
	if [ "$QUICK" -eq 1 ] && [ -z "$OUT_DIR" ]; then
		OUT_DIR=$(mktemp -d /tmp/omendb-bench-quick.XXXXXX)
	fi
	return 0
}

# as_owner CMD...: run CMD as the cluster's owner (postgres when we are root:
# initdb refuses root), from the temp dir so that it can read its cwd.
as_owner() {
	if is_root; then
		(cd "$WORK" && runuser -u postgres -- "$@")
	else
		(cd "$WORK" && "$@")
	fi
}

install_all() {
	ensure_packages "${PACKAGES[@]}"
	log "building and installing omendb"
	pg_make -j"$(nproc 2>/dev/null || echo 2)"
	is_root || die "make install needs root (or run with --no-install)"
	pg_make install
}

# First free TCP port from a random start in 20000..60000 (the server listens on
# its socket only, but a free number keeps it clear of any other cluster).
pick_port() {
	local p i
	for i in $(seq 0 199); do
		p=$((20000 + (RANDOM + i) % 40000))
		if ! port_in_use "$p"; then
			PORT=$p
			return 0
		fi
	done
	die "no free port found in 20000-60000"
}

start_cluster() {
	WORK=$(mktemp -d "$WORK_PARENT/omendb-bench.XXXXXX")
	chmod 0755 "$WORK"
	if is_root; then
		id -u postgres >/dev/null 2>&1 || die "no postgres user (is postgresql-15 installed?)"
		chown postgres: "$WORK"
	fi
	log "initdb in $WORK/data"
	as_owner "$PG_BINDIR/initdb" -D "$WORK/data" -U postgres -A trust --no-sync -E UTF8 \
		--locale=C >"$WORK/initdb.log" 2>&1 || {
		cat "$WORK/initdb.log"
		die "initdb failed"
	}
	pick_port
	log "starting the cluster on port $PORT (socket in $WORK): shared_buffers $SHARED_BUFFERS," \
		"maintenance_work_mem $MAINTENANCE_WORK_MEM, max_wal_size $MAX_WAL_SIZE," \
		"checkpoint_timeout $CHECKPOINT_TIMEOUT"
	as_owner "$PG_BINDIR/pg_ctl" -D "$WORK/data" -l "$WORK/postgresql.log" -w -t 300 \
		-o "-p $PORT -k $WORK -c listen_addresses='' -c shared_buffers=$SHARED_BUFFERS \
-c maintenance_work_mem=$MAINTENANCE_WORK_MEM -c max_wal_size=$MAX_WAL_SIZE \
-c checkpoint_timeout=$CHECKPOINT_TIMEOUT" start >/dev/null || {
		cat "$WORK/postgresql.log"
		die "could not start the cluster"
	}
	DSN="host=$WORK port=$PORT user=postgres"
}

stop_cluster() {
	[ -n "$WORK" ] && [ -d "$WORK" ] || return 0
	if [ -f "$WORK/data/postmaster.pid" ]; then
		as_owner "$PG_BINDIR/pg_ctl" -D "$WORK/data" -m fast -w stop >/dev/null || true
	fi
	rm -rf "$WORK"
}

on_exit() {
	local status=$?
	trap - EXIT INT TERM
	stop_cluster
	[ "$status" -ne 0 ] && warn "bench/run.sh failed (exit $status)"
	exit "$status"
}

available() {
	[ "$("$PG_BINDIR/psql" "$DSN" -Atc \
		"SELECT count(*) FROM pg_available_extensions WHERE name = '$1'")" = 1 ]
}

# csv_path KIND DATASET, plot_path / report_path DATASET: where the outputs of a
# dataset go.
results_dir() { echo "${OUT_DIR:-$OMENDB_ROOT/bench/results}"; }
csv_path() { echo "$(results_dir)/$1_${2//-/_}.csv"; }
plot_path() { echo "${OUT_DIR:-$OMENDB_ROOT/docs/benchmarks}/alex_${1//-/_}_recall_qps.png"; }
report_path() { echo "${OUT_DIR:-$OMENDB_ROOT/docs/benchmarks}/${1//-/_}_report.md"; }

run_dataset() {
	local ds=$1 common=() reference=() alex=()
	[ -n "$ROWS" ] && common+=(--rows "$ROWS")
	[ -n "$QUERIES" ] && common+=(--queries "$QUERIES")
	if [ "$QUICK" -eq 1 ]; then
		# --rows / --queries given on the command line come later and win
		common=("${QUICK_COMMON[@]}" "${common[@]}")
		reference=("${QUICK_REFERENCE[@]}")
		alex=("${QUICK_ALEX[@]}")
	fi
	log "$ds: in-process references (hnswlib, faiss)"
	"$PY" "$OMENDB_ROOT/bench/reference.py" --dataset "$ds" "${common[@]}" "${reference[@]}" \
		--out "$(csv_path reference "$ds")"
	log "$ds: bench/alex.py"
	"$PY" "$OMENDB_ROOT/bench/alex.py" --dsn "$DSN" --dataset "$ds" "${common[@]}" "${alex[@]}" \
		--maintenance-work-mem "$MAINTENANCE_WORK_MEM" --out "$(csv_path alex "$ds")" \
		--reference "$(csv_path reference "$ds")" --plot "$(plot_path "$ds")" \
		"${ALEX_EXTRA[@]}"
}

main() {
	parse_args "$@"
	trap on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	local ds datasets
	IFS=, read -r -a datasets <<<"$DATASETS"
	if [ "$INSTALL" -eq 1 ]; then
		install_all
	else
		log "--no-install: using the installed omendb and packages"
	fi
	start_cluster
	available omendb || die "the omendb extension is not installed in PostgreSQL 15"
	available vector || log "pgvector (vector) is not installed: omendb is measured alone"

	for ds in "${datasets[@]}"; do
		run_dataset "$ds"
	done
	stop_cluster
	log "redrawing the plots"
	for ds in "${datasets[@]}"; do
		"$PY" "$OMENDB_ROOT/bench/alex.py" --dataset "$ds" --plot-only \
			--out "$(csv_path alex "$ds")" --reference "$(csv_path reference "$ds")" \
			--plot "$(plot_path "$ds")"
	done
	log "writing the reports"
	for ds in "${datasets[@]}"; do
		"$PY" "$OMENDB_ROOT/bench/report.py" --dataset "$ds" --results-dir "$(results_dir)" \
			--out "$(report_path "$ds")"
	done

	log "results"
	for ds in "${datasets[@]}"; do
		echo "  $ds: $(csv_path alex "$ds")"
		echo "  $ds: $(csv_path reference "$ds")"
		echo "  $ds: $(plot_path "$ds")"
		echo "  $ds: $(report_path "$ds")"
	done
}

main "$@"
