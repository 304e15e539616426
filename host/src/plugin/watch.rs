//! Noticing that a plugin library was rebuilt.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};

use super::error::PluginError;

/// Watches one file; a build writes it in several steps, so events are debounced.
pub struct FileWatch {
    changed: Arc<AtomicBool>,
    // Kept to keep the watch alive.
    _debouncer: Debouncer<RecommendedWatcher>,
}

impl std::fmt::Debug for FileWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWatch")
            .field("changed", &self.changed)
            .finish()
    }
}

impl FileWatch {
    /// Starts watching `path` (its folder, since builds replace files rather than edit them).
    pub fn new(path: &Path, debounce: Duration) -> Result<Self, PluginError> {
        let changed = Arc::new(AtomicBool::new(false));
        let target: PathBuf = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let name = target.file_name().map(|n| n.to_os_string());
        let flag = changed.clone();
        let mut debouncer = new_debouncer(debounce, move |result: DebounceEventResult| {
            let touched = |events: &Vec<notify_debouncer_mini::DebouncedEvent>| {
                events
                    .iter()
                    .any(|e| e.path.file_name().map(|n| n.to_os_string()) == name)
            };
            if result.as_ref().is_ok_and(touched) {
                flag.store(true, Ordering::SeqCst);
            }
        })
        .map_err(|e| PluginError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
        let dir = target
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        debouncer
            .watcher()
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|e| PluginError::Io {
                path: dir.clone(),
                source: std::io::Error::other(e),
            })?;
        Ok(Self {
            changed,
            _debouncer: debouncer,
        })
    }

    /// Whether the file changed since the last call.
    pub fn take_change(&self) -> bool {
        self.changed.swap(false, Ordering::SeqCst)
    }
}
