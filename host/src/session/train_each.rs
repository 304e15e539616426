//! Training models that train alone: one after another here, or all at once on an executor's
//! workers, each a job that runs this same session code there. Either way a model ends with
//! the weights and optimiser state [`Session::train`] would have given it.

use std::path::Path;

use coevo_sdk::ffi::ModelId;
use coevo_sdk::{TrainReport, TrainSpec};

use super::ServiceError;
use super::state::{Result, Session};
use crate::checkpoint;
use crate::device::is_cpu;
use crate::executor::{Blob, Job, JobSpec, Task, f32_bytes};
use crate::train::TrainerState;

impl Session {
    /// Trains each model alone, `items[i].0` by `items[i].1`, on all training samples: what
    /// [`Session::train`] of each in turn does. With an executor, on a CPU, the models go to
    /// its workers at once (a distilled or trunk-fed model needs another model, so such a
    /// batch trains here).
    pub fn train_each(&mut self, items: &[(ModelId, TrainSpec)]) -> Result<Vec<TrainReport>> {
        let alone = |s: &TrainSpec| s.distill.is_none() && s.features_from.is_none();
        let remote = items.len() > 1 && items.iter().all(|(_, s)| alone(s));
        if remote && self.executor.is_some() && self.data_recipe().is_some() && is_cpu(&self.device)
        {
            return self.train_remotely(items);
        }
        (items.iter())
            .map(|(id, spec)| self.train(&[*id], spec.clone(), None))
            .collect()
    }

    fn train_remotely(&mut self, items: &[(ModelId, TrainSpec)]) -> Result<Vec<TrainReport>> {
        let recipe = (self.data_recipe())
            .ok_or_else(|| ServiceError::failed("no data recipe for workers to load"))?;
        let mut work = Vec::with_capacity(items.len());
        for (id, spec) in items {
            let model = self.model(*id)?;
            let mut blobs = vec![
                Blob::new(checkpoint::to_bytes(model)),
                Blob::new(model.flat_mask().map_or_else(Vec::new, |m| f32_bytes(&m))),
            ];
            if let (false, Some(state)) = (spec.reset_optimizer, self.optimizers.get(&[*id])) {
                let json =
                    serde_json::to_vec(state).map_err(|e| ServiceError::failed(e.to_string()))?;
                blobs.push(Blob::new(json));
            }
            work.push(blobs);
        }
        let outcomes = self.run_jobs(|identity| {
            (items.iter().zip(work).enumerate())
                .map(|(i, ((id, spec), blobs))| Job {
                    spec: JobSpec {
                        label: format!("train model {id} ({} of {})", i + 1, items.len()),
                        identity: identity.clone(),
                        task: Task::Train {
                            data: recipe.clone(),
                            spec: spec.clone(),
                        },
                    },
                    blobs,
                })
                .collect()
        })?;
        // Every answer is checked before any model changes, so a failed job leaves the
        // session as it was.
        let mut trained = Vec::with_capacity(items.len());
        for ((id, _), outcome) in items.iter().zip(outcomes) {
            let answer = outcome.map_err(ServiceError::failed)?;
            let bad =
                |what: &str| ServiceError::failed(format!("model {id}'s training job: {what}"));
            let report: TrainReport = serde_json::from_value(answer.header["report"].clone())
                .map_err(|e| bad(&e.to_string()))?;
            let [model, state] = answer.blobs.as_slice() else {
                return Err(bad("not a model and a trainer state"));
            };
            let mut model =
                checkpoint::from_bytes(model, Path::new("a worker's model"), &self.device)
                    .map_err(|e| bad(&e.to_string()))?;
            model.set_masks(self.model(*id)?.masks().to_vec());
            let state: Option<TrainerState> =
                serde_json::from_slice(state).map_err(|e| bad(&e.to_string()))?;
            trained.push((*id, model, state, report));
        }
        let mut reports = Vec::with_capacity(trained.len());
        for (id, model, state, report) in trained {
            self.insert_model_as(id, model);
            if let Some(state) = state {
                self.optimizers.insert(vec![id], state);
            }
            reports.push(report);
        }
        Ok(reports)
    }
}
