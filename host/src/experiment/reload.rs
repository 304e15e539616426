//! Hot reload: the script and its modules are watched; an edit recompiles them and, from the
//! next hook call on, the new functions apply. The run's state (models, populations,
//! optimiser states) lives in the host and is untouched.

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::rc::{Rc, Weak};
use std::time::Duration;

use rhai::Engine;
use serde_json::json;

use super::run_dir::RunDir;
use super::script::{ConfinedModules, LoadedScript, compile};
use crate::plugin::FileWatch;

/// Keeps the current version of the script; reloads it when its files change.
pub struct Reloader {
    engine: Weak<Engine>,
    modules: Rc<ConfinedModules>,
    current: RefCell<Rc<LoadedScript>>,
    watch: RefCell<Option<FileWatch>>,
    debounce: Option<Duration>,
    run_dir: Rc<RunDir>,
    step: Rc<Cell<u64>>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader")
            .field("script", &self.current.borrow().path)
            .finish()
    }
}

impl Reloader {
    /// Serves `script`; watches its files when `debounce` is given. `step` is the run's step
    /// counter, recorded with every reload.
    pub fn new(
        engine: Weak<Engine>,
        modules: Rc<ConfinedModules>,
        script: LoadedScript,
        debounce: Option<Duration>,
        run_dir: Rc<RunDir>,
        step: Rc<Cell<u64>>,
    ) -> Self {
        let reloader = Self {
            engine,
            modules,
            current: RefCell::new(Rc::new(script)),
            watch: RefCell::new(None),
            debounce,
            run_dir,
            step,
        };
        reloader.rewatch();
        reloader
    }

    /// The current version.
    pub fn current(&self) -> Rc<LoadedScript> {
        self.current.borrow().clone()
    }

    fn files(&self) -> Vec<PathBuf> {
        let script = self.current();
        std::iter::once(script.path.clone())
            .chain(script.modules.iter().cloned())
            .collect()
    }

    fn rewatch(&self) {
        if let Some(debounce) = self.debounce {
            match FileWatch::many(&self.files(), debounce) {
                Ok(watch) => *self.watch.borrow_mut() = Some(watch),
                Err(e) => tracing::warn!("cannot watch the script for changes: {e}"),
            }
        }
    }

    /// Reloads if a watched file changed since the last call: the new version applies from
    /// now on; a version that does not compile is reported and the old one keeps running.
    pub fn poll(&self) {
        let changed = self
            .watch
            .borrow()
            .as_ref()
            .is_some_and(FileWatch::take_change);
        if changed {
            self.reload();
        }
    }

    /// Recompiles now.
    pub fn reload(&self) {
        let path = self.current().path.clone();
        let step = self.step.get();
        let Some(engine) = self.engine.upgrade() else {
            return;
        };
        let compiled = compile(&engine, &self.modules, &path);
        match compiled {
            Ok(script) if script.hash == self.current().hash => {}
            Ok(script) => {
                let kept = self.run_dir.keep_script(&script.text);
                for text in &script.module_texts {
                    let _ = self.run_dir.keep_script(text);
                }
                if let Err(e) = kept {
                    tracing::warn!("{e}");
                }
                let _ = self.run_dir.event(
                    "reload",
                    json!({ "script": path, "hash": script.hash, "step": step }),
                );
                tracing::info!(
                    "reloaded {} at step {step} ({})",
                    path.display(),
                    &script.hash[..12]
                );
                *self.current.borrow_mut() = Rc::new(script);
                self.rewatch();
            }
            Err(error) => {
                let _ = self.run_dir.event(
                    "reload_failed",
                    json!({ "script": path, "step": step, "error": error }),
                );
                tracing::error!(
                    "the edited script does not compile; the previous version keeps running:\n{error}"
                );
            }
        }
    }
}
