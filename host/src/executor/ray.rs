//! [`RayExecutor`]: jobs on a Ray cluster. The host starts the Python driver
//! (`python -m coevo_ray`, in `python/`) and talks to it in frames over its standard input
//! and output; the driver keeps one actor per worker slot, each running a `coevo worker`
//! process of this binary, and answers a batch in the jobs' order. Ray is the glue; every
//! number is computed by coevo.

use std::collections::HashSet;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

use super::frame;
use super::job::{Answer, Job, Outcome};
use super::{Executor, ExecutorError};
use crate::ComputeDevice;

/// How to reach the cluster and what each worker asks of it.
#[derive(Debug, Clone, PartialEq)]
pub struct RayOptions {
    /// The cluster's address (`HOST:PORT`), or `local` for a cluster of this machine alone
    /// that the driver starts and stops.
    pub address: String,
    /// The Python with `ray` and `coevo_ray` (`COEVO_RAY_PYTHON`, else `.venv-ray/bin/python`).
    pub python: PathBuf,
    /// The `coevo` binary the workers run (`COEVO_RAY_WORKER`, else this one; the same path on
    /// every node). A worker whose binary differs from the driver's refuses every job.
    pub worker_binary: PathBuf,
    /// The workers' device.
    pub device: ComputeDevice,
    /// Worker slots (0: as many as the cluster's CPUs allow at `num_cpus` each).
    pub workers: usize,
    /// CPUs each worker reserves.
    pub num_cpus: f64,
    /// GPUs each worker reserves (Ray sets `CUDA_VISIBLE_DEVICES`).
    pub num_gpus: f64,
    /// Times a job is run again after its worker process died.
    pub max_retries: usize,
}

impl RayOptions {
    /// Options for `address` with the defaults: this binary, one CPU per worker, no GPU,
    /// three retries, the Python `COEVO_RAY_PYTHON` names.
    pub fn new(address: &str, device: ComputeDevice) -> Result<Self, ExecutorError> {
        let python = std::env::var_os("COEVO_RAY_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(".venv-ray/bin/python"));
        let worker_binary = match std::env::var_os("COEVO_RAY_WORKER") {
            Some(path) => PathBuf::from(path),
            None => std::env::current_exe()
                .map_err(|e| ExecutorError::Start(format!("the coevo binary: {e}")))?,
        };
        Ok(Self {
            address: address.to_owned(),
            python,
            worker_binary,
            device,
            workers: 0,
            num_cpus: 1.0,
            num_gpus: if matches!(device, ComputeDevice::TorchCuda(_)) {
                1.0
            } else {
                0.0
            },
            max_retries: 3,
        })
    }
}

/// The driver process and what it has been sent.
#[derive(Debug)]
pub struct RayExecutor {
    options: RayOptions,
    child: Child,
    input: BufWriter<ChildStdin>,
    output: BufReader<ChildStdout>,
    /// Blobs the driver holds in the object store, by SHA-256.
    sent: HashSet<String>,
    /// What the driver said when it was ready (workers, nodes).
    ready: Value,
}

impl RayExecutor {
    /// Starts the driver and waits until its workers are up.
    pub fn start(options: RayOptions) -> Result<Self, ExecutorError> {
        let mut command = Command::new(&options.python);
        command
            .args(["-m", "coevo_ray", "--address", &options.address])
            .arg("--worker")
            .arg(&options.worker_binary)
            .args(["--device", &options.device.to_string()])
            .args(["--workers", &options.workers.to_string()])
            .args(["--num-cpus", &options.num_cpus.to_string()])
            .args(["--num-gpus", &options.num_gpus.to_string()])
            .args(["--max-retries", &options.max_retries.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().map_err(|e| {
            ExecutorError::Start(format!(
                "could not start the Ray driver with {}: {e} (run tools/ray.sh, or set \
                 COEVO_RAY_PYTHON to a Python with ray and coevo_ray)",
                options.python.display()
            ))
        })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(ExecutorError::Start("the Ray driver's pipes".into()));
        };
        let mut output = BufReader::new(stdout);
        let ready = match frame::read(&mut output) {
            Ok(Some(frame)) if frame.header["ready"] == true => frame.header,
            Ok(Some(frame)) => {
                let _ = child.kill();
                return Err(ExecutorError::Start(format!(
                    "the Ray driver did not start: {}",
                    frame.header["error"].as_str().unwrap_or("no reason given")
                )));
            }
            Ok(None) | Err(_) => {
                let status = child.wait().ok();
                return Err(ExecutorError::Start(format!(
                    "the Ray driver exited before it was ready ({status:?}); its errors are above"
                )));
            }
        };
        Ok(Self {
            options,
            child,
            input: BufWriter::new(stdin),
            output,
            sent: HashSet::new(),
            ready,
        })
    }

    /// Worker slots the driver started.
    pub fn workers(&self) -> usize {
        self.ready["workers"].as_u64().unwrap_or(0) as usize
    }
}

impl Executor for RayExecutor {
    fn run(&mut self, jobs: Vec<Job>) -> Result<Vec<Outcome>, ExecutorError> {
        let link = |e: frame::FrameError| ExecutorError::Link(e.to_string());
        let mut new = Vec::new();
        for blob in jobs.iter().flat_map(|j| &j.blobs) {
            if self.sent.insert(blob.sha256.clone()) {
                new.push(blob.clone());
            }
        }
        let header = json!({
            "op": "batch",
            "blobs": new.iter().map(|b| &b.sha256).collect::<Vec<_>>(),
            "jobs": jobs.iter().map(|j| json!({
                "spec": j.spec,
                "blobs": j.blobs.iter().map(|b| &b.sha256).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        let bytes: Vec<&[u8]> = new.iter().map(|b| b.bytes.as_slice()).collect();
        frame::write(&mut self.input, &header, &bytes).map_err(link)?;
        let reply = frame::read(&mut self.output)
            .map_err(link)?
            .ok_or_else(|| ExecutorError::Link("the Ray driver closed its output".into()))?;
        if let Some(error) = reply.header["error"].as_str() {
            return Err(ExecutorError::Link(format!("the Ray driver: {error}")));
        }
        let results = reply.header["results"]
            .as_array()
            .filter(|r| r.len() == jobs.len())
            .ok_or_else(|| ExecutorError::Link(format!("{} answers expected", jobs.len())))?;
        let mut blobs = reply.blobs.into_iter();
        let mut outcomes = Vec::with_capacity(results.len());
        for (result, job) in results.iter().zip(&jobs) {
            let count = result["blobs"].as_u64().unwrap_or(0) as usize;
            let mine: Vec<Vec<u8>> = blobs.by_ref().take(count).collect();
            if let Some(died) = result["retried"].as_array() {
                tracing::warn!(
                    "job {}: retried after its worker died ({})",
                    job.spec.label,
                    died.iter()
                        .filter_map(serde_json::Value::as_str)
                        .collect::<Vec<_>>()
                        .join("; ")
                );
            }
            outcomes.push(match result["ok"] == true {
                true => Ok(Answer {
                    header: result["answer"].clone(),
                    blobs: mine,
                }),
                false => Err(result["error"]
                    .as_str()
                    .map_or_else(|| format!("job {}: failed", job.spec.label), str::to_owned)),
            });
        }
        Ok(outcomes)
    }

    fn describe(&self) -> Value {
        json!({
            "kind": "ray",
            "address": self.options.address,
            "workers": self.workers(),
            "nodes": self.ready["nodes"],
            "worker_binary": self.options.worker_binary,
            // Workers refuse jobs from a driver of another binary, so this is theirs too.
            "binary_sha256": super::Identity::current(self.options.device)
                .map(|i| i.binary_sha256)
                .ok(),
        })
    }

    fn device(&self) -> ComputeDevice {
        self.options.device
    }
}

impl Drop for RayExecutor {
    fn drop(&mut self) {
        // Closing its input ends the driver, which stops its workers (and a `local` cluster).
        let _ = frame::write(&mut self.input, &json!({"op": "stop"}), &[]);
        let _ = self.child.wait();
    }
}
