#!/usr/bin/env python3
"""Copies a darwin_compare run's small outputs into plugins/darwin/results/NAME: the records
(metrics.jsonl), the figures, the script's results (summary.json) and table.md, a Markdown
table of test accuracy (mean ± std, %), the fold fewer synapses, and the compacted network's
speed-up over the masked one, per method and generation.

    tools/darwin_results.py runs/darwin-fmnist-lenet5-cluster2 fmnist-lenet5-cluster
"""

import json
import shutil
import sys
from pathlib import Path


def results_of(run: Path):
    """The script's value, from the run's summary.json."""
    summary = run / "summary.json"
    if not summary.exists():
        sys.exit(f"{run}: no summary.json (did the run finish?)")
    return json.loads(summary.read_text())["results"]


def table(results):
    methods = list(dict.fromkeys(t["method"] for t in results["table"]))
    cells = {(t["method"], t["generation"]): t for t in results["table"]}
    generations = sorted({t["generation"] for t in results["table"]})
    lines = ["| generation | " + " | ".join(methods) + " |", "|---|" + "---:|" * len(methods)]
    for g in generations:
        row = []
        for m in methods:
            t = cells.get((m, g))
            if t is None:
                row.append("")
                continue
            speed = t["seconds_masked"] / t["seconds_compact"] if t["seconds_compact"] else 0
            row.append(
                f"{100 * t['accuracy_mean']:.2f} ± {100 * t['accuracy_std']:.2f} "
                f"({t['synapse_fold']:.1f}×, FLOPs {t['flop_fold']:.1f}×, {speed:.2f}× faster)"
            )
        lines.append(f"| {g} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    run, name = Path(sys.argv[1]), sys.argv[2]
    out = Path(__file__).resolve().parent.parent / "plugins/darwin/results" / name
    out.mkdir(parents=True, exist_ok=True)
    results = results_of(run)
    shutil.copy(run / "metrics.jsonl", out / "metrics.jsonl")
    if (run / "figures").is_dir():
        shutil.copytree(run / "figures", out / "figures", dirs_exist_ok=True)
    (out / "summary.json").write_text(json.dumps({"results": results}, indent=2) + "\n")
    (out / "table.md").write_text(table(results))
    print((out / "table.md").read_text())


if __name__ == "__main__":
    main()
