#!/usr/bin/python3
"""alex ANN index benchmark: recall@10 against QPS, build, growth, inserts.

One run, one dataset, one machine, one client measures:

1. the exact top-10 of every query, computed here with numpy (squared L2 over the
   integer pixels for fashion-mnist, so the float64 arithmetic is exact);
2. a bulk build: the base rows loaded with COPY, VACUUM ANALYZE, every vector read
   once (untimed, the same for every system), then CREATE INDEX ... USING alex
   timed, index and table sizes, alex_index_stats;
3. a sweep of alex.probes: recall@10, QPS, p50/p99 latency of the prepared
   statement SELECT id FROM items ORDER BY embedding <-> $1 LIMIT 10 over the
   first --queries test vectors, one client, after one untimed warm-up pass;
4. the exact answer by seq scan (no index, no parallel workers) as a baseline;
5. growth (fashion-mnist only): an index created on an EMPTY table, then every
   row inserted in batches; insert rate, final stats and the same sweep, compared
   with the bulk-built index at every parameter value;
6. grow 4x: an index bulk-built on the first 25% of the rows, then the other 75%
   inserted in batches; insert rate and the same sweep against the bulk build;
7. the insert rate into the bulk-indexed table (6,000 extra rows, then deleted),
   and into a table without an index for reference;
8. when the server's alex knows WITH (rerank = table): the same for a second alex
   index, labelled alex_table, that keeps no full vectors and reranks from the table;
9. when the pgvector extension (`vector`) is installed in the cluster: the same
   for pgvector's HNSW and IVFFlat, in a database of their own (both extensions
   define a type called vector).

recall@10 counts a returned row as correct when its distance is at most the 10th
exact distance, so rows tied with the 10th neighbour are not counted as misses.

Run with Debian's python (psycopg 3, numpy; matplotlib for the plot):
    /usr/bin/python3 bench/alex.py [--dsn 'host=/tmp port=5432'] [--dataset NAME]
bench/run.sh runs it end to end; see bench/README.md.
"""

import argparse
import csv
import datetime
import math
import os
import subprocess
import sys
import time
from typing import NamedTuple

import numpy as np
import psycopg
from psycopg import conninfo

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "scripts"))
import fashion_mnist  # noqa: E402  (the repository's loader)

# The datasets: fashion-mnist (Debian's dataset-fashion-mnist, L2) and seeded
# synthetic sets (normalised, clustered; see synthetic()).  rows: the default
# --rows; growth: whether the grown-from-empty test runs (100,000 inserts into
# HNSW alone take many minutes); integer: distances are exact in float64.
DATASETS = {
    "fashion-mnist": {"dim": 784, "op": "<->", "opclass": "vector_l2_ops", "metric": "L2",
                      "rows": 60000, "growth": True, "integer": True},
    "synthetic-1536": {"dim": 1536, "op": "<=>", "opclass": "vector_cosine_ops",
                       "metric": "cosine", "rows": 100000, "growth": False, "integer": False,
                       "latent": 256, "clusters": 200},
    "synthetic-1m-128": {"dim": 128, "op": "<->", "opclass": "vector_l2_ops", "metric": "L2",
                         "rows": 1000000, "growth": False, "integer": False,
                         "latent": 64, "clusters": 1000},
}
DS = DATASETS["fashion-mnist"]   # set from --dataset in main()
SYNTHETIC_SEED = 20261124
K = 10
DATABASES = {"omendb": "bench_alex", "pgvector": "bench_alex_pgvector"}
EXTENSIONS = {"omendb": "omendb", "pgvector": "vector"}
EXTRA_ID = 1_000_000_000        # ids of the rows added to an indexed table in step 7
HNSW_M, HNSW_EF_CONSTRUCTION = 16, 64   # pgvector's defaults; reference.py uses them too
ALEX_PROBES = "0,1,2,3,5,8,10,15,20,25,30,40,50"   # 0: the automatic default
EF_SEARCH = "10,20,40,80,120,200"
IVF_PROBES = "1,2,3,5,8,10,15,20,30,50"
RESULTS = os.path.join(HERE, "results")
PLOT = os.path.join(REPO, "docs", "benchmarks", "alex_{dataset}_recall_qps.png")


def int_list(text):
    return [int(v) for v in text.split(",") if v.strip()]


def tag(dataset):
    """The dataset's name in file names: fashion_mnist."""
    return dataset.replace("-", "_")


def parse_args():
    p = argparse.ArgumentParser(
        description="alex index: build, recall@10 vs QPS, growth, inserts; optionally "
                    "against pgvector HNSW and IVFFlat.")
    p.add_argument("--dsn", default=None,
                   help="libpq connection string for the maintenance database "
                        "(default: libpq environment, host=/tmp if PGHOST is unset)")
    p.add_argument("--dataset", choices=sorted(DATASETS), default="fashion-mnist",
                   help="fashion-mnist (60,000 x 784, L2), synthetic-1536 (100,000 x 1536, "
                        "cosine) or synthetic-1m-128 (1,000,000 x 128, L2); growth from "
                        "empty is skipped for the synthetic sets (default: %(default)s)")
    p.add_argument("--rows", type=int, default=None,
                   help="base rows (default: the dataset's, see --dataset)")
    p.add_argument("--queries", type=int, default=1000,
                   help="test vectors used as queries (default: %(default)s)")
    p.add_argument("--exact-queries", type=int, default=100,
                   help="queries timed for the exact seq scan (default: %(default)s)")
    p.add_argument("--probes", type=int_list, default=int_list(ALEX_PROBES),
                   help=f"alex.probes values, 0 is the automatic default (default: {ALEX_PROBES})")
    p.add_argument("--leaves", type=int, default=0,
                   help="WITH (leaves = N) for the bulk build; 0: the index chooses "
                        "(default: %(default)s)")
    p.add_argument("--batches", type=int, default=100,
                   help="COPY batches for the growth and grow-4x tests (default: %(default)s)")
    p.add_argument("--insert-rows", type=int, default=6000,
                   help="rows added to the bulk-indexed table (default: %(default)s)")
    p.add_argument("--insert-batch", type=int, default=600,
                   help="rows per COPY when inserting (default: %(default)s)")
    p.add_argument("--skip-growth", action="store_true",
                   help="skip the growth test (index created on an empty table)")
    p.add_argument("--skip-grow4x", action="store_true",
                   help="skip the grow-4x test (built on 25%% of the rows, 75%% inserted)")
    p.add_argument("--skip-alex-table", action="store_true",
                   help="skip the alex_table index (WITH (rerank = table)); by default it "
                        "runs when the server's alex accepts that option")
    p.add_argument("--rounds", type=int, default=3,
                   help="interleaved rounds: after every system's own phase, alex "
                        "and pgvector HNSW are built again side by side and "
                        "swept in turn this many times, the systems' order alternating; "
                        "their median QPS is what the targets are judged on, robust to "
                        "a machine whose speed drifts between phases; 0: none, and "
                        "only with pgvector (default: %(default)s)")
    pgv = p.add_mutually_exclusive_group()
    pgv.add_argument("--with-pgvector", dest="pgvector", action="store_true", default=None,
                     help="also run pgvector HNSW and IVFFlat (default: when installed)")
    pgv.add_argument("--no-pgvector", dest="pgvector", action="store_false",
                     help="omendb only")
    p.add_argument("--ef-search", type=int_list, default=int_list(EF_SEARCH),
                   help=f"hnsw.ef_search values (default: {EF_SEARCH})")
    p.add_argument("--ivf-probes", type=int_list, default=int_list(IVF_PROBES),
                   help=f"ivfflat.probes values (default: {IVF_PROBES})")
    p.add_argument("--build-workers", type=int, default=0,
                   help="max_parallel_maintenance_workers for CREATE INDEX, the same for all "
                        "systems (default: %(default)s, serial for all)")
    p.add_argument("--maintenance-work-mem", default="1GB",
                   help="maintenance_work_mem for every CREATE INDEX, the same for all systems "
                        "(pgvector's HNSW build slows down sharply when its graph does not fit; "
                        "default: %(default)s)")
    p.add_argument("--out", default=os.path.join(RESULTS, "alex_{dataset}.csv"),
                   help="CSV written (default: %(default)s)")
    p.add_argument("--reference", default=os.path.join(RESULTS, "reference_{dataset}.csv"),
                   help="bench/reference.py's CSV, drawn into the plot when it exists and "
                        "has the same rows and queries (default: %(default)s)")
    p.add_argument("--plot", default=PLOT, help="recall/QPS plot written if matplotlib is "
                                                "available; '' for none (default: %(default)s)")
    p.add_argument("--plot-only", action="store_true",
                   help="run nothing: redraw the plot from --out and --reference")
    args = p.parse_args()
    for name in ("out", "reference", "plot"):
        setattr(args, name, getattr(args, name).format(dataset=tag(args.dataset)))
    if args.rows is None:
        args.rows = DATASETS[args.dataset]["rows"]
    if not DATASETS[args.dataset]["growth"]:
        args.skip_growth = True
    if not args.probes or not args.ef_search or not args.ivf_probes:
        p.error("empty parameter list")
    if args.plot_only and not args.plot:
        p.error("--plot-only needs a --plot path")
    return args


# ---------------------------------------------------------------------------
# data and exact answers


def load_split(split, limit, start_id=0, text=True):
    """(pixels as an n x 784 uint8 array, COPY lines 'id<TAB>label<TAB>[...]\\n' or None)."""
    images, labels, count, dim = fashion_mnist.read_split(split, limit)
    if count != limit:
        sys.exit(f"fashion-mnist {split} has {count} rows, wanted {limit}")
    X = np.frombuffer(images, dtype=np.uint8).reshape(count, dim)
    if not text:
        return X, None
    return X, list(fashion_mnist.copy_lines(images, labels, count, dim, start_id))


def synthetic_model(rng):
    """Cluster centres in the latent space, their spread, and the map to full width."""
    latent, clusters = DS["latent"], DS["clusters"]
    return (rng.normal(size=(clusters, latent)),
            rng.uniform(1.2, 1.8, size=clusters),
            rng.normal(size=(latent, DS["dim"])) / math.sqrt(latent))


def synthetic(n, start_id, rng, model, text=True):
    """n normalised rows: points of a clustered latent space (DS["latent"]-d,
    DS["clusters"] clusters), mapped into the full width by a fixed random linear
    map, plus isotropic noise.  Like text embeddings: high ambient, lower intrinsic
    dimension, clusters that overlap."""
    centers, spread, mixing = model
    c = rng.integers(0, len(centers), size=n)
    z = centers[c] + rng.normal(size=(n, centers.shape[1])) * spread[c][:, None]
    v = z @ mixing
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    # isotropic noise carrying about 40% of the energy, as in the reference design's
    # hard set: neighbours are no longer obvious from the clusters
    v += rng.normal(size=v.shape) * (0.8 / math.sqrt(v.shape[1]))
    v = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    if not text:
        return v, None
    # str() of a float32 widened to float64 parses back to the same float32
    lines = [f"{start_id + i}\t{c[i]}\t[{','.join(map(str, v[i].tolist()))}]\n"
             for i in range(n)]
    return v, lines


def load_data(args, text=True):
    """(X, train lines, Q, query lines, extra lines) for args.dataset, args.rows and
    args.queries; the ids of X's rows are their positions.  text=False leaves the
    COPY lines out (None) and with them the extra rows (reference.py needs neither)."""
    extra = args.insert_rows if text else 0
    if args.dataset == "fashion-mnist":
        X, train_lines = load_split("train", args.rows, text=text)
        Q, query_lines = load_split("test", args.queries, text=text)
        _, extra_lines = load_split("test", extra, start_id=EXTRA_ID, text=text)
        return X, train_lines, Q, query_lines, extra_lines
    rng = np.random.default_rng(SYNTHETIC_SEED)
    model = synthetic_model(rng)
    X, train_lines = synthetic(args.rows, 0, rng, model, text)
    Q, query_lines = synthetic(args.queries, 0, rng, model, text)
    _, extra_lines = synthetic(extra, EXTRA_ID, rng, model, text)
    return X, train_lines, Q, query_lines, extra_lines


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
    """Exact top-K ids and the K-th distance of every query.  Queries go in blocks
    whose distance matrix stays near 1 GB (200 queries up to 670,000 rows, 134 at
    1,000,000), so memory does not grow with the number of queries."""
    block = max(1, min(200, 2 ** 27 // len(X)))
    ids, kth = [], []
    for start in range(0, len(Q), block):
        D = distances(X, Q[start:start + block])
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
            # fashion-mnist distances are exact integers; distances of float32 vectors
            # carry ~1e-6 relative rounding in the server: tolerate 1e-5
            slack = 0 if DS["integer"] else 1e-5 * abs(kth[i]) + 1e-9
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
    # in chunks: one joined string of a million 128-d rows would be gigabytes
    with conn.cursor().copy(f"COPY {table} (id, label, embedding) FROM STDIN") as copy:
        for start in range(0, len(lines), 10000):
            copy.write("".join(lines[start:start + 10000]))


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


def warm_table(conn, table):
    """Read every row's vector once, untimed, so every build starts from the same cache
    state: the table's TOAST in shared buffers.  Otherwise whichever build runs first in
    a fresh cluster also pays for first touching shared memory (on the reference VM one
    read of the 1536-d table took 3.1 s cold, 0.4 s after)."""
    conn.execute(f"SELECT sum(vector_dims(embedding)) FROM {table}").fetchone()


def create_index(conn, name, table, spec, with_clause, args):
    """CREATE INDEX with the same build settings for every system, from a warm table;
    seconds taken."""
    conn.execute(f"SET max_parallel_maintenance_workers = {args.build_workers}")
    conn.execute(f"SET maintenance_work_mem = '{args.maintenance_work_mem}'")
    warm_table(conn, table)
    t0 = time.perf_counter()
    conn.execute(f"CREATE INDEX {name} ON {table} USING {spec['am']} "
                 f"(embedding {DS['opclass']}){with_clause}")
    return round(time.perf_counter() - t0, 2)


def alex_accepts_rerank(conn):
    """Whether this server's alex knows WITH (rerank = table): an index on an empty
    temporary table, rolled back."""
    try:
        with conn.transaction():
            conn.execute(f"CREATE TEMP TABLE rerank_probe (embedding vector({DS['dim']}))")
            conn.execute(f"CREATE INDEX ON rerank_probe USING alex "
                         f"(embedding {DS['opclass']}) WITH (rerank = table)")
            raise psycopg.Rollback()
    except psycopg.Error as e:
        print(f"alex_table skipped: this server's alex rejects WITH (rerank = table): "
              f"{e.diag.message_primary or e}", flush=True)
        return False
    return True


def with_clause(options):
    return f" WITH ({', '.join(options)})" if options else ""


def index_specs(system, conn, args):
    """label -> how to build and sweep that index.  The label names the index, its
    CSV rows and its curve; `am` is the access method; `with` is for the bulk build
    and `with_empty` for the index created on an empty table."""
    if system == "pgvector":
        hnsw = with_clause([f"m = {HNSW_M}", f"ef_construction = {HNSW_EF_CONSTRUCTION}"])
        # pgvector's advice for up to 1M rows is rows / 1000, sqrt(rows) beyond;
        # sqrt is the fairer here
        ivf = with_clause([f"lists = {round(math.sqrt(args.rows))}"])
        return {"hnsw": {"am": "hnsw", "with": hnsw, "with_empty": hnsw,
                         "guc": "hnsw.ef_search", "values": args.ef_search},
                "ivfflat": {"am": "ivfflat", "with": ivf, "with_empty": ivf,
                            "guc": "ivfflat.probes", "values": args.ivf_probes}}
    leaves = [f"leaves = {args.leaves}"] if args.leaves else []
    specs = {"alex": {"am": "alex", "with": with_clause(leaves), "with_empty": "",
                      "guc": "alex.probes", "values": args.probes}}
    if args.skip_alex_table:
        print("alex_table skipped (--skip-alex-table)")
    elif alex_accepts_rerank(conn):
        table = ["rerank = table"]
        specs["alex_table"] = {**specs["alex"], "with": with_clause(leaves + table),
                               "with_empty": with_clause(table)}
    return specs


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
    commit = subprocess.run(["git", "-C", REPO, "describe", "--always"],
                            capture_output=True, text=True).stdout.strip()
    # dirty: changed sources, not the results this very run writes as it goes, nor notes
    # and docs edited beside it
    changed = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--", ".",
                              ":!bench/results", ":!docs", ":!ai", ":!*.md"],
                             capture_output=True, text=True).stdout.strip()
    if commit and changed:
        commit += "-dirty"
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


def sweep(conn, sql, guc, values, data, label):
    """Warm up once at the largest value, then time one pass per value."""
    conn.execute(f"SET {guc} = {max(values)}")
    run_queries(conn, sql, data.params)
    out = []
    for v in values:
        conn.execute(f"SET {guc} = {v}")
        results, lat = run_queries(conn, sql, data.params)
        recall, short = recall_at_k(results, data.X, data.Q, data.kth)
        row = {"param": guc, "value": v, "recall_at_10": round(recall, 4), **timing(lat),
               "queries": len(data.params), "short_results": short,
               "loadavg_1min": loadavg()}
        out.append(row)
        print(f"  {label:18s} {guc}={v:<4d} recall@10 {recall:.4f}  {row['qps']:8.1f} qps  "
              f"p50 {row['p50_ms']:7.2f} ms  p99 {row['p99_ms']:7.2f} ms"
              + (f"  ({short} queries got < {K} rows)" if short else ""), flush=True)
    conn.execute(f"RESET {guc}")
    return out


def knn_sql(table, tag):
    # the comment makes the SQL text, and so psycopg's prepared statement, distinct per run
    return f"/* {tag} */ SELECT id FROM {table} ORDER BY embedding {DS['op']} %s::vector LIMIT {K}"


def index_sweep(conn, table, name, spec, data, label):
    """The sweep through index `name`, after checking that the plan uses it."""
    conn.execute("SET enable_seqscan = off")
    sql = knn_sql(table, label)
    check_plan(conn, sql, data.params[0], name)
    out = sweep(conn, sql, spec["guc"], spec["values"], data, label)
    conn.execute("RESET enable_seqscan")
    return out


def bench_index(conn, system, label, spec, args, data, rows):
    """Bulk build, sweep and inserts into the built index; {value: recall} of the sweep."""
    name = f"items_{label}"
    build_s = create_index(conn, name, "items", spec, spec["with"], args)
    # write the build's dirty pages out now, not during the sweep that follows
    conn.execute("CHECKPOINT")
    conn.execute("CHECKPOINT")
    index_mb = mb(conn, "pg_relation_size", name)
    stats = index_stats(conn, system, name)
    print(f"{system} {label}: CREATE INDEX {build_s:.2f} s, index {index_mb} MB"
          + (f"\n  alex_index_stats: {stats_text(stats)}" if stats else ""), flush=True)

    common = {"system": system, "index": label, "build": "bulk", "build_s": build_s,
              "index_mb": index_mb, "stats": stats_text(stats)}
    swept = index_sweep(conn, "items", name, spec, data, f"{label} bulk")
    rows.extend({**common, **r} for r in swept)

    # inserts into the bulk-built index, then back to the loaded table
    conn.execute("CHECKPOINT")
    secs, _ = timed_inserts(conn, "items", data.extra_lines, args.insert_batch)
    rate = round(len(data.extra_lines) / secs, 1)
    after = index_stats(conn, system, name)
    print(f"  insert {len(data.extra_lines)} rows into the indexed table: {secs:.2f} s, "
          f"{rate:.0f} rows/s" + (f"\n  alex_index_stats after: {stats_text(after)}"
                                  if after else ""), flush=True)
    rows.append({**common, "param": "insert_rows", "value": len(data.extra_lines),
                 "insert_rows_per_s": rate, "stats": stats_text(after),
                 "loadavg_1min": loadavg()})
    conn.execute("DELETE FROM items WHERE id >= %s", [EXTRA_ID])
    conn.execute("VACUUM items")
    conn.execute(f"DROP INDEX {name}")
    return {r["value"]: r["recall_at_10"] for r in swept}


def insert_grown(conn, system, table, name, lines, args, common, rows):
    """Insert `lines` into the indexed `table` in --batches COPY batches; record the
    rate and the index afterwards; the common fields of this build's rows."""
    batch = -(-len(lines) // args.batches)
    secs, per_batch = timed_inserts(conn, table, lines, batch)
    rate = round(len(lines) / secs, 1)
    tenth = max(1, len(per_batch) // 10)
    first = batch * tenth / sum(per_batch[:tenth])
    last = batch * tenth / sum(per_batch[-tenth:])
    conn.execute(f"ANALYZE {table}")
    conn.execute("CHECKPOINT")
    index_mb = mb(conn, "pg_relation_size", name)
    stats = index_stats(conn, system, name)
    print(f"{system} {common['index']} {common['build']}: inserted {len(lines)} rows in "
          f"{len(per_batch)} COPY batches of {batch}: {secs:.1f} s, {rate:.0f} rows/s "
          f"(first tenth {first:.0f}, last tenth {last:.0f} rows/s), index {index_mb} MB"
          + (f"\n  alex_index_stats: {stats_text(stats)}" if stats else ""), flush=True)
    common = {**common, "index_mb": index_mb, "stats": stats_text(stats)}
    rows.append({**common, "param": "insert_rows", "value": len(lines),
                 "insert_rows_per_s": rate, "loadavg_1min": loadavg(),
                 "note": f"{len(per_batch)} batches of {batch}; first tenth {first:.0f} rows/s, "
                         f"last tenth {last:.0f} rows/s"})
    return common


def sweep_against_bulk(conn, table, name, spec, data, bulk, common, rows):
    """The sweep, each point with its recall minus the bulk build's at that value."""
    label = f"{common['index']} {common['build']}"
    for r in index_sweep(conn, table, name, spec, data, label):
        diff = round(100 * (r["recall_at_10"] - bulk[r["value"]]), 2)
        rows.append({**common, **r, "recall_vs_bulk_points": diff})


def bench_growth(conn, system, label, spec, args, data, bulk, rows):
    """Index created on an empty table, then every row inserted in batches."""
    table, name = "items_growth", f"items_growth_{label}"
    create_table(conn, table)
    create_index(conn, name, table, spec, spec["with_empty"], args)
    conn.execute("CHECKPOINT")
    common = {"system": system, "index": label, "build": "grown"}
    common = insert_grown(conn, system, table, name, data.train_lines, args, common, rows)
    sweep_against_bulk(conn, table, name, spec, data, bulk, common, rows)
    conn.execute(f"DROP TABLE {table}")


def bench_grow4x(conn, system, label, spec, args, data, bulk, rows):
    """Index bulk-built on the first 25% of the rows, then the other 75% inserted in
    batches: the table grows 4x under an index built for a quarter of it."""
    table, name = "items_grow4x", f"items_grow4x_{label}"
    quarter = len(data.train_lines) // 4
    create_table(conn, table)
    copy_rows(conn, table, data.train_lines[:quarter])
    conn.execute(f"VACUUM ANALYZE {table}")
    build_s = create_index(conn, name, table, spec, spec["with"], args)
    conn.execute("CHECKPOINT")
    print(f"{system} {label} grow4x: CREATE INDEX on the first {quarter} rows {build_s:.2f} s",
          flush=True)
    common = {"system": system, "index": label, "build": "grow4x", "build_s": build_s}
    common = insert_grown(conn, system, table, name, data.train_lines[quarter:], args,
                          common, rows)
    sweep_against_bulk(conn, table, name, spec, data, bulk, common, rows)
    conn.execute(f"DROP TABLE {table}")


# one index per system: with alex_table on the same table the planner would choose
# between the two alex indexes itself
INTERLEAVED = {"omendb": ("alex",), "pgvector": ("hnsw",)}


def median_row(rounds):
    """One sweep point from the same point of every round: the round with the median
    QPS (its latencies too), the QPS of every round in the note."""
    by_qps = sorted(rounds, key=lambda r: r["qps"])
    mid = by_qps[len(by_qps) // 2]
    recalls = sorted({r["recall_at_10"] for r in rounds})
    note = (f"median of {len(rounds)} interleaved rounds; QPS by round "
            + " / ".join(f"{r['qps']:.0f}" for r in rounds))
    if len(recalls) > 1:
        note += "; recall@10 by round " + " / ".join(f"{r['recall_at_10']:.4f}"
                                                    for r in rounds)
    return {**mid, "rounds": len(rounds), "note": note}


def bench_interleaved(conns, specs, args, data, rows):
    """The systems' indexes of the targets built again, side by side, and swept in
    --rounds rounds; each round sweeps every index once, the systems' order alternating.
    Measuring each system in its own phase is exposed to the machine drifting between
    phases (20-35% on the reference VM); here the drift falls on all alike."""
    built = {}      # (system, label) -> (spec, common fields)
    for system, conn in conns.items():
        for label in INTERLEAVED[system]:
            spec = specs[system].get(label)
            if spec is None:
                continue
            name = f"items_{label}"
            build_s = create_index(conn, name, "items", spec, spec["with"], args)
            conn.execute("CHECKPOINT")
            conn.execute("CHECKPOINT")
            index_mb = mb(conn, "pg_relation_size", name)
            print(f"{system} {label} interleaved: CREATE INDEX {build_s:.2f} s, "
                  f"index {index_mb} MB", flush=True)
            built[(system, label)] = (spec, {"system": system, "index": label,
                                             "build": "interleaved", "build_s": build_s,
                                             "index_mb": index_mb})
    points = {}     # (system, label, value) -> that point's row of every round
    order = list(conns)
    for r in range(args.rounds):
        for system in (order if r % 2 == 0 else order[::-1]):
            for (owner, label), (spec, common) in built.items():
                if owner != system:
                    continue
                swept = index_sweep(conns[system], "items", f"items_{label}", spec, data,
                                    f"{label} round {r + 1}")
                for p in swept:
                    points.setdefault((system, label, p["value"]), []).append({**common, **p})
    for (system, label, _), rounds in points.items():
        rows.append(median_row(rounds))
    for system, label in built:
        conns[system].execute(f"DROP INDEX items_{label}")


def bench_exact(conn, system, args, data, rows):
    """Exact ORDER BY ... LIMIT 10 by seq scan, no workers."""
    params = data.params[:args.exact_queries]
    conn.execute("SET enable_indexscan = off")
    conn.execute("SET enable_bitmapscan = off")
    conn.execute("SET max_parallel_workers_per_gather = 0")
    sql = knn_sql("items", "exact")
    run_queries(conn, sql, params[:10])
    results, lat = run_queries(conn, sql, params)
    recall, short = recall_at_k(results, data.X, data.Q, data.kth)
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
    create_table(conn, "items_noindex")
    conn.execute("CHECKPOINT")
    secs, _ = timed_inserts(conn, "items_noindex", data.extra_lines, args.insert_batch)
    rate = round(len(data.extra_lines) / secs, 1)
    print(f"{system} no index: insert {len(data.extra_lines)} rows: {secs:.2f} s, "
          f"{rate:.0f} rows/s", flush=True)
    rows.append({"system": system, "index": "none", "build": "-", "param": "insert_rows",
                 "value": len(data.extra_lines), "insert_rows_per_s": rate,
                 "loadavg_1min": loadavg()})
    conn.execute("DROP TABLE items_noindex")


# ---------------------------------------------------------------------------
# output

COLUMNS = ["system", "index", "build", "param", "value", "recall_at_10", "qps", "p50_ms",
           "p99_ms", "build_s", "index_mb", "insert_rows_per_s", "recall_vs_bulk_points",
           "queries", "short_results", "table_mb", "stats", "note", "cpu", "cores",
           "pg_version", "ext_version", "omendb_commit", "shared_buffers", "loadavg_1min",
           "date", "dataset", "rows", "rounds"]
INT_COLUMNS = {"value", "queries", "short_results", "cores", "rows", "rounds"}
FLOAT_COLUMNS = {"recall_at_10", "qps", "p50_ms", "p99_ms", "build_s", "index_mb",
                 "insert_rows_per_s", "recall_vs_bulk_points", "table_mb", "loadavg_1min"}
BUILDS = {"bulk": ("-", "o", "bulk build"), "grown": ("--", "s", "grown from empty"),
          "grow4x": ("-.", "^", "built on 25%, grown 4x"),
          "interleaved": (":", "D", "bulk build, interleaved rounds")}
REFERENCE_NAMES = {("hnswlib", "hnsw"): "hnswlib", ("faiss", "hnsw"): "faiss HNSW",
                   ("faiss", "ivfflat"): "faiss IVFFlat"}


def write_rows(path, rows):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)


def read_rows(path):
    """A CSV written by write_rows (this script's or reference.py's), numbers as
    numbers and empty fields as None."""
    def parse(key, text):
        if text == "" or text is None:
            return None
        if key in INT_COLUMNS:
            return int(text)
        return float(text) if key in FLOAT_COLUMNS else text

    with open(path, newline="") as f:
        return [{k: parse(k, v) for k, v in r.items()} for r in csv.DictReader(f)]


def fmt(v, spec):
    return "" if v is None or v == "" else format(v, spec)


def print_table(rows):
    print()
    head = (f"{'system':8s} {'index':10s} {'build':6s} {'param':16s} {'value':>6s} "
            f"{'recall@10':>9s} {'qps':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'build s':>8s} "
            f"{'index MB':>8s} {'ins rows/s':>10s} {'vs bulk':>7s}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['system']:8s} {r['index']:10s} {r['build']:6s} {r['param']:16s} "
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
    grown = [r for r in rows if r.get("recall_vs_bulk_points") is not None]
    if not grown:
        return
    print("\ngrowth against the bulk build of the whole table, recall@10 "
          "(grown: index created empty, every row inserted;\ngrow4x: index built on the "
          "first 25%, the other 75% inserted):")
    print(f"{'system':8s} {'index':10s} {'build':6s} {'param':16s} {'value':>6s} {'bulk':>7s} "
          f"{'grown':>7s} {'diff pts':>8s}")
    for r in grown:
        bulk = r["recall_at_10"] - r["recall_vs_bulk_points"] / 100
        flag = "" if abs(r["recall_vs_bulk_points"]) <= 3 else "  > 3 points"
        print(f"{r['system']:8s} {r['index']:10s} {r['build']:6s} {r['param']:16s} "
              f"{r['value']:>6d} {bulk:7.4f} {r['recall_at_10']:7.4f} "
              f"{r['recall_vs_bulk_points']:+8.2f}{flag}")


def sweep_curves(rows):
    """Sweep points by (system, index, build), each curve sorted by recall."""
    curves = {}
    for r in rows:
        if r.get("qps") is not None and r["param"] not in ("exact", "insert_rows"):
            curves.setdefault((r["system"], r["index"], r["build"]), []).append(r)
    for pts in curves.values():
        pts.sort(key=lambda p: p["recall_at_10"])   # the automatic 0 sorts by its recall
    return curves


def reference_rows(args, n_rows, queries):
    """reference.py's rows when they are for the same data; [] (and why) if not."""
    if not os.path.exists(args.reference):
        print(f"no {args.reference}: the plot has no in-process references")
        return []
    ref = read_rows(args.reference)
    if any(r["rows"] != n_rows or r["queries"] != queries for r in ref):
        print(f"{args.reference} is not for {n_rows} rows and {queries} queries: "
              f"not drawn")
        return []
    return ref


ZOOM_RECALL = 0.9   # the right panel: where the systems are compared


def draw_curves(ax, curves, refs, rows, colour, min_recall=0.0):
    """Every sweep as a line (label: its parameter value), in-process references
    dotted, the exact seq scans as stars; points below min_recall left out."""
    def shown(pts):
        return [p for p in pts if p["recall_at_10"] >= min_recall]

    for (system, index, build), pts in curves.items():
        line, marker, what = BUILDS[build]
        pts = shown(pts)
        ax.plot([p["recall_at_10"] for p in pts], [p["qps"] for p in pts], linestyle=line,
                marker=marker, ms=4, color=colour(system, index),
                label=f"{index} ({system}, {what})")
        for p in pts:
            ax.annotate(str(p["value"]), (p["recall_at_10"], p["qps"]), fontsize=6,
                        xytext=(2, 2), textcoords="offset points")
    for (system, index, _), pts in refs.items():
        pts = shown(pts)
        ax.plot([p["recall_at_10"] for p in pts], [p["qps"] for p in pts], ":", lw=1,
                color=colour(system, index),
                label=f"{REFERENCE_NAMES.get((system, index), system)} (in-process)")
    for r in rows:
        if r["param"] == "exact":
            ax.plot([r["recall_at_10"]], [r["qps"]], "k*" if r["system"] == "omendb" else "kX",
                    ms=9, label=f"exact seq scan ({r['system']})")
    ax.set_xlabel("recall@10")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)


def plot(rows, args):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not importable: no plot")
        return
    curves = sweep_curves(rows)
    first = next(iter(curves.values()))[0]
    n_rows = first.get("rows") or args.rows     # CSVs from before the rows column
    refs = sweep_curves(reference_rows(args, n_rows, first["queries"]))
    colours = {}

    def colour(system, index):   # one colour per index, whatever its build
        return colours.setdefault((system, index), f"C{len(colours) % 10}")

    fig, (ax, zoom) = plt.subplots(1, 2, figsize=(15, 8))
    draw_curves(ax, curves, refs, rows, colour)
    ax.set_ylabel("queries per second (one client, log scale)")
    ax.set_title("every sweep", fontsize=9)
    # the zoom: the interleaved rounds where an index has them, else its bulk build
    rounds = {key[:2] for key in curves if key[2] == "interleaved"}
    judged = {key: pts for key, pts in curves.items()
              if key[2] == "interleaved" or (key[2] == "bulk" and key[:2] not in rounds)}
    draw_curves(zoom, judged, refs, [], colour, ZOOM_RECALL)
    zoom.set_xlim(left=ZOOM_RECALL)
    zoom.set_title(("interleaved rounds (medians), other bulk builds" if rounds else
                    "bulk builds") + f" and references, recall@10 >= {ZOOM_RECALL}",
                   fontsize=9)
    fig.suptitle(f"{args.dataset} {n_rows} x {DS['dim']}, {DS['metric']}, "
                 f"{first['queries']} queries, labels: alex.probes (0: automatic) / "
                 f"hnsw.ef_search / ivfflat.probes\n{first['cpu']}, PostgreSQL "
                 f"{first['pg_version']}"
                 + ("; dotted: in-process libraries, one thread" if refs else ""), fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=4)
    os.makedirs(os.path.dirname(os.path.abspath(args.plot)), exist_ok=True)
    fig.tight_layout(rect=(0, 0.2, 1, 1))
    fig.savefig(args.plot, dpi=110)
    print(f"wrote {args.plot}")


# ---------------------------------------------------------------------------


class Data(NamedTuple):
    X: np.ndarray            # base rows; a row's id is its position
    Q: np.ndarray            # queries
    kth: np.ndarray          # each query's 10th exact distance
    params: list             # each query as vector text, the statement's parameter
    train_lines: list        # COPY lines of X
    extra_lines: list        # COPY lines of the rows added to the bulk-indexed table


def stamp(rows, machine, info, args):
    """The run's facts on each row: machine, versions, date, dataset."""
    now = datetime.datetime.now().isoformat(timespec="seconds")
    for r in rows:
        r.update({**machine, **info, "date": now, "dataset": args.dataset, "rows": args.rows})


def main():
    args = parse_args()
    global DS
    DS = DATASETS[args.dataset]
    if args.plot_only:
        if not os.path.exists(args.out):
            sys.exit(f"--plot-only: {args.out} not found")
        plot(read_rows(args.out), args)
        return
    dsn = base_dsn(args)
    others = subprocess.run(["pgrep", "-f", "bench/seqscan.py"], capture_output=True,
                            text=True).stdout.split()
    if others:
        print(f"warning: another benchmark is running (pids {' '.join(others)}); "
              f"the timings will be noisy", flush=True)

    print(f"loading {args.dataset} and computing the exact top-10", flush=True)
    # the insert test adds copies of test vectors (fashion-mnist) or fresh rows
    X, train_lines, Q, query_lines, extra_lines = load_data(args)
    _, kth = exact_topk(X, Q)
    data = Data(X, Q, kth, [vector_text(line) for line in query_lines], train_lines,
                extra_lines)

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
    rows = []
    conns, specs, infos = {}, {}, {}
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
        conns[system], specs[system] = conn, index_specs(system, conn, args)
        for label, spec in specs[system].items():
            bulk = bench_index(conn, system, label, spec, args, data, rows)
            if not args.skip_growth:
                bench_growth(conn, system, label, spec, args, data, bulk, rows)
            if not args.skip_grow4x:
                bench_grow4x(conn, system, label, spec, args, data, bulk, rows)
        bench_exact(conn, system, args, data, rows)
        bench_noindex_insert(conn, system, args, data, rows)
        stamp(rows[start:], machine, info, args)
        infos[system] = info
    if args.rounds > 0 and "pgvector" in conns:
        start = len(rows)
        bench_interleaved(conns, specs, args, data, rows)
        for r in rows[start:]:
            stamp([r], machine, infos[r["system"]], args)
    for conn in conns.values():
        conn.close()
    admin.close()

    write_rows(args.out, rows)
    print_table(rows)
    print_growth(rows)
    print(f"\nmachine: {machine['cpu']} ({machine['cores']} cores), PostgreSQL "
          f"{rows[0]['pg_version']}; wrote {args.out}")
    if args.plot:
        plot(rows, args)


if __name__ == "__main__":
    main()
