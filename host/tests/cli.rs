//! The `coevo` command as a user meets it: results as JSON, errors that name what is wrong.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::without_seconds;

fn coevo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coevo"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args(args)
        .output()
        .expect("the coevo binary runs")
}

/// The JSON object on the last line of standard output.
fn last_json(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "last line is not JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn lenet5_learns_the_bundled_fashion_mnist_in_two_epochs() {
    let out = coevo(&[
        "train",
        "--model",
        "lenet5",
        "--data",
        "fashion-mnist=data/fashion-mnist-10k",
        "--epochs",
        "2",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = last_json(&out);
    let accuracy = result["test_accuracy"].as_f64().unwrap();
    assert!(accuracy >= 0.80, "test accuracy {accuracy}");
    assert_eq!(result["params"], 61_706);
    assert_eq!(result["epochs"].as_array().unwrap().len(), 2);
}

#[test]
fn cnn1d_learns_methylation_ages_with_the_default_settings() {
    let shared = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"));
    let Some(dir) = coevo_sdk::fixture::existing(shared.join("methylation"), "the shared data set")
    else {
        return;
    };
    let data = format!("methylation={}", dir.display());
    let out = coevo(&[
        "train", "--model", "cnn1d", "--data", &data, "--epochs", "5", "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = last_json(&out);
    let test = &result["test"]["members"][0];
    // R² > 0 is better than predicting the mean age. With the default learning rate, five
    // epochs reached 0.63–0.83 over two seeds on flex and on LibTorch; 0.05, the
    // classification default, diverged in the first epoch.
    let r2 = test["r2"].as_f64().unwrap();
    assert!(r2 > 0.4, "test R² {r2}, MAE {} years", test["mae"]);
}

#[test]
fn a_missing_data_folder_is_named_in_the_error() {
    let out = coevo(&["train", "--data", "cifar10=no/such/folder", "--json"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no/such/folder"), "{stderr}");
}

#[test]
fn an_unknown_data_kind_lists_the_kinds() {
    let out = coevo(&["train", "--data", "imagenet=x"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cifar10") && stderr.contains("methylation"),
        "{stderr}"
    );
}

#[test]
fn every_command_answers_json() {
    for args in [
        &["models", "list", "--json"][..],
        &["models", "show", "resnet20", "--json"],
        &[
            "data",
            "info",
            "fashion-mnist=data/fashion-mnist-10k",
            "--json",
        ],
    ] {
        let out = coevo(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let value = last_json(&out);
        assert!(value.is_object() || value.is_array(), "{args:?}");
    }
    let info = last_json(&coevo(&[
        "data",
        "info",
        "fashion-mnist=data/fashion-mnist-10k",
        "--json",
    ]));
    assert_eq!(info["train"], 10_000);
    assert_eq!(
        info["test_per_class"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>(),
        2_000
    );
}

#[test]
fn data_info_reports_a_series_matrix_missing_values_and_its_test_split() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("GSE0_series_matrix.txt");
    // Ten samples, four sites; cg2 misses 6 of 10 values, cg4 one.
    let mut text = String::from("!Series_title\t\"small\"\n!Sample_geo_accession");
    let ids: Vec<String> = (1..=10).map(|i| format!("GSM{i}")).collect();
    for id in &ids {
        text += &format!("\t\"{id}\"");
    }
    text += "\n!Sample_characteristics_ch1";
    for i in 1..=10 {
        text += &format!("\t\"age: {}\"", 10 * i);
    }
    text += "\n!series_matrix_table_begin\n\"ID_REF\"";
    for id in &ids {
        text += &format!("\t\"{id}\"");
    }
    for (site, missing) in [("cg1", 0), ("cg2", 6), ("cg3", 0), ("cg4", 1)] {
        text += &format!("\n\"{site}\"");
        for i in 0..10 {
            match i < missing {
                true => text += "\tnull",
                false => text += &format!("\t0.{i}"),
            }
        }
    }
    text += "\n!series_matrix_table_end\n";
    std::fs::write(&path, text).unwrap();
    let source = format!("methylation={}?test_fraction=0.3&seed=4", path.display());
    let out = coevo(&["data", "info", &source, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info = last_json(&out);
    assert_eq!(
        (info["train"].as_u64(), info["test"].as_u64()),
        (Some(7), Some(3))
    );
    assert_eq!(info["missing_values"], 7);
    assert_eq!(info["dropped_cpgs"], 1, "cg2 misses more than 20 %");
    assert_eq!(info["sample_shape"], serde_json::json!([1, 3]));

    let bad = coevo(&["data", "info", &format!("{source}&features=x")]);
    assert!(!bad.status.success());
    let message = String::from_utf8_lossy(&bad.stderr);
    assert!(message.contains("features"), "{message}");
}

#[test]
fn the_elastic_net_baseline_fits_a_linear_clock_and_reports_test_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clock.csv");
    // 80 samples: age is 100·cg1 − 30·cg3 + 20 exactly; cg2 and cg4 are unrelated.
    let mut text = String::from("id,age,cg1,cg2,cg3,cg4\n");
    for i in 0..80u32 {
        let (a, b, c, d) = (
            (i * 37 % 80) as f32 / 80.0,
            (i * 11 % 13) as f32 / 13.0,
            (i * 53 % 71) as f32 / 71.0,
            (i * 7 % 9) as f32 / 9.0,
        );
        let age = 100.0 * a - 30.0 * c + 20.0;
        text += &format!("S{i},{age},{a},{b},{c},{d}\n");
    }
    std::fs::write(&path, text).unwrap();
    let source = format!("methylation={}?test_fraction=0.25", path.display());
    let out = coevo(&[
        "baseline",
        "elasticnet",
        "--data",
        &source,
        "--validation",
        "0.2",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = last_json(&out);
    assert_eq!(report["test"]["samples"], 20);
    let mae = report["test"]["mae"].as_f64().unwrap();
    assert!(
        mae < 2.0,
        "a linear clock is nearly exact: test MAE {mae} years"
    );
    assert!(report["test"]["r2"].as_f64().unwrap() > 0.95);
    assert!(report["test"]["median_ae"].as_f64().is_some());
    assert!(report["test"]["pearson"].as_f64().unwrap() > 0.97);
    assert_eq!(report["grid"].as_array().unwrap().len(), 18);
    assert!(report["fit_seconds"].as_f64().unwrap() >= 0.0);
    let one = coevo(&[
        "baseline",
        "elasticnet",
        "--data",
        &source,
        "--alpha",
        "0.01",
        "--l1-ratio",
        "0.5",
        "--json",
    ]);
    assert!(
        one.status.success(),
        "{}",
        String::from_utf8_lossy(&one.stderr)
    );
    assert_eq!(last_json(&one)["grid"].as_array().unwrap().len(), 1);
}

#[test]
fn help_is_everywhere() {
    for args in [
        &["--help"][..],
        &["train", "--help"],
        &["data", "fetch", "--help"],
        &["bench", "train", "--help"],
        &["models", "--help"],
    ] {
        let out = coevo(args);
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}

/// Builds the template plugin and MeGA (cargo test builds no cdylib) and returns their folder.
fn plugin_dir() -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args(["build", "--quiet", "-p", "coevo-plugin-random-search"])
        .args(["-p", "coevo-plugin-mega", "-p", "coevo-plugin-colearn"])
        .status()
        .unwrap();
    assert!(status.success());
    // The plugin lands beside the coevo binary, in the target folder.
    std::path::Path::new(env!("CARGO_BIN_EXE_coevo"))
        .parent()
        .unwrap()
        .display()
        .to_string()
}

#[test]
fn plugins_are_listed_described_and_run() {
    let dir = plugin_dir();
    let list = last_json(&coevo(&["plugins", "list", "--plugin-dir", &dir, "--json"]));
    assert!(
        list["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "random-search"),
        "{list}"
    );
    // Libraries it did not load are listed with their reasons, never dropped.
    let not_loaded = list["not_loaded"].as_array().unwrap();
    assert!(
        not_loaded
            .iter()
            .all(|why| why.as_str().is_some_and(|w| w.contains(dir.as_str()))),
        "each names its file: {list}"
    );
    let show = last_json(&coevo(&[
        "plugins",
        "show",
        "random-search",
        "--plugin-dir",
        &dir,
        "--json",
    ]));
    assert_eq!(show["hooks"][0]["name"], "fitness");
    assert_eq!(show["schema"]["additionalProperties"], false);
    let config = r#"{"generations": 2, "population": 2, "model": {"preset": "mlp"}}"#;
    let out = coevo(&[
        "plugins",
        "run",
        "random-search",
        "--plugin-dir",
        &dir,
        "--data",
        "fashion-mnist=data/fashion-mnist-10k",
        "--limit-train",
        "500",
        "--config",
        config,
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = last_json(&out);
    assert_eq!(run["steps"], 2);
    assert_eq!(run["metrics"].as_array().unwrap().len(), 2);
    let bad = coevo(&[
        "plugins",
        "run",
        "random-search",
        "--plugin-dir",
        &dir,
        "--data",
        "fashion-mnist=data/fashion-mnist-10k",
        "--config",
        r#"{"population": 0}"#,
    ]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("config.population: 0 is below the minimum 1")
    );
}

/// A run with a training call over several epochs and a plugin run, both resumable mid-way.
const RESUMABLE: &str = r#"
load_data("fashion-mnist=data/fashion-mnist-10k", #{ validation: 0.2, limit_train: 3000, limit_test: 300 });
let net = model(#{ input: [1, 28, 28], layers: [#{ type: "conv2d", out: 4, kernel: 3, stride: 2 }, #{ type: "batch_norm" }, #{ type: "relu" }, #{ type: "flatten" }, #{ type: "dropout", p: 0.2 }, #{ type: "linear", out: 10 }] });
train(net, #{ epochs: 4, batch_size: 50, optimizer: #{ type: "adam", lr: 0.002 }, augment: #{ flip: true } });
let best = run_plugin("random-search", #{ model: #{ input: [1, 28, 28], layers: [#{ type: "flatten" }, #{ type: "linear", out: 10 }] }, population: 3, generations: 120, sigma: 0.02 });
let scores = evaluate(net);
log_metrics(#{ validation_accuracy: scores.members[0].accuracy });
#{ accuracy: scores.members[0].accuracy, best: best.best.fitness }
"#;

/// Records a run has written to `metrics.jsonl` so far (none before the file exists).
fn records_logged(run: &std::path::Path) -> usize {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

fn metrics_of(run: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn kill_9_at_random_moments_then_resume_reaches_the_same_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir();
    let script = dir.path().join("resumable.rhai");
    std::fs::write(&script, RESUMABLE).unwrap();
    let run_args = |out: &std::path::Path| {
        vec![
            "run".to_string(),
            script.display().to_string(),
            "--out".into(),
            out.display().to_string(),
            "--plugin-dir".into(),
            plugins.clone(),
            "--seed".into(),
            "3".into(),
            "-q".into(),
            "--json".into(),
        ]
    };
    let whole = dir.path().join("whole");
    let started = std::time::Instant::now();
    let out = coevo(
        &run_args(&whole)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let duration = started.elapsed().as_secs_f64();
    let expected = last_json(&out)["results"].clone();

    // Three kills at pseudo-random points of progress: early, middle, late (a fixed
    // sequence, so the test repeats itself), each after the run has logged that many records.
    let lines = metrics_of(&whole).len();
    let killed = dir.path().join("killed");
    let mut args = run_args(&killed);
    let mut interrupted = 0;
    let mut moment = 0.37f64;
    for third in 0..3 {
        moment = (moment * 7.3 + 0.11).fract();
        let target = ((third as f64 + moment) * lines as f64 / 3.0).max(1.0) as usize;
        let mut child = Command::new(env!("CARGO_BIN_EXE_coevo"))
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline =
            std::time::Instant::now() + std::time::Duration::from_secs_f64(duration * 4.0 + 10.0);
        while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
            if records_logged(&killed) >= target {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        child.kill().unwrap(); // SIGKILL on Unix: no chance to clean up
        child.wait().unwrap();
        args = vec![
            "resume".into(),
            killed.display().to_string(),
            "-q".into(),
            "--json".into(),
        ];
    }
    assert_eq!(
        interrupted, 3,
        "every kill must land while the run is going ({duration:.1} s)"
    );
    let out = coevo(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(last_json(&out)["results"], expected);
    assert_eq!(metrics_of(&killed), metrics_of(&whole));
}

#[test]
fn a_corrupt_checkpoint_is_reported_and_the_previous_one_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir();
    let script = dir.path().join("resumable.rhai");
    std::fs::write(&script, RESUMABLE).unwrap();
    let run = dir.path().join("run");
    let out = coevo(&[
        "run",
        script.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
        "--plugin-dir",
        &plugins,
        "--seed",
        "3",
        "-q",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = last_json(&out)["results"].clone();
    let mut checkpoints: Vec<_> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    checkpoints.sort();
    let newest = checkpoints.last().unwrap();
    let model = std::fs::read_dir(newest)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .unwrap();
    let mut bytes = std::fs::read(&model).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&model, bytes).unwrap();

    let out = coevo(&["resume", run.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("corrupt")
            && stderr.contains(newest.file_name().unwrap().to_str().unwrap()),
        "{stderr}"
    );
    assert_eq!(last_json(&out)["results"], expected);
    let events = std::fs::read_to_string(run.join("events.jsonl")).unwrap();
    assert!(events.contains("checkpoint_rejected"));
}

#[test]
fn the_smoke_experiment_runs_and_says_where_its_report_is() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("smoke");
    let run = coevo(&["run", "scripts/smoke.rhai", "--out", out.to_str().unwrap()]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains(&format!("run directory: {}", out.display()))
            && stdout.contains("report.md"),
        "{stdout}"
    );
    for file in [
        "config.json",
        "seed",
        "metrics.jsonl",
        "metrics.csv",
        "events.jsonl",
        "summary.json",
        "report.md",
        "models/lenet5.safetensors",
        "plots/train_loss.png",
        "plots/train_loss.svg",
    ] {
        assert!(out.join(file).exists(), "{file} missing");
    }
    let summary = summary_of(&out);
    assert!(
        summary["results"]["test_accuracy"].as_f64().unwrap() > 0.8,
        "{summary}"
    );
    // The loss every few steps draws a curve even in two epochs; validation every epoch;
    // counters such as the epoch are not plotted.
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let count = |field: &str| metrics.lines().filter(|l| l.contains(field)).count();
    assert!(count("\"batch_loss\"") >= 10, "{metrics}");
    assert_eq!(count("\"val_accuracy\""), 2, "{metrics}");
    assert!(out.join("plots/batch_loss.png").exists());
    assert!(!out.join("plots/epoch.png").exists());
}

#[test]
fn the_quickstart_tour_tables_members_ensemble_and_merge() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir();
    let out = dir.path().join("tour");
    let run = coevo(&[
        "run",
        "scripts/quickstart.rhai",
        "--out",
        out.to_str().unwrap(),
        "--plugin-dir",
        &plugins,
        "--set",
        "epochs=1",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("report.md"), "{stdout}");
    let summary = summary_of(&out);
    let rows = summary["results"]["table"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(
        names[..3].iter().all(|n| n.starts_with("member")),
        "{names:?}"
    );
    assert!(
        names[3].starts_with("ensemble") && names[4].contains("MeGA"),
        "{names:?}"
    );
    for row in rows {
        for split in ["validation", "test"] {
            let accuracy = row[split].as_f64().unwrap();
            assert!(accuracy > 0.5 && accuracy <= 1.0, "{row}");
        }
    }
    assert!(out.join("models/merge.safetensors").exists());
}

#[test]
fn ctrl_c_stops_after_a_checkpoint_and_the_run_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir();
    let script = dir.path().join("resumable.rhai");
    std::fs::write(&script, RESUMABLE).unwrap();
    let run = dir.path().join("run");
    let mut child = Command::new(env!("CARGO_BIN_EXE_coevo"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args([
            "run",
            script.to_str().unwrap(),
            "--out",
            run.to_str().unwrap(),
            "--plugin-dir",
            &plugins,
            "--seed",
            "3",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while records_logged(&run) < 6 {
        assert!(
            std::time::Instant::now() < deadline && child.try_wait().unwrap().is_none(),
            "the run ended before it could be interrupted"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("interrupted at step") && stderr.contains("coevo resume"),
        "{stderr}"
    );
    assert!(
        std::fs::read_to_string(run.join("events.jsonl"))
            .unwrap()
            .contains("\"interrupted\"")
    );
    let resumed = coevo(&["resume", run.to_str().unwrap(), "-q", "--json"]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let whole = dir.path().join("whole");
    let reference = coevo(&[
        "run",
        script.to_str().unwrap(),
        "--out",
        whole.to_str().unwrap(),
        "--plugin-dir",
        &plugins,
        "--seed",
        "3",
        "-q",
        "--json",
    ]);
    assert_eq!(
        last_json(&resumed)["results"],
        last_json(&reference)["results"]
    );
    assert_eq!(metrics_of(&run), metrics_of(&whole));
}

/// `value` without its `seconds` fields, which no two runs share.

#[test]
fn the_mega_experiments_run_and_a_killed_one_resumes_to_the_same_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir();
    let args = |script: &str, out: &std::path::Path| {
        let mut args: Vec<String> = ["run", script, "--out", out.to_str().unwrap()]
            .into_iter()
            .chain(["--plugin-dir", &plugins, "--seed", "4", "-q", "--json"])
            .map(String::from)
            .collect();
        for set in [
            "model=mlp",
            "epochs=1",
            "limit_train=600",
            "population=4",
            "generations=3",
            "count=4",
            "data=fashion-mnist=data/fashion-mnist-10k",
        ] {
            args.extend(["--set".to_string(), set.to_string()]);
        }
        args
    };
    let run = |args: &[String]| {
        let out = coevo(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        last_json(&out)["results"].clone()
    };

    let pair = run(&args("scripts/mega.rhai", &dir.path().join("pair")));
    for name in [
        "parent_0",
        "parent_1",
        "average",
        "average_aligned",
        "mega",
        "mega_aligned",
    ] {
        for split in ["test_accuracy", "unseen_accuracy"] {
            let accuracy = pair["results"][name][split].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&accuracy), "{name}: {pair}");
        }
    }
    assert!(
        dir.path()
            .join("pair/models/mega_aligned.safetensors")
            .exists()
    );

    // The sweep: independent and shared-trunk pairs; with the parents in generation 0, no
    // merge ends below the better parent on the half of validation the GA scores on.
    let mut sweep_args = args("scripts/mega_sweep.rhai", &dir.path().join("sweep"));
    for set in [
        "epochs=2",
        "trunks=[0,1]",
        "replicates=1",
        "readings=[\"code\"]",
        "include_parents=true",
    ] {
        sweep_args.extend(["--set".to_string(), set.to_string()]);
    }
    let sweep = run(&sweep_args);
    let table = sweep["table"].as_array().unwrap();
    assert_eq!(table.len(), 2 * 5, "{sweep}");
    for trunk in [0, 1] {
        let cell: Vec<&Value> = table.iter().filter(|r| r["trunk"] == trunk).collect();
        let of = |entry: &str, field: &str| {
            let row = cell.iter().find(|r| r["entry"] == entry).unwrap();
            row[field].as_f64().unwrap()
        };
        for merge in ["mega_code", "mega_code_aligned"] {
            assert!(
                of(merge, "validation_mean") >= of("best_parent", "validation_mean"),
                "trunk {trunk}: {sweep}"
            );
            assert!((0.0..=1.0).contains(&of(merge, "unseen_mean")));
        }
    }

    let whole_dir = dir.path().join("whole");
    let whole = run(&args("scripts/mega_hierarchical.rhai", &whole_dir));
    // Four parents: two merges on the first level, one on the second.
    for merges in [&whole["merges"], &whole["merges_aligned"]] {
        let levels: Vec<u64> = merges
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["level"].as_u64().unwrap())
            .collect();
        assert_eq!(levels, [0, 0, 1], "{whole}");
    }

    // Killed with SIGKILL once half of the run's records are written, then resumed.
    let killed = dir.path().join("killed");
    let half = metrics_of(&whole_dir).len() / 2;
    let mut child = Command::new(env!("CARGO_BIN_EXE_coevo"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args(args("scripts/mega_hierarchical.rhai", &killed))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() && records_logged(&killed) < half {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before the kill"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let resumed = run(&[
        "resume".into(),
        killed.display().to_string(),
        "-q".into(),
        "--json".into(),
    ]);
    assert_eq!(without_seconds(&resumed), without_seconds(&whole));
    assert_eq!(metrics_of(&killed), metrics_of(&whole_dir));
}

/// Bytes of the files in `dir`.
fn folder_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().metadata().unwrap().len())
        .sum()
}

#[test]
fn a_run_that_frees_its_models_checkpoints_only_what_is_live() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lifecycle");
    let run = coevo(&[
        "run",
        "scripts/lifecycle.rhai",
        "--set",
        "models=12",
        "--set",
        "limit_train=600",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(last_json(&run)["results"]["models"], 12);
    let checkpoints = out.join("checkpoints");
    let mut names: Vec<String> = std::fs::read_dir(&checkpoints)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let last = checkpoints.join(names.last().unwrap());
    let files: Vec<String> = std::fs::read_dir(&last)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // Every model was freed: nothing of theirs, weights or momentum, is left to write.
    assert_eq!(files, vec!["manifest.json".to_string()], "{files:?}");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(last.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["optimizers"], serde_json::json!([]));
    assert!(manifest["next_id"].as_u64().unwrap() > 12, "{manifest}");
    assert!(
        folder_bytes(&last) < 1 << 20,
        "{} bytes",
        folder_bytes(&last)
    );
}

/// The script API's adapters reach the session's services with all their arguments.
const SERVICES: &str = r#"
load_data("fashion-mnist=data/fashion-mnist-10k", #{ validation: 0.2, limit_train: 500, limit_test: 100 });
let narrow = model(#{ input: [1, 28, 28], layers: [#{ type: "flatten" }, #{ type: "linear", out: 8 }, #{ type: "relu" }, #{ type: "linear", out: 10 }] }, 1);
let wide = model(#{ input: [1, 28, 28], layers: [#{ type: "flatten" }, #{ type: "linear", out: 8 }, #{ type: "relu" }, #{ type: "linear", out: 16 }, #{ type: "relu" }, #{ type: "linear", out: 10 }] }, 2);
let sub = train(narrow, #{ epochs: 2, batch_size: 10 }, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9]);
let all = train(narrow, #{ epochs: 1, batch_size: 100 });
let copied = transfer(narrow, wide);
let other = model(#{ input: [1, 28, 28], layers: [#{ type: "flatten" }, #{ type: "linear", out: 8 }, #{ type: "relu" }, #{ type: "linear", out: 10 }] }, 3);
let layered = blend([narrow, other], #{ per_layer: [1.0, 0.0, 0.0, 1.0] });
#{ sub_steps: sub.steps, all_steps: all.steps, lr: all.lr, copied: copied.params, layered: evaluate(layered).members[0].accuracy }
"#;

#[test]
fn scripts_train_on_subsets_transfer_weights_and_blend_per_layer() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("services.rhai");
    std::fs::write(&script, SERVICES).unwrap();
    let out = dir.path().join("run");
    let run = coevo(&[
        "run",
        script.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let results = &last_json(&run)["results"];
    // 12 samples in batches of 10: one batch of 10 and one of 2, twice; then 400 in 4.
    assert_eq!(results["sub_steps"], 4, "{results}");
    assert_eq!(results["all_steps"], 4, "{results}");
    assert_eq!(results["lr"], 0.05, "the classification default: {results}");
    assert_eq!(
        results["copied"],
        serde_json::json!(["1.weight", "1.bias"]),
        "{results}"
    );
    assert!(results["layered"].as_f64().is_some(), "{results}");
}

#[test]
fn a_comparison_report_overlays_the_metrics_of_two_runs() {
    let dir = tempfile::tempdir().unwrap();
    let runs: Vec<String> = ["0.05", "0.02"]
        .iter()
        .map(|lr| {
            let out = dir.path().join(format!("lr-{lr}"));
            let run = coevo(&[
                "run",
                "scripts/smoke.rhai",
                "--out",
                out.to_str().unwrap(),
                "--set",
                "epochs=1",
                "--set",
                &format!("lr={lr}"),
            ]);
            assert!(
                run.status.success(),
                "{}",
                String::from_utf8_lossy(&run.stderr)
            );
            out.display().to_string()
        })
        .collect();
    let out = dir.path().join("both");
    let report = coevo(&["report", &runs[0], &runs[1], "--out", out.to_str().unwrap()]);
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let text = std::fs::read_to_string(out.join("comparison.md")).unwrap();
    assert!(
        text.contains("lr-0.05") && text.contains("lr-0.02"),
        "{text}"
    );
    assert!(text.contains("| test_accuracy |"), "{text}");
    assert!(out.join("plots/batch_loss.png").exists() && out.join("plots/batch_loss.svg").exists());
}

/// A run directory's `summary.json`.
fn summary_of(run: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap()
}

/// A Python whose `tensorboard` package reads event files: `COEVO_TENSORBOARD_PYTHON`, else
/// `python3` (CI installs the package with pip).
fn tensorboard_python() -> Option<String> {
    let python = std::env::var("COEVO_TENSORBOARD_PYTHON").unwrap_or_else(|_| "python3".into());
    let works = Command::new(&python)
        .args([
            "-c",
            "import tensorboard.backend.event_processing.event_file_loader",
        ])
        .output()
        .is_ok_and(|out| out.status.success());
    if works {
        return Some(python);
    }
    coevo_sdk::fixture::missing(&format!(
        "the tensorboard Python package for `{python}` (pip install tensorboard)"
    ));
    None
}

#[test]
fn tensorboards_reader_reads_a_runs_event_file() {
    let Some(python) = tensorboard_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("smoke");
    let run = coevo(&[
        "run",
        "scripts/smoke.rhai",
        "--out",
        out.to_str().unwrap(),
        "--set",
        "epochs=1",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let events = out.join("tensorboard/events.out.tfevents.coevo");
    let reader = r#"
import json, sys
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
counts = {}
for event in EventFileLoader(sys.argv[1]).Load():
    for value in event.summary.value:
        counts[value.tag] = counts.get(value.tag, 0) + 1
        if value.tag == "test_accuracy":
            counts["test_accuracy_value"] = value.simple_value if value.HasField("simple_value") else value.tensor.float_val[0]
print(json.dumps(counts))
"#;
    let read = Command::new(&python)
        .args(["-c", reader])
        .arg(&events)
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let counts: Value = serde_json::from_slice(&read.stdout).unwrap();
    assert!(counts["batch_loss"].as_u64().unwrap() >= 5, "{counts}");
    assert_eq!(counts["val_accuracy"], 1, "{counts}");
    let summary = summary_of(&out);
    let test = summary["results"]["test_accuracy"].as_f64().unwrap();
    assert!(
        (counts["test_accuracy_value"].as_f64().unwrap() - test).abs() < 1e-6,
        "{counts}"
    );
}
