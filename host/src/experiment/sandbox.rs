//! What a script may touch on disk: the run directory and the declared data roots.
//!
//! Scripts have no file, process or network functions of their own (the Rhai engine is built
//! without them); every path they hand to the API passes through [`Roots`].

use std::path::{Component, Path, PathBuf};

/// The folders a run may read (data roots and the run directory) and write (the run directory).
#[derive(Debug, Clone)]
pub struct Roots {
    run_dir: PathBuf,
    data: Vec<PathBuf>,
}

impl Roots {
    /// Reading allowed under `data` and `run_dir`; writing under `run_dir`.
    pub fn new(run_dir: &Path, data: &[PathBuf]) -> Self {
        Self {
            run_dir: absolute(run_dir),
            data: data.iter().map(|d| absolute(d)).collect(),
        }
    }

    /// A path to read: relative paths are taken from the working directory.
    pub fn readable(&self, path: &str) -> Result<PathBuf, String> {
        let resolved = absolute(Path::new(path));
        if self
            .data
            .iter()
            .chain(std::iter::once(&self.run_dir))
            .any(|root| resolved.starts_with(root))
        {
            Ok(resolved)
        } else {
            let roots: Vec<String> = self.data.iter().map(|r| r.display().to_string()).collect();
            Err(format!(
                "`{path}` is outside the run directory and the data roots ({}); declare its folder with --data-root",
                roots.join(", ")
            ))
        }
    }

    /// A path to write: relative paths are taken from the run directory, and must stay in it.
    pub fn writable(&self, path: &str) -> Result<PathBuf, String> {
        let candidate = Path::new(path);
        let resolved = if candidate.is_absolute() {
            absolute(candidate)
        } else {
            absolute(&self.run_dir.join(candidate))
        };
        if resolved.starts_with(&self.run_dir) {
            Ok(resolved)
        } else {
            Err(format!(
                "`{path}` is outside the run directory {}; scripts write only there",
                self.run_dir.display()
            ))
        }
    }
}

/// The absolute, lexically normalised path (`..` resolved without touching the disk, then
/// symbolic links resolved where the path exists, so that a link cannot lead out of a root).
fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut normal = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::ParentDir => {
                normal.pop();
            }
            Component::CurDir => {}
            other => normal.push(other),
        }
    }
    // Resolve links for the longest existing prefix.
    let mut existing = normal.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (
            existing.file_name().map(|n| n.to_os_string()),
            existing.parent().map(Path::to_path_buf),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent;
            }
            _ => break,
        }
    }
    let mut resolved = existing.canonicalize().unwrap_or(existing);
    for name in rest.into_iter().rev() {
        resolved.push(name);
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stay_in_the_roots_and_writes_in_the_run_directory() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("runs/a");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let roots = Roots::new(&run, std::slice::from_ref(&data));
        assert!(
            roots
                .readable(&data.join("x.bin").display().to_string())
                .is_ok()
        );
        let escape = format!("{}/../secret", data.display());
        assert!(roots.readable(&escape).unwrap_err().contains("outside"));
        assert!(roots.readable("/etc/passwd").is_err());
        assert_eq!(
            roots.writable("models/m.safetensors").unwrap(),
            absolute(&run.join("models/m.safetensors"))
        );
        assert!(roots.writable("../b/m.safetensors").is_err());
        // A link inside a root that points outside it does not open a way out.
        std::os::unix::fs::symlink("/etc", data.join("link")).unwrap();
        assert!(
            roots
                .readable(&data.join("link/passwd").display().to_string())
                .is_err()
        );
    }
}
