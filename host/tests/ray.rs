//! Runs on a local Ray cluster give the local run's numbers: started by each test inside its
//! own network namespace (only loopback, so nothing is reachable from outside; Ray would
//! otherwise advertise the machine's address). Skipped with a reason where `tools/ray.sh` has
//! not run or namespaces are not allowed; CI runs it and requires them.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use coevo_sdk::fixture;
use serde_json::Value;

mod common;
use common::without_seconds;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The Python with `ray` and `coevo_ray`, or `None` after saying why the test skips.
fn ray_python() -> Option<PathBuf> {
    let python = std::env::var_os("COEVO_RAY_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(ROOT).join(".venv-ray/bin/python"));
    let works = Command::new(&python)
        .args(["-c", "import ray, coevo_ray"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !works {
        fixture::missing(&format!(
            "a Python with ray and coevo_ray at {} (run tools/ray.sh or set COEVO_RAY_PYTHON)",
            python.display()
        ));
        return None;
    }
    Some(python)
}

/// How to enter a network namespace of our own with loopback up, or `None` (skip).
fn namespace() -> Option<Vec<&'static str>> {
    for unshare in [vec!["unshare", "-n"], vec!["unshare", "-rn"]] {
        let ok = Command::new(unshare[0])
            .args(&unshare[1..])
            .args(["ip", "link", "set", "lo", "up"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(unshare);
        }
    }
    fixture::missing("a network namespace (`unshare -n` or `unshare -rn` with iproute2's `ip`)");
    None
}

/// Runs `script` (bash) in a fresh network namespace with loopback up, from the repository
/// root, with `$COEVO` the binary and the Ray driver's Python set.
fn in_namespace(unshare: &[&str], python: &Path, script: &str, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(unshare[0]);
    command
        .args(&unshare[1..])
        .args([
            "bash",
            "-c",
            &format!("set -e; ip link set lo up; {script}"),
        ])
        .current_dir(ROOT)
        .env("COEVO", env!("CARGO_BIN_EXE_coevo"))
        .env("COEVO_RAY_PYTHON", python)
        .env("RAY_USAGE_STATS_ENABLED", "0")
        .env_remove("COEVO_RAY_ADDRESS");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

/// The settings of a small MeGA run on the bundled data: a GA whose every generation's
/// candidates are evaluated by the workers.
fn mega_args(generations: usize) -> String {
    [
        "--seed 4 -q --json --set model=mlp --set epochs=1 --set limit_train=600",
        "--set population=6",
        &format!("--set generations={generations}"),
        "--set data=fashion-mnist=data/fashion-mnist-10k",
    ]
    .join(" ")
}

fn plugin_dir() -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(ROOT)
        .args([
            "build",
            "--quiet",
            "-p",
            "coevo-plugin-mega",
            "-p",
            "coevo-plugin-darwin",
        ])
        .args(["-p", "coevo-plugin-random-search"])
        .status()
        .unwrap();
    assert!(status.success());
    Path::new(env!("CARGO_BIN_EXE_coevo"))
        .parent()
        .unwrap()
        .display()
        .to_string()
}

fn results(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout.lines().last().unwrap_or_default();
    without_seconds(&serde_json::from_str::<Value>(line).unwrap()["results"])
}

/// `metrics.jsonl` without the wall-clock fields.
fn metrics(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if let Value::Object(map) = &mut v {
                map.retain(|k, _| !k.contains("seconds") && k != "time");
            }
            v
        })
        .collect()
}

/// A copy of this binary with a byte appended, in `dir`: what workers that differ run.
fn other_binary(dir: &Path) -> PathBuf {
    let other = dir.join("coevo-other");
    let mut bytes = std::fs::read(env!("CARGO_BIN_EXE_coevo")).unwrap();
    bytes.push(0);
    std::fs::write(&other, bytes).unwrap();
    let status = Command::new("chmod")
        .arg("+x")
        .arg(&other)
        .status()
        .unwrap();
    assert!(status.success());
    other
}

/// The local run the Ray runs are compared with.
fn local_run(dir: &Path, plugins: &str, generations: usize) -> (Value, Vec<Value>) {
    let out = dir.join("local");
    let output = Command::new(env!("CARGO_BIN_EXE_coevo"))
        .current_dir(ROOT)
        .args(["run", "scripts/mega.rhai", "--out", out.to_str().unwrap()])
        .args(["--plugin-dir", plugins])
        .args(mega_args(generations).split(' '))
        .env_remove("COEVO_RAY_ADDRESS")
        .output()
        .unwrap();
    (results(&output), metrics(&out))
}

#[test]
fn a_mega_merge_on_ray_gives_the_local_numbers_even_when_a_worker_is_killed() {
    let (Some(python), Some(unshare)) = (ray_python(), namespace()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir();
    let (local, local_metrics) = local_run(dir.path(), &plugins, 8);

    let ray = dir.path().join("ray");
    let script = format!(
        "\"$COEVO\" run scripts/mega.rhai --out {out} --plugin-dir {plugins} --ray local {args}",
        out = ray.display(),
        args = mega_args(8)
    );
    let output = in_namespace(&unshare, &python, &script, &[]);
    assert_eq!(results(&output), local);
    assert_eq!(metrics(&ray), local_metrics);
    let events = std::fs::read_to_string(ray.join("events.jsonl")).unwrap();
    assert!(events.contains("\"kind\":\"ray\""), "{events}");
    assert!(events.contains("\"binary_sha256\":\""), "{events}");

    // The same run while one worker process dies in the middle of a job: once the GA scores
    // candidates, the oldest worker process is stopped (a job sent to it waits), then killed
    // with SIGKILL. Its job runs again on a fresh process, and nothing changes. (`[c]oevo`
    // keeps the pattern from matching this script's own command line.)
    let killed = dir.path().join("killed");
    let script = format!(
        "\"$COEVO\" run scripts/mega.rhai --out {out} --plugin-dir {plugins} --ray local {args} \
         > {out}.json & run=$!; \
         until grep -qs fitness_max {out}/metrics.jsonl; do sleep 0.02; done; \
         victim=$(pgrep -o -f '[c]oevo worker'); kill -STOP $victim; sleep 1; kill -9 $victim; \
         wait $run; cat {out}.json",
        out = killed.display(),
        args = mega_args(8).replace(" -q", "")
    );
    let output = in_namespace(&unshare, &python, &script, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("retried after its worker died"), "{stderr}");
    assert_eq!(results(&output), local);
    assert_eq!(metrics(&killed), local_metrics);
}

#[test]
fn a_refused_job_names_itself_and_the_run_resumes_on_ray_to_the_local_numbers() {
    let (Some(python), Some(unshare)) = (ray_python(), namespace()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir();
    let (local, local_metrics) = local_run(dir.path(), &plugins, 4);

    // Workers running another binary (this one with a byte appended) refuse every job.
    let other = other_binary(dir.path());
    let run = dir.path().join("run");
    let script = format!(
        "\"$COEVO\" run scripts/mega.rhai --out {out} --plugin-dir {plugins} --ray local {args}",
        out = run.display(),
        args = mega_args(4)
    );
    let other_path = other.display().to_string();
    let output = in_namespace(
        &unshare,
        &python,
        &format!("{script} || true"),
        &[("COEVO_RAY_WORKER", &other_path)],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("job evaluate Validation model 0 of ")
            && stderr.contains("differs from the driver in the binary"),
        "{stderr}"
    );
    assert!(stderr.contains("coevo resume"), "{stderr}");

    // Resumed with the right workers (the address is the run's own), it finishes as the local
    // run did.
    let script = format!("\"$COEVO\" resume {} -q --json", run.display());
    let output = in_namespace(&unshare, &python, &script, &[]);
    assert_eq!(results(&output), local);
    assert_eq!(metrics(&run), local_metrics);
}

#[test]
fn a_plugin_run_on_ray_gives_the_local_numbers() {
    let (Some(python), Some(unshare)) = (ray_python(), namespace()) else {
        return;
    };
    let plugins = plugin_dir();
    let args = format!(
        "plugins run random-search --plugin-dir {plugins} --data fashion-mnist=data/fashion-mnist-10k \
         --limit-train 600 --seed 3 -q --json --config \
         '{{\"generations\": 3, \"population\": 4, \"model\": {{\"preset\": \"mlp\"}}}}'"
    );
    let local = in_namespace(&unshare, &python, &format!("\"$COEVO\" {args}"), &[]);
    let ray = in_namespace(
        &unshare,
        &python,
        &format!("\"$COEVO\" {args} --ray local"),
        &[],
    );
    let json = |out: &Output| -> Value {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
    };
    let (local, ray) = (json(&local), json(&ray));
    assert_eq!(ray["result"], local["result"]);
    assert_eq!(ray["metrics"], local["metrics"]);
    assert!(local["metrics"].as_array().is_some_and(|m| !m.is_empty()));
}

/// A Darwin run whose every generation trains three offspring: on Ray they train at once,
/// one job each.
fn darwin_args() -> &'static str {
    "--seed 5 -q --json --set model=lenet300_100 --set limit_train=600 --set generations=2 \
     --set offspring=3 --set ancestor_epochs=1 --set epochs=1 \
     --set data=fashion-mnist=data/fashion-mnist-10k"
}

#[test]
fn a_darwin_generation_trains_its_offspring_on_ray_to_the_local_numbers() {
    let (Some(python), Some(unshare)) = (ray_python(), namespace()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir();
    let run = |name: &str, ray: &str, env: &[(&str, &str)]| {
        let out = dir.path().join(name);
        let script = format!(
            "\"$COEVO\" run scripts/darwin.rhai --out {} --plugin-dir {plugins} {ray} {}",
            out.display(),
            darwin_args()
        );
        (in_namespace(&unshare, &python, &script, env), out)
    };
    let (local, local_dir) = run("local", "", &[]);
    let (ray, ray_dir) = run("ray", "--ray local", &[]);
    assert_eq!(results(&ray), results(&local));
    assert_eq!(metrics(&ray_dir), metrics(&local_dir));
    assert!(
        metrics(&local_dir).iter().any(|m| m["generation"] == 2),
        "the run reached its last generation"
    );

    // What the workers are sent first is the offspring's training: workers that refuse every
    // job say so.
    let other = other_binary(dir.path());
    let other_path = other.display().to_string();
    let (refused, _) = run(
        "refused",
        "--ray local",
        &[("COEVO_RAY_WORKER", &other_path)],
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("job train model") && stderr.contains("(1 of 3)"),
        "{stderr}"
    );
}
