//! Experiment scripts run in-process: hooks, hot reload, the sandbox and runaway hooks.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use coevo::ComputeDevice;
use coevo::experiment::{ExperimentError, Limits, RunOptions, run};
use coevo_tests::{cdylib, repo_root};
use serde_json::Value;

fn options(script: &Path, out: &Path) -> RunOptions {
    let plugins = cdylib("coevo-plugin-random-search");
    RunOptions {
        script: script.to_path_buf(),
        out: out.to_path_buf(),
        sets: Default::default(),
        device: ComputeDevice::Flex,
        seed: 5,
        watch: false,
        data_roots: vec![repo_root().join("data")],
        plugin_dirs: vec![plugins.parent().unwrap().to_path_buf()],
        limits: Limits::default(),
        ray: None,
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn data_line() -> String {
    format!(
        "load_data(\"fashion-mnist={}\", #{{ validation: 0.2, limit_train: 400, limit_test: 100 }});",
        repo_root().join("data/fashion-mnist-10k").display()
    )
}

/// A search whose generations continue until the script has seen the edited hook at work.
fn search_script(fitness_body: &str) -> String {
    format!(
        r#"
{}
fn fitness(metrics, ctx) {{ {fitness_body} }}
start_plugin("random-search", #{{ model: #{{ input: [1, 28, 28], layers: [#{{ type: "flatten" }}, #{{ type: "linear", out: 10 }}] }}, population: 2, generations: 400, sigma: 0.01 }});
let seen = 0;
let steps = 0;
while seen < 3 && steps < 400 {{
    let report = step_plugin();
    steps += 1;
    if report.metrics.fitness_max >= 1000.0 {{ seen += 1; }}
}}
steps
"#,
        data_line()
    )
}

/// Waits until `events.jsonl` in `run` has an event of `kind`.
fn wait_for_event(run: &Path, kind: &str, deadline: Instant) -> bool {
    while Instant::now() < deadline {
        if records(&run.join("events.jsonl"))
            .iter()
            .any(|e| e["kind"] == kind)
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn an_edited_hook_applies_from_the_next_call_and_a_broken_edit_keeps_the_run_going() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("search.rhai");
    let out = dir.path().join("run");
    write(&script, &search_script("metrics.accuracy"));
    let mut opts = options(&script, &out);
    opts.watch = true;
    // The editor: first a broken edit, then, once it was refused, a working one.
    let (edit_script, edit_out) = (script.clone(), out.clone());
    let editor = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while records(&edit_out.join("metrics.jsonl")).len() < 5 {
            assert!(Instant::now() < deadline, "the run never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        write(&edit_script, &search_script("metrics.accuracy +"));
        assert!(
            wait_for_event(&edit_out, "reload_failed", deadline),
            "the broken edit was not reported"
        );
        write(&edit_script, &search_script("1000.0 + metrics.accuracy"));
    });
    let outcome = run(opts, Arc::new(AtomicBool::new(false))).unwrap();
    editor.join().unwrap();
    assert!(
        outcome.results.as_i64().unwrap() < 400,
        "the new fitness was never seen"
    );

    let events = records(&out.join("events.jsonl"));
    let failed = events
        .iter()
        .find(|e| e["kind"] == "reload_failed")
        .unwrap();
    assert!(
        failed["error"].as_str().unwrap().contains("search.rhai"),
        "{failed}"
    );
    let reload = events.iter().find(|e| e["kind"] == "reload").unwrap();
    let hash = reload["hash"].as_str().unwrap();
    let at = reload["step"].as_u64().unwrap();
    // Both versions of the script are kept in the run directory.
    assert!(out.join(format!("scripts/{}.rhai", &hash[..16])).exists());
    assert_eq!(std::fs::read_dir(out.join("scripts")).unwrap().count(), 2);
    // Before the reload every fitness was an accuracy; from the step after it, 1000 more.
    let metrics = records(&out.join("metrics.jsonl"));
    for m in &metrics {
        let step = m["step"].as_u64().unwrap();
        let fitness = m["fitness_max"].as_f64().unwrap();
        if step < at {
            assert!(
                fitness <= 1.0,
                "step {step}: {fitness} before the reload at {at}"
            );
        }
        if step > at {
            assert!(
                fitness >= 1000.0,
                "step {step}: {fitness} after the reload at {at}"
            );
        }
    }
}

#[test]
fn a_runaway_hook_is_stopped_with_its_name_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("loop.rhai");
    write(&script, &search_script("let x = 0; loop { x += 1; }"));
    let mut opts = options(&script, &dir.path().join("run"));
    opts.limits.max_operations = 200_000;
    let err = run(opts, Arc::new(AtomicBool::new(false))).unwrap_err();
    let ExperimentError::Script { message, run_dir } = err else {
        panic!("expected a script error")
    };
    assert!(
        message.contains("hook `fitness`") && message.contains("loop.rhai:3"),
        "{message}"
    );
    assert!(message.contains("too many operations"), "{message}");
    // The run directory says what happened.
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["status"], "failed");
}

#[test]
fn a_hook_result_that_does_not_fit_the_plugins_schema_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("word.rhai");
    write(&script, &search_script("\"high\""));
    let err = run(
        options(&script, &dir.path().join("run")),
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap_err();
    let ExperimentError::Script { message, .. } = err else {
        panic!("expected a script error")
    };
    // The plugin says `fitness` returns an f64; the schema derived from it is the check.
    assert!(
        message.contains("hook `fitness` at")
            && message.contains("word.rhai:3")
            && message.contains("result: expected number, found the string \"high\""),
        "{message}"
    );
}

#[test]
fn a_script_cannot_read_outside_its_roots() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("escape.rhai");
    write(&script, "load_data(\"fashion-mnist=/etc\");\n");
    let err = run(
        options(&script, &dir.path().join("run")),
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("escape.rhai:1")
            && text.contains("outside the run directory and the data roots"),
        "{text}"
    );
    // Writing outside the run directory is refused too.
    write(
        &script,
        &format!(
            "{}\nlet m = model(\"mlp\");\nsave_model(m, \"../../elsewhere.safetensors\");\n",
            data_line()
        ),
    );
    let err = run(
        options(&script, &dir.path().join("run2")),
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("escape.rhai:3")
            && err.to_string().contains("scripts write only there"),
        "{err}"
    );
}

#[test]
fn script_errors_show_file_line_column_and_the_call_stack() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("broken.rhai");
    write(
        &script,
        "fn inner(x) { x.no_such_field + 1 }\nfn outer(x) { inner(x) }\nouter(#{});\n",
    );
    let err = run(
        options(&script, &dir.path().join("run")),
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("broken.rhai:1:"), "{text}");
    assert!(
        text.contains("in `outer`") && text.contains("in `inner`"),
        "{text}"
    );
    let hooks_need_state = dir.path().join("hook.rhai");
    write(&hooks_need_state, &search_script("train(1, #{}); 1.0"));
    let err = run(
        options(&hooks_need_state, &dir.path().join("run3")),
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("`train` cannot be called from a hook"),
        "{err}"
    );
}

#[test]
fn the_test_split_is_reached_only_by_name() {
    // evaluate() takes train or validation; the test split needs evaluate_test.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("peek.rhai");
    write(
        &script,
        &format!(
            "{}\nlet m = model(\"mlp\");\nevaluate(m, #{{ split: \"test\" }});\n",
            data_line()
        ),
    );
    let err = run(
        options(&script, &dir.path().join("run")),
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap_err();
    assert!(err.to_string().contains("unknown variant `test`"), "{err}");
}

#[test]
fn an_unseen_share_of_validation_is_read_only_by_evaluate_unseen() {
    let dir = tempfile::tempdir().unwrap();
    let load = |extra: &str| {
        format!(
            "let data = load_data(\"fashion-mnist={}\", #{{ validation: 0.2, limit_train: 400, limit_test: 100{extra} }});",
            repo_root().join("data/fashion-mnist-10k").display()
        )
    };
    let script = dir.path().join("unseen.rhai");
    write(
        &script,
        &format!(
            r#"
{}
let m = model(#{{ preset: "mlp", width: 0.25 }}, 1);
train([m], #{{ epochs: 1, batch_size: 32, seed: 1 }});
#{{ data: data, validation: evaluate([m]).members[0].loss,
   unseen: evaluate_unseen([m]).members[0].loss }}
"#,
            load(", unseen: 0.5")
        ),
    );
    let run_dir = dir.path().join("run");
    let outcome = run(options(&script, &run_dir), Arc::new(AtomicBool::new(false))).unwrap();
    // 80 held out of 400: half of them validate, the other half are unseen.
    assert_eq!(outcome.results["data"]["validation"], 40);
    assert_eq!(outcome.results["data"]["unseen"], 40);
    assert_eq!(outcome.results["data"]["train"], 320);
    let (v, u) = (
        outcome.results["validation"].as_f64().unwrap(),
        outcome.results["unseen"].as_f64().unwrap(),
    );
    assert!(v.is_finite() && u.is_finite() && v != u, "{v} {u}");
    let events = records(&run_dir.join("events.jsonl"));
    assert!(
        events
            .iter()
            .any(|e| e.to_string().contains("unseen_evaluation")),
        "the read is recorded"
    );

    let without = dir.path().join("without.rhai");
    write(
        &without,
        &format!(
            "{}\nlet m = model(\"mlp\");\nevaluate_unseen([m]);\n",
            load("")
        ),
    );
    let err = run(
        options(&without, &dir.path().join("run2")),
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no unseen split"), "{err}");
    let bad = dir.path().join("bad.rhai");
    write(&bad, &format!("{}\n", load(", unseen: 1.5")));
    let err = run(
        options(&bad, &dir.path().join("run3")),
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap_err();
    assert!(err.to_string().contains("unseen share 1.5"), "{err}");
}

#[test]
fn spawned_children_share_a_trunk_and_part_with_their_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("spawn.rhai");
    write(
        &script,
        &format!(
            r#"
{}
let parent = model(#{{ preset: "mlp", width: 0.25 }}, 1);
let spec = #{{ epochs: 1, batch_size: 32, seed: 1 }};
train([parent], spec);
let children = spawn_children(parent, 2);
let before = evaluate(children).members;
train([children[0]], spec);
spec.seed = 2;
train([children[1]], spec);
let after = evaluate(children).members;
#{{ same_start: before[0].loss == before[1].loss, apart: after[0].loss != after[1].loss,
   params: param_count(parent) }}
"#,
            data_line()
        ),
    );
    let outcome = run(
        options(&script, &dir.path().join("run")),
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap();
    assert_eq!(outcome.results["same_start"], true);
    assert_eq!(outcome.results["apart"], true);
    // The MLP a quarter wide: 64 and 32 hidden units on 784 inputs, 10 classes.
    assert_eq!(
        outcome.results["params"],
        (784 * 64 + 64) + (64 * 32 + 32) + (32 * 10 + 10)
    );
}
