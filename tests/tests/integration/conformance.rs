//! The conformance suite every plugin in `plugins/` must pass.
//!
//! Each plugin folder holds a `conformance.json`: `{"config": a small config, "snapshot_after":
//! a step, "models": [model specs]}`. The optional `models` are created in the host before the
//! plugin starts (seeds 1, 2, …), and a string `"$model:K"` anywhere in the config stands for
//! the id of the K-th of them: plugins that work on the script's models get some. An optional
//! `"data": "sequence-regression"` runs the plugin on tiny synthetic sequences instead of the
//! bundled Fashion-MNIST, for plugins whose networks read sequences. The suite builds each plugin, loads it like the host does, and checks that it
//! describes itself, rejects a bad config with a message naming the field, runs to completion
//! on a tiny problem, continues from a snapshot exactly as an uninterrupted run, and survives
//! garbage JSON. Each plugin is its own test, so a report names the plugin that failed; one
//! more test checks that every plugin folder has its test.

use std::path::{Path, PathBuf};

use coevo::plugin::{PluginError, PluginRun, load};
use coevo_tests::{cdylib, device_lock, repo_root, tiny_host, tiny_sequence_host};
use serde_json::{Value, json};

#[derive(Clone)]
struct Case {
    package: String,
    config: Value,
    snapshot_after: u64,
    models: Vec<Value>,
    sequences: bool,
}

/// The plugin folders under `plugins/`.
fn plugin_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo_root().join("plugins"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    dirs.sort();
    dirs
}

/// One conformance test per plugin folder.
macro_rules! conformance {
    ($($test:ident: $folder:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                conforms(&case(&repo_root().join("plugins").join($folder)));
            }
        )*

        #[test]
        fn every_plugin_folder_has_its_conformance_test() {
            let tested = [$($folder),*];
            for dir in plugin_dirs() {
                let folder = dir.file_name().unwrap().to_string_lossy().into_owned();
                assert!(
                    tested.contains(&folder.as_str()),
                    "plugins/{folder} has no conformance test: add it to `conformance!`"
                );
            }
        }
    };
}

conformance! {
    cest_conforms: "cest",
    codeepnet_conforms: "codeepnet",
    colearn_conforms: "colearn",
    darwin_conforms: "darwin",
    mega_conforms: "mega",
    random_search_conforms: "random-search",
}

fn case(dir: &Path) -> Case {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let package = manifest
        .lines()
        .find_map(|l| {
            l.strip_prefix("name = ")
                .map(|n| n.trim_matches('"').to_string())
        })
        .expect("a package name");
    let settings: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("conformance.json"))
            .unwrap_or_else(|_| panic!("{} has no conformance.json", dir.display())),
    )
    .unwrap();
    Case {
        package,
        config: settings["config"].clone(),
        snapshot_after: settings["snapshot_after"].as_u64().unwrap_or(1),
        models: settings["models"].as_array().cloned().unwrap_or_default(),
        sequences: match settings["data"].as_str() {
            None | Some("fashion-mnist") => false,
            Some("sequence-regression") => true,
            Some(other) => panic!("{}: unknown conformance data {other:?}", dir.display()),
        },
    }
}

fn start(path: &Path, case: &Case) -> Result<PluginRun, PluginError> {
    let host = match case.sequences {
        true => tiny_sequence_host(120, 9),
        false => tiny_host(300, 9),
    };
    let ids: Vec<u64> = case
        .models
        .iter()
        .zip(1..)
        .map(|(spec, seed)| host.state_mut().create_model(spec, seed).unwrap())
        .collect();
    PluginRun::start(load(path)?, with_models(&case.config, &ids), host)
}

/// `config` with every `"$model:K"` replaced by `ids[K]`.
fn with_models(config: &Value, ids: &[u64]) -> Value {
    match config {
        Value::String(s) => match s.strip_prefix("$model:") {
            Some(k) => json!(ids[k.parse::<usize>().unwrap()]),
            None => config.clone(),
        },
        Value::Array(items) => items.iter().map(|v| with_models(v, ids)).collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), with_models(v, ids)))
            .collect(),
        _ => config.clone(),
    }
}

/// Step reports' metrics until done (at most 200 steps).
fn finish(run: &mut PluginRun) -> Vec<Value> {
    let mut metrics = Vec::new();
    for _ in 0..200 {
        let report = run.step().unwrap();
        metrics.push(report.metrics);
        if report.done {
            return metrics;
        }
    }
    panic!("no end after 200 steps");
}

/// Every live model's id and parameters, for comparing two runs' end states.
fn live_params(run: &PluginRun) -> Vec<(u64, Vec<f32>)> {
    let state = run.host().state();
    state
        .models()
        .map(|(id, m)| (id, m.flat_params()))
        .collect()
}

fn conforms(case: &Case) {
    let _device = device_lock();
    let path = cdylib(&case.package);
    let name = &case.package;

    // Describes itself.
    let plugin = load(&path).unwrap();
    assert!(
        !plugin.name().is_empty() && !plugin.plugin.version().is_empty(),
        "{name}: no name or version"
    );
    assert!(
        !plugin.plugin.description().is_empty(),
        "{name}: no description"
    );
    assert!(
        plugin.plugin.schema().is_object(),
        "{name}: no config schema"
    );
    for hook in plugin.plugin.hooks() {
        assert!(
            !hook.default.is_empty(),
            "{name}: hook {} has no documented default",
            hook.name
        );
    }

    // Rejects a bad config with a message naming the field.
    let bad = Case {
        config: json!({"__no_such_field__": 1}),
        ..case.clone()
    };
    let err = start(&path, &bad).unwrap_err();
    assert!(
        err.to_string().contains("__no_such_field__"),
        "{name}: {err}"
    );

    // Runs to completion on a tiny problem.
    let mut run = start(&path, case).unwrap();
    let uninterrupted = finish(&mut run);
    assert!(!uninterrupted.is_empty(), "{name}: no steps");

    // Snapshot, a new instance, restore: continues exactly as the uninterrupted run.
    let mut first = start(&path, case).unwrap();
    let mut resumed: Vec<Value> = (0..case.snapshot_after)
        .map(|_| first.step().unwrap().metrics)
        .collect();
    let snapshot = first.snapshot().unwrap();
    first.swap(load(&path).unwrap()).unwrap();
    first.restore(&snapshot, case.snapshot_after).unwrap();
    resumed.extend(finish(&mut first));
    assert_eq!(resumed, uninterrupted, "{name}: a restored run diverged");
    assert_eq!(
        live_params(&first),
        live_params(&run),
        "{name}: a restored run ended with other models than the uninterrupted one"
    );

    // Survives garbage JSON.
    let mut run = start(&path, case).unwrap();
    for garbage in [
        json!("not an object"),
        json!({"generation": "x"}),
        json!(null),
        json!([1, 2]),
    ] {
        assert!(
            run.restore(&garbage, 0).is_err(),
            "{name}: accepted the snapshot {garbage}"
        );
    }
    let err = PluginRun::start(load(&path).unwrap(), json!("{{{"), tiny_host(50, 0)).unwrap_err();
    assert!(!err.to_string().is_empty(), "{name}");
    // After all that the instance still works.
    run.step().unwrap();
}
