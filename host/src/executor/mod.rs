//! Where independent units of work run: in this process (the default) or on workers elsewhere
//! (a Ray cluster), each a `coevo worker` process of the same binary.
//!
//! A unit is a [`Job`]: a JSON spec (what to do, on which data) and the weights it reads as
//! safetensors bytes named by their SHA-256, so that a model is shipped once and reused by every
//! job that reads it. Answers come back in the jobs' order, never by arrival, and every
//! decision stays with the driver: a worker computes exactly what the driver would, and the
//! driver scores it with the same code, so a run's numbers do not depend on where it ran.

mod frame;
mod identity;
mod job;
mod ray;
mod train_blobs;
mod worker;

pub use frame::{Frame, FrameError, read as read_frame, write as write_frame};
pub use identity::Identity;
pub use job::{
    Answer, Blob, Job, JobSpec, Outcome, SplitName, Task, bytes_f32, f32_bytes, sha256_hex,
};
pub use ray::{RayExecutor, RayOptions};
pub use train_blobs::{read_train_answer, read_train_job, train_answer_blobs, train_job_blobs};
pub use worker::Worker;

use serde_json::Value;

/// Why an executor could not run a batch of jobs at all (a job's own failure is its outcome).
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// The executor could not start.
    #[error("{0}")]
    Start(String),
    /// The link to the workers broke.
    #[error("the executor's link broke: {0}")]
    Link(String),
}

/// Runs jobs somewhere.
pub trait Executor: Send {
    /// Runs `jobs` and answers in their order.
    fn run(&mut self, jobs: Vec<Job>) -> Result<Vec<Outcome>, ExecutorError>;

    /// What a run records of it (kind, address, workers).
    fn describe(&self) -> Value;

    /// The device its workers compute on: the driver's.
    fn device(&self) -> crate::ComputeDevice;
}

/// Runs each job in this process, through the same [`Worker`] `coevo worker` runs: what a
/// test compares a remote executor with, and a check that the job path is exact.
#[derive(Debug)]
pub struct InProcess {
    worker: Worker,
    device: crate::ComputeDevice,
}

impl InProcess {
    /// An in-process worker on `device`.
    pub fn new(device: crate::ComputeDevice) -> Result<Self, ExecutorError> {
        Ok(Self {
            worker: Worker::new(device).map_err(ExecutorError::Start)?,
            device,
        })
    }
}

impl Executor for InProcess {
    fn run(&mut self, jobs: Vec<Job>) -> Result<Vec<Outcome>, ExecutorError> {
        Ok(jobs
            .into_iter()
            .map(|job| {
                let blobs: Vec<Vec<u8>> = job.blobs.iter().map(|b| b.bytes.to_vec()).collect();
                self.worker
                    .run(&job.spec, &blobs)
                    .map_err(|e| format!("job {}: {e}", job.spec.label))
            })
            .collect())
    }

    fn describe(&self) -> Value {
        serde_json::json!({"kind": "in_process"})
    }

    fn device(&self) -> crate::ComputeDevice {
        self.device
    }
}
