//! Compiling experiment scripts, confining their imports, and explaining their errors.
//!
//! A script compiles into a self-contained AST: every `import` is resolved at compile time by
//! [`ConfinedModules`], which only reads `.rhai` files under the script's folder and records
//! them, so a reload knows which files to watch. Hooks are plain functions of that AST; a hook
//! that uses a module imports it in its own body.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rhai::module_resolvers::FileModuleResolver;
use rhai::{AST, Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};

type SharedModule = Shared<Module>;

use super::run_dir::content_hash;

/// A compiled version of the script.
#[derive(Debug, Clone)]
pub struct LoadedScript {
    /// The AST, functions and top-level code.
    pub ast: AST,
    /// The script's file.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
    /// SHA-256 of the script and every module it imports.
    pub hash: String,
    /// The module files it imports.
    pub modules: Vec<PathBuf>,
    /// Module texts, for keeping every version in the run directory.
    pub module_texts: Vec<String>,
}

impl LoadedScript {
    /// Whether the script defines a function `name` taking `arity` arguments.
    pub fn defines(&self, name: &str, arity: usize) -> bool {
        self.ast
            .iter_functions()
            .any(|f| f.name == name && f.params.len() == arity)
    }

    /// `path:line` of the definition of function `name`, for messages about hooks.
    pub fn location_of(&self, name: &str) -> String {
        let needle = format!("fn {name}");
        let line = self
            .text
            .lines()
            .position(|l| {
                l.trim_start().starts_with(&needle)
                    && l.trim_start()[needle.len()..].trim_start().starts_with('(')
            })
            .map_or(0, |i| i + 1);
        format!("{}:{line}", self.path.display())
    }
}

/// Resolves `import "x"` to `<script folder>/x.rhai` and nowhere else; records what it read.
#[derive(Debug)]
pub struct ConfinedModules {
    root: PathBuf,
    inner: FileModuleResolver,
    read: RefCell<Vec<PathBuf>>,
}

// Rhai asks resolvers to be `Send + Sync` only with its `sync` feature, which coevo leaves off:
// scripts run on one thread, so a RefCell suffices.

impl ConfinedModules {
    /// A resolver for `root`.
    pub fn new(root: &Path) -> Self {
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        Self {
            inner: FileModuleResolver::new_with_path(&root),
            root,
            read: RefCell::new(Vec::new()),
        }
    }
}

impl ModuleResolver for ConfinedModules {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        let file = self.root.join(format!("{path}.rhai"));
        let file = file.canonicalize().unwrap_or(file);
        if !file.starts_with(&self.root) {
            return Err(Box::new(EvalAltResult::ErrorInModule(
                path.into(),
                format!(
                    "imports are confined to the script's folder {}",
                    self.root.display()
                )
                .into(),
                pos,
            )));
        }
        self.read.borrow_mut().push(file);
        self.inner.resolve(engine, source, path, pos)
    }
}

/// Makes `engine` resolve imports from `folder` only, returning the resolver so that compiles
/// can learn which modules they read.
pub fn install_modules(engine: &mut Engine, folder: &Path) -> Rc<ConfinedModules> {
    let resolver = Rc::new(ConfinedModules::new(folder));
    engine.set_module_resolver(SharedResolver(resolver.clone()));
    resolver
}

/// Compiles the script at `path` with the run's one engine. Modules are read afresh each time,
/// so a reload sees edited modules.
pub fn compile(
    engine: &Engine,
    modules: &ConfinedModules,
    path: &Path,
) -> Result<LoadedScript, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    modules.read.borrow_mut().clear();
    let ast = engine.compile_into_self_contained(&Scope::new(), &text);
    let modules: Vec<PathBuf> = modules.read.borrow().clone();
    let mut ast = ast.map_err(|e| describe(&e, path))?;
    ast.set_source(path.display().to_string());
    let module_texts: Vec<String> = modules
        .iter()
        .map(|m| std::fs::read_to_string(m).unwrap_or_default())
        .collect();
    let hash = content_hash(&format!("{text}{}", module_texts.join("")));
    Ok(LoadedScript {
        ast,
        path: path.to_path_buf(),
        text,
        hash,
        modules,
        module_texts,
    })
}

/// Lets the engine own a resolver the compiler still reads from.
struct SharedResolver(Rc<ConfinedModules>);

impl ModuleResolver for SharedResolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        self.0.resolve(engine, source, path, pos)
    }
}

fn position(pos: Position) -> String {
    match (pos.line(), pos.position()) {
        (Some(line), Some(col)) => format!("{line}:{col}"),
        (Some(line), None) => format!("{line}"),
        _ => "?".into(),
    }
}

/// A script error as `file:line:col: message`, followed by the call stack, innermost last.
pub fn describe(error: &EvalAltResult, file: &Path) -> String {
    let mut frames = Vec::new();
    let mut current = error;
    loop {
        match current {
            EvalAltResult::ErrorInFunctionCall(name, source, inner, pos) => {
                let at = if source.is_empty() {
                    file.display().to_string()
                } else {
                    source.clone()
                };
                frames.push(format!("  in `{name}` called at {at}:{}", position(*pos)));
                current = inner;
            }
            EvalAltResult::ErrorInModule(name, inner, pos) => {
                frames.push(format!(
                    "  in module `{name}` imported at {}:{}",
                    file.display(),
                    position(*pos)
                ));
                current = inner;
            }
            other => {
                let mut text = format!(
                    "{}:{}: {}",
                    file.display(),
                    position(other.position()),
                    strip_position(other)
                );
                for frame in frames {
                    text.push('\n');
                    text.push_str(&frame);
                }
                return text;
            }
        }
    }
}

/// The error's message without the position Rhai appends.
fn strip_position(error: &EvalAltResult) -> String {
    let text = error.to_string();
    match text.rfind(" (line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}
