//! The `coevo` command as a user meets it: results as JSON, errors that name what is wrong.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use serde_json::Value;

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

/// Builds the template plugin (cargo test builds no cdylib) and returns its folder.
fn plugin_dir() -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args(["build", "--quiet", "-p", "coevo-plugin-random-search"])
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
        list.as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "random-search"),
        "{list}"
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
