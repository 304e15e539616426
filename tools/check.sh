#!/usr/bin/env bash
# Every check coevo's main branch must pass, cheapest first: formatting, lints, tests.
# Clippy and the tests share one build (the dev profile, dependencies optimised).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
