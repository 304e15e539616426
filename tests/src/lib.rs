//! Helpers shared by coevo's integration tests: where data and tools are, and how to skip
//! (or, where a check must not be skipped, fail) without them.

use std::path::{Path, PathBuf};

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The bundled Fashion-MNIST subset (10,000 training and 2,000 test images).
pub fn bundled_fashion_mnist() -> PathBuf {
    repo_root().join("data/fashion-mnist-10k")
}

/// `../shared/data/<name>` beside the repository, or `None` after printing why the test skips
/// (a failure under `COEVO_REQUIRE_FIXTURES=1`, see [`coevo_sdk::fixture`]).
pub fn shared_data(name: &str) -> Option<PathBuf> {
    let path = repo_root().join("../shared/data").join(name);
    coevo_sdk::fixture::existing(path, "the shared data folder beside this clone")
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

/// The C compiler (`CC` or `cc`), or `None` after printing why the test skips (a failure under
/// `COEVO_REQUIRE_FIXTURES=1`, see [`coevo_sdk::fixture`]).
pub fn c_compiler() -> Option<String> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let works = std::process::Command::new(&cc)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !works {
        coevo_sdk::fixture::missing(&format!("no C compiler `{cc}` (install gcc or set CC)"));
    }
    works.then_some(cc)
}

/// The folder of the header saved as ABI `version` (`"1.0"`, `"1.1"`) was released, for
/// building a plugin as one built against that version was.
pub fn abi_header(version: &str) -> PathBuf {
    repo_root().join("tests/c/abi").join(version)
}

/// Compiles `tests/c/hill_climb.c` with `defines` into `dir/<file>`, against `coevo.h` alone.
pub fn build_c_plugin(cc: &str, dir: &Path, file: &str, defines: &[&str]) -> PathBuf {
    build_c_plugin_against(cc, &repo_root().join("sdk/include"), dir, file, defines)
}

/// As [`build_c_plugin`], against the `coevo.h` in folder `include` (see [`abi_header`]).
pub fn build_c_plugin_against(
    cc: &str,
    include: &Path,
    dir: &Path,
    file: &str,
    defines: &[&str],
) -> PathBuf {
    std::fs::create_dir_all(dir).expect("a writable temporary folder");
    let out = dir.join(file);
    let status = std::process::Command::new(cc)
        .args([
            "-std=c99", "-Wall", "-Werror", "-shared", "-fPIC", "-O1", "-I",
        ])
        .arg(include)
        .args(defines)
        .arg(repo_root().join("tests/c/hill_climb.c"))
        .arg("-o")
        .arg(&out)
        .status()
        .expect("the C compiler runs");
    assert!(
        status.success(),
        "the C plugin did not compile against {} with {defines:?}",
        include.display()
    );
    out
}

/// Builds the cdylib of workspace package `package` (as cargo test does not) and returns its
/// path; cargo's own up-to-date check makes this cheap when nothing changed.
pub fn cdylib(package: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .current_dir(repo_root())
        .args(["build", "--quiet", "--message-format=json", "-p", package])
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo build -p {package} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| {
            m["reason"] == "compiler-artifact"
                && m["target"]["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
        })
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .find(|f| {
            f.extension()
                .is_some_and(|e| e == "so" || e == "dylib" || e == "dll")
        })
        .unwrap_or_else(|| panic!("cargo built no library for {package}"))
}

/// Held by integration tests that train or evaluate models, so that they take turns: run in
/// parallel on a machine of few cores they oversubscribe it and slow each other past their
/// deadlines. A test that panicked while holding it does not poison the others.
pub fn device_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A plugin host over `train` samples of the bundled Fashion-MNIST (a fifth held out for
/// validation), on the CPU, with run seed `seed`.
pub fn tiny_host(train: usize, seed: u64) -> std::rc::Rc<coevo::plugin::PluginHost> {
    use coevo::data::{DataSource, Holdout, Normalise, ResidentData, Splits};
    let source: DataSource = format!("fashion-mnist={}", bundled_fashion_mnist().display())
        .parse()
        .expect("a data source");
    let mut data = source.load().expect("the bundled data loads");
    data.truncate(Some(train), Some(100));
    let splits = Splits::of(&data, Holdout::Fraction(0.2), 1).expect("a valid holdout");
    let device = burn::tensor::Device::flex();
    let resident = ResidentData::upload(&data, &splits.validation, Normalise::Auto, &device);
    std::rc::Rc::new(coevo::plugin::PluginHost::new(
        coevo::session::Session::new(resident, device, seed),
    ))
}

/// A plugin host over `n` synthetic sequences `[1, 32]` whose target is a smooth function of a
/// few positions (a fifth held out for validation; 40 test samples), on the CPU, with run seed
/// `seed`: a regression set small enough for a genetic algorithm over networks in a test.
pub fn tiny_sequence_host(n: usize, seed: u64) -> std::rc::Rc<coevo::plugin::PluginHost> {
    use coevo::data::{
        Dataset, Holdout, Inputs, Normalise, ResidentData, Samples, Splits, Targets, Task,
    };
    let length = 32;
    let samples = |count: usize, offset: usize| {
        let mut rng = coevo::seed::rng(seed, "tiny-sequences", offset as u64);
        let inputs: Vec<f32> = (0..count * length)
            .map(|_| rand::Rng::random::<f32>(&mut rng))
            .collect();
        let targets = inputs
            .chunks(length)
            .map(|row| 40.0 * (row[3] + row[10] - row[20]) + 20.0)
            .collect();
        Samples {
            inputs: Inputs::F32(inputs),
            targets: Targets::Values(targets),
            coarse: None,
        }
    };
    let data = Dataset {
        name: "sequences".into(),
        task: Task::Regression,
        sample_shape: vec![1, length],
        class_names: Vec::new(),
        train: samples(n, 0),
        test: samples(40, 1),
        target_transform: None,
        preparation: None,
    };
    let splits = Splits::of(&data, Holdout::Fraction(0.2), 1).expect("a valid holdout");
    let device = burn::tensor::Device::flex();
    let resident = ResidentData::upload(&data, &splits.validation, Normalise::Auto, &device);
    std::rc::Rc::new(coevo::plugin::PluginHost::new(
        coevo::session::Session::new(resident, device, seed),
    ))
}
