#!/usr/bin/python3
"""In-process reference curves for bench/alex.py: hnswlib and faiss on the same data.

The same base rows, queries and exact top-10 as bench/alex.py (its load_data and
exact_topk), and the same recall@10 (its recall_at_k), so the curves sit on the
same axes as the SQL systems':

- hnswlib HNSW, M=16, ef_construction=64, sweeping ef;
- faiss IndexHNSWFlat, M=16, efConstruction=64, sweeping efSearch;
- faiss IndexIVFFlat, nlist=round(sqrt(rows)), sweeping nprobe.

One thread for builds and searches (BLAS too), queries one at a time (like one SQL client),
one untimed warm-up pass at the largest parameter value; recall@10, QPS, p50/p99
latency, build time and the serialized index size.  Cosine datasets are normalised
and searched by inner product.  Writes bench/results/reference_<dataset>.csv with
alex.py's columns; alex.py draws it into its plot.

    /usr/bin/python3 bench/reference.py [--dataset NAME] [--rows N] [--queries N]
"""

import argparse
import datetime
import importlib.metadata
import math
import os
import sys
import tempfile
import time

# one thread, BLAS included (faiss trains k-means with it; OpenBLAS would start a
# thread per core): set before numpy and faiss load it
os.environ["OPENBLAS_NUM_THREADS"] = "1"
import faiss  # noqa: E402
import hnswlib  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alex  # noqa: E402  (data, ground truth, recall and CSV format are shared)


def parse_args():
    p = argparse.ArgumentParser(
        description="hnswlib and faiss recall@10 vs QPS on bench/alex.py's data, in-process.")
    p.add_argument("--dataset", choices=sorted(alex.DATASETS), default="fashion-mnist",
                   help="as in alex.py (default: %(default)s)")
    p.add_argument("--rows", type=int, default=None,
                   help="base rows (default: the dataset's, as in alex.py)")
    p.add_argument("--queries", type=int, default=1000,
                   help="test vectors used as queries (default: %(default)s)")
    p.add_argument("--ef-search", type=alex.int_list, default=alex.int_list(alex.EF_SEARCH),
                   help=f"hnswlib ef and faiss efSearch values (default: {alex.EF_SEARCH})")
    p.add_argument("--nprobe", type=alex.int_list, default=alex.int_list(alex.IVF_PROBES),
                   help=f"faiss IVFFlat nprobe values (default: {alex.IVF_PROBES})")
    p.add_argument("--out", default=os.path.join(alex.RESULTS, "reference_{dataset}.csv"),
                   help="CSV written (default: %(default)s)")
    args = p.parse_args()
    args.out = args.out.format(dataset=alex.tag(args.dataset))
    if args.rows is None:
        args.rows = alex.DATASETS[args.dataset]["rows"]
    if not args.ef_search or not args.nprobe:
        p.error("empty parameter list")
    return args


def as_searched(A):
    """The vectors the libraries get: float32, unit length for cosine (then inner
    product ranks like cosine distance)."""
    A = np.ascontiguousarray(A, dtype=np.float32)
    if alex.DS["metric"] == "cosine":
        A = A / np.linalg.norm(A, axis=1, keepdims=True)
    return A


# Each index: build(X) -> (index, serialized bytes), set(index, value), search(index, q).

def hnswlib_build(X):
    index = hnswlib.Index(space="ip" if alex.DS["metric"] == "cosine" else "l2", dim=X.shape[1])
    index.init_index(max_elements=len(X), M=alex.HNSW_M,
                     ef_construction=alex.HNSW_EF_CONSTRUCTION, random_seed=100)
    index.set_num_threads(1)
    index.add_items(X, np.arange(len(X)))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "index.bin")
        index.save_index(path)
        return index, os.path.getsize(path)


def hnswlib_search(index, q):
    labels, _ = index.knn_query(q, k=alex.K)
    return labels[0].tolist()


def hnswlib_set_ef(index, v):
    index.set_ef(v)


def faiss_metric():
    return faiss.METRIC_INNER_PRODUCT if alex.DS["metric"] == "cosine" else faiss.METRIC_L2


def faiss_hnsw_build(X):
    index = faiss.IndexHNSWFlat(X.shape[1], alex.HNSW_M, faiss_metric())
    index.hnsw.efConstruction = alex.HNSW_EF_CONSTRUCTION
    index.add(X)
    return index, faiss.serialize_index(index).nbytes


def faiss_ivf_build(X):
    d = X.shape[1]
    quantizer = faiss.IndexFlatIP(d) if alex.DS["metric"] == "cosine" else faiss.IndexFlatL2(d)
    index = faiss.IndexIVFFlat(quantizer, d, round(math.sqrt(len(X))), faiss_metric())
    index.train(X)
    index.add(X)
    return index, faiss.serialize_index(index).nbytes


def faiss_search(index, q):
    _, ids = index.search(q, alex.K)
    return [i for i in ids[0].tolist() if i >= 0]   # -1: fewer than K found


def faiss_set_ef(index, v):
    index.hnsw.efSearch = v


def faiss_set_nprobe(index, v):
    index.nprobe = v


def indexes(args):
    """(system, index, param, values, build, set, search, note) of each reference."""
    hnsw = f"M={alex.HNSW_M} ef_construction={alex.HNSW_EF_CONSTRUCTION}, one thread"
    return [
        ("hnswlib", "hnsw", "ef", args.ef_search, hnswlib_build,
         hnswlib_set_ef, hnswlib_search, hnsw),
        ("faiss", "hnsw", "efSearch", args.ef_search, faiss_hnsw_build,
         faiss_set_ef, faiss_search, hnsw),
        ("faiss", "ivfflat", "nprobe", args.nprobe, faiss_ivf_build,
         faiss_set_nprobe, faiss_search, f"nlist={round(math.sqrt(args.rows))}, one thread"),
    ]


def run_queries(index, search, Qs):
    """Each query on its own; (ids per query, latencies in s)."""
    results, lat = [], []
    for i in range(len(Qs)):
        q = Qs[i:i + 1]
        t0 = time.perf_counter()
        ids = search(index, q)
        lat.append(time.perf_counter() - t0)
        results.append(ids)
    return results, lat


def versions():
    return {"hnswlib": f"hnswlib {importlib.metadata.version('hnswlib')}",
            "faiss": f"faiss {faiss.__version__}"}


def main():
    args = parse_args()
    alex.DS = alex.DATASETS[args.dataset]
    faiss.omp_set_num_threads(1)
    print(f"loading {args.dataset} and computing the exact top-10", flush=True)
    X, _, Q, _, _ = alex.load_data(args, text=False)
    _, kth = alex.exact_topk(X, Q)
    Xs, Qs = as_searched(X), as_searched(Q)

    common = {**alex.machine_info(), "dataset": args.dataset, "rows": args.rows,
              "queries": len(Q), "build": "bulk"}
    ext = versions()
    rows = []
    for system, index_name, param, values, build, set_param, search, note in indexes(args):
        t0 = time.perf_counter()
        index, size = build(Xs)
        build_s = round(time.perf_counter() - t0, 2)
        index_mb = round(size / 2 ** 20, 2)
        print(f"{system} {index_name}: built in {build_s:.2f} s, serialized {index_mb} MB "
              f"({note})", flush=True)
        set_param(index, max(values))
        run_queries(index, search, Qs)    # warm-up, untimed
        now = datetime.datetime.now().isoformat(timespec="seconds")
        for v in values:
            set_param(index, v)
            results, lat = run_queries(index, search, Qs)
            recall, short = alex.recall_at_k(results, X, Q, kth)
            row = {**common, "system": system, "index": index_name, "param": param,
                   "value": v, "recall_at_10": round(recall, 4), **alex.timing(lat),
                   "build_s": build_s, "index_mb": index_mb, "short_results": short,
                   "note": note, "ext_version": ext[system], "loadavg_1min": alex.loadavg(),
                   "date": now}
            rows.append(row)
            print(f"  {system} {index_name} {param}={v:<4d} recall@10 {recall:.4f}  "
                  f"{row['qps']:9.1f} qps  p50 {row['p50_ms']:7.3f} ms  "
                  f"p99 {row['p99_ms']:7.3f} ms", flush=True)
        del index   # free it before the next build
    alex.write_rows(args.out, rows)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
