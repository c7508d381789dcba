# shellcheck shell=bash
# Shared helpers for scripts/test.sh and scripts/quickstart.sh.
# Source it; it defines functions and variables and runs nothing else.

# Repository root, whatever the caller's cwd.
OMENDB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The extension targets PostgreSQL 15 as packaged by Debian 12.
PG_BINDIR=/usr/lib/postgresql/15/bin
PG_CONFIG="$PG_BINDIR/pg_config"

# Everything needed to build the extension and run its test suites.
# shellcheck disable=SC2034 # used by the scripts that source this file
BASE_PACKAGES=(
	postgresql-15
	postgresql-server-dev-15
	postgresql-client-15
	libipc-run-perl
	make
	gcc
)

log() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Like `dpkg -s`, but true only if fully installed: a removed package keeps a
# status entry ("deinstall ok config-files") that dpkg -s still reports.
pkg_installed() {
	case "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" in
	*" ok installed") return 0 ;;
	*) return 1 ;;
	esac
}

# ensure_packages PKG...: apt-get install whatever is missing (root only).
ensure_packages() {
	local missing=() p
	for p in "$@"; do
		pkg_installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if ! is_root; then
		# Not our business to escalate for apt; the build below tells if it matters.
		warn "missing Debian packages: ${missing[*]}"
		warn "install them as root: apt-get install ${missing[*]}"
		return 0
	fi
	log "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# pg_make ARGS...: make in the repository against PostgreSQL 15's PGXS.
pg_make() {
	make -C "$OMENDB_ROOT" PG_CONFIG="$PG_CONFIG" "$@"
}

# Clean build with warnings as errors, then install into PostgreSQL 15.
build_and_install() {
	[ -x "$PG_CONFIG" ] || die "$PG_CONFIG not found (is postgresql-server-dev-15 installed?)"
	log "building omendb (WERROR=1)"
	pg_make clean
	pg_make -j"$(nproc 2>/dev/null || echo 2)" WERROR=1

	log "installing omendb into $("$PG_CONFIG" --pkglibdir)"
	if is_root || { [ -w "$("$PG_CONFIG" --pkglibdir)" ] &&
		[ -w "$("$PG_CONFIG" --sharedir)/extension" ]; }; then
		pg_make WERROR=1 install
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo -n make -C "$OMENDB_ROOT" PG_CONFIG="$PG_CONFIG" WERROR=1 install
	else
		die "installing needs root: run this script as root, or allow passwordless sudo"
	fi
}

# port_in_use PORT: true if something accepts TCP connections on PORT locally.
# Reads the kernel's socket tables so that neither ss nor netstat is required.
port_in_use() {
	local hex f tables=()
	hex=$(printf ':%04X' "$1")
	for f in /proc/net/tcp /proc/net/tcp6; do
		[ -r "$f" ] && tables+=("$f")
	done
	# column 2 is local_address (hex ip:port), column 4 the state; 0A = LISTEN
	if [ ${#tables[@]} -gt 0 ] &&
		awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { found = 1 }
			END { exit !found }' "${tables[@]}"; then
		return 0
	fi
	# Fallback and double check: try to connect with bash's /dev/tcp.
	# shellcheck disable=SC2016 # $1 belongs to the inner shell
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}
