//! Noticing that a plugin library was rebuilt.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};

use super::error::PluginError;

/// Watches files; a build or an editor writes a file in several steps, so events are debounced.
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
        Self::many(&[path.to_path_buf()], debounce)
    }

    /// Starts watching every file of `paths`.
    pub fn many(paths: &[PathBuf], debounce: Duration) -> Result<Self, PluginError> {
        let changed = Arc::new(AtomicBool::new(false));
        let targets: Vec<PathBuf> = paths
            .iter()
            .map(|p| p.canonicalize().unwrap_or_else(|_| p.clone()))
            .collect();
        let watched = targets.clone();
        let flag = changed.clone();
        // Events name the file as the watcher sees it: compare whole canonical paths where
        // possible, file names in the watched folders otherwise.
        let mut debouncer = new_debouncer(debounce, move |result: DebounceEventResult| {
            let touched = |events: &Vec<notify_debouncer_mini::DebouncedEvent>| {
                events.iter().any(|e| {
                    let path = e.path.canonicalize().unwrap_or_else(|_| e.path.clone());
                    watched.iter().any(|w| {
                        *w == path
                            || (w.file_name() == path.file_name() && w.parent() == path.parent())
                    })
                })
            };
            if result.as_ref().is_ok_and(touched) {
                flag.store(true, Ordering::SeqCst);
            }
        })
        .map_err(|e| PluginError::Io {
            path: targets.first().cloned().unwrap_or_default(),
            source: std::io::Error::other(e),
        })?;
        let mut dirs: Vec<PathBuf> = targets
            .iter()
            .map(|t| {
                t.parent()
                    .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
            })
            .collect();
        dirs.sort();
        dirs.dedup();
        for dir in dirs {
            debouncer
                .watcher()
                .watch(&dir, RecursiveMode::NonRecursive)
                .map_err(|e| PluginError::Io {
                    path: dir.clone(),
                    source: std::io::Error::other(e),
                })?;
        }
        Ok(Self {
            changed,
            _debouncer: debouncer,
        })
    }

    /// Whether a watched file changed since the last call.
    pub fn take_change(&self) -> bool {
        self.changed.swap(false, Ordering::SeqCst)
    }
}
