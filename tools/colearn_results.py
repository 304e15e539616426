#!/usr/bin/env python3
"""The 45,000-image co-learning sweep, run in parts (one N and beta-bar per run), joined.

    tools/colearn_results.py copy runs/colearn-45k-n2-b0.0 n2-b0.0
        copies a finished part's metrics.jsonl and summary.json into
        plugins/colearn/results/sweep-45k-parts/NAME
    tools/colearn_results.py table
        joins every part there (and, for a cell no part holds, the cells the whole-sweep run in
        plugins/colearn/results/sweep-45k finished) into table.md and figures in
        plugins/colearn/results/sweep-45k-parts

A cell is one (N, beta-bar); its rows are the per-seed test rows the script logs
(test_ensemble_accuracy, test_member_accuracy and, since the diagnostics were added,
test_js, test_entropy, test_inactive_relu, test_weight_std). The gain over beta-bar = 0 pairs
seeds present in both cells. The figures need matplotlib (a venv with `pip install matplotlib`).
"""

import json
import shutil
import statistics
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "plugins" / "colearn" / "results"
PARTS = RESULTS / "sweep-45k-parts"
WHOLE = RESULTS / "sweep-45k"
DIAGNOSTICS = [
    ("test_js", "JS divergence", "mean pairwise JS divergence (nats)"),
    ("test_entropy", "entropy", "mean predictive entropy (nats)"),
    ("test_inactive_relu", "inactive ReLUs", "fraction of inactive ReLUs"),
    ("test_weight_std", "weight std", "mean weight std"),
]


def test_rows(metrics):
    with open(metrics) as f:
        for line in f:
            row = json.loads(line)
            if "test_ensemble_accuracy" in row:
                yield row


def cells():
    """(N, beta) -> {"seeds": {seed: row}, "source": name}; parts win over the whole run."""
    found = {}
    for part in sorted(p for p in PARTS.iterdir() if (p / "metrics.jsonl").exists()):
        for row in test_rows(part / "metrics.jsonl"):
            cell = found.setdefault((row["members"], row["beta_bar"]), {"seeds": {}, "source": set()})
            cell["seeds"][row["seed"]] = row
            cell["source"].add(part.name)
    if (WHOLE / "metrics.jsonl").exists():
        for row in test_rows(WHOLE / "metrics.jsonl"):
            key = (row["members"], row["beta_bar"])
            if key in found and "sweep-45k" not in found[key]["source"]:
                continue
            cell = found.setdefault(key, {"seeds": {}, "source": set()})
            cell["seeds"][row["seed"]] = row
            cell["source"].add("sweep-45k")
    return found


def mean_std(values):
    values = list(values)
    if not values:
        return None
    # One seed has no spread: None, printed as a bare mean.
    std = statistics.stdev(values) if len(values) > 1 else None
    return statistics.fmean(values), std


def summarise(found):
    table = []
    for (n, beta), cell in sorted(found.items()):
        rows = cell["seeds"]
        zero = found.get((n, 0.0), {"seeds": {}})["seeds"]
        paired = sorted(set(rows) & set(zero))
        entry = {
            "members": n,
            "beta_bar": beta,
            "seeds": sorted(rows),
            "source": sorted(cell["source"]),
            "ensemble": mean_std(r["test_ensemble_accuracy"] for r in rows.values()),
            "member": mean_std(r["test_member_accuracy"] for r in rows.values()),
            "gain": mean_std(
                100 * (rows[s]["test_ensemble_accuracy"] - zero[s]["test_ensemble_accuracy"])
                for s in paired
            )
            if beta != 0.0
            else None,
            "gain_seeds": paired,
        }
        for key, _, _ in DIAGNOSTICS:
            entry[key] = mean_std(r[key] for r in rows.values() if key in r)
        table.append(entry)
    return table


def pct(ms):
    if ms is None:
        return "—"
    return f"{100 * ms[0]:.2f}" + ("" if ms[1] is None else f" ± {100 * ms[1]:.2f}")


def plain(ms, digits=3):
    return "—" if ms is None else f"{ms[0]:.{digits}f}"


def markdown(table):
    lines = [
        "| N | β̄ | seeds | members | ensemble | gain over β̄ = 0 | JS | entropy | inactive ReLU | weight std | run |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for t in table:
        gain = "" if t["gain"] is None else f"{t['gain'][0]:+.2f}"
        if t["gain"] is not None and t["gain"][1] is not None:
            gain += f" ± {t['gain'][1]:.2f}"
        if t["gain"] is not None and t["gain_seeds"] != t["seeds"]:
            gain += f" (seeds {', '.join(map(str, t['gain_seeds']))})"
        lines.append(
            f"| {t['members']} | {t['beta_bar']:+g} | {', '.join(map(str, t['seeds']))} | "
            f"{pct(t['member'])} | {pct(t['ensemble'])} | {gain} | {plain(t['test_js'])} | "
            f"{plain(t['test_entropy'])} | {plain(t['test_inactive_relu'])} | "
            f"{plain(t['test_weight_std'], 4)} | {', '.join(t['source'])} |"
        )
    return "\n".join(lines) + "\n"


def figures(table):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: table.md only, no figures", file=sys.stderr)
        return
    sizes = sorted({t["members"] for t in table})

    def curve(ax, key, n, label, scale=1.0, **style):
        rows = [t for t in table if t["members"] == n and t[key] is not None]
        if rows:
            ax.errorbar(
                [t["beta_bar"] for t in rows],
                [scale * t[key][0] for t in rows],
                yerr=[scale * (t[key][1] or 0.0) for t in rows],
                capsize=3,
                marker="o",
                label=label,
                **style,
            )

    fig, ax = plt.subplots(figsize=(6, 4))
    for n in sizes:
        curve(ax, "ensemble", n, f"ensemble, N = {n}", 100)
        curve(ax, "member", n, f"members, N = {n}", 100, linestyle="--")
    ax.set(xlabel="β̄ = βN", ylabel="test accuracy (%)", title="CIFAR-10, 30 epochs on 45,000 images")
    ax.legend()
    fig.tight_layout()
    fig.savefig(PARTS / "accuracy.png", dpi=110)

    fig, ax = plt.subplots(figsize=(6, 4))
    for n in sizes:
        curve(ax, "gain", n, f"N = {n}")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set(xlabel="β̄ = βN", ylabel="ensemble gain over β̄ = 0 (points)", title="paired by seed")
    ax.legend()
    fig.tight_layout()
    fig.savefig(PARTS / "gain.png", dpi=110)

    fig, axes = plt.subplots(2, 2, figsize=(9, 6.5))
    for ax, (key, title, ylabel) in zip(axes.flat, DIAGNOSTICS):
        for n in sizes:
            curve(ax, key, n, f"N = {n}")
        ax.set(xlabel="β̄ = βN", ylabel=ylabel, title=title)
        ax.legend()
    fig.tight_layout()
    fig.savefig(PARTS / "diagnostics.png", dpi=110)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "copy":
        run, name = Path(sys.argv[2]), sys.argv[3]
        summary = run / "summary.json"
        if not summary.exists() or json.loads(summary.read_text()).get("status") != "completed":
            sys.exit(f"{summary}: the part has not completed")
        out = PARTS / name
        out.mkdir(parents=True, exist_ok=True)
        for name in ("metrics.jsonl", "summary.json"):
            shutil.copy(run / name, out / name)
        print(f"copied {run} to {out}")
    elif len(sys.argv) == 2 and sys.argv[1] == "table":
        table = summarise(cells())
        (PARTS / "table.md").write_text(markdown(table))
        (PARTS / "table.json").write_text(json.dumps(table, indent=1) + "\n")
        figures(table)
        print(markdown(table))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
