#!/usr/bin/env bash
# The project's test command: bash scripts/test.sh
#
# Installs missing Debian packages (as root), builds omendb with warnings as
# errors, installs it into PostgreSQL 15, starts a throwaway cluster as an
# unprivileged user and runs, against it:
#   - the pg_regress suite (test/sql/*.sql, expected output in expected/),
#   - the TAP suite (test/t/*.pl, PostgreSQL::Test::Cluster), if any,
#   - client tests (executable test/client/*.sh and *.py), if any.
#
# What counts as one test in the final "N passed, N failed" line:
#   pg_regress: one SQL script; TAP: one assertion (ok / not ok), plus one
#   failure for a file that dies or breaks its plan without a failed assertion;
#   client: one script (exit status 0 = pass).
# A step that fails without reporting any test (e.g. CREATE EXTENSION fails,
# the build breaks) counts as one failure. The summary line is always the last
# line of output; exit status is 0 only if nothing failed and something ran.
#
# Environment: OMENDB_KEEP_TMP=1 keeps the temp dir (cluster, copy, logs).
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

TEST_USER=omendb_test # OS user that owns the throwaway cluster (initdb refuses root)
WORK=""               # temp dir: data/, src/ (repo copy), logs
PORT=""
PASSED=0
FAILED=0
REPORTED=0

# as_tester CMD...: run CMD as the unprivileged test user, inside the temp dir,
# with the throwaway cluster in its libpq environment.
as_tester() {
	local env=(PATH="$PG_BINDIR:$PATH")
	[ -n "$PORT" ] && env+=(PGHOST="$WORK" PGPORT="$PORT")
	if is_root; then
		(cd "$WORK" && runuser -u "$TEST_USER" -- env "${env[@]}" "$@")
	else
		(cd "$WORK" && env "${env[@]}" "$@")
	fi
}

# The summary must be the very last line, whatever happened before.
report() {
	[ "$REPORTED" -eq 1 ] && return 0
	REPORTED=1
	echo "$PASSED passed, $FAILED failed"
}

on_exit() {
	local status=$?
	trap - EXIT INT TERM
	stop_clusters >/dev/null 2>&1 || true
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		[ "${OMENDB_KEEP_TMP:-0}" = 1 ] || rm -rf "$WORK"
	fi
	if [ "$REPORTED" -eq 0 ]; then
		# Died before the end (build error, interrupt, ...): still a failure.
		[ "$status" -ne 0 ] && [ "$FAILED" -eq 0 ] && FAILED=1
		report
	fi
	[ "$status" -eq 0 ] && [ "$FAILED" -ne 0 ] && status=1
	exit "$status"
}

# Stop every postmaster running from the temp dir: ours and any TAP nodes that
# a killed prove left behind. Immediate mode: the data is thrown away anyway.
stop_clusters() {
	[ -n "$WORK" ] && [ -d "$WORK" ] || return 0
	local pidfile
	while IFS= read -r pidfile; do
		as_tester "$PG_BINDIR/pg_ctl" -D "$(dirname "$pidfile")" -m immediate -w stop || true
	done < <(find "$WORK" -name postmaster.pid 2>/dev/null)
}

ensure_test_user() {
	is_root || return 0
	id -u "$TEST_USER" >/dev/null 2>&1 && return 0
	log "creating system user $TEST_USER"
	useradd --system --create-home --shell /usr/sbin/nologin "$TEST_USER"
}

# Copy the repo (not .git) into the temp dir: pg_regress and the TAP harness
# write results/, tmp_check/ and log/ there, never into the checkout.
prepare_workdir() {
	WORK=$(mktemp -d /tmp/omendb-test.XXXXXX)
	mkdir "$WORK/src"
	tar -C "$OMENDB_ROOT" --exclude=./.git -cf - . | tar -C "$WORK/src" -xf -
	if is_root; then
		chown -R "$TEST_USER:" "$WORK"
	fi
	chmod 0755 "$WORK"
	[ "${OMENDB_KEEP_TMP:-0}" = 1 ] && log "OMENDB_KEEP_TMP=1: keeping $WORK"
	return 0
}

# First free port from a random start in 20000..60000.
pick_port() {
	local start=$((20000 + RANDOM % 40000)) i p
	for i in $(seq 0 199); do
		p=$((20000 + (start - 20000 + i) % 40001))
		if ! port_in_use "$p" && [ ! -e "$WORK/.s.PGSQL.$p" ]; then
			PORT=$p
			return 0
		fi
	done
	die "no free port found in 20000-60000"
}

start_cluster() {
	log "initdb in $WORK/data"
	as_tester "$PG_BINDIR/initdb" -D "$WORK/data" -A trust --no-sync -E UTF8 --locale=C \
		>"$WORK/initdb.log" 2>&1 || {
		cat "$WORK/initdb.log"
		die "initdb failed"
	}
	pick_port
	log "starting throwaway cluster on port $PORT (socket in $WORK, no TCP)"
	as_tester "$PG_BINDIR/pg_ctl" -D "$WORK/data" -l "$WORK/postgresql.log" -w -t 120 \
		-o "-p $PORT -k $WORK -c listen_addresses='' -c fsync=off" start >/dev/null || {
		cat "$WORK/postgresql.log"
		die "could not start the throwaway cluster"
	}
}

# pg_regress through the Makefile's REGRESS/REGRESS_OPTS; TAP_TESTS= turns the
# prove step off (it runs separately below).
run_regress() {
	if ! compgen -G "$WORK/src/test/sql/*.sql" >/dev/null; then
		log "pg_regress: no test/sql/*.sql, skipped"
		return 0
	fi
	log "pg_regress"
	local out="$WORK/regress.out" rc=0 ok bad
	as_tester make -C "$WORK/src" PG_CONFIG="$PG_CONFIG" installcheck TAP_TESTS= 2>&1 |
		tee "$out" || rc=$?
	# PG 15 prints one line per test: "test name ... ok   12 ms" or "... FAILED".
	# A failure pg_regress was told to ignore does not fail the run, so it passes.
	ok=$(grep -cE '\.\.\. +(ok|failed \(ignored\))( |$)' "$out" || true)
	bad=$(grep -cE '\.\.\. +FAILED( |$)' "$out" || true)
	# No closing "All N tests passed." / "M of N tests failed.": pg_regress
	# stopped early (setup error, missing expected file, ...), one more failure.
	if [ "$rc" -ne 0 ] && ! grep -qE 'All [0-9]+ tests? passed|[0-9]+ of [0-9]+ tests? failed' "$out"; then
		echo "pg_regress did not complete"
		bad=$((bad + 1))
	fi
	PASSED=$((PASSED + ok))
	FAILED=$((FAILED + bad))
	if [ "$rc" -ne 0 ] && [ -f "$WORK/src/regression.diffs" ]; then
		echo "---- regression.diffs (first 200 lines) ----"
		head -n 200 "$WORK/src/regression.diffs"
		echo "---- end of regression.diffs ----"
	fi
}

# TAP tests through the Makefile too (PGXS sets PATH, PG_REGRESS, TESTDIR and
# -I for PostgreSQL::Test::Cluster); REGRESS= skips pg_regress this time.
run_tap() {
	if ! compgen -G "$WORK/src/test/t/*.pl" >/dev/null; then
		log "TAP: no test/t/*.pl, skipped"
		return 0
	fi
	log "TAP tests"
	local out="$WORK/tap.out" rc=0 counts total bad
	as_tester make -C "$WORK/src" PG_CONFIG="$PG_CONFIG" installcheck REGRESS= 2>&1 |
		tee "$out" || rc=$?
	# prove's tail: "Files=N, Tests=M, ..." and, on failure, a summary with one
	# "t/x.pl (Wstat: W (exited E) Tests: T Failed: F)" line per bad file, then indented
	# details such as "  Parse errors: Bad plan ...".
	counts=$(awk '
		function close_file() {
			if (infile && f == 0 && (w != 0 || perr)) extra++
			infile = 0
		}
		/^Files=[0-9]+, Tests=[0-9]+/ {
			close_file()
			split($2, a, "="); total = a[2] + 0
			next
		}
		/\(Wstat: [0-9]+.* Tests: [0-9]+ Failed: [0-9]+\)/ {
			close_file()
			match($0, /Wstat: [0-9]+/); w = substr($0, RSTART + 7, RLENGTH - 7) + 0
			match($0, /Failed: [0-9]+/); f = substr($0, RSTART + 8, RLENGTH - 8) + 0
			failed += f; infile = 1; perr = 0
			next
		}
		infile && /^  Parse errors:/ { perr = 1 }
		END { close_file(); print total + 0, failed + 0, extra + 0 }
	' "$out")
	read -r total bad extra <<<"$counts"
	PASSED=$((PASSED + total - bad))
	bad=$((bad + extra))
	if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
		bad=1 # prove or make failed without naming a failed test
	fi
	FAILED=$((FAILED + bad))
}

# Executable test/client/*.sh and *.py, run as the test user with PGHOST,
# PGPORT and PGDATABASE (an empty database omendb_client) set.
run_client_tests() {
	local dir="$WORK/src/test/client" t name rc
	local tests=()
	if [ -d "$dir" ]; then
		for t in "$dir"/*.sh "$dir"/*.py; do
			if [ -f "$t" ] && [ -x "$t" ]; then
				tests+=("$t")
			fi
		done
	fi
	if [ ${#tests[@]} -eq 0 ]; then
		log "client tests: none in test/client, skipped"
		return 0
	fi
	log "client tests"
	as_tester "$PG_BINDIR/createdb" omendb_client >/dev/null
	for t in "${tests[@]}"; do
		name=${t#"$WORK/src/"}
		rc=0
		as_tester env PGDATABASE=omendb_client "$t" || rc=$?
		if [ "$rc" -eq 0 ]; then
			echo "client $name ... ok"
			PASSED=$((PASSED + 1))
		else
			echo "client $name ... FAILED (exit $rc)"
			FAILED=$((FAILED + 1))
		fi
	done
}

main() {
	trap on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	ensure_packages "${BASE_PACKAGES[@]}" # as non-root: only warns
	build_and_install
	ensure_test_user
	prepare_workdir
	start_cluster

	run_regress
	run_tap
	run_client_tests

	if [ $((PASSED + FAILED)) -eq 0 ]; then
		echo "no tests ran"
		report
		exit 1
	fi
	report
	[ "$FAILED" -eq 0 ]
}

main "$@"
