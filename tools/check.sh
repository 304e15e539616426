#!/usr/bin/env bash
# Every check coevo's main branch must pass, cheapest first: formatting, lints, tests.
# Clippy and the tests share one build (the dev profile, dependencies optimised).
#
#   tools/check.sh        the default build (flex)
#   tools/check.sh tch    the LibTorch build's lints and tests, on LibTorch's CPU (sets it up
#                         with tools/libtorch.sh cpu first: about 1.9 GB the first time)
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
    "")
        cargo fmt --all --check
        cargo clippy --workspace --all-targets --locked -- -D warnings
        cargo test --workspace --locked
        ;;
    tch)
        bash tools/libtorch.sh cpu
        # shellcheck disable=SC1091
        source .libtorch/env.sh
        # One LibTorch thread: CI's two cores are shared with the test harness's threads.
        export OMP_NUM_THREADS=1
        cargo clippy -p coevo --features tch --all-targets --locked -- -D warnings
        cargo test -p coevo --features tch --locked
        ;;
    *)
        sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
