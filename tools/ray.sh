#!/usr/bin/env bash
# Makes the virtual environment of coevo's Ray driver (python/coevo_ray): a pinned `ray` from
# PyPI (about 285 MB) and the driver itself, in `.venv-ray` in the clone.
#
#   tools/ray.sh            create or update the environment
#   tools/ray.sh --check    say whether it is there and imports, without installing
#
# COEVO_RAY_VENV puts it elsewhere, so that fresh clones on one machine (CI's) share one
# install. `coevo run --ray ADDRESS` finds the driver's Python through COEVO_RAY_PYTHON, else
# `.venv-ray/bin/python` in the clone.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv="${COEVO_RAY_VENV:-$root/.venv-ray}"
python=${PYTHON:-python3}
ray_version=2.60.0

if [ "${1:-}" = "--check" ]; then
    if "$venv/bin/python" -c "import ray, coevo_ray; assert ray.__version__ == '$ray_version'" 2>/dev/null; then
        echo "ray $ray_version in $venv"
        exit 0
    fi
    echo "no Ray environment at $venv (run tools/ray.sh)" >&2
    exit 1
fi

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q "ray==$ray_version"
# The driver, as an editable install so that the clone's copy is the one that runs.
"$venv/bin/python" -m pip install -q --no-deps -e "$root/python"
echo "ray $ray_version in $venv; export COEVO_RAY_PYTHON=$venv/bin/python"
