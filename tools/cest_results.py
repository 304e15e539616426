#!/usr/bin/env python3
"""The tables of a `scripts/cest_compare.rhai` run, from its metrics log (also while it runs).

    python3 tools/cest_results.py runs/cest-compare/metrics.jsonl

First, per method and budget over the seeds done: test accuracy (mean ± sample std), and the
means of sample-gradients, sample-forwards and wall seconds. Then what CEST's selection adds
to a global epoch. The plugin logs each epoch's `selection_seconds` (of which `forward_seconds` in the host's
passes over the samples) and `training_seconds`; the script logs a summary after each run,
naming its method and budget. For every run of the first seed this prints the medians over
its selecting epochs of: prey scoring and GA against training time, the forward pass against
training time, and training seconds per 1,000 sample-gradients (where the mask encoding's
reading of the training pass would show).
"""

import json
import statistics
import sys


def runs(path):
    epochs = []
    with open(path) as lines:
        for line in lines:
            record = json.loads(line)
            if "plugin_step" in record:
                epochs.append(record)
            elif "method" in record:
                yield record, epochs
                epochs = []


def results(path):
    cells = {}
    for summary, _ in runs(path):
        cells.setdefault((summary["method"], summary["budget"]), []).append(summary)
    print("| method | budget | seeds | test accuracy | sample-gradients | sample-forwards | wall s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for (method, budget), done in cells.items():
        acc = [d["test_accuracy"] for d in done]
        std = statistics.stdev(acc) if len(acc) > 1 else 0.0
        mean = lambda key: statistics.mean(d[key] for d in done)  # noqa: E731
        print(
            f"| {method} | {budget} | {len(done)} | {100 * statistics.mean(acc):.2f} ± {100 * std:.2f} % "
            f"| {mean('sample_gradients'):,.0f} | {mean('sample_forwards'):,.0f} | {mean('wall_seconds'):.0f} |"
        )


def overhead(path):
    print("| run | selecting epochs | scoring + GA / training | forward pass / training | training s per 1k sample-gradients |")
    print("|---|---:|---:|---:|---:|")
    for summary, epochs in runs(path):
        if summary["seed"] != 0:
            continue
        # The first epoch is the warm-up on all samples; the selecting epochs follow.
        chosen = [e for e in epochs[1:] if e["training_seconds"] > 0]
        if not chosen:
            continue
        scoring = statistics.median(
            (e["selection_seconds"] - e.get("forward_seconds", 0.0)) / e["training_seconds"]
            for e in chosen
        )
        forward = statistics.median(
            e.get("forward_seconds", 0.0) / e["training_seconds"] for e in chosen
        )
        trained = [e["training_seconds"] / max(e["subset"], 1) * 1000 for e in chosen]
        print(
            f"| {summary['method']} @ {summary['budget']} | {len(chosen)} | {100 * scoring:.2f} % "
            f"| {100 * forward:.1f} % | {statistics.median(trained):.3f} |"
        )


if __name__ == "__main__":
    results(sys.argv[1])
    print()
    overhead(sys.argv[1])
