#!/usr/bin/python3
"""Exact k-NN seq scan benchmark: omendb against pgvector on fashion-mnist.

Both extensions define a type named `vector`, so each lives in its own database
of the same cluster (bench_omendb, bench_pgvector). The same 60,000 x 784
fashion-mnist train vectors are loaded into both with COPY, no index is built,
and the prepared statement

    SELECT id FROM items ORDER BY embedding <op> $1 LIMIT 10

is timed over the first N test vectors, the two systems taking turns every few
queries so that machine drift hits both alike. Every result list is checked
against the other system and against an exact float64 answer computed here
with numpy (lists that differ only by tied distances are not mismatches).

Run with Debian's python (psycopg 3 and numpy): /usr/bin/python3 bench/seqscan.py
See bench/README.md for a throwaway cluster and for building pgvector.
"""

import argparse
import csv
import datetime
import os
import platform
import random
import statistics
import subprocess
import sys
import time

import numpy as np
import psycopg
from psycopg import conninfo

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DIM = 784
K = 10

# system name -> database; the extension is chosen on the command line
DATABASES = {"omendb": "bench_omendb", "pgvector": "bench_pgvector"}

# operator -> float64 distance of a few rows X (n x d) to the query q (d)
OPERATORS = {
    "<->": lambda X, q: np.sqrt(((X - q) ** 2).sum(axis=1)),
    "<#>": lambda X, q: -(X @ q),
    "<=>": lambda X, q: 1.0 - (X @ q) / (np.linalg.norm(X, axis=1) * np.linalg.norm(q)),
    "<+>": lambda X, q: np.abs(X - q).sum(axis=1),
}


def parse_args():
    p = argparse.ArgumentParser(
        description="Exact ORDER BY ... LIMIT 10 seq scan: omendb vs pgvector on fashion-mnist.")
    p.add_argument("--dsn", default=None,
                   help="libpq connection string for the maintenance database "
                        "(default: libpq environment, host=/tmp if PGHOST is unset)")
    p.add_argument("--loader", default=os.path.join(REPO, "scripts", "fashion_mnist.py"),
                   help="fashion-mnist loader printing COPY lines id<TAB>label<TAB>[...] "
                        "(default: %(default)s)")
    p.add_argument("--rows", type=int, default=60000, help="train rows to load (default: %(default)s)")
    p.add_argument("--queries", type=int, default=1000,
                   help="test vectors used as queries for <-> (default: %(default)s)")
    p.add_argument("--other-queries", type=int, default=200,
                   help="queries for the other operators (default: %(default)s)")
    p.add_argument("--operators", default="<->,<=>,<#>", help="comma list (default: %(default)s)")
    p.add_argument("--workers", default="0,2",
                   help="max_parallel_workers_per_gather settings; a trailing f forces the "
                        "parallel plan (min_parallel_table_scan_size, parallel_setup_cost and "
                        "parallel_tuple_cost set to 0), otherwise the planner decides with its "
                        "defaults (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=3,
                   help="timed passes over the queries, each in a new seeded order "
                        "(default: %(default)s)")
    p.add_argument("--warmup", type=int, default=50,
                   help="untimed queries per system and configuration (default: %(default)s)")
    p.add_argument("--block", type=int, default=10,
                   help="queries one system runs before the other takes its turn "
                        "(default: %(default)s)")
    p.add_argument("--seed", type=int, default=42,
                   help="seed for the per-round query order (default: %(default)s)")
    p.add_argument("--jit", choices=["off", "server"], default="off",
                   help="off: SET jit = off in both systems; server: leave the server's "
                        "setting (default: %(default)s)")
    p.add_argument("--storage", choices=["default", "plain", "main", "external", "extended"],
                   default="default",
                   help="ALTER COLUMN embedding SET STORAGE before loading; default keeps the "
                        "type's (external for both: each 3 KB vector is TOASTed, and reading it "
                        "back dominates the scan) (default: %(default)s)")
    p.add_argument("--reuse", action="store_true",
                   help="keep existing bench databases if they hold --rows rows "
                        "(default: drop and reload them)")
    p.add_argument("--omendb-extension", default="omendb",
                   help="extension loaded into bench_omendb; `vector` points both "
                        "systems at pgvector to test this harness (default: %(default)s)")
    p.add_argument("--rtol", type=float, default=1e-5,
                   help="relative tolerance when comparing distances (default: %(default)s)")
    p.add_argument("--out", default=os.path.join(HERE, "results", "seqscan.csv"),
                   help="CSV written (default: %(default)s)")
    return p.parse_args()


# ---------------------------------------------------------------------------
# data


def run_loader(loader, split, limit):
    """Return the loader's COPY lines (id, vector text) and the vectors as float64."""
    if not os.path.exists(loader):
        sys.exit(f"loader not found: {loader} (pass --loader)")
    out = subprocess.run([sys.executable, loader, split, "--limit", str(limit)],
                         check=True, capture_output=True, text=True).stdout
    rows, vecs = [], []
    for line in out.splitlines():
        ident, _label, text = line.split("\t")
        rows.append((int(ident), text))
        vecs.append(np.array(text[1:-1].split(","), dtype=np.float32))
    if len(rows) != limit:
        sys.exit(f"loader gave {len(rows)} {split} rows, wanted {limit}")
    # float32 first: the databases store float32, so the exact answer must use the same values
    return rows, np.vstack(vecs).astype(np.float64)


def exact_topk(op, X, Q):
    """Exact top-K ids for every query row of Q, computed in float64.

    Ranks by a score that orders rows like the distance (one matrix product for a
    batch of queries); compare() then checks the distances themselves.
    """
    if op == "<+>":
        scores = lambda Qb: np.stack([OPERATORS[op](X, q) for q in Qb], axis=1)
    elif op == "<->":
        sq = (X * X).sum(axis=1)
        scores = lambda Qb: sq[:, None] - 2.0 * (X @ Qb.T)
    elif op == "<#>":
        scores = lambda Qb: -(X @ Qb.T)
    else:  # <=>: the query's norm does not change the order
        norms = np.linalg.norm(X, axis=1)
        scores = lambda Qb: -(X @ Qb.T) / norms[:, None]
    ids = []
    for start in range(0, len(Q), 100):
        S = scores(Q[start:start + 100])
        for j in range(S.shape[1]):
            top = np.argpartition(S[:, j], K)[:K]
            ids.append(list(top[np.argsort(S[top, j], kind="stable")]))
    return ids


# ---------------------------------------------------------------------------
# databases


def base_dsn(args):
    if args.dsn is not None:
        return args.dsn
    return "" if os.environ.get("PGHOST") else "host=/tmp"


def extension_available(admin, name):
    row = admin.execute("SELECT default_version FROM pg_available_extensions WHERE name = %s",
                        [name]).fetchone()
    return row[0] if row else None


def column_storage(conn):
    """Storage of items.embedding: p(lain), e(xternal), m(ain) or x (extended)."""
    return conn.execute("SELECT attstorage FROM pg_attribute "
                        "WHERE attrelid = 'items'::regclass AND attname = 'embedding'").fetchone()[0]


def prepare_database(admin, dsn, db, ext, rows, storage, reuse):
    """Create db with ext and table items holding rows; return a connection to it."""
    exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone()
    if exists and reuse:
        conn = psycopg.connect(conninfo.make_conninfo(dsn, dbname=db), autocommit=True)
        try:
            n = conn.execute("SELECT count(*) FROM items").fetchone()[0]
            has_ext = conn.execute("SELECT 1 FROM pg_extension WHERE extname = %s", [ext]).fetchone()
            same_storage = storage == "default" or column_storage(conn) == storage[0]
            if n == len(rows) and has_ext and same_storage:
                print(f"  {db}: reusing {n} rows")
                return conn
        except psycopg.Error:
            pass
        conn.close()
    if exists:
        admin.execute(f'DROP DATABASE "{db}"')
    admin.execute(f'CREATE DATABASE "{db}"')
    conn = psycopg.connect(conninfo.make_conninfo(dsn, dbname=db), autocommit=True)
    conn.execute(f'CREATE EXTENSION "{ext}"')
    conn.execute(f"CREATE TABLE items (id int, embedding vector({DIM}))")
    if storage != "default":
        conn.execute(f"ALTER TABLE items ALTER COLUMN embedding SET STORAGE {storage}")
    t0 = time.perf_counter()
    with conn.cursor().copy("COPY items (id, embedding) FROM STDIN") as copy:
        for ident, text in rows:
            copy.write(f"{ident}\t{text}\n")
    t1 = time.perf_counter()
    conn.execute("VACUUM ANALYZE items")
    try:
        conn.execute("CHECKPOINT")  # keep a checkpoint out of the timed part
    except psycopg.Error:
        pass
    print(f"  {db}: loaded {len(rows)} rows in {t1 - t0:.1f} s, vacuum analyze {time.perf_counter() - t1:.1f} s")
    return conn


def server_info(conn, ext):
    version = conn.execute("SHOW server_version").fetchone()[0]
    ext_version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = %s",
                               [ext]).fetchone()[0]
    shared_buffers = conn.execute("SHOW shared_buffers").fetchone()[0]
    size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('items'))").fetchone()[0]
    return {"pg_version": version, "ext_version": f"{ext} {ext_version}",
            "shared_buffers": shared_buffers, "table_size": size, "storage": column_storage(conn)}


def machine_info():
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    simd = " ".join(f for f in ("avx2", "fma", "avx512f", "avx512vl") if f in flags)
    try:
        commit = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    return {"cpu": model, "cpu_simd": simd, "cores": os.cpu_count(), "omendb_commit": commit}


def set_workers(conn, config):
    """Apply a --workers entry such as 0, 2 or 2f to the session."""
    conn.execute(f"SET max_parallel_workers_per_gather = {int(config.rstrip('f'))}")
    for guc in ("min_parallel_table_scan_size", "parallel_setup_cost", "parallel_tuple_cost"):
        if config.endswith("f"):
            conn.execute(f"SET {guc} = 0")
        else:
            conn.execute(f"RESET {guc}")


def loadavg():
    """1-minute load average: other work on the machine makes the numbers noisy."""
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except OSError:
        return ""


def planned_workers(conn, sql, param):
    """Workers the planner chose for sql (0 when there is no Gather)."""
    plan = conn.execute("EXPLAIN (FORMAT JSON) " + sql, [param]).fetchone()[0][0]["Plan"]
    stack = [plan]
    while stack:
        node = stack.pop()
        if "Workers Planned" in node:
            return node["Workers Planned"]
        stack.extend(node.get("Plans", []))
    return 0


# ---------------------------------------------------------------------------
# measurement


def time_queries(conn, sql, params, order):
    """Run the prepared statement for params in order; return {index: ids}, latencies (s)."""
    results, lat = {}, []
    cur = conn.cursor()
    for i in order:
        t0 = time.perf_counter()
        cur.execute(sql, [params[i]], prepare=True)
        ids = [r[0] for r in cur.fetchall()]
        lat.append(time.perf_counter() - t0)
        results[i] = ids
    return results, lat


def measure(conns, systems, sql, params, nq, config, args, rng):
    """Time sql over the first nq params on every system under one --workers entry.

    Returns the workers each plan uses, the latencies (s) and the first round's ids,
    each by system.
    """
    planned, lat, results = {}, {s: [] for s in systems}, {s: {} for s in systems}
    for s in systems:
        set_workers(conns[s], config)
        planned[s] = planned_workers(conns[s], sql.replace("%s", "%s::vector"), params[0])
        time_queries(conns[s], sql, params, range(min(args.warmup, nq)))
    for r in range(args.rounds):
        order = list(range(nq))
        rng.shuffle(order)
        # the systems take turns block by block, and take turns going first
        for b, start in enumerate(range(0, nq, args.block)):
            block = order[start:start + args.block]
            for s in (systems if (r + b) % 2 == 0 else systems[::-1]):
                res, l = time_queries(conns[s], sql, params, block)
                lat[s].extend(l)
                if r == 0:
                    results[s].update(res)
        print(f"    round {r + 1}/{args.rounds} done", flush=True)
    return planned, lat, results


def compare(op, X, q, ids_a, ids_b, rtol):
    """'same', 'tie' (same distances, other ids) or 'differ'."""
    if ids_a == ids_b:
        return "same"
    if len(ids_a) != len(ids_b):
        return "differ"
    da = np.sort(OPERATORS[op](X[ids_a], q))
    db = np.sort(OPERATORS[op](X[ids_b], q))
    return "tie" if np.allclose(da, db, rtol=rtol, atol=rtol) else "differ"


def percentile(values, p):
    return float(np.percentile(np.array(values), p))


def main():
    args = parse_args()
    dsn = base_dsn(args)
    operators = [o.strip() for o in args.operators.split(",") if o.strip()]
    for op in operators:
        if op not in OPERATORS:
            sys.exit(f"unknown operator {op}; choose from {', '.join(OPERATORS)}")
    configs = [w.strip() for w in args.workers.split(",") if w.strip()]
    for c in configs:
        if not c.rstrip("f").isdigit():
            sys.exit(f"bad --workers entry {c!r}: a number, optionally followed by f")
    nq_max = max(args.queries, args.other_queries)

    print(f"loading fashion-mnist with {args.loader}")
    train_rows, X = run_loader(args.loader, "train", args.rows)
    test_rows, Q = run_loader(args.loader, "test", nq_max)
    # id of the row is its position in X: the comparisons below rely on it
    assert all(ident == i for i, (ident, _) in enumerate(train_rows))
    params = [text for _, text in test_rows]

    admin_db = conninfo.conninfo_to_dict(dsn).get("dbname", "postgres")
    admin = psycopg.connect(conninfo.make_conninfo(dsn, dbname=admin_db), autocommit=True)
    extensions = {"omendb": args.omendb_extension, "pgvector": "vector"}
    systems, conns, info = [], {}, {}
    for name in ("omendb", "pgvector"):
        ext = extensions[name]
        if extension_available(admin, ext) is None:
            print(f"skipping {name}: extension '{ext}' is not installed in this server "
                  f"(see bench/README.md)")
            continue
        systems.append(name)
        conns[name] = prepare_database(admin, dsn, DATABASES[name], ext, train_rows, args.storage,
                                         args.reuse)
        info[name] = server_info(conns[name], ext)
    admin.close()
    if not systems:
        sys.exit("neither extension is installed")
    machine = machine_info()
    for name in systems:
        if args.jit == "off":
            conns[name].execute("SET jit = off")
        info[name]["jit"] = conns[name].execute("SHOW jit").fetchone()[0]

    print(f"machine: {machine['cpu']} ({machine['cores']} cores; {machine['cpu_simd']})")
    for name in systems:
        i = info[name]
        print(f"{name}: PostgreSQL {i['pg_version']}, {i['ext_version']}, table {i['table_size']} "
              f"(storage {i['storage']}), shared_buffers {i['shared_buffers']}, jit {i['jit']}")

    rng = random.Random(args.seed)
    rows_out = []
    for op in operators:
        nq = args.queries if op == "<->" else args.other_queries
        sql = f"SELECT id FROM items ORDER BY embedding {op} %s LIMIT {K}"
        truth_ids = exact_topk(op, X, Q[:nq])
        for config in configs:
            print(f"  {op} workers={config}: {nq} queries", flush=True)
            planned, lat, results = measure(conns, systems, sql, params, nq, config, args, rng)
            # correctness: against the exact answer, and the systems against each other
            vs_exact = {s: {"same": 0, "tie": 0, "differ": 0} for s in systems}
            for s in systems:
                for i in range(nq):
                    vs_exact[s][compare(op, X, Q[i], results[s][i], truth_ids[i], args.rtol)] += 1
            cross = {"same": 0, "tie": 0, "differ": 0}
            if len(systems) == 2:
                a, b = systems
                for i in range(nq):
                    cross[compare(op, X, Q[i], results[a][i], results[b][i], args.rtol)] += 1
            for s in systems:
                row = {
                    "system": s, "operator": op, "workers": config, "workers_planned": planned[s],
                    "queries": nq, "rounds": args.rounds,
                    "qps": round(len(lat[s]) / sum(lat[s]), 2),
                    "p50_ms": round(percentile(lat[s], 50) * 1000, 3),
                    "p99_ms": round(percentile(lat[s], 99) * 1000, 3),
                    "mean_ms": round(statistics.fmean(lat[s]) * 1000, 3),
                    "mismatches": cross["differ"] if len(systems) == 2 else "",
                    "ties": cross["tie"] if len(systems) == 2 else "",
                    "wrong_vs_exact": vs_exact[s]["differ"],
                    **machine, **info[s],
                    "loadavg_1min": loadavg(),
                    "date": datetime.datetime.now().isoformat(timespec="seconds"),
                }
                rows_out.append(row)
                print(f"  {op} workers={config:3s} {s:9s} {row['qps']:8.1f} qps  p50 {row['p50_ms']:7.2f} ms  "
                      f"p99 {row['p99_ms']:7.2f} ms", flush=True)

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows_out[0]))
        writer.writeheader()
        writer.writerows(rows_out)
    print_table(rows_out, systems)
    print(f"\nwrote {args.out}")


def print_table(rows, systems):
    print()
    head = f"{'operator':8s} {'workers':>7s} {'system':9s} {'queries':>7s} {'qps':>9s} " \
           f"{'p50 ms':>8s} {'p99 ms':>8s} {'vs exact':>8s}"
    if len(systems) == 2:
        head += f" {'ratio':>6s} {'mismatch':>8s} {'ties':>5s}"
    print(head)
    print("-" * len(head))
    by_config = {}
    for r in rows:
        by_config.setdefault((r["operator"], r["workers"]), {})[r["system"]] = r
    for (op, w), group in by_config.items():
        for s in systems:
            r = group[s]
            label = w if r["workers_planned"] == int(w.rstrip("f")) else f"{w}({r['workers_planned']})"
            line = f"{op:8s} {label:>7s} " \
                   f"{s:9s} {r['queries']:7d} {r['qps']:9.1f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} " \
                   f"{r['wrong_vs_exact']:8d}"
            if len(systems) == 2 and s == systems[0]:
                ratio = r["qps"] / group[systems[1]]["qps"]
                line += f" {ratio:6.2f} {r['mismatches']:8d} {r['ties']:5d}"
            print(line)
    print("\nworkers: max_parallel_workers_per_gather (f: parallel plan forced), with the workers")
    print("  the planner chose in () when they differ;")
    print("vs exact: queries whose 10 distances differ from numpy's exact float64 answer;")
    if len(systems) == 2:
        print(f"ratio: {systems[0]} qps / {systems[1]} qps; mismatch: queries whose results differ "
              f"between the systems beyond ties; ties: same distances, other ids.")


if __name__ == "__main__":
    main()
