//! Loading a plugin library and checking its descriptor.
//!
//! Libraries are never unloaded: a `dlclose` under a live pointer (a descriptor, a string, an
//! instance's vtable) is undefined behaviour, and Rust libraries cannot be unloaded soundly in
//! general, so each loaded library is leaked on purpose. A hot swap loads a copy of the new
//! file under a unique name, because the dynamic loader would otherwise hand back the library
//! it already has for that path.

use std::ffi::{CStr, c_char};
use std::path::{Path, PathBuf};

use coevo_sdk::client::Plugin;
use coevo_sdk::ffi::{self, EntryFn, PluginDescriptor};
use libloading::Library;
use sha2::{Digest, Sha256};

use super::error::PluginError;

/// A loaded plugin library.
#[derive(Debug, Clone)]
pub struct LoadedPlugin {
    /// The file it was loaded from (for a hot swap, the original, not the copy).
    pub path: PathBuf,
    /// SHA-256 of the file's bytes.
    pub hash: String,
    /// Its checked descriptor.
    pub plugin: Plugin,
}

impl LoadedPlugin {
    /// Name from the descriptor.
    pub fn name(&self) -> String {
        self.plugin.name()
    }
}

/// Loads the plugin at `path`.
pub fn load(path: &Path) -> Result<LoadedPlugin, PluginError> {
    load_from(path, path)
}

/// Loads a copy of `path` under a unique name, so that a rebuilt file is really loaded anew.
pub fn load_fresh_copy(path: &Path, copies: &Path) -> Result<LoadedPlugin, PluginError> {
    std::fs::create_dir_all(copies).map_err(|source| PluginError::Io {
        path: copies.to_path_buf(),
        source,
    })?;
    let bytes = std::fs::read(path).map_err(|source| io_or_missing(path, source))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let copy = copies.join(format!(
        "{stem}-{}.{ext}",
        &hex(&Sha256::digest(&bytes))[..16]
    ));
    if !copy.exists() {
        std::fs::write(&copy, &bytes).map_err(|source| PluginError::Io {
            path: copy.clone(),
            source,
        })?;
    }
    load_from(&copy, path)
}

fn io_or_missing(path: &Path, source: std::io::Error) -> PluginError {
    if source.kind() == std::io::ErrorKind::NotFound {
        PluginError::Missing(path.to_path_buf())
    } else {
        PluginError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

fn load_from(file: &Path, reported: &Path) -> Result<LoadedPlugin, PluginError> {
    let bytes = std::fs::read(file).map_err(|source| io_or_missing(reported, source))?;
    let hash = hex(&Sha256::digest(&bytes));
    // SAFETY: loading a library runs its initialisers; plugins are trusted code the user chose
    // to run, as any program is.
    let library = unsafe { Library::new(file) }.map_err(|e| PluginError::NotALibrary {
        path: reported.to_path_buf(),
        reason: e.to_string(),
    })?;
    // Leaked: see the module documentation.
    let library: &'static Library = Box::leak(Box::new(library));
    // SAFETY: the symbol is declared with the ABI's entry type; a library exporting the name
    // with another type breaks the plugin contract, which no check can detect.
    let entry = unsafe { library.get::<EntryFn>(ffi::ENTRY_SYMBOL.as_bytes()) }
        .map_err(|_| PluginError::NoEntry(reported.to_path_buf()))?;
    let mut descriptor: *const PluginDescriptor = std::ptr::null();
    let mut message: *const c_char = std::ptr::null();
    // SAFETY: valid places for one pointer each.
    let status = unsafe { entry(&mut descriptor, &mut message) };
    if status != ffi::STATUS_OK || descriptor.is_null() {
        let message = if message.is_null() {
            "no message".to_string()
        } else {
            // SAFETY: the entry's error messages are static NUL-terminated strings.
            unsafe { CStr::from_ptr(message) }
                .to_string_lossy()
                .into_owned()
        };
        return Err(PluginError::Entry {
            path: reported.to_path_buf(),
            status,
            message,
        });
    }
    // SAFETY: the descriptor lives in a library that is never unloaded.
    let plugin = unsafe { Plugin::new(descriptor) }.map_err(|mismatch| PluginError::Version {
        path: reported.to_path_buf(),
        mismatch,
    })?;
    Ok(LoadedPlugin {
        path: reported.to_path_buf(),
        hash,
        plugin,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
