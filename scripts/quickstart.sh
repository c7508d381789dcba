#!/usr/bin/env bash
# Quickstart: bash scripts/quickstart.sh
#
# Installs what is missing (as root), builds and installs omendb, then runs a
# persistent PostgreSQL 15 cluster on port 5433 with database `omendb` holding
# fashion-mnist: 60,000 training images in fashion_mnist and 10,000 test images
# in fashion_mnist_queries, and finishes with a nearest-neighbour query.
#
#   as root:  data in /var/lib/omendb/quickstart, run by the `postgres` OS user,
#             SQL superuser postgres
#   as user:  data in ~/.omendb/quickstart, run by you, SQL superuser = you
#
# Safe to run again: an existing cluster is reused (started if stopped), never
# re-initialized; tables are only loaded while empty.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PORT=5433
SOCKET_DIR=/tmp
PYTHON=/usr/bin/python3
LOADER="$OMENDB_ROOT/scripts/fashion_mnist.py"

if is_root; then
	OWNER=postgres # OS user running the server; created by the postgresql package
	BASE=/var/lib/omendb
else
	OWNER=$(id -un)
	BASE="$HOME/.omendb"
fi
DB_USER=$OWNER # initdb names the bootstrap superuser after the OS user
PGDATA="$BASE/quickstart"
LOGFILE="$BASE/quickstart.log"

# as_owner CMD...: run CMD as the cluster's OS user, from a directory it can
# read (initdb and pg_ctl complain about an unreadable cwd such as /root).
as_owner() {
	if is_root; then
		(cd / && runuser -u "$OWNER" -- "$@")
	else
		"$@"
	fi
}

# sql DB ARGS...: psql on the quickstart cluster, stopping at the first error.
sql() {
	local db=$1
	shift
	PGOPTIONS="-c client_min_messages=warning" "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PORT" -U "$DB_USER" -d "$db" "$@"
}

# sql_value DB QUERY: the single value QUERY returns, unadorned.
sql_value() {
	sql "$1" -At -c "$2"
}

cluster_running() {
	as_owner "$PG_BINDIR/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1
}

init_cluster() {
	log "creating cluster in $PGDATA"
	if is_root; then
		id -u "$OWNER" >/dev/null 2>&1 || die "OS user $OWNER missing (it comes with postgresql-common)"
		install -d -o "$OWNER" -g "$OWNER" -m 0755 "$BASE"
	else
		mkdir -p "$BASE"
	fi
	# Trust authentication: the server listens on localhost and /tmp only.
	as_owner "$PG_BINDIR/initdb" -D "$PGDATA" -A trust -E UTF8 --locale=C >/dev/null
	# Settings live in the config file so that every later start reuses them.
	as_owner tee -a "$PGDATA/postgresql.conf" >/dev/null <<-EOF

		# added by omendb scripts/quickstart.sh
		port = $PORT
		listen_addresses = 'localhost'
		unix_socket_directories = '$SOCKET_DIR'
	EOF
}

start_cluster() {
	if port_in_use "$PORT"; then
		die "port $PORT is taken by another server; stop it first (this cluster: $PGDATA)"
	fi
	log "starting cluster (log: $LOGFILE)"
	as_owner "$PG_BINDIR/pg_ctl" -D "$PGDATA" -l "$LOGFILE" -w -t 120 start >/dev/null || {
		tail -n 30 "$LOGFILE" >&2 || true
		die "could not start the cluster in $PGDATA"
	}
}

# Reuse what exists; initdb only into a missing or empty directory.
ensure_cluster() {
	if [ -f "$PGDATA/PG_VERSION" ]; then
		local version
		version=$(cat "$PGDATA/PG_VERSION")
		[ "$version" = 15 ] || die "$PGDATA holds a PostgreSQL $version cluster, not 15"
	elif [ -d "$PGDATA" ] && [ -n "$(ls -A "$PGDATA")" ]; then
		die "$PGDATA exists but is not a PostgreSQL data directory; not touching it"
	else
		init_cluster
	fi
	if cluster_running; then
		log "cluster in $PGDATA is already running"
	else
		start_cluster
	fi
}

ensure_database() {
	if [ -z "$(sql_value postgres "SELECT 1 FROM pg_database WHERE datname = 'omendb'")" ]; then
		log "creating database omendb"
		sql postgres -c "CREATE DATABASE omendb"
	fi
	sql omendb -c "CREATE EXTENSION IF NOT EXISTS omendb"
	# a database from an earlier run moves to the installed version
	sql omendb -c "ALTER EXTENSION omendb UPDATE"
	update_extension
	sql omendb <<-'EOF'
		CREATE TABLE IF NOT EXISTS fashion_mnist (
		    id int PRIMARY KEY,
		    label int,
		    embedding vector(784)
		);
		CREATE TABLE IF NOT EXISTS fashion_mnist_queries (
		    id int PRIMARY KEY,
		    label int,
		    embedding vector(784)
		);
	EOF
}

# A newer installed version than the database's: move to it if an update
# script allows, else go on with the old one.
update_extension() {
	local have want
	have=$(sql_value omendb "SELECT extversion FROM pg_extension WHERE extname = 'omendb'")
	want=$(sql_value omendb "SELECT default_version FROM pg_available_extensions WHERE name = 'omendb'")
	[ "$have" = "$want" ] && return 0
	log "updating extension omendb from $have to $want"
	sql omendb -c "ALTER EXTENSION omendb UPDATE" ||
		warn "no update path from omendb $have to $want; keeping $have"
}

# load_split TABLE train|test: COPY the split into TABLE unless it has rows.
# COPY is one transaction, so an interrupted load leaves the table empty.
load_split() {
	local table=$1 split=$2 rows start
	rows=$(sql_value omendb "SELECT count(*) FROM $table")
	if [ "$rows" -gt 0 ]; then
		log "$table already holds $rows rows, not loading"
		return 0
	fi
	log "loading fashion-mnist $split images into $table"
	start=$SECONDS
	"$PYTHON" "$LOADER" "$split" |
		sql omendb -c "COPY $table (id, label, embedding) FROM STDIN"
	rows=$(sql_value omendb "SELECT count(*) FROM $table")
	log "$table: $rows rows in $((SECONDS - start)) s"
}

# ---------------------------------------------------------------------------
# build_index: THE place where the alex ANN index gets built (or rebuilt, when
# an older omendb built it).
build_index() {
	local start
	if [ -z "$(sql_value omendb "SELECT 1 FROM pg_am WHERE amname = 'alex'")" ]; then
		if grep -qi 'access method alex' "$("$PG_CONFIG" --sharedir)"/extension/omendb--*.sql 2>/dev/null; then
			# Same version number, newer script: CREATE EXTENSION IF NOT EXISTS
			# cannot add the new objects, and recreating it would drop the tables.
			log "the omendb extension in database omendb predates the alex index method;"
			log "to start over (drops the loaded data): psql -h $SOCKET_DIR -p $PORT -U $DB_USER -d postgres -c 'DROP DATABASE omendb'"
			log "then run this script again"
		else
			log "index method alex is not built yet: no index, queries scan the table"
		fi
		return 0
	fi
	if [ -n "$(sql_value omendb "SELECT to_regclass('fashion_mnist_embedding_alex')")" ]; then
		if sql omendb -c "SELECT alex_index_check('fashion_mnist_embedding_alex')" >/dev/null 2>&1; then
			log "alex index fashion_mnist_embedding_alex already exists"
		else
			# built by an older omendb whose on-disk format this one does not read
			log "rebuilding alex index fashion_mnist_embedding_alex in the current format"
			sql omendb -c "REINDEX INDEX fashion_mnist_embedding_alex"
		fi
		return 0
	fi
	log "building alex index on fashion_mnist"
	start=$SECONDS
	sql omendb -c "CREATE INDEX IF NOT EXISTS fashion_mnist_embedding_alex
		ON fashion_mnist USING alex (embedding vector_l2_ops)"
	log "alex index built in $((SECONDS - start)) s"
}
# ---------------------------------------------------------------------------

demo_query() {
	log "5 nearest training images to test image 0 (label $(sql_value omendb \
		"SELECT label FROM fashion_mnist_queries WHERE id = 0")), by L2 distance:"
	sql omendb <<-'EOF'
		SELECT id, label,
		       embedding <-> (SELECT embedding FROM fashion_mnist_queries WHERE id = 0) AS distance
		FROM fashion_mnist
		ORDER BY distance
		LIMIT 5;
	EOF
}

print_usage() {
	local stop
	if is_root; then
		stop="runuser -u $OWNER -- $PG_BINDIR/pg_ctl -D $PGDATA stop"
	else
		stop="$PG_BINDIR/pg_ctl -D $PGDATA stop"
	fi
	cat <<-EOF

		omendb quickstart is ready.
		  connect:  psql -h localhost -p $PORT -U $DB_USER omendb
		  stop:     $stop
		  start:    bash scripts/quickstart.sh   (reuses the data in $PGDATA)
		  log:      $LOGFILE
	EOF
}

main() {
	ensure_packages "${BASE_PACKAGES[@]}" dataset-fashion-mnist python3 # as non-root: only warns
	build_and_install
	ensure_cluster
	ensure_database
	load_split fashion_mnist train
	load_split fashion_mnist_queries test
	log "ANALYZE"
	sql omendb -c "ANALYZE fashion_mnist; ANALYZE fashion_mnist_queries"
	build_index
	demo_query
	print_usage
}

main "$@"
