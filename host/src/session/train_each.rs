//! Training models that train alone: one after another here, or all at once on an executor's
//! workers, each a job that runs this same session code there. Either way a model ends with
//! the weights and optimiser state [`Session::train`] would have given it.

use coevo_sdk::ffi::ModelId;
use coevo_sdk::{TrainReport, TrainSpec};

use super::ServiceError;
use super::state::{Result, Session};
use crate::data::Recipe;
use crate::executor::{Job, JobSpec, Task, read_train_answer, train_job_blobs};

impl Session {
    /// Trains each model alone, `items[i].0` by `items[i].1`, on all training samples: what
    /// [`Session::train`] of each in turn does. With an executor, on a CPU, the models go to
    /// its workers at once (a distilled or trunk-fed model needs another model, so such a
    /// batch trains here).
    pub fn train_each(&mut self, items: &[(ModelId, TrainSpec)]) -> Result<Vec<TrainReport>> {
        // Here a model listed twice would train twice, on workers twice from where it started.
        let mut seen = std::collections::HashSet::new();
        if let Some((id, _)) = items.iter().find(|(id, _)| !seen.insert(*id)) {
            return Err(ServiceError::invalid(format!(
                "train_each lists model {id} twice: each model trains once a call"
            )));
        }
        let alone = |s: &TrainSpec| s.distill.is_none() && s.features_from.is_none();
        let remote = items.len() > 1 && items.iter().all(|(_, s)| alone(s));
        if let (true, Some(recipe)) = (remote, self.remote_recipe()) {
            let recipe = recipe.clone();
            return self.train_remotely(&recipe, items);
        }
        (items.iter())
            .map(|(id, spec)| self.train(&[*id], spec.clone(), None))
            .collect()
    }

    fn train_remotely(
        &mut self,
        recipe: &Recipe,
        items: &[(ModelId, TrainSpec)],
    ) -> Result<Vec<TrainReport>> {
        let mut work = Vec::with_capacity(items.len());
        for (id, spec) in items {
            let state = (!spec.reset_optimizer)
                .then(|| self.optimizers.get(&[*id]))
                .flatten();
            work.push(train_job_blobs(self.model(*id)?, state));
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
            let (mut model, state) =
                read_train_answer(&answer.blobs, &self.device).map_err(|e| bad(&e))?;
            model.set_masks(self.model(*id)?.masks().to_vec());
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
