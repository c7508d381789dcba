#!/usr/bin/env bash
# The index's own PRNG (include/alexrandom.h) draws the same streams as
# PostgreSQL's pg_prng, which built indexes before it: compile test/client/prng_check.c
# against the server's frontend libpgcommon and run it.  PostgreSQL 13 and 14 have
# no pg_prng to compare with, and nothing was built with it there.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pg_config=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
version=$("$pg_config" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
if [ "$version" -lt 15 ]; then
	echo "PostgreSQL $version has no pg_prng: nothing to compare"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the static frontend libraries: in --libdir from source, in --pkglibdir on Debian
libdir=$("$pg_config" --libdir)
[ -f "$libdir/libpgcommon.a" ] || libdir=$("$pg_config" --pkglibdir)
cc -O1 -Wall -Werror -I "$here/../../include" -I "$("$pg_config" --includedir-server)" \
	-o "$tmp/prng_check" "$here/prng_check.c" "$libdir/libpgcommon.a" "$libdir/libpgport.a" -lm
"$tmp/prng_check"
