//! Where plugins are found: `--plugin-dir`, `COEVO_PLUGIN_PATH`, and the build's own target
//! folder (where cargo puts the workspace's plugins beside the `coevo` binary).

use std::path::{Path, PathBuf};

use super::error::PluginError;
use super::library::{LoadedPlugin, load};

/// The folders searched, in order; the first plugin of a name wins.
#[derive(Debug, Clone, Default)]
pub struct PluginPath {
    dirs: Vec<PathBuf>,
}

impl PluginPath {
    /// `extra` folders first, then `COEVO_PLUGIN_PATH`, then the executable's folder.
    pub fn new(extra: &[PathBuf]) -> Self {
        let mut dirs: Vec<PathBuf> = extra.to_vec();
        if let Some(path) = std::env::var_os("COEVO_PLUGIN_PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        if let Some(dir) = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_path_buf))
        {
            // Test binaries run from target/<profile>/deps; the plugins sit one level up.
            if dir.file_name().is_some_and(|n| n == "deps") {
                dirs.extend(dir.parent().map(Path::to_path_buf));
            }
            dirs.push(dir);
        }
        Self { dirs }
    }

    /// Only these folders.
    pub fn only(dirs: Vec<PathBuf>) -> Self {
        Self { dirs }
    }

    /// The folders, in search order.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Files that look like plugin libraries, in search order.
    pub fn candidates(&self) -> Vec<PathBuf> {
        self.libraries()
            .into_iter()
            .filter(|p| is_plugin_file(p))
            .collect()
    }

    /// Every shared library in the folders, in search order.
    fn libraries(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for dir in &self.dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file() && is_library(p))
                .collect();
            found.sort();
            files.extend(found);
        }
        files
    }

    /// Every plugin found (one per name), and why every other shared library in the folders
    /// was not loaded: its name, a missing entry symbol, an ABI mismatch, a name already taken.
    pub fn list(&self) -> (Vec<LoadedPlugin>, Vec<PluginError>) {
        let mut plugins: Vec<LoadedPlugin> = Vec::new();
        let mut errors = Vec::new();
        for file in self.libraries() {
            if !is_plugin_file(&file) {
                errors.push(PluginError::Unnamed(file));
                continue;
            }
            match load(&file) {
                Ok(plugin) => match plugins.iter().find(|p| p.name() == plugin.name()) {
                    Some(first) => errors.push(PluginError::Shadowed {
                        name: plugin.name(),
                        first: first.path.clone(),
                        path: file,
                    }),
                    None => plugins.push(plugin),
                },
                Err(e) => errors.push(e),
            }
        }
        (plugins, errors)
    }

    /// The plugin named `name`, or the plugin file `name` when it is a path.
    pub fn find(&self, name: &str) -> Result<LoadedPlugin, PluginError> {
        let as_path = Path::new(name);
        if as_path.components().count() > 1 || is_plugin_file(as_path) {
            return load(as_path);
        }
        let (plugins, _) = self.list();
        plugins
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| PluginError::NotFound {
                name: name.to_string(),
                searched: self
                    .dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A shared library by its extension.
fn is_library(path: &Path) -> bool {
    let name = file_name(path);
    [".so", ".dylib", ".dll"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// The naming rule: `libcoevo_plugin_*.so`, `coevo_plugin_*.dll`, `libcoevo_plugin_*.dylib`,
/// and any shared library a user named with `coevo_plugin` in it.
fn is_plugin_file(path: &Path) -> bool {
    is_library(path) && file_name(path).contains("coevo_plugin")
}
