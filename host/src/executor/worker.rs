//! [`Worker`]: what `coevo worker` runs. It reads jobs from its input and answers each on its
//! output, in order, until the input ends; the data set of the last recipe stays loaded, so a
//! run's many jobs on one data set load it once per worker. A training job runs in a
//! [`Session`] lent that data: the driver's own training code.

use std::io::{BufRead, Write};
use std::path::Path;

use burn::tensor::Device;
use serde_json::json;

use super::frame::{self, Frame, FrameError};
use super::identity::Identity;
use super::job::{Answer, JobSpec, Task, f32_bytes};
use crate::ComputeDevice;
use crate::checkpoint;
use crate::data::{Recipe, ResidentData};
use crate::session::Session;
use crate::tensors::to_f32;
use crate::train::{EvalOptions, batch_outputs};

/// A worker on one device.
#[derive(Debug)]
pub struct Worker {
    device: Device,
    identity: Identity,
    /// The last recipe's data.
    data: Option<(Recipe, ResidentData)>,
}

impl Worker {
    /// A worker computing on `device`.
    pub fn new(device: ComputeDevice) -> Result<Self, String> {
        Ok(Self {
            device: device.to_burn().map_err(|e| e.to_string())?,
            identity: Identity::current(device)?,
            data: None,
        })
    }

    /// Answers every job of `input` on `output`: `{ok: true, answer}` and the answer's blobs,
    /// or `{ok: false, error}`. Only a broken pipe ends it early.
    pub fn serve(
        &mut self,
        mut input: impl BufRead,
        mut output: impl Write,
    ) -> Result<(), FrameError> {
        while let Some(frame) = frame::read(&mut input)? {
            let (header, blobs) = match self.answer(frame) {
                Ok(answer) => (json!({"ok": true, "answer": answer.header}), answer.blobs),
                Err(error) => (json!({"ok": false, "error": error}), Vec::new()),
            };
            let refs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
            frame::write(&mut output, &header, &refs)?;
        }
        Ok(())
    }

    /// The answer to one job, or its error prefixed with the job's label.
    pub fn answer(&mut self, frame: Frame) -> Result<Answer, String> {
        let label = frame.header["label"]
            .as_str()
            .unwrap_or("(no label)")
            .to_owned();
        let spec: JobSpec = serde_json::from_value(frame.header)
            .map_err(|e| format!("job {label}: not a job spec: {e}"))?;
        self.run(&spec, &frame.blobs)
            .map_err(|e| format!("job {label}: {e}"))
    }

    /// Runs `spec` on `blobs`.
    pub fn run(&mut self, spec: &JobSpec, blobs: &[Vec<u8>]) -> Result<Answer, String> {
        self.identity.check(&spec.identity)?;
        match &spec.task {
            Task::Outputs {
                data,
                split,
                subset,
                batch_size,
            } => {
                let bytes = blobs.first().ok_or("an outputs job without its model")?;
                let model =
                    checkpoint::from_bytes(bytes, Path::new("the job's model"), &self.device)
                        .map_err(|e| e.to_string())?;
                let resident = self.data(data)?;
                let split = resident
                    .split_for_job(*split)
                    .ok_or_else(|| format!("the data has no {split:?} split"))?;
                if let Some(&bad) = subset.iter().flatten().find(|&&i| i >= split.len()) {
                    return Err(format!(
                        "subset index {bad} is past the split's {} samples",
                        split.len()
                    ));
                }
                let options = EvalOptions {
                    batch_size: *batch_size,
                    subset: subset.clone(),
                    ..EvalOptions::default()
                };
                let outputs = batch_outputs(&model, split, &options);
                let columns = outputs.first().map_or(0, |t| t.dims()[2]);
                let values: Vec<f32> = outputs.into_iter().flat_map(to_f32).collect();
                let rows = values.len() / columns.max(1);
                Ok(Answer {
                    header: json!({"rows": rows, "columns": columns}),
                    blobs: vec![f32_bytes(&values)],
                })
            }
            Task::Train { data, spec } => {
                let (model, state) = super::read_train_job(blobs, &self.device)?;
                self.data(data)?;
                let resident = self.data.take().map(|(_, d)| d).ok_or("no data")?;
                let mut session = Session::new(resident, self.device.clone(), 0);
                let id = session.insert_model(model);
                if let Some(state) = state {
                    session.set_optimizer_state(vec![id], state);
                }
                let trained = session.train(&[id], spec.clone(), None).and_then(|report| {
                    let state = session.optimizer_states().get(&[id]);
                    Ok((report, super::train_answer_blobs(session.model(id)?, state)))
                });
                // The data outlives the session, whatever happened.
                if let Some(resident) = session.take_data() {
                    self.data = Some((data.clone(), resident));
                }
                let (report, blobs) = trained.map_err(|e| e.to_string())?;
                Ok(Answer {
                    header: json!({"report": report}),
                    blobs,
                })
            }
        }
    }

    /// The recipe's data, loaded once while jobs keep naming it.
    fn data(&mut self, recipe: &Recipe) -> Result<&ResidentData, String> {
        let cached = matches!(&self.data, Some((r, _)) if r == recipe);
        if !cached {
            // Drop the old data before loading the new.
            self.data = None;
            let loaded = recipe.load(&self.device).map_err(|e| e.to_string())?;
            self.data = Some((recipe.clone(), loaded.resident));
        }
        match &self.data {
            Some((_, data)) => Ok(data),
            None => Err("no data".into()),
        }
    }
}
