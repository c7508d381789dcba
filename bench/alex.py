#!/usr/bin/python3
"""alex ANN index benchmark on fashion-mnist: recall@10 against QPS, build, growth.

One run, one machine, one client measures:

1. the exact top-10 of every query, computed here with numpy (squared L2 over the
   integer pixels, so the float64 arithmetic is exact);
2. a bulk build: 60,000 train rows loaded with COPY, VACUUM ANALYZE, then
   CREATE INDEX ... USING alex timed, index and table sizes, alex_index_stats;
3. a sweep of alex.probes: recall@10, QPS, p50/p99 latency of the prepared
   statement SELECT id FROM items ORDER BY embedding <-> $1 LIMIT 10 over the
   first --queries test vectors, one client, after one untimed warm-up pass;
4. the exact answer by seq scan (no index, no parallel workers) as a baseline;
5. growth: an alex index created on an EMPTY table, then the 60,000 rows inserted
   in batches; insert rate, final stats and the same sweep, compared with the
   bulk-built index at every probe count;
6. the insert rate into the bulk-indexed table (6,000 extra rows, then deleted),
   and into a table without an index for reference;
7. when the pgvector extension (`vector`) is installed in the cluster: the same
   for pgvector's HNSW and IVFFlat, in a database of their own (both extensions
   define a type called vector).

recall@10 counts a returned row as correct when its distance is at most the 10th
exact distance, so rows tied with the 10th neighbour are not counted as misses.

Run with Debian's python (psycopg 3, numpy; matplotlib for the plot):
    /usr/bin/python3 bench/alex.py [--dsn 'host=/tmp port=5432'] [--queries 1000]
See the "alex index benchmark" section of bench/README.md.
"""

import argparse
import csv
import datetime
import math
import os
import subprocess
import sys
import time

import numpy as np
import psycopg
from psycopg import conninfo

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "scripts"))
import fashion_mnist  # noqa: E402  (the repository's loader)

# The datasets: fashion-mnist (Debian's dataset-fashion-mnist, L2) and a seeded
# synthetic set shaped like text embeddings (normalised, clustered, cosine).
DATASETS = {
    "fashion-mnist": {"dim": 784, "op": "<->", "opclass": "vector_l2_ops", "metric": "L2"},
    "synthetic-1536": {"dim": 1536, "op": "<=>", "opclass": "vector_cosine_ops",
                       "metric": "cosine"},
}
DS = DATASETS["fashion-mnist"]   # set from --dataset in main()
SYNTHETIC_SEED = 20261124
SYNTHETIC_CLUSTERS = 200
K = 10
DATABASES = {"omendb": "bench_alex", "pgvector": "bench_alex_pgvector"}
EXTENSIONS = {"omendb": "omendb", "pgvector": "vector"}
EXTRA_ID = 1_000_000            # ids of the rows added to an indexed table in step 6
PLOT = os.path.join(REPO, "docs", "benchmarks", "alex_{dataset}_recall_qps.png")


def int_list(text):
    return [int(v) for v in text.split(",") if v.strip()]


def parse_args():
    p = argparse.ArgumentParser(
        description="alex index on fashion-mnist: build, recall@10 vs QPS, growth, inserts; "
                    "optionally against pgvector HNSW and IVFFlat.")
    p.add_argument("--dsn", default=None,
                   help="libpq connection string for the maintenance database "
                        "(default: libpq environment, host=/tmp if PGHOST is unset)")
    p.add_argument("--dataset", choices=sorted(DATASETS), default="fashion-mnist",
                   help="fashion-mnist (60,000 x 784, L2) or synthetic-1536 (seeded, "
                        "normalised, clustered, cosine; growth is skipped for it) "
                        "(default: %(default)s)")
    p.add_argument("--rows", type=int, default=None,
                   help="base rows (default: 60000 for fashion-mnist, 100000 for synthetic)")
    p.add_argument("--queries", type=int, default=1000,
                   help="test vectors used as queries (default: %(default)s)")
    p.add_argument("--exact-queries", type=int, default=100,
                   help="queries timed for the exact seq scan (default: %(default)s)")
    p.add_argument("--probes", type=int_list, default=int_list("1,2,3,5,8,10,15,20,30,50"),
                   help="alex.probes values (default: 1,2,3,5,8,10,15,20,30,50)")
    p.add_argument("--leaves", type=int, default=0,
                   help="WITH (leaves = N) for the bulk build; 0: the index chooses "
                        "(default: %(default)s)")
    p.add_argument("--batches", type=int, default=100,
                   help="COPY batches for the growth test (default: %(default)s)")
    p.add_argument("--insert-rows", type=int, default=6000,
                   help="rows added to the bulk-indexed table (default: %(default)s)")
    p.add_argument("--insert-batch", type=int, default=600,
                   help="rows per COPY when inserting (default: %(default)s)")
    p.add_argument("--skip-growth", action="store_true", help="skip the growth test")
    pgv = p.add_mutually_exclusive_group()
    pgv.add_argument("--with-pgvector", dest="pgvector", action="store_true", default=None,
                     help="also run pgvector HNSW and IVFFlat (default: when installed)")
    pgv.add_argument("--no-pgvector", dest="pgvector", action="store_false",
                     help="alex only")
    p.add_argument("--ef-search", type=int_list, default=int_list("10,20,40,80,120,200"),
                   help="hnsw.ef_search values (default: 10,20,40,80,120,200)")
    p.add_argument("--ivf-probes", type=int_list, default=int_list("1,2,3,5,8,10,15,20,30,50"),
                   help="ivfflat.probes values (default: 1,2,3,5,8,10,15,20,30,50)")
    p.add_argument("--build-workers", type=int, default=0,
                   help="max_parallel_maintenance_workers for CREATE INDEX, the same for all "
                        "systems (default: %(default)s, serial for all)")
    p.add_argument("--maintenance-work-mem", default="1GB",
                   help="maintenance_work_mem for every CREATE INDEX, the same for all systems "
                        "(pgvector's HNSW build slows down sharply when its graph does not fit; "
                        "default: %(default)s)")
    p.add_argument("--out", default=os.path.join(HERE, "results", "alex_{dataset}.csv"),
                   help="CSV written (default: %(default)s)")
    p.add_argument("--plot", default=PLOT, help="recall/QPS plot written if matplotlib is "
                                                "available; '' for none (default: %(default)s)")
    args = p.parse_args()
    tag = args.dataset.replace("-", "_")
    args.out = args.out.format(dataset=tag)
    args.plot = args.plot.format(dataset=tag) if args.plot else args.plot
    if args.rows is None:
        args.rows = 60000 if args.dataset == "fashion-mnist" else 100000
    if args.dataset != "fashion-mnist":
        args.skip_growth = True   # 100,000 inserts into HNSW alone take many minutes
    if not args.probes or not args.ef_search or not args.ivf_probes:
        p.error("empty parameter list")
    return args


# ---------------------------------------------------------------------------
# data and exact answers


def load_split(split, limit, start_id=0):
    """(pixels as an n x 784 uint8 array, COPY lines 'id<TAB>label<TAB>[...]\\n')."""
    images, labels, count, dim = fashion_mnist.read_split(split, limit)
    if count != limit:
        sys.exit(f"fashion-mnist {split} has {count} rows, wanted {limit}")
    X = np.frombuffer(images, dtype=np.uint8).reshape(count, dim)
    lines = list(fashion_mnist.copy_lines(images, labels, count, dim, start_id))
    return X, lines


def synthetic(n, start_id, rng, model):
    """n normalised rows: points of a clustered 256-d latent space, mapped into the
    full width by a fixed random linear map, plus isotropic noise.  Like text
    embeddings: high ambient, lower intrinsic dimension, clusters that overlap."""
    centers, spread, mixing = model
    c = rng.integers(0, len(centers), size=n)
    z = centers[c] + rng.normal(size=(n, centers.shape[1])) * spread[c][:, None]
    v = z @ mixing
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    # isotropic noise carrying about 40% of the energy, as in the reference design's
    # hard set: neighbours are no longer obvious from the clusters
    v += rng.normal(size=v.shape) * (0.8 / math.sqrt(v.shape[1]))
    v = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    # str() of a float32 widened to float64 parses back to the same float32
    lines = [f"{start_id + i}\t{c[i]}\t[{','.join(map(str, v[i].tolist()))}]\n"
             for i in range(n)]
    return v, lines


def load_data(args):
    """(X, train lines, Q, query lines, extra lines) for the chosen dataset."""
    nq = max(args.queries, args.insert_rows)
    if args.dataset == "fashion-mnist":
        X, train_lines = load_split("train", args.rows)
        Qall, test_lines = load_split("test", nq)
        _, extra_lines = load_split("test", args.insert_rows, start_id=EXTRA_ID)
        return X, train_lines, Qall[:args.queries], test_lines[:args.queries], extra_lines
    rng = np.random.default_rng(SYNTHETIC_SEED)
    latent = 256
    model = (rng.normal(size=(SYNTHETIC_CLUSTERS, latent)),          # cluster centres
             rng.uniform(1.2, 1.8, size=SYNTHETIC_CLUSTERS),         # their spread
             rng.normal(size=(latent, DS["dim"])) / math.sqrt(latent))
    X, train_lines = synthetic(args.rows, 0, rng, model)
    Q, test_lines = synthetic(args.queries, 0, rng, model)
    _, extra_lines = synthetic(args.insert_rows, EXTRA_ID, rng, model)
    return X, train_lines, Q, test_lines, extra_lines


def vector_text(line):
    return line.rstrip("\n").split("\t")[2]


def distances(X, Qb):
    """Distances from every row of X to every query of Qb, in float64: squared L2
    (exact for fashion-mnist's integer pixels: below 2^26) or cosine distance."""
    Xf = X.astype(np.float64)
    Qf = Qb.astype(np.float64)
    if DS["metric"] == "cosine":
        Xn = Xf / np.linalg.norm(Xf, axis=1, keepdims=True)
        Qn = Qf / np.linalg.norm(Qf, axis=1, keepdims=True)
        return 1.0 - Xn @ Qn.T
    return (Xf * Xf).sum(axis=1)[:, None] - 2.0 * (Xf @ Qf.T) + (Qf * Qf).sum(axis=1)[None, :]


def exact_topk(X, Q):
    """Exact top-K ids and the K-th distance of every query."""
    ids, kth = [], []
    for start in range(0, len(Q), 200):
        D = distances(X, Q[start:start + 200])
        for j in range(D.shape[1]):
            top = np.argpartition(D[:, j], K)[:K]
            top = top[np.lexsort((top, D[top, j]))]
            ids.append(top)
            kth.append(D[top[-1], j])
    return ids, np.array(kth)


def recall_at_k(results, X, Q, kth):
    """Mean fraction of the K returned rows within the K-th exact distance."""
    hits, short = 0, 0
    for i, ids in enumerate(results):
        ids = sorted(set(ids))
        short += len(ids) < K
        if ids:
            d = distances(X[ids], Q[i:i + 1])[:, 0]
            # fashion-mnist distances are exact integers; cosine distances of float32
            # vectors carry ~1e-6 relative rounding in the server: tolerate 1e-5
            slack = 1e-5 * abs(kth[i]) + 1e-9 if DS["metric"] == "cosine" else 0
            hits += min(K, int((d <= kth[i] + slack).sum()))
    return hits / (K * len(results)), short


# ---------------------------------------------------------------------------
# database helpers


def base_dsn(args):
    if args.dsn is not None:
        return args.dsn
    return "" if os.environ.get("PGHOST") else "host=/tmp"


def connect(dsn, db):
    return psycopg.connect(conninfo.make_conninfo(dsn, dbname=db), autocommit=True)


def one(conn, sql, params=None):
    return conn.execute(sql, params).fetchone()[0]


def mb(conn, sql, name):
    return round(one(conn, f"SELECT {sql}(%s::regclass)", [name]) / 2 ** 20, 2)


def copy_rows(conn, table, lines):
    with conn.cursor().copy(f"COPY {table} (id, label, embedding) FROM STDIN") as copy:
        copy.write("".join(lines))


def timed_inserts(conn, table, lines, batch):
    """COPY lines in batches of `batch` rows, one transaction each; (seconds, per-batch s)."""
    per_batch = []
    for start in range(0, len(lines), batch):
        t0 = time.perf_counter()
        copy_rows(conn, table, lines[start:start + batch])
        per_batch.append(time.perf_counter() - t0)
    return sum(per_batch), per_batch


def create_table(conn, table):
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    # no autovacuum: it would run at random moments of the timed parts
    conn.execute(f"CREATE TABLE {table} (id int, label int, embedding vector({DS['dim']})) "
                 f"WITH (autovacuum_enabled = off)")


def prepare_database(admin, dsn, system, lines):
    db = DATABASES[system]
    admin.execute(f'DROP DATABASE IF EXISTS "{db}"')
    admin.execute(f'CREATE DATABASE "{db}"')
    conn = connect(dsn, db)
    conn.execute(f'CREATE EXTENSION "{EXTENSIONS[system]}"')
    conn.execute("SET jit = off")
    create_table(conn, "items")
    t0 = time.perf_counter()
    copy_rows(conn, "items", lines)
    load_s = time.perf_counter() - t0
    conn.execute("VACUUM ANALYZE items")
    conn.execute("CHECKPOINT")
    print(f"{db}: loaded {len(lines)} rows in {load_s:.1f} s "
          f"({len(lines) / load_s:.0f} rows/s, one COPY, no index), "
          f"table {mb(conn, 'pg_table_size', 'items')} MB incl. TOAST", flush=True)
    return conn


def index_stats(conn, system, index):
    """alex_index_stats as a dict (omendb); {} for pgvector."""
    if system != "omendb":
        return {}
    cur = conn.execute("SELECT * FROM alex_index_stats(%s::regclass)", [index])
    row = cur.fetchone()
    return {c.name: (round(v, 3) if isinstance(v, float) else v)
            for c, v in zip(cur.description, row)}


def stats_text(stats):
    return " ".join(f"{k}={v}" for k, v in stats.items())


def check_plan(conn, sql, param, index):
    """Fail unless the prepared statement's plan scans `index`."""
    plan = one(conn, "EXPLAIN (FORMAT JSON) " + sql, [param])[0]["Plan"]
    stack = [plan]
    while stack:
        node = stack.pop()
        if node.get("Index Name") == index:
            return
        stack.extend(node.get("Plans", []))
    sys.exit(f"the plan does not use {index}:\n{plan}")


def machine_info():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                    break
    except OSError:
        pass
    commit = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    return {"cpu": model, "cores": os.cpu_count(), "omendb_commit": commit}


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


# ---------------------------------------------------------------------------
# measurement


def run_queries(conn, sql, params):
    """Run the prepared statement once per param; (ids per query, latencies in s)."""
    cur = conn.cursor()
    results, lat = [], []
    for p in params:
        t0 = time.perf_counter()
        cur.execute(sql, [p], prepare=True)
        ids = [r[0] for r in cur.fetchall()]
        lat.append(time.perf_counter() - t0)
        results.append(ids)
    return results, lat


def timing(lat):
    a = np.array(lat) * 1000.0
    return {"qps": round(len(lat) / a.sum() * 1000.0, 1),
            "p50_ms": round(float(np.percentile(a, 50)), 3),
            "p99_ms": round(float(np.percentile(a, 99)), 3)}


def sweep(conn, sql, guc, values, params, X, Q, kth, label):
    """Warm up once at the largest value, then time one pass per value."""
    conn.execute(f"SET {guc} = {max(values)}")
    run_queries(conn, sql, params)
    out = []
    for v in values:
        conn.execute(f"SET {guc} = {v}")
        results, lat = run_queries(conn, sql, params)
        recall, short = recall_at_k(results, X, Q, kth)
        row = {"param": guc, "value": v, "recall_at_10": round(recall, 4), **timing(lat),
               "short_results": short, "loadavg_1min": loadavg()}
        out.append(row)
        print(f"  {label:16s} {guc}={v:<4d} recall@10 {recall:.4f}  {row['qps']:8.1f} qps  "
              f"p50 {row['p50_ms']:7.2f} ms  p99 {row['p99_ms']:7.2f} ms"
              + (f"  ({short} queries got < {K} rows)" if short else ""), flush=True)
    conn.execute(f"RESET {guc}")
    return out


def knn_sql(table, tag):
    # the comment makes the SQL text, and so psycopg's prepared statement, distinct per run
    return f"/* {tag} */ SELECT id FROM {table} ORDER BY embedding {DS['op']} %s::vector LIMIT {K}"


def bench_index(conn, system, method, spec, args, data, rows):
    """Bulk build, sweep and inserts into the built index for one index method."""
    X, Q, kth, params, extra_lines = data
    name = f"items_{method}"
    conn.execute(f"SET max_parallel_maintenance_workers = {args.build_workers}")
    conn.execute(f"SET maintenance_work_mem = '{args.maintenance_work_mem}'")
    t0 = time.perf_counter()
    conn.execute(f"CREATE INDEX {name} ON items USING {method} (embedding {DS['opclass']})"
                 + spec["with"])
    build_s = round(time.perf_counter() - t0, 2)
    # write the build's dirty pages out now, not during the sweep that follows
    conn.execute("CHECKPOINT")
    conn.execute("CHECKPOINT")
    index_mb = mb(conn, "pg_relation_size", name)
    stats = index_stats(conn, system, name)
    print(f"{system} {method}: CREATE INDEX {build_s:.2f} s, index {index_mb} MB"
          + (f"\n  alex_index_stats: {stats_text(stats)}" if stats else ""), flush=True)

    conn.execute("SET enable_seqscan = off")
    sql = knn_sql("items", f"{method} bulk")
    check_plan(conn, sql, params[0], name)
    common = {"system": system, "index": method, "build": "bulk", "build_s": build_s,
              "index_mb": index_mb, "stats": stats_text(stats)}
    for r in sweep(conn, sql, spec["guc"], spec["values"], params, X, Q, kth, f"{method} bulk"):
        rows.append({**common, "queries": len(params), **r})
    conn.execute("RESET enable_seqscan")
    bulk = {r["value"]: r["recall_at_10"] for r in rows
            if r["system"] == system and r["index"] == method and r["build"] == "bulk"}

    # inserts into the bulk-built index, then back to the loaded table
    conn.execute("CHECKPOINT")
    secs, _ = timed_inserts(conn, "items", extra_lines, args.insert_batch)
    rate = round(len(extra_lines) / secs, 1)
    after = index_stats(conn, system, name)
    print(f"  insert {len(extra_lines)} rows into the indexed table: {secs:.2f} s, "
          f"{rate:.0f} rows/s" + (f"\n  alex_index_stats after: {stats_text(after)}"
                                  if after else ""), flush=True)
    rows.append({**common, "param": "insert_rows", "value": len(extra_lines),
                 "insert_rows_per_s": rate, "stats": stats_text(after),
                 "loadavg_1min": loadavg()})
    conn.execute("DELETE FROM items WHERE id >= %s", [EXTRA_ID])
    conn.execute("VACUUM items")
    conn.execute(f"DROP INDEX {name}")
    return bulk


def bench_growth(conn, system, method, spec, args, data, train_lines, bulk, rows):
    """Index created on an empty table, then every row inserted in batches."""
    X, Q, kth, params, _ = data
    table, name = "items_growth", f"items_growth_{method}"
    create_table(conn, table)
    conn.execute(f"CREATE INDEX {name} ON {table} USING {method} (embedding {DS['opclass']})"
                 + spec["with_empty"])
    conn.execute("CHECKPOINT")
    batch = -(-len(train_lines) // args.batches)
    secs, per_batch = timed_inserts(conn, table, train_lines, batch)
    rate = round(len(train_lines) / secs, 1)
    tenth = max(1, len(per_batch) // 10)
    first = batch * tenth / sum(per_batch[:tenth])
    last = batch * tenth / sum(per_batch[-tenth:])
    conn.execute(f"ANALYZE {table}")
    conn.execute("CHECKPOINT")
    index_mb = mb(conn, "pg_relation_size", name)
    stats = index_stats(conn, system, name)
    print(f"{system} {method} grown: {len(train_lines)} rows in {len(per_batch)} COPY batches "
          f"of {batch}: {secs:.1f} s, {rate:.0f} rows/s (first tenth {first:.0f}, last tenth "
          f"{last:.0f} rows/s), index {index_mb} MB"
          + (f"\n  alex_index_stats: {stats_text(stats)}" if stats else ""), flush=True)
    common = {"system": system, "index": method, "build": "grown", "index_mb": index_mb,
              "stats": stats_text(stats)}
    rows.append({**common, "param": "insert_rows", "value": len(train_lines),
                 "insert_rows_per_s": rate, "loadavg_1min": loadavg(),
                 "note": f"{len(per_batch)} batches of {batch}; first tenth {first:.0f} rows/s, "
                         f"last tenth {last:.0f} rows/s"})

    conn.execute("SET enable_seqscan = off")
    sql = knn_sql(table, f"{method} grown")
    check_plan(conn, sql, params[0], name)
    grown = sweep(conn, sql, spec["guc"], spec["values"], params, X, Q, kth, f"{method} grown")
    conn.execute("RESET enable_seqscan")
    for r in grown:
        diff = round(100 * (r["recall_at_10"] - bulk[r["value"]]), 2)
        rows.append({**common, "queries": len(params), **r, "recall_vs_bulk_points": diff})
    conn.execute(f"DROP TABLE {table}")


def bench_exact(conn, system, args, data, rows):
    """Exact ORDER BY ... LIMIT 10 by seq scan, no workers."""
    X, Q, kth, params, _ = data
    params = params[:args.exact_queries]
    conn.execute("SET enable_indexscan = off")
    conn.execute("SET enable_bitmapscan = off")
    conn.execute("SET max_parallel_workers_per_gather = 0")
    sql = knn_sql("items", "exact")
    run_queries(conn, sql, params[:10])
    results, lat = run_queries(conn, sql, params)
    recall, short = recall_at_k(results, X, Q, kth)
    row = {"system": system, "index": "seqscan", "build": "-", "param": "exact",
           "value": len(params), "queries": len(params), "recall_at_10": round(recall, 4),
           **timing(lat), "short_results": short, "loadavg_1min": loadavg()}
    rows.append(row)
    print(f"{system} exact seq scan: {len(params)} queries, recall@10 {recall:.4f}, "
          f"{row['qps']:.1f} qps, p50 {row['p50_ms']:.2f} ms, p99 {row['p99_ms']:.2f} ms",
          flush=True)
    for guc in ("enable_indexscan", "enable_bitmapscan", "max_parallel_workers_per_gather"):
        conn.execute(f"RESET {guc}")


def bench_noindex_insert(conn, system, args, data, rows):
    """Reference: the same inserts into a table without an index."""
    extra_lines = data[4]
    create_table(conn, "items_noindex")
    conn.execute("CHECKPOINT")
    secs, _ = timed_inserts(conn, "items_noindex", extra_lines, args.insert_batch)
    rate = round(len(extra_lines) / secs, 1)
    print(f"{system} no index: insert {len(extra_lines)} rows: {secs:.2f} s, {rate:.0f} rows/s",
          flush=True)
    rows.append({"system": system, "index": "none", "build": "-", "param": "insert_rows",
                 "value": len(extra_lines), "insert_rows_per_s": rate,
                 "loadavg_1min": loadavg()})
    conn.execute("DROP TABLE items_noindex")


# ---------------------------------------------------------------------------
# output

COLUMNS = ["system", "index", "build", "param", "value", "recall_at_10", "qps", "p50_ms",
           "p99_ms", "build_s", "index_mb", "insert_rows_per_s", "recall_vs_bulk_points",
           "queries", "short_results", "table_mb", "stats", "note", "cpu", "cores",
           "pg_version", "ext_version", "omendb_commit", "shared_buffers", "loadavg_1min",
           "date", "dataset"]


def fmt(v, spec):
    return "" if v is None or v == "" else format(v, spec)


def print_table(rows):
    print()
    head = (f"{'system':8s} {'index':8s} {'build':5s} {'param':16s} {'value':>6s} "
            f"{'recall@10':>9s} {'qps':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'build s':>8s} "
            f"{'index MB':>8s} {'ins rows/s':>10s} {'vs bulk':>7s}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['system']:8s} {r['index']:8s} {r['build']:5s} {r['param']:16s} "
              f"{r['value']:>6d} {fmt(r.get('recall_at_10'), '9.4f'):>9s} "
              f"{fmt(r.get('qps'), '8.1f'):>8s} {fmt(r.get('p50_ms'), '8.2f'):>8s} "
              f"{fmt(r.get('p99_ms'), '8.2f'):>8s} {fmt(r.get('build_s'), '8.2f'):>8s} "
              f"{fmt(r.get('index_mb'), '8.1f'):>8s} "
              f"{fmt(r.get('insert_rows_per_s'), '10.0f'):>10s} "
              f"{fmt(r.get('recall_vs_bulk_points'), '+7.2f'):>7s}")
    print("\nrecall@10: returned rows within the 10th exact distance; qps: one client, "
          "queries / summed latency;\nvs bulk: recall of the grown index minus the bulk-built "
          "one at the same parameter, in points.")


def print_growth(rows):
    grown = [r for r in rows if r["build"] == "grown" and "recall_vs_bulk_points" in r]
    if not grown:
        return
    print("\ngrowth (index created empty, rows inserted) against bulk build, recall@10:")
    print(f"{'system':8s} {'index':8s} {'param':16s} {'value':>6s} {'bulk':>7s} {'grown':>7s} "
          f"{'diff pts':>8s}")
    for r in grown:
        bulk = r["recall_at_10"] - r["recall_vs_bulk_points"] / 100
        flag = "" if abs(r["recall_vs_bulk_points"]) <= 3 else "  > 3 points"
        print(f"{r['system']:8s} {r['index']:8s} {r['param']:16s} {r['value']:>6d} {bulk:7.4f} "
              f"{r['recall_at_10']:7.4f} {r['recall_vs_bulk_points']:+8.2f}{flag}")


def plot(rows, path, n_rows):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not importable: no plot")
        return
    fig, ax = plt.subplots(figsize=(8, 5.5))
    curves = {}
    for r in rows:
        if r.get("qps") is not None and r["param"] not in ("exact", "insert_rows"):
            curves.setdefault((r["system"], r["index"], r["build"]), []).append(r)
    for (system, index, build), pts in curves.items():
        pts.sort(key=lambda p: p["recall_at_10"])   # the automatic 0 sorts by its recall
        style = "-o" if build == "bulk" else "--s"
        ax.plot([p["recall_at_10"] for p in pts], [p["qps"] for p in pts], style, ms=4,
                label=f"{index} ({system}, {'bulk build' if build == 'bulk' else 'grown by inserts'})")
        for p in pts:
            ax.annotate(str(p["value"]), (p["recall_at_10"], p["qps"]), fontsize=6,
                        xytext=(2, 2), textcoords="offset points")
    for r in rows:
        if r["param"] == "exact":
            ax.plot([r["recall_at_10"]], [r["qps"]], "k*" if r["system"] == "omendb" else "kX",
                    ms=9,
                    label=f"exact seq scan ({r['system']})")
    ax.set_xlabel("recall@10")
    ax.set_ylabel("queries per second (one client, log scale)")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    first = rows[0]
    ax.set_title(f"{first['dataset']} {n_rows} x {DS['dim']}, {DS['metric']}, "
                 f"{first['queries']} queries, "
                 f"labels: alex.probes / hnsw.ef_search / ivfflat.probes\n"
                 f"{first['cpu']}, PostgreSQL {first['pg_version']}", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


# ---------------------------------------------------------------------------


def main():
    args = parse_args()
    dsn = base_dsn(args)
    others = subprocess.run(["pgrep", "-f", "bench/seqscan.py"], capture_output=True,
                            text=True).stdout.split()
    if others:
        print(f"warning: another benchmark is running (pids {' '.join(others)}); "
              f"the timings will be noisy", flush=True)

    global DS
    DS = DATASETS[args.dataset]
    print(f"loading {args.dataset} and computing the exact top-10", flush=True)
    # the insert test adds copies of test vectors (fashion-mnist) or fresh rows
    X, train_lines, Q, query_lines, extra_lines = load_data(args)
    params = [vector_text(line) for line in query_lines]
    _, kth = exact_topk(X, Q)
    data = (X, Q, kth, params, extra_lines)

    admin_db = conninfo.conninfo_to_dict(dsn).get("dbname", "postgres")
    admin = psycopg.connect(conninfo.make_conninfo(dsn, dbname=admin_db), autocommit=True)
    systems = ["omendb"]
    available = admin.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
                              ).fetchone() is not None
    if args.pgvector is None:
        args.pgvector = available
    if args.pgvector:
        if not available:
            sys.exit("--with-pgvector: the extension `vector` is not installed in this server")
        systems.append("pgvector")
    else:
        print("pgvector: " + ("skipped (--no-pgvector)" if available else "not installed"))

    machine = machine_info()
    lists = round(math.sqrt(args.rows))    # pgvector's advice for up to 1M rows: rows / 1000,
    rows = []                              # sqrt(rows) beyond; sqrt is the fairer here
    specs = {
        "omendb": {"alex": {"with": f" WITH (leaves = {args.leaves})" if args.leaves else "",
                            "with_empty": "", "guc": "alex.probes", "values": args.probes}},
        "pgvector": {
            "hnsw": {"with": " WITH (m = 16, ef_construction = 64)",
                     "with_empty": " WITH (m = 16, ef_construction = 64)",
                     "guc": "hnsw.ef_search", "values": args.ef_search},
            "ivfflat": {"with": f" WITH (lists = {lists})", "with_empty": f" WITH (lists = {lists})",
                        "guc": "ivfflat.probes", "values": args.ivf_probes}},
    }
    for system in systems:
        conn = prepare_database(admin, dsn, system, train_lines)
        info = {"pg_version": one(conn, "SHOW server_version"),
                "ext_version": f"{EXTENSIONS[system]} " + one(
                    conn, "SELECT extversion FROM pg_extension WHERE extname = %s",
                    [EXTENSIONS[system]]),
                "shared_buffers": one(conn, "SHOW shared_buffers") +
                f", maintenance_work_mem {args.maintenance_work_mem}",
                "table_mb": mb(conn, "pg_table_size", "items")}
        print(f"machine: {machine['cpu']} ({machine['cores']} cores), PostgreSQL "
              f"{info['pg_version']}, {info['ext_version']}, shared_buffers "
              f"{info['shared_buffers']}, omendb tree {machine['omendb_commit']}", flush=True)
        start = len(rows)
        for method, spec in specs[system].items():
            bulk = bench_index(conn, system, method, spec, args, data, rows)
            if not args.skip_growth:
                bench_growth(conn, system, method, spec, args, data, train_lines, bulk, rows)
        bench_exact(conn, system, args, data, rows)
        bench_noindex_insert(conn, system, args, data, rows)
        now = datetime.datetime.now().isoformat(timespec="seconds")
        for r in rows[start:]:
            r.update({**machine, **info, "date": now, "dataset": args.dataset})
        conn.close()
    admin.close()

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    print_table(rows)
    print_growth(rows)
    print(f"\nmachine: {machine['cpu']} ({machine['cores']} cores), PostgreSQL "
          f"{rows[0]['pg_version']}; wrote {args.out}")
    if args.plot:
        plot(rows, args.plot, args.rows)


if __name__ == "__main__":
    main()
