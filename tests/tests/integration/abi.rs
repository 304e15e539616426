//! The ABI's growth rule: plugins built against the headers of earlier minor versions
//! (`tests/c/abi/<version>/coevo.h`, saved as released) load and run in today's host, and the
//! sizes the SDK froze for each version are the sizes those headers have.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use coevo::plugin::{PluginRun, load};
use coevo_sdk::ffi::{self, HostTable, PluginDescriptor};
use coevo_tests::{abi_header, build_c_plugin_against, c_compiler, repo_root, tiny_host};
use serde_json::json;

/// The released minors before today's, with their saved headers.
const RELEASED: [(&str, u32); 5] = [("1.0", 0), ("1.1", 1), ("1.2", 2), ("1.3", 3), ("1.4", 4)];

#[test]
fn plugins_built_against_released_headers_load_and_run_in_this_host() {
    let Some(cc) = c_compiler() else { return };
    let dir = tempfile::tempdir().unwrap();
    for (version, minor) in RELEASED {
        assert!(
            minor < ffi::ABI_MINOR,
            "the host must be newer than {version}"
        );
        let file = format!("libcoevo_plugin_c_{minor}.so");
        let path = build_c_plugin_against(&cc, &abi_header(version), dir.path(), &file, &[]);
        let plugin = load(&path).unwrap_or_else(|e| panic!("a {version} plugin loads: {e}"));
        assert_eq!(plugin.plugin.abi_version(), (ffi::ABI_MAJOR, minor));
        let mut run = PluginRun::start(plugin, json!({"steps": 2}), tiny_host(200, 5)).unwrap();
        let last = loop {
            let report = run.step().unwrap();
            if report.done {
                break report;
            }
        };
        assert_eq!(last.metrics["step"], 2, "the {version} plugin ran");
        assert_eq!(run.host().state().metrics().len(), 2);
    }
}

/// Compiles `tests/c/abi/sizes.c` against the `coevo.h` in `include`, runs it, and returns
/// what it printed as name → value.
fn c_sizes(cc: &str, include: &Path, dir: &Path) -> BTreeMap<String, String> {
    let exe = dir.join(format!(
        "sizes-{}",
        include.file_name().unwrap().to_string_lossy()
    ));
    let status = Command::new(cc)
        .args(["-std=c99", "-Wall", "-Werror", "-I"])
        .arg(include)
        .arg(repo_root().join("tests/c/abi/sizes.c"))
        .arg("-o")
        .arg(&exe)
        .status()
        .unwrap();
    assert!(status.success(), "sizes.c against {}", include.display());
    let out = Command::new(&exe).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_frozen_sizes_are_those_of_the_released_headers() {
    let Some(cc) = c_compiler() else { return };
    let dir = tempfile::tempdir().unwrap();
    let frozen = [
        (HostTable::V1_0_SIZE, PluginDescriptor::V1_0_SIZE),
        (HostTable::V1_1_SIZE, PluginDescriptor::V1_1_SIZE),
        (HostTable::V1_2_SIZE, PluginDescriptor::V1_1_SIZE),
        (HostTable::V1_3_SIZE, PluginDescriptor::V1_1_SIZE),
        (HostTable::V1_4_SIZE, PluginDescriptor::V1_1_SIZE),
    ];
    for ((version, _), (host, descriptor)) in RELEASED.into_iter().zip(frozen) {
        let c = c_sizes(&cc, &abi_header(version), dir.path());
        assert_eq!(c["version"], version);
        assert_eq!(c["coevo_host"], host.to_string(), "{version} host table");
        assert_eq!(
            c["coevo_plugin_descriptor"],
            descriptor.to_string(),
            "{version} descriptor"
        );
    }
}

#[test]
fn the_current_header_has_the_rust_sizes_and_checks_appended_functions() {
    let Some(cc) = c_compiler() else { return };
    let dir = tempfile::tempdir().unwrap();
    let c = c_sizes(&cc, &repo_root().join("sdk/include"), dir.path());
    assert_eq!(
        c["version"],
        format!("{}.{}", ffi::ABI_MAJOR, ffi::ABI_MINOR)
    );
    assert_eq!(c["coevo_host"], size_of::<HostTable>().to_string());
    assert_eq!(
        c["coevo_plugin_descriptor"],
        size_of::<PluginDescriptor>().to_string()
    );
    // COEVO_HOST_HAS: absent from a 1.0 table, present in a whole one, absent when NULL.
    assert_eq!(
        (
            c["has_align_1.0"].as_str(),
            c["has_align"].as_str(),
            c["has_null_align"].as_str()
        ),
        ("0", "1", "0")
    );
}

#[test]
fn the_host_table_transfers_the_tensors_two_architectures_share() {
    let plugin_host = tiny_host(50, 1);
    let spec = |hidden: usize| {
        json!({"input": [1, 28, 28], "layers": [{"type": "flatten"}, {"type": "linear", "out": 6},
            {"type": "relu"}, {"type": "linear", "out": hidden}, {"type": "relu"},
            {"type": "linear", "out": 10}]})
    };
    let (from, to) = {
        let mut session = plugin_host.state_mut();
        (
            session.create_model(&spec(5), 1).unwrap(),
            session.create_model(&spec(7), 2).unwrap(),
        )
    };
    // SAFETY: the table lives in `plugin_host`, which outlives `host`.
    let host = unsafe { coevo_sdk::Host::from_raw(plugin_host.table()) }.unwrap();
    // 784·6 + 6 for the first layer, and the head's bias: the other tensors' shapes differ.
    assert_eq!(host.transfer(from, to).unwrap(), 784 * 6 + 6 + 10);
    let session = plugin_host.state();
    let first = |id| session.model(id).unwrap().flat_params()[..784 * 6 + 6].to_vec();
    assert_eq!(first(from), first(to));
}
