//! Loading plugins: every failure is a typed error naming the file, and the host survives
//! plugins that fail or panic. The C plugin shows the ABI is language-neutral.

use std::time::{Duration, Instant};

use coevo::plugin::{FileWatch, PluginError, PluginPath, PluginRun, load, load_fresh_copy};
use coevo_sdk::ffi;
use coevo_tests::{build_c_plugin, c_compiler, cdylib, tiny_host};
use serde_json::json;

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn a_missing_file_is_named() {
    let err = load(std::path::Path::new("no/such/libcoevo_plugin_x.so")).unwrap_err();
    assert!(matches!(err, PluginError::Missing(_)), "{err}");
    assert!(err.to_string().contains("no/such/libcoevo_plugin_x.so"));
}

#[test]
fn a_file_that_is_not_a_library_is_refused() {
    let dir = temp();
    let path = dir.path().join("libcoevo_plugin_fake.so");
    std::fs::write(&path, b"this is not an ELF file").unwrap();
    let err = load(&path).unwrap_err();
    assert!(matches!(err, PluginError::NotALibrary { .. }), "{err}");
    assert!(err.to_string().contains("libcoevo_plugin_fake.so"));
}

#[test]
fn broken_c_builds_are_refused_with_both_versions_named() {
    let Some(cc) = c_compiler() else { return };
    let dir = temp();
    let no_entry = build_c_plugin(
        &cc,
        dir.path(),
        "libcoevo_plugin_no_entry.so",
        &["-DNO_ENTRY"],
    );
    assert!(matches!(
        load(&no_entry).unwrap_err(),
        PluginError::NoEntry(_)
    ));

    let major = build_c_plugin(
        &cc,
        dir.path(),
        "libcoevo_plugin_major.so",
        &["-DPLUGIN_MAJOR=2"],
    );
    let err = load(&major).unwrap_err();
    assert!(matches!(err, PluginError::Version { .. }), "{err}");
    let text = err.to_string();
    let host = format!("{}.{}", ffi::ABI_MAJOR, ffi::ABI_MINOR);
    let plugin = format!("2.{}", ffi::ABI_MINOR);
    assert!(
        text.contains("libcoevo_plugin_major.so") && text.contains(&plugin) && text.contains(&host),
        "{text}"
    );

    let minor = build_c_plugin(
        &cc,
        dir.path(),
        "libcoevo_plugin_minor.so",
        &["-DPLUGIN_MINOR=99"],
    );
    let err = load(&minor).unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("1.99 is newer than the host's {host}")),
        "{err}"
    );

    let refuses = build_c_plugin(
        &cc,
        dir.path(),
        "libcoevo_plugin_refuses.so",
        &["-DENTRY_FAILS"],
    );
    let err = load(&refuses).unwrap_err();
    assert!(matches!(err, PluginError::Entry { .. }), "{err}");
    assert!(err.to_string().contains("refuses to load"));
}

#[test]
fn a_plugin_written_in_c_runs_through_the_host_table() {
    let Some(cc) = c_compiler() else { return };
    let dir = temp();
    let path = build_c_plugin(&cc, dir.path(), "libcoevo_plugin_c_hill_climb.so", &[]);
    let plugin = load(&path).unwrap();
    assert_eq!(plugin.name(), "c-hill-climb");
    let mut run = PluginRun::start(plugin, json!({"steps": 4}), tiny_host(500, 3)).unwrap();
    let mut last = None;
    while let Ok(report) = run.step() {
        if report.done {
            last = Some(report);
            break;
        }
    }
    let last = last.expect("the C plugin finished");
    assert_eq!(last.metrics["step"], 4);
    let fitness = last.metrics["fitness"].as_f64().unwrap();
    assert!(
        (0.0..=1.0).contains(&fitness),
        "validation accuracy {fitness}"
    );
    assert_eq!(run.host().state().metrics().len(), 4);
    // The config is checked against the C plugin's own schema before it runs.
    let plugin = load(&path).unwrap();
    let err =
        PluginRun::start(plugin, json!({"steps": -1, "speed": 2}), tiny_host(100, 3)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("config.steps: -1 is below the minimum 0")
            && text.contains("config.speed: unknown field"),
        "{text}"
    );
}

#[test]
fn a_panicking_plugin_is_reported_by_name_and_the_host_carries_on() {
    let path = cdylib("coevo-fixture-panicky");
    let err = PluginRun::start(
        load(&path).unwrap(),
        json!({"panic_in": "create"}),
        tiny_host(50, 0),
    )
    .unwrap_err();
    assert!(
        matches!(err, PluginError::Call { call: "create", .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("panicky")
            && text.contains("panicked")
            && text.contains("asked to panic in create"),
        "{text}"
    );

    let mut run = PluginRun::start(
        load(&path).unwrap(),
        json!({"panic_in": "step"}),
        tiny_host(50, 0),
    )
    .unwrap();
    let err = run.step().unwrap_err();
    assert!(
        err.to_string().contains("plugin `panicky` failed in step")
            && err.to_string().contains("panicked"),
        "{err}"
    );
    // The same host goes on serving: another plugin runs after the panic.
    let mut fine = PluginRun::start(
        load(&path).unwrap(),
        json!({"panic_in": "never"}),
        tiny_host(50, 0),
    )
    .unwrap();
    assert!(fine.step().unwrap().done);
}

#[test]
fn a_rebuilt_plugin_is_swapped_in_mid_run_with_its_state() {
    let Some(cc) = c_compiler() else { return };
    let dir = temp();
    let build = temp();
    let path = build_c_plugin(
        &cc,
        dir.path(),
        "libcoevo_plugin_c_hill_climb.so",
        &["-DVARIANT=1"],
    );
    let mut run =
        PluginRun::start(load(&path).unwrap(), json!({"steps": 5}), tiny_host(300, 4)).unwrap();
    let watch = FileWatch::new(&path, Duration::from_millis(100)).unwrap();
    for _ in 0..2 {
        assert_eq!(run.step().unwrap().metrics["variant"], 1);
    }
    // "Rebuild": a new library replaces the file, as a build does (write elsewhere, rename).
    let fresh = build_c_plugin(
        &cc,
        build.path(),
        "libcoevo_plugin_c_hill_climb.so",
        &["-DVARIANT=2"],
    );
    std::fs::rename(&fresh, &path).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !watch.take_change() {
        assert!(Instant::now() < deadline, "the change was not noticed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let swap = run
        .swap(load_fresh_copy(&path, &dir.path().join("copies")).unwrap())
        .unwrap();
    assert_eq!(swap.step, 2);
    assert_ne!(swap.from, swap.to);
    let report = run.step().unwrap();
    assert_eq!(report.metrics["variant"], 2, "the new code runs");
    assert_eq!(report.metrics["step"], 3, "with the old state");
    // A library that does not load leaves the running one in place.
    std::fs::write(&path, b"broken build").unwrap();
    assert!(
        load_fresh_copy(&path, &dir.path().join("copies"))
            .and_then(|new| run.swap(new))
            .is_err()
    );
    assert_eq!(run.step().unwrap().metrics["variant"], 2);
}

#[test]
fn a_plugin_folder_lists_every_library_it_did_not_load_with_the_reason() {
    let Some(cc) = c_compiler() else { return };
    let dir = temp();
    // The C example by its documented name, the same library under a name without the rule,
    // and a library with no entry symbol under a plugin's name.
    build_c_plugin(&cc, dir.path(), "libcoevo_plugin_hill_climb.so", &[]);
    build_c_plugin(&cc, dir.path(), "libbest_init.so", &[]);
    let empty = dir.path().join("empty.c");
    std::fs::write(&empty, "int coevo_unrelated(void) { return 1; }\n").unwrap();
    let status = std::process::Command::new(&cc)
        .args(["-shared", "-fPIC", "-o"])
        .arg(dir.path().join("libcoevo_plugin_empty.so"))
        .arg(&empty)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::write(dir.path().join("notes.txt"), "not a library").unwrap();

    let (plugins, skipped) = PluginPath::only(vec![dir.path().to_path_buf()]).list();
    let names: Vec<String> = plugins.iter().map(|p| p.name()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(plugins[0].path.ends_with("libcoevo_plugin_hill_climb.so"));
    let why: Vec<String> = skipped.iter().map(ToString::to_string).collect();
    assert_eq!(why.len(), 2, "{why:?}");
    assert!(
        matches!(&skipped[0], PluginError::Unnamed(p) if p.ends_with("libbest_init.so")),
        "{why:?}"
    );
    assert!(
        why[0].contains("coevo_plugin"),
        "the rule is named: {}",
        why[0]
    );
    assert!(
        matches!(&skipped[1], PluginError::NoEntry(p) if p.ends_with("libcoevo_plugin_empty.so")),
        "{why:?}"
    );
}

#[test]
fn a_second_plugin_of_a_taken_name_is_listed_as_shadowed() {
    let Some(cc) = c_compiler() else { return };
    let (a, b) = (temp(), temp());
    build_c_plugin(&cc, a.path(), "libcoevo_plugin_hill.so", &[]);
    build_c_plugin(&cc, b.path(), "libcoevo_plugin_hill2.so", &[]);
    let (plugins, skipped) =
        PluginPath::only(vec![a.path().to_path_buf(), b.path().to_path_buf()]).list();
    assert_eq!(plugins.len(), 1);
    assert!(plugins[0].path.starts_with(a.path()));
    assert!(
        matches!(&skipped[..], [PluginError::Shadowed { path, .. }] if path.starts_with(b.path())),
        "{skipped:?}"
    );
}
