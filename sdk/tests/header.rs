//! `include/coevo.h` and `coevo_sdk::ffi` describe the same ABI: a C program compiled against
//! the header prints every size and offset, and they must equal Rust's.

use std::collections::BTreeMap;
use std::mem::offset_of;
use std::path::Path;
use std::process::Command;

use coevo_sdk::ffi::{self, HostTable, PluginDescriptor};

macro_rules! offsets {
    ($map:ident, $c:literal, $ty:ty, [$($field:ident),* $(,)?]) => {
        $map.insert($c.to_string(), size_of::<$ty>());
        $( $map.insert(format!("{}.{}", $c, stringify!($field)), offset_of!($ty, $field)); )*
    };
}

#[test]
fn the_c_header_matches_the_rust_tables() {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    if Command::new(&cc).arg("--version").output().is_err() {
        eprintln!("skipped: no C compiler `{cc}` (set CC)");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("coevo-header-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("layout");
    let status = Command::new(&cc)
        .args(["-std=c99", "-Wall", "-Werror", "-I"])
        .arg(root.join("include"))
        .arg(root.join("tests/layout.c"))
        .arg("-o")
        .arg(&exe)
        .status()
        .unwrap();
    assert!(status.success(), "coevo.h does not compile cleanly as C99");
    let out = Command::new(&exe).output().unwrap();
    let printed = String::from_utf8(out.stdout).unwrap();
    let c: BTreeMap<String, String> = printed
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();

    let mut rust = BTreeMap::new();
    offsets!(
        rust,
        "coevo_host",
        HostTable,
        [
            abi_major,
            abi_minor,
            size,
            ctx,
            last_error,
            free_string,
            log,
            log_metrics,
            progress,
            is_cancelled,
            derive_seed,
            dataset_info,
            model_create,
            model_clone,
            model_free,
            model_param_count,
            model_spec,
            params_read,
            params_write,
            params_blend,
            params_noise,
            params_mask,
            train,
            evaluate,
            call_hook,
            model_align,
        ]
    );
    offsets!(
        rust,
        "coevo_plugin_descriptor",
        PluginDescriptor,
        [
            abi_major,
            abi_minor,
            size,
            name,
            version,
            description,
            hooks_json,
            schema_json,
            create,
            step,
            snapshot,
            restore,
            destroy,
            free_string,
        ]
    );
    for (key, value) in &rust {
        assert_eq!(
            c.get(key).map(String::as_str),
            Some(value.to_string().as_str()),
            "{key}"
        );
    }
    // Every field the header has, Rust has: nothing was added on one side only.
    let c_fields = c.keys().filter(|k| k.starts_with("coevo_")).count();
    assert_eq!(c_fields, rust.len());
    assert_eq!(c["COEVO_ABI_MAJOR"], ffi::ABI_MAJOR.to_string());
    assert_eq!(c["COEVO_ABI_MINOR"], ffi::ABI_MINOR.to_string());
    assert_eq!(c["COEVO_ENTRY_SYMBOL"], ffi::ENTRY_SYMBOL);
    let _ = std::fs::remove_dir_all(dir);
}
