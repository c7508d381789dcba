#!/usr/bin/python3
"""Markdown report of one dataset's alex benchmark, from bench/alex.py's CSV.

Reads <results-dir>/alex_<tag>.csv and, when it exists and is for the same rows and
queries, <results-dir>/reference_<tag>.csv (reference.py's in-process hnswlib and faiss
curves); <tag> is the dataset with '_' for '-'.  Writes a Markdown file with:

1. a header line: data, machine, PostgreSQL and extension versions, date of the run;
2. targets: the QPS each bulk-built SQL index reaches at recall@10 0.95 ... 0.999,
   interpolated on its Pareto frontier, and each omendb index's ratio to pgvector
   HNSW (when pgvector was measured); the in-process references at the same levels;
3. build time, index size and insert rate of each bulk-built index, with their
   ratios to HNSW; the no-index insert rate, table size, the references' build and size;
4. growth (grown from empty, grow4x): recall against the bulk build at every
   parameter value, the insert rate of the growth, losses over 2 points flagged;
5. every sweep point.

The output depends on the CSVs alone (no timestamps of its own), so the same CSVs give
the same file.  bench/run.sh writes one per dataset next to the plots.

    /usr/bin/python3 bench/report.py --dataset fashion-mnist \\
        [--results-dir bench/results] [--out docs/benchmarks/fashion_mnist_report.md]
"""

import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alex  # noqa: E402  (the CSV format: COLUMNS, read_rows, datasets, names)

LEVELS = (0.95, 0.98, 0.99, 0.995, 0.999)
SQL_INDEXES = ("alex", "alex_table", "hnsw", "ivfflat")   # the order of rows and columns
HNSW = ("pgvector", "hnsw")
GROWTH_BUILDS = {"grown": "created empty, every row inserted",
                 "grow4x": "built on the first 25%, the other 75% inserted"}
FLAG_POINTS = 2.0
NOT_SWEEP = ("exact", "insert_rows")


# ---------------------------------------------------------------------------
# formatting


def qps_text(v):
    """Integers with separators; one decimal below 100 (a seq scan's 2.7 QPS)."""
    if v is None:
        return ""
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


def num(v, spec):
    return "" if v is None else format(v, spec)


def count(v):
    return "?" if v is None else f"{v:,}"


def ms_text(v):
    if v is None:
        return ""
    return f"{v:.2f}" if v >= 1 else f"{v:.3f}"


def ratio(a, b):
    return None if a is None or not b else a / b


def value_text(p):
    """A sweep point's parameter value; alex.probes 0 is the automatic default."""
    return "auto" if p["param"] == "alex.probes" and p["value"] == 0 else str(p["value"])


def short_param(param):
    return param.rsplit(".", 1)[-1]


def table(head, rows, align):
    """A Markdown table; align: one 'l' or 'r' per column."""
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


# ---------------------------------------------------------------------------
# the rows


def first(rows, key):
    return next((r[key] for r in rows if r.get(key) not in (None, "")), None)


def distinct(rows, key):
    """The non-empty values of `key`, in order of first appearance."""
    seen = []
    for r in rows:
        v = r.get(key)
        if v not in (None, "") and v not in seen:
            seen.append(v)
    return seen


def curves(rows):
    """Sweep points by (system, index, build), curves and points in CSV order."""
    out = {}
    for r in rows:
        if r.get("qps") is not None and r.get("recall_at_10") is not None \
                and r["param"] not in NOT_SWEEP:
            out.setdefault((r["system"], r["index"], r["build"]), []).append(r)
    return out


def sql_order(key):
    """SQL indexes in SQL_INDEXES order, anything else after them."""
    index = key[1]
    return SQL_INDEXES.index(index) if index in SQL_INDEXES else len(SQL_INDEXES)


def bulk_curves(all_curves, build="bulk"):
    """{(system, index): points} of the bulk builds (or of the interleaved rounds),
    SQL_INDEXES order."""
    keys = sorted((k for k in all_curves if k[2] == build), key=sql_order)
    return {k[:2]: all_curves[k] for k in keys}


def label(system, index):
    """An index's name in the tables: alex, alex_table, pgvector hnsw, hnswlib, ..."""
    if system == "omendb":
        return index
    if (system, index) in alex.REFERENCE_NAMES:
        return alex.REFERENCE_NAMES[(system, index)]
    return f"{system} {index}"


def find(rows, **match):
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


class Run:
    """The CSV rows of one dataset, their curves, and what is known about the run."""

    def __init__(self, dataset, rows):
        self.dataset = dataset
        self.spec = alex.DATASETS[dataset]
        self.rows = rows
        self.curves = curves(rows)
        self.rows_column = first(rows, "rows")      # None in CSVs from before that column
        self.n_rows = self.rows_column or self.spec["rows"]
        self.queries = first([p for pts in self.curves.values() for p in pts], "queries")
        self.refs, self.ref_curves, self.ref_note = [], {}, ""

    def add_references(self, path):
        """reference.py's rows when they are for the same rows and queries."""
        self.refs, self.ref_note = reference(path, self)
        self.ref_curves = curves(self.refs)


def load(args):
    t = alex.tag(args.dataset)
    path = os.path.join(args.results_dir, f"alex_{t}.csv")
    if not os.path.exists(path):
        sys.exit(f"{path} not found")
    rows = alex.read_rows(path)
    others = [d for d in distinct(rows, "dataset") if d != args.dataset]
    if others:
        sys.exit(f"{path} holds {', '.join(others)}, not {args.dataset}")
    run = Run(args.dataset, rows)
    run.add_references(os.path.join(args.results_dir, f"reference_{t}.csv"))
    return run


def reference(path, run):
    """(reference rows, a sentence on them): [] unless for the same rows and queries."""
    name = os.path.basename(path)
    if not os.path.exists(path):
        return [], f"In-process references: not measured (no {name})."
    refs = alex.read_rows(path)
    sizes = {(r.get("rows"), r.get("queries")) for r in refs}
    if sizes != {(run.n_rows, run.queries)}:
        found = ", ".join(f"{count(r)} rows / {count(q)} queries"
                          for r, q in sorted(sizes, key=str))
        return [], (f"In-process references: {name} is for {found}, not this run's "
                    f"{count(run.n_rows)} rows / {count(run.queries)} queries; left out.")
    versions = ", ".join(distinct(refs, "ext_version"))
    dates = distinct(refs, "date")
    return refs, (f"In-process references ({name}): {versions}; one thread, no SQL, "
                  f"no client round trip; run {date_range(dates)}.")


def date_range(dates):
    dates = sorted(dates)
    if not dates:
        return "(no date)"
    return dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"


# ---------------------------------------------------------------------------
# 1. header


def header(run):
    rows, spec = run.rows, run.spec
    size = f"{run.n_rows:,} rows x {spec['dim']:,}"
    if run.rows_column is None:
        size += " (rows: the dataset's default, the CSV has no rows column)"
    cores = first(rows, "cores")
    machine = f"{first(rows, 'cpu') or '?'}" + (f", {cores} cores" if cores else "")
    parts = [
        f"**{run.dataset}**: {size}, {spec['metric']} "
        f"(`{spec['op']}`), {count(run.queries)} queries",
        f"machine: {machine}",
        "PostgreSQL " + (", ".join(distinct(rows, "pg_version")) or "?"),
        "extensions: " + (", ".join(distinct(rows, "ext_version")) or "?"),
    ]
    if distinct(rows, "shared_buffers"):
        parts.append("shared_buffers " + ", ".join(distinct(rows, "shared_buffers")))
    if distinct(rows, "omendb_commit"):
        parts.append("omendb tree " + ", ".join(distinct(rows, "omendb_commit")))
    parts.append("run " + date_range(distinct(rows, "date")))
    return ["; ".join(parts) + ".", "", run.ref_note]


# ---------------------------------------------------------------------------
# 2. targets


def frontier(points):
    """The Pareto frontier by recall ascending: each point kept has the best QPS of all
    points at or above its recall (so QPS falls strictly along it)."""
    pts = sorted(points, key=lambda p: (p["recall_at_10"], p["qps"]))
    kept, best = [], -math.inf
    for p in reversed(pts):
        if p["qps"] > best:
            best = p["qps"]
            kept.append(p)
    return kept[::-1]


def qps_at(front, level):
    """(QPS, frontier points used) at recall `level`, or None if never reached: log-linear
    between the frontier points either side of it; the first frontier point's QPS when
    every point is at or above it."""
    above = [p for p in front if p["recall_at_10"] >= level]
    if not above:
        return None
    hi = above[0]
    below = [p for p in front if p["recall_at_10"] < level]
    if not below or hi["recall_at_10"] == level:
        return hi["qps"], [hi]
    lo = below[-1]
    if hi["qps"] <= 0:      # 0 QPS has no logarithm: the measured point at or above
        return hi["qps"], [hi]
    t = (level - lo["recall_at_10"]) / (hi["recall_at_10"] - lo["recall_at_10"])
    log_qps = math.log(lo["qps"]) + t * (math.log(hi["qps"]) - math.log(lo["qps"]))
    return math.exp(log_qps), [lo, hi]


def at_level_text(hit):
    """'1,081 (20–30)': the QPS and the parameter values it comes from."""
    if hit is None:
        return ""
    q, pts = hit
    return f"{qps_text(q)} ({'–'.join(value_text(p) for p in pts)})"


def level_table(named_curves, ratio_to=None):
    """Rows per recall level, a 'QPS (values)' column per curve, and for omendb curves
    their ratio to the curve `ratio_to` names when given."""
    fronts = {k: frontier(pts) for k, pts in named_curves.items()}
    head, align = ["recall@10"], ["r"]
    for (system, index), pts in named_curves.items():
        head.append(f"{label(system, index)} QPS ({short_param(pts[0]['param'])})")
        align.append("r")
        if ratio_to and system == "omendb":
            head.append(f"{label(system, index)} / HNSW")
            align.append("r")
    body = []
    for level in LEVELS:
        base = qps_at(fronts[ratio_to], level) if ratio_to else None
        row = [f"{level:g}"]
        for (system, index), front in fronts.items():
            hit = qps_at(front, level)
            row.append(at_level_text(hit))
            if ratio_to and system == "omendb":
                r = ratio(hit and hit[0], base and base[0])
                row.append(num(r, ".2f"))
        body.append(row)
    return table(head, body, align)


def targets_section(run):
    out = ["### Targets vs pgvector HNSW", ""]
    bulk = bulk_curves(run.curves)
    interleaved = bulk_curves(run.curves, "interleaved")
    if HNSW not in bulk and HNSW not in interleaved:
        return out + ["Not measured: no pgvector HNSW rows in this run (see the full "
                      "sweep below)."]
    out += ["QPS each index reaches at a recall@10 level, on its Pareto "
            "frontier (the best QPS of the points at or above each recall), interpolated "
            "log-linearly between the two frontier points either side of the level; in "
            "brackets the parameter values used (one value: measured there, or every point "
            "is above the level). Empty: the curve never reaches that recall. `/ HNSW`: "
            "the omendb index's QPS over pgvector HNSW's at the same level.", ""]
    if HNSW in interleaved:
        rounds = first([p for pts in interleaved.values() for p in pts], "rounds")
        out += [f"**Interleaved rounds** (the QPS the targets are judged on): after every "
                f"system's own phase, these indexes were built again and swept in turn, "
                f"{rounds or 'several'} rounds, the systems' order alternating; each point "
                f"is its median round (every round's QPS is in the CSV's note). The machine's "
                f"drift between phases falls on every system alike here.", ""]
        out += level_table(interleaved, ratio_to=HNSW)
        out += ["", "Each system in its own phase (the bulk builds of the sections below, "
                "one sweep each; exposed to drift between the phases):", ""]
    if HNSW not in bulk:
        return out + ["Not measured."]
    out += level_table(bulk, ratio_to=HNSW)
    if not run.ref_curves:
        return out     # the header says why
    refs = {k[:2]: pts for k, pts in run.ref_curves.items()}
    out += ["", "In-process references at the same levels (one thread, no SQL, no client "
            "round trip: a bound on the algorithms, not a like-for-like competitor):", ""]
    return out + level_table(refs)


# ---------------------------------------------------------------------------
# 3. build, size, inserts


def build_facts(run, system, index, build="bulk"):
    """(build s, index MB, insert rows/s) of a bulk-built index (insert rate: of the
    bulk build)."""
    sweep = run.curves.get((system, index, build), [])
    ins = find(run.rows, system=system, index=index, build="bulk", param="insert_rows")
    some = sweep[0] if sweep else (ins if build == "bulk" else None)
    return (some and some.get("build_s"), some and some.get("index_mb"),
            ins and ins.get("insert_rows_per_s"))


def build_section(run):
    out = ["### Build, size, inserts", ""]
    keys = list(bulk_curves(run.curves))
    if not keys:
        return out + ["Not measured: no bulk builds in this run."]
    hnsw = build_facts(run, *HNSW) if HNSW in keys else (None, None, None)
    again = HNSW in bulk_curves(run.curves, "interleaved")
    hnsw_again = build_facts(run, *HNSW, "interleaved")[0] if again else None
    head = ["index", "build s", "/ HNSW", "index MB", "/ HNSW", "inserts rows/s", "/ HNSW"]
    if again:
        head += ["build again s", "/ HNSW"]
    body = []
    for system, index in keys:
        b, mb, rate = build_facts(run, system, index)
        body.append([label(system, index), num(b, ",.1f"), num(ratio(b, hnsw[0]), ".2f"),
                     num(mb, ",.1f"), num(ratio(mb, hnsw[1]), ".2f"), num(rate, ",.0f"),
                     num(ratio(rate, hnsw[2]), ".2f")])
        if again:
            b2 = build_facts(run, system, index, "interleaved")[0]
            body[-1] += [num(b2, ",.1f"), num(ratio(b2, hnsw_again), ".2f")]
    blank = [""] * (len(head) - 7)
    for r in run.rows:
        if r["index"] == "none" and r["param"] == "insert_rows":
            body.append([f"no index ({r['system']})", "", "", "", "",
                         num(r.get("insert_rows_per_s"), ",.0f"), ""] + blank)
    for (system, index, _), pts in run.ref_curves.items():
        body.append([f"{label(system, index)} (in-process)", num(pts[0].get("build_s"), ",.1f"),
                     "", num(pts[0].get("index_mb"), ",.1f"), "", "", ""] + blank)
    out += table(head, body, "lrrrrrr" + "r" * len(blank))
    out += ["", build_notes(run, keys, hnsw)]
    return out


def build_notes(run, keys, hnsw):
    inserted = distinct([r for r in run.rows if r["param"] == "insert_rows"
                         and r["build"] in ("bulk", "-")], "value")
    sizes = {s: first([r for r in run.rows if r["system"] == s], "table_mb")
             for s in distinct(run.rows, "system")}
    tables = [f"{s} {mb:,.1f} MB" for s, mb in sizes.items() if mb is not None]
    notes = ["CREATE INDEX on the loaded table, serial, one session; index MB: "
             "`pg_relation_size` after the build."]
    if inserted:
        notes.append(f"Inserts: {', '.join(f'{v:,}' for v in inserted)} rows added by COPY "
                     "to the table with its bulk-built index (then deleted); no index: the "
                     "same rows into a table without one.")
    if any(k[2] == "interleaved" for k in run.curves):
        notes.append("Build again: the same CREATE INDEX at the start of the interleaved "
                     "rounds, every system's right after the other's.")
    if hnsw[0] is None:
        notes.append("`/ HNSW`: empty, pgvector HNSW was not measured.")
    else:
        notes.append("`/ HNSW`: the index's value over pgvector HNSW's (build time and size: "
                     "lower is better; inserts: higher is better).")
    if tables:
        notes.append("Table size (TOAST included): " + ", ".join(tables) + ".")
    if run.ref_curves:
        notes.append("In-process references: build time including training, serialized size.")
    return " ".join(notes)


# ---------------------------------------------------------------------------
# 4. growth


def growth_curves(run):
    """[((system, index, build), points)] of the grown and grow4x builds."""
    keys = [k for k in run.curves if k[2] in GROWTH_BUILDS]
    keys.sort(key=lambda k: (list(GROWTH_BUILDS).index(k[2]), sql_order(k)))
    return [(k, run.curves[k]) for k in keys]


def bulk_recall(run, p):
    """The bulk build's recall at this point's value (from the diff if not swept)."""
    b = find(run.curves.get((p["system"], p["index"], "bulk"), []), value=p["value"])
    if b is not None:
        return b["recall_at_10"]
    d = p.get("recall_vs_bulk_points")
    return None if d is None else p["recall_at_10"] - d / 100


def lost(point):
    """Did growth cost more than FLAG_POINTS of recall against the bulk build?
    (The target is 'within 2 points of a fresh build'; doing better is no miss.)"""
    return (point.get("recall_vs_bulk_points") or 0) < -FLAG_POINTS


def growth_summary(run, grown):
    head = ["index", "build", "rows inserted", "inserts rows/s", "index MB (bulk)",
            f"values more than {FLAG_POINTS:g} points below", "note"]
    body = []
    for (system, index, build), pts in grown:
        ins = find(run.rows, system=system, index=index, build=build, param="insert_rows")
        bulk_mb = build_facts(run, system, index)[1]
        flagged = sum(lost(p) for p in pts)
        body.append([label(system, index), build, num(ins and ins["value"], ","),
                     num(ins and ins.get("insert_rows_per_s"), ",.0f"),
                     f"{num(pts[0].get('index_mb'), ',.1f')} ({num(bulk_mb, ',.1f')})",
                     f"{flagged} of {len(pts)}", (ins and ins.get("note")) or ""])
    return table(head, body, "llrrrrl")


def growth_detail(run, grown):
    head = ["index", "build", "param", "value", "bulk recall", "grown recall", "diff points",
            ""]
    body = []
    for (system, index, build), pts in grown:
        for p in pts:
            d = p.get("recall_vs_bulk_points")
            flag = f"**lost > {FLAG_POINTS:g} points**" if lost(p) else ""
            body.append([label(system, index), build, short_param(p["param"]), value_text(p),
                         num(bulk_recall(run, p), ".4f"), num(p["recall_at_10"], ".4f"),
                         num(d, "+.2f"), flag])
    return table(head, body, "lllrrrrl")


def growth_section(run):
    out = ["### Growth", ""]
    grown = growth_curves(run)
    missing = [b for b in GROWTH_BUILDS if b not in {k[2] for k, _ in grown}]
    builds = "; ".join(f"{b}: {what}" for b, what in GROWTH_BUILDS.items())
    if not grown:
        return out + [f"Not measured: no grown or grow4x rows in this run ({builds})."]
    out += [f"Builds: {builds}. Each swept like the bulk build and compared with it at "
            "every parameter value (`diff points`: grown minus bulk recall@10, in points). "
            "Index MB after the inserts, the bulk build's in brackets."]
    if missing:
        out[-1] += f" Not measured in this run: {', '.join(missing)}."
    out += [""] + growth_summary(run, grown) + [""] + growth_detail(run, grown)
    return out


# ---------------------------------------------------------------------------
# 5. every sweep point


def sweep_section(run):
    out = ["### Every sweep point", ""]
    head = ["index", "build", "param", "value", "recall@10", "QPS", "p50 ms", "p99 ms"]
    body = []

    def add(name, build, p, value=None):
        body.append([name, build, p["param"], value or value_text(p),
                     num(p.get("recall_at_10"), ".4f"), qps_text(p.get("qps")),
                     ms_text(p.get("p50_ms")), ms_text(p.get("p99_ms"))])

    for (system, index, build), pts in run.curves.items():
        for p in pts:
            add(label(system, index), build, p)
    for r in run.rows:
        if r["param"] == "exact":
            add(f"seq scan ({r['system']})", "-", r, f"{r['value']:,} queries")
    for (system, index, _), pts in run.ref_curves.items():
        for p in pts:
            add(f"{label(system, index)} (in-process)", "-", p)
    if not body:
        return out + ["No sweep points in this run."]
    out += ["One client; QPS: queries / summed latency; latency per query as the client "
            "sees it; `auto`: alex.probes 0, the index's default.", ""]
    return out + table(head, body, "lllrrrrr")


# ---------------------------------------------------------------------------


def report(run, source):
    lines = [f"<!-- written by bench/report.py from {source}; regenerate, do not edit -->", ""]
    for section in (header, targets_section, build_section, growth_section, sweep_section):
        lines += section(run) + [""]
    return "\n".join(lines).rstrip("\n") + "\n"


def parse_args():
    p = argparse.ArgumentParser(
        description="Markdown report of bench/alex.py's CSV for one dataset (with "
                    "reference.py's when it is for the same data).")
    p.add_argument("--dataset", choices=sorted(alex.DATASETS), default="fashion-mnist",
                   help="as in alex.py (default: %(default)s)")
    p.add_argument("--results-dir", default=alex.RESULTS,
                   help="where alex_<dataset>.csv and reference_<dataset>.csv are "
                        "(default: %(default)s)")
    p.add_argument("--out", default=os.path.join(alex.REPO, "docs", "benchmarks",
                                                 "{dataset}_report.md"),
                   help="Markdown written; {dataset} is the dataset with _ for - "
                        "(default: %(default)s)")
    args = p.parse_args()
    args.out = args.out.format(dataset=alex.tag(args.dataset))
    return args


def main():
    args = parse_args()
    run = load(args)
    text = report(run, f"alex_{alex.tag(args.dataset)}.csv")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
