//! `include/coevo.h` is generated from `src/ffi.rs` by cbindgen, so the C header and the Rust
//! tables cannot drift apart: this test regenerates it and fails when the committed file
//! differs. `COEVO_BLESS=1 cargo test -p coevo-sdk --test header` rewrites it.

use std::path::Path;

use coevo_sdk::ffi;

/// The header as `cbindgen.toml` generates it from `src/ffi.rs`.
fn generated() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("sdk/cbindgen.toml parses");
    // One source file, no `cargo metadata`: the ABI is `ffi.rs` alone, and it uses no other
    // crate's types.
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi.rs"))
        .generate()
        .expect("cbindgen reads src/ffi.rs");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("cbindgen writes UTF-8")
}

#[test]
fn the_committed_header_is_the_one_generated_from_ffi_rs() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/coevo.h");
    let generated = generated();
    if std::env::var_os("COEVO_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("include/coevo.h is writable");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "{} differs from what sdk/src/ffi.rs generates (first at line {}: committed {:?}, \
             generated {:?}); regenerate it with\n    COEVO_BLESS=1 cargo test -p coevo-sdk --test header\n\
             and commit the result",
            path.display(),
            line + 1,
            committed.lines().nth(line).unwrap_or("<end of file>"),
            generated.lines().nth(line).unwrap_or("<end of file>"),
        );
    }
}

#[test]
fn the_header_declares_the_sdks_version_and_entry_symbol() {
    let header = generated();
    // The entry symbol is the one line `cbindgen.toml` writes by hand (cbindgen writes no
    // string constants); the versions check its renaming of Rust's constants.
    for line in [
        format!("#define COEVO_ABI_MAJOR {}", ffi::ABI_MAJOR),
        format!("#define COEVO_ABI_MINOR {}", ffi::ABI_MINOR),
        format!("#define COEVO_ENTRY_SYMBOL \"{}\"", ffi::ENTRY_SYMBOL),
    ] {
        assert!(
            header.lines().any(|l| l == line),
            "no `{line}` in\n{header}"
        );
    }
}
