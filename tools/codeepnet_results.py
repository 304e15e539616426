#!/usr/bin/env python3
"""Prints the Co-DeepNet comparison of a `scripts/codeepnet.rhai` run as a Markdown table.

    python3 tools/codeepnet_results.py runs/codeepnet/summary.json
"""
import json
import sys


def cell(row, key, digits=2):
    return f"{row[key]:.{digits}f} ± {row[key + '_std']:.{digits}f}"


def main(path):
    with open(path) as f:
        results = json.load(f)["results"]
    print(f"{results['train']} training, {results['validation']} validation and "
          f"{results['test']} test samples; {results['seeds']} seeds.\n")
    print("| method | test MAE (years) | median AE | RMSE | R² | sample-gradients | seconds |")
    print("|---|---|---|---|---|---|---|")
    for row in results["table"]:
        print(f"| {row['method']} | {cell(row, 'mae')} | {cell(row, 'median_ae')} | "
              f"{cell(row, 'rmse')} | {cell(row, 'r2', 3)} | {row['sample_gradients']:,.0f} | "
              f"{row['seconds']:.1f} |")
    net = results["elastic_net"]
    print(f"\nElasticNet: α = {net['alpha']}, L1 ratio {net['l1_ratio']}, {net['nonzero']} "
          f"non-zero weights; {net['fit_seconds_per_model']:.2f} s per fit, "
          f"{net['fit_seconds']:.1f} s for the grid.")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/codeepnet/summary.json")
