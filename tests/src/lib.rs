//! Helpers shared by coevo's integration tests: where data and tools are, and how to skip.

use std::path::{Path, PathBuf};

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The bundled Fashion-MNIST subset (10,000 training and 2,000 test images).
pub fn bundled_fashion_mnist() -> PathBuf {
    repo_root().join("data/fashion-mnist-10k")
}

/// `../shared/data/<name>` beside the repository, or `None` after printing why the test skips.
pub fn shared_data(name: &str) -> Option<PathBuf> {
    let path = repo_root().join("../shared/data").join(name);
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "skipped: {} is absent (the shared data folder is not beside this clone)",
            path.display()
        );
        None
    }
}

/// A Python interpreter with torch and safetensors, or `None` after printing why the test skips.
///
/// `COEVO_TORCH_PYTHON` names one; otherwise the project-local environment that
/// `tools/libtorch.sh cuda` makes is tried.
pub fn torch_python() -> Option<PathBuf> {
    let candidate = std::env::var_os("COEVO_TORCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv-torch/bin/python"));
    let works = std::process::Command::new(&candidate)
        .args(["-c", "import torch, safetensors"])
        .output()
        .is_ok_and(|out| out.status.success());
    if works {
        Some(candidate)
    } else {
        eprintln!(
            "skipped: no Python with torch and safetensors at {} (run tools/libtorch.sh cuda, or set COEVO_TORCH_PYTHON)",
            candidate.display()
        );
        None
    }
}
