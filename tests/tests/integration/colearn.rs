//! The co-learning plugin in a host: scripted coupling edited during a run, snapshot and
//! restore mid-training, and its scripts end to end.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use coevo::ComputeDevice;
use coevo::experiment::{Limits, RunOptions, run};
use coevo::plugin::{PluginRun, load};
use coevo_tests::{cdylib, device_lock, repo_root, tiny_host};
use serde_json::{Value, json};

fn options(script: &Path, out: &Path) -> RunOptions {
    let plugin = cdylib("coevo-plugin-colearn");
    RunOptions {
        script: script.to_path_buf(),
        out: out.to_path_buf(),
        sets: Default::default(),
        device: ComputeDevice::Flex,
        seed: 3,
        watch: false,
        data_roots: vec![repo_root().join("data")],
        plugin_dirs: vec![plugin.parent().unwrap().to_path_buf()],
        limits: Limits::default(),
        ray: None,
    }
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Records the plugin logged (one per epoch), in order.
fn epochs(run: &Path) -> Vec<Value> {
    records(&run.join("metrics.jsonl"))
        .into_iter()
        .filter(|r| r.get("plugin_step").is_some() && r.get("beta_bar").is_some())
        .collect()
}

/// An ensemble of two linear models on a few images, stepped until it has trained two epochs
/// with repulsion (β̄ < -0.5), which only an edited `coupling` hook gives.
fn coupling_script(beta: &str) -> String {
    format!(
        r#"
load_data("fashion-mnist={}", #{{ validation: 0.2, limit_train: 300, limit_test: 50 }});
fn coupling(epoch, i, j, n) {{ {beta} }}
start_plugin("colearn", #{{ members: 2, model: #{{ input: [1, 28, 28], layers: [#{{ type: "flatten" }}, #{{ type: "linear", out: 10 }}] }},
                            epochs: 400, batch_size: 64, eval_train_samples: 40, diagnostics: false }});
let seen = 0;
let steps = 0;
loop {{
    let report = step_plugin();
    steps += 1;
    if report.metrics.beta_bar < -0.5 {{ seen += 1; }}
    if seen >= 2 || report.done {{ break; }}
}}
steps
"#,
        repo_root().join("data/fashion-mnist-10k").display()
    )
}

#[test]
fn an_edited_coupling_hook_changes_beta_from_the_next_epoch() {
    let _device = device_lock();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("colearn.rhai");
    let out = dir.path().join("run");
    std::fs::write(&script, coupling_script("0.0")).unwrap();
    let mut opts = options(&script, &out);
    opts.watch = true;
    let (edit_script, edit_out) = (script.clone(), out.clone());
    let editor = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(120);
        while epochs(&edit_out).len() < 3 {
            assert!(Instant::now() < deadline, "the run never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        // β_ij = -0.5 for both pairs: β̄ = βN = -1.
        std::fs::write(&edit_script, coupling_script("-0.5")).unwrap();
    });
    let outcome = run(opts, Arc::new(AtomicBool::new(false))).unwrap();
    editor.join().unwrap();
    assert!(
        outcome.results.as_i64().unwrap() < 400,
        "the edited hook was never seen"
    );
    let betas: Vec<f64> = epochs(&out)
        .iter()
        .map(|r| r["beta_bar"].as_f64().unwrap())
        .collect();
    // Every epoch trained with one β: the old one up to the edit, the new one from then on.
    let switch = betas.iter().position(|&b| b != 0.0).unwrap();
    assert!(switch >= 3, "β changed before the edit: {betas:?}");
    assert!(
        betas[switch..].iter().all(|&b| (b + 1.0).abs() < 1e-12),
        "{betas:?}"
    );
    assert!(
        records(&out.join("events.jsonl"))
            .iter()
            .any(|e| e["kind"] == "reload"),
        "no reload was recorded"
    );
}

fn config() -> Value {
    json!({
        "members": 3,
        "model": { "preset": "mlp" },
        "beta_bar": -0.9,
        "epochs": 4,
        "batch_size": 32,
        "eval_train_samples": 60,
        "optimizer": { "type": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4 }
    })
}

/// Every member's parameters after the run, by id.
fn parameters(run: &PluginRun, members: &Value) -> Vec<Vec<f32>> {
    let state = run.host().state();
    members
        .as_array()
        .unwrap()
        .iter()
        .map(|id| state.model(id.as_u64().unwrap()).unwrap().flat_params())
        .collect()
}

#[test]
fn a_restored_ensemble_continues_training_identically() {
    let _device = device_lock();
    let path = cdylib("coevo-plugin-colearn");
    let mut whole = PluginRun::start(load(&path).unwrap(), config(), tiny_host(300, 4)).unwrap();
    let mut reports = Vec::new();
    loop {
        let report = whole.step().unwrap();
        reports.push(report.clone());
        if report.done {
            break;
        }
    }
    let result = reports.last().unwrap().result.clone().unwrap();
    assert_eq!(result["epochs"], 4);

    let mut resumed = PluginRun::start(load(&path).unwrap(), config(), tiny_host(300, 4)).unwrap();
    let mut again = vec![resumed.step().unwrap(), resumed.step().unwrap()];
    let snapshot = resumed.snapshot().unwrap();
    // A new instance from the snapshot, as after a hot swap or a resumed experiment.
    resumed.swap(load(&path).unwrap()).unwrap();
    resumed.restore(&snapshot, 2).unwrap();
    loop {
        let report = resumed.step().unwrap();
        again.push(report.clone());
        if report.done {
            break;
        }
    }
    assert_eq!(again, reports, "the restored run's epochs differ");
    let members = &result["members"];
    assert_eq!(
        parameters(&resumed, members),
        parameters(&whole, members),
        "the restored run's weights differ"
    );
    // The coupling was what the config asked: β = β̄/N off the diagonal.
    let beta = &result["history"][0]["beta"];
    assert!((beta[0][1].as_f64().unwrap() + 0.3).abs() < 1e-12, "{beta}");
    assert_eq!(beta[1][1], 0.0);
    // The diagnostics are there and say what they should of three members.
    let d = &result["last"]["validation"]["diagnostics"];
    assert_eq!(d["js_divergence"].as_array().unwrap().len(), 3);
    assert_eq!(d["inactive_relu"][0].as_array().unwrap().len(), 2, "{d}");
    let fractions: f64 = d["entropy_histograms"][2]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((fractions - 1.0).abs() < 1e-9, "{fractions}");
}

#[test]
fn the_colearning_scripts_run_end_to_end_and_draw_their_figures() {
    let _device = device_lock();
    let dir = tempfile::tempdir().unwrap();
    let data = json!(format!(
        "fashion-mnist={}",
        repo_root().join("data/fashion-mnist-10k").display()
    ));
    let sets = |pairs: &[(&str, Value)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .chain([
                ("data".to_string(), data.clone()),
                ("limit_train".into(), json!(250)),
                ("limit_test".into(), json!(100)),
                ("epochs".into(), json!(1)),
                ("batch_size".into(), json!(50)),
            ])
            .collect()
    };
    let mut one = options(
        &repo_root().join("scripts/colearn.rhai"),
        &dir.path().join("one"),
    );
    one.sets = sets(&[("members", json!(3)), ("beta_bar", json!(-1.0))]);
    let outcome = run(one, Arc::new(AtomicBool::new(false))).unwrap();
    assert_eq!(outcome.results["members"], 3);
    for figure in ["accuracy", "js_divergence", "entropy"] {
        assert!(
            outcome
                .run_dir
                .join(format!("figures/{figure}.png"))
                .exists(),
            "{figure}"
        );
    }

    let mut sweep = options(
        &repo_root().join("scripts/colearn_sweep.rhai"),
        &dir.path().join("sweep"),
    );
    sweep.sets = sets(&[
        ("sizes", json!([2])),
        ("betas", json!([-0.5, 0.0])),
        ("seeds", json!(2)),
    ]);
    let outcome = run(sweep, Arc::new(AtomicBool::new(false))).unwrap();
    let table = outcome.results["table"].as_array().unwrap();
    assert_eq!(table.len(), 2);
    // The gain is paired by seed against β̄ = 0, so β̄ = 0's own gain is exactly zero.
    assert_eq!(table[1]["gain_points_mean"], 0.0);
    assert!(outcome.run_dir.join("figures/accuracy_n2.png").exists());
    assert!(outcome.run_dir.join("figures/js_n2_beta-0.5.png").exists());
    let report = std::fs::read_to_string(&outcome.report).unwrap();
    assert!(report.contains("figures/ensemble_gain.png"), "{report}");
}
