#!/usr/bin/env bash
# Sets up LibTorch for coevo's `tch` feature from PyPI's torch wheels, in a project-local
# virtual environment, and writes `.libtorch/env.sh` for the build and the binary.
#
#   tools/libtorch.sh cpu          torch 2.9.0 without its CUDA libraries (about 1.9 GB)
#   tools/libtorch.sh cuda         torch 2.9.0 with CUDA 12.8 (about 7 GB)
#   tools/libtorch.sh gpu-bundle   a release build against torch 2.11.0's headers, packed with the
#                                  plugins and scripts into dist/coevo-gpu/ for a machine that has
#                                  torch 2.11 (CUDA 13) in its Python but no Rust toolchain
#
# Then: `source .libtorch/env.sh && cargo build --release --features tch`.
#
# COEVO_TORCH_VENV puts the virtual environment elsewhere than `.venv-torch` in the clone, so
# that fresh clones on one machine (CI's) share one install instead of downloading it again.
#
# Why these steps: burn-tch turns on tch's `download-libtorch`, which fails offline unless
# LIBTORCH points at an install; torch-sys links CUDA exactly when `lib/libtorch_cuda.so` exists,
# so the CPU variant points LIBTORCH at a folder that holds torch's libraries minus the CUDA ones;
# and the binary has no RPATH, so torch's `lib/` must be on LD_LIBRARY_PATH at run time.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv="${COEVO_TORCH_VENV:-$root/.venv-torch}"
out="$root/.libtorch"
python=${PYTHON:-python3}
torch_version=2.9.0
# torch's own dependencies, installed without letting pip pull the CUDA wheels.
torch_deps=(filelock typing-extensions sympy networkx jinja2 fsspec mpmath markupsafe numpy safetensors)

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

make_venv() {
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
}

site_packages() {
    "$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'
}

write_env() { # $1: LIBTORCH folder, $2: folders of the run-time libraries, $3: a Python with torch
    mkdir -p "$out"
    cat >"$out/env.sh" <<ENV
# Written by tools/libtorch.sh; source it before building or running with --features tch.
export LIBTORCH="$1"
export LD_LIBRARY_PATH="$2\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
ENV
    # Only the full install's Python imports torch (the CPU variant lacks the CUDA libraries
    # torch's Python module loads); it runs the PyTorch references.
    if [ -n "${3:-}" ]; then
        echo "export COEVO_TORCH_PYTHON=\"$3\"" >>"$out/env.sh"
    fi
    echo "wrote $out/env.sh (LIBTORCH=$1)"
}

setup_cpu() {
    make_venv
    "$venv/bin/python" -m pip install -q --no-deps "torch==$torch_version" \
        nvidia-cuda-runtime-cu12==12.8.90 nvidia-cuda-cupti-cu12==12.8.90
    "$venv/bin/python" -m pip install -q "${torch_deps[@]}"
    local torch_dir
    torch_dir="$(site_packages)/torch"
    # A LibTorch folder without the CUDA libraries, so that torch-sys links the CPU build only.
    local cpu="$out/cpu"
    rm -rf "$cpu" && mkdir -p "$cpu/lib"
    ln -s "$torch_dir/include" "$cpu/include"
    ln -s "$torch_dir/share" "$cpu/share"
    for lib in "$torch_dir"/lib/*; do
        case "$(basename "$lib")" in
            libtorch_cuda* | libc10_cuda* | libtorch_nvshmem* | libcaffe2_nvrtc*) ;;
            *) ln -s "$lib" "$cpu/lib/" ;;
        esac
    done
    # torch's CPU library still links the CUDA runtime and CUPTI (for its profiler); it finds
    # them by an RPATH relative to its real folder, which the symlinks above do not keep.
    local nvidia
    nvidia="$(site_packages)/nvidia"
    write_env "$cpu" "$cpu/lib:$nvidia/cuda_runtime/lib:$nvidia/cuda_cupti/lib"
}

setup_cuda() {
    make_venv
    "$venv/bin/python" -m pip install -q "torch==$torch_version" numpy safetensors
    local torch_dir
    torch_dir="$(site_packages)/torch"
    write_env "$torch_dir" "$torch_dir/lib" "$venv/bin/python"
}

gpu_bundle() {
    local wheels="$out/wheels" unpacked="$out/torch-2.11.0"
    mkdir -p "$wheels"
    if [ ! -d "$unpacked/torch" ]; then
        "$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
            --platform manylinux_2_28_x86_64 -d "$wheels" torch==2.11.0
        rm -rf "$unpacked" && mkdir -p "$unpacked"
        "$python" -m zipfile -e "$wheels"/torch-2.11.0-*.whl "$unpacked"
    fi
    (cd "$root" && LIBTORCH="$unpacked/torch" LIBTORCH_BYPASS_VERSION_CHECK=1 \
        cargo build --release --workspace --features coevo/tch)
    local dist="$root/dist/coevo-gpu"
    rm -rf "$dist" && mkdir -p "$dist/plugins"
    cp "$root/target/release/coevo" "$dist/"
    find "$root/target/release" -maxdepth 1 -name 'libcoevo_plugin_*.so' -exec cp {} "$dist/plugins/" \;
    cp -r "$root/scripts" "$dist/" 2>/dev/null || true
    cat >"$dist/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs the bundled coevo with the torch libraries of this machine's Python (torch 2.11).
here=$(cd "$(dirname "$0")" && pwd)
torch_lib=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export COEVO_PLUGIN_PATH="$here/plugins${COEVO_PLUGIN_PATH:+:$COEVO_PLUGIN_PATH}"
exec "$here/coevo" "$@"
RUN
    chmod +x "$dist/run.sh"
    echo "bundle in $dist: copy it to the GPU machine and run ./run.sh train --device cuda:0 ..."
}

case "${1:-}" in
    cpu) setup_cpu ;;
    cuda) setup_cuda ;;
    gpu-bundle) gpu_bundle ;;
    *) usage ;;
esac
