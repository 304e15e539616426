#!/usr/bin/env python3
"""Copies a mega_sweep or mega_hierarchical run's small outputs into plugins/mega/results/NAME:
the records (metrics.jsonl), the script's results (summary.json) and table.md. For a sweep, a
Markdown table per cell (width, trunk) of each entry's accuracy on validation (what the GA
scored on), the unseen half and test, mean ± std over replicates (%), and the test gain over
the better parent (points); for a hierarchical merge, each parent's and merge's accuracy on
the three, its test gain over the parent best on validation, and its seconds.

    tools/mega_results.py runs/mega-sweep-w1 sweep-w1
    tools/mega_results.py runs/mega-hier-trunk3 hierarchical-trunk3
"""

import json
import shutil
import sys
from pathlib import Path


def pm(mean, std):
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def table(results):
    lines = [
        "| width | trunk | entry | validation | unseen | test | test − best parent |",
        "|---:|---:|---|---:|---:|---:|---:|",
    ]
    for t in results["table"]:
        lines.append(
            f"| {t['width']} | {t['trunk']} | {t['entry']} | "
            f"{pm(t['validation_mean'], t['validation_std'])} | "
            f"{pm(t['unseen_mean'], t['unseen_std'])} | {pm(t['test_mean'], t['test_std'])} | "
            f"{100 * t['gain_mean']:+.2f} ± {100 * t['gain_std']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def hierarchical_table(results):
    rows = results["results"]
    parents = sorted((k for k in rows if k.startswith("parent_")), key=lambda k: int(k[7:]))
    best = max(parents, key=lambda k: rows[k]["validation_accuracy"])
    lines = [
        "| model | validation | unseen | test | test − best parent | s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in parents + [k for k in rows if k not in parents]:
        r = rows[name]
        gain = "" if name in parents else f"{100 * (r['test_accuracy'] - rows[best]['test_accuracy']):+.2f}"
        seconds = "" if r.get("seconds") is None else f"{r['seconds']:.0f}"
        mark = " (best on validation)" if name == best else ""
        lines.append(
            f"| {name}{mark} | {100 * r['validation_accuracy']:.2f} | "
            f"{100 * r['unseen_accuracy']:.2f} | {100 * r['test_accuracy']:.2f} | {gain} | {seconds} |"
        )
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    run, name = Path(sys.argv[1]), sys.argv[2]
    summary = run / "summary.json"
    if not summary.exists():
        sys.exit(f"{run}: no summary.json (did the run finish?)")
    results = json.loads(summary.read_text())["results"]
    out = Path(__file__).resolve().parent.parent / "plugins/mega/results" / name
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(run / "metrics.jsonl", out / "metrics.jsonl")
    (out / "summary.json").write_text(json.dumps({"results": results}, indent=2) + "\n")
    text = hierarchical_table(results) if "count" in results else table(results)
    (out / "table.md").write_text(text)
    print((out / "table.md").read_text())


if __name__ == "__main__":
    main()
