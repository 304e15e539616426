//! The run directory: everything a run produced, laid out so that a run can be inspected,
//! reported on and resumed.
//!
//! ```text
//! runs/<name>/
//!   config.json          resolved options: script, --set values, seed, device, data roots
//!   seed                 the run's seed
//!   scripts/<hash>.rhai  every version of the script (and its modules) that ran
//!   metrics.jsonl        one JSON object per logged step
//!   metrics.csv          the same, scalar columns only (written at the end and by `report`)
//!   events.jsonl         reloads, plugin swaps, checkpoints, errors
//!   checkpoints/ckpt-N/  resumable state at step boundaries (the last three are kept)
//!   models/              models the script saved
//!   summary.json         how the run ended and its results
//!   tensorboard/         the metrics as a TensorBoard event file
//! ```

use std::cell::Cell;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::checkpoint::write_atomic;

/// A run directory and the open logs in it.
#[derive(Debug)]
pub struct RunDir {
    root: PathBuf,
    metric_lines: Cell<u64>,
}

/// Why the run directory could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct RunDirError {
    /// The file or folder.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> RunDirError + '_ {
    move |e| RunDirError {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl RunDir {
    /// A new run directory at `root`, which must not hold a run already.
    pub fn create(root: &Path) -> Result<Self, RunDirError> {
        if root.join("config.json").exists() {
            return Err(RunDirError {
                path: root.to_path_buf(),
                message: "holds a run already; choose another --out, or `coevo resume` it".into(),
            });
        }
        for sub in ["scripts", "checkpoints", "models"] {
            fs::create_dir_all(root.join(sub)).map_err(io(root))?;
        }
        Ok(Self {
            root: root.to_path_buf(),
            metric_lines: Cell::new(0),
        })
    }

    /// An existing run directory, to resume.
    pub fn open(root: &Path) -> Result<Self, RunDirError> {
        if !root.join("config.json").exists() {
            return Err(RunDirError {
                path: root.to_path_buf(),
                message: "is not a run directory (no config.json)".into(),
            });
        }
        let metric_lines = count_lines(&root.join("metrics.jsonl"));
        Ok(Self {
            root: root.to_path_buf(),
            metric_lines: Cell::new(metric_lines),
        })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A path inside the folder.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// Writes a JSON file atomically.
    pub fn write_json(&self, relative: &str, value: &Value) -> Result<(), RunDirError> {
        let path = self.path(relative);
        let text = serde_json::to_string_pretty(value).map_err(|e| RunDirError {
            path: path.clone(),
            message: e.to_string(),
        })?;
        write_atomic(&path, text.as_bytes()).map_err(io(&path))
    }

    /// Reads a JSON file.
    pub fn read_json(&self, relative: &str) -> Result<Value, RunDirError> {
        let path = self.path(relative);
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        serde_json::from_str(&text).map_err(|e| RunDirError {
            path,
            message: e.to_string(),
        })
    }

    /// Keeps a version of a script under its content hash; returns the hash.
    pub fn keep_script(&self, text: &str) -> Result<String, RunDirError> {
        let hash = content_hash(text);
        let path = self.path(&format!("scripts/{}.rhai", &hash[..16]));
        if !path.exists() {
            write_atomic(&path, text.as_bytes()).map_err(io(&path))?;
        }
        Ok(hash)
    }

    /// Appends a metrics record for `step`.
    pub fn log_metrics(&self, step: u64, values: &Map<String, Value>) -> Result<(), RunDirError> {
        let mut record = Map::new();
        record.insert("step".into(), json!(step));
        record.extend(values.clone());
        let record = Value::Object(record);
        self.append("metrics.jsonl", &record)?;
        self.metric_lines.set(self.metric_lines.get() + 1);
        super::tensorboard::append(&self.root, &record)
            .map_err(io(&self.root.join(super::tensorboard::FILE)))
    }

    /// Lines in metrics.jsonl.
    pub fn metric_lines(&self) -> u64 {
        self.metric_lines.get()
    }

    /// Cuts metrics.jsonl back to its first `lines` lines (what a checkpoint knew of).
    pub fn truncate_metrics(&self, lines: u64) -> Result<(), RunDirError> {
        let path = self.path("metrics.jsonl");
        let kept: Vec<String> = read_lines(&path).into_iter().take(lines as usize).collect();
        let mut text = kept.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        write_atomic(&path, text.as_bytes()).map_err(io(&path))?;
        self.metric_lines.set(kept.len() as u64);
        super::tensorboard::rewrite(&self.root, &self.metrics())
            .map_err(io(&self.root.join(super::tensorboard::FILE)))
    }

    /// Appends an event (`kind` and details) to events.jsonl.
    pub fn event(&self, kind: &str, details: Value) -> Result<(), RunDirError> {
        let mut record = Map::new();
        record.insert("kind".into(), json!(kind));
        record.insert("time".into(), json!(unix_time()));
        if let Value::Object(details) = details {
            record.extend(details);
        }
        self.append("events.jsonl", &Value::Object(record))
    }

    fn append(&self, relative: &str, value: &Value) -> Result<(), RunDirError> {
        let path = self.path(relative);
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        // One write of a whole line: a kill leaves at most a torn last line, which readers skip.
        let line = format!("{value}\n");
        file.write_all(line.as_bytes()).map_err(io(&path))?;
        file.sync_data().map_err(io(&path))
    }

    /// The metrics records.
    pub fn metrics(&self) -> Vec<Value> {
        read_records(&self.path("metrics.jsonl"))
    }

    /// The events.
    pub fn events(&self) -> Vec<Value> {
        read_records(&self.path("events.jsonl"))
    }

    /// Writes metrics.csv from metrics.jsonl: one column per scalar field, in first-seen order.
    pub fn write_csv(&self) -> Result<(), RunDirError> {
        let records = self.metrics();
        let mut columns: Vec<String> = Vec::new();
        for record in &records {
            for (key, value) in record.as_object().into_iter().flatten() {
                if !value.is_array() && !value.is_object() && !columns.contains(key) {
                    columns.push(key.clone());
                }
            }
        }
        let mut text = columns.join(",");
        text.push('\n');
        for record in &records {
            let cells: Vec<String> = columns
                .iter()
                .map(|c| match record.get(c) {
                    Some(Value::String(s)) => format!("\"{}\"", s.replace('"', "\"\"")),
                    Some(Value::Null) | None => String::new(),
                    Some(v) => v.to_string(),
                })
                .collect();
            text.push_str(&cells.join(","));
            text.push('\n');
        }
        let path = self.path("metrics.csv");
        write_atomic(&path, text.as_bytes()).map_err(io(&path))
    }
}

/// SHA-256 of a text, in hex.
pub fn content_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn read_lines(path: &Path) -> Vec<String> {
    File::open(path)
        .map(|f| BufReader::new(f).lines().map_while(Result::ok).collect())
        .unwrap_or_default()
}

/// Complete JSON lines; a torn last line (a kill mid-write) is skipped.
fn read_records(path: &Path) -> Vec<Value> {
    read_lines(path)
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn count_lines(path: &Path) -> u64 {
    read_records(path).len() as u64
}

fn unix_time() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
