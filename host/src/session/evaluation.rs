//! Evaluation of models on a split, the test split only for the final report.

use coevo_sdk::ffi::ModelId;
use coevo_sdk::{Combination, EvalSpec, FeatureSource, Split};

use super::ServiceError;
use super::state::{Result, Session};
use crate::checkpoint;
use crate::data::DeviceSplit;
use crate::data::Recipe;
use crate::device::is_cpu;
use crate::executor::{Blob, Job, JobSpec, SplitName, Task, bytes_f32};
use crate::model::Model;
use crate::train::{
    EvalOptions, EvaluateError, Evaluation, batch_sizes, default_loss, eval_batch_size, evaluate,
    evaluate_each, evaluate_outputs,
};
use burn::tensor::{Tensor, TensorData};

/// A split no search reads, for the final report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reported {
    /// The official test split.
    #[default]
    Test,
    /// The share of validation set aside at load time (`load_data`'s `unseen`).
    Unseen,
}

/// What the final report's evaluation on the test split is asked besides the models.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FinalReport {
    /// The split to evaluate on.
    pub split: Reported,
    /// How the ensemble combines its members.
    pub combination: Combination,
    /// Also measure [`coevo_sdk::Diagnostics`].
    pub diagnostics: bool,
    /// Return each model's predictions (regression, in target units) with the targets.
    pub predictions: bool,
    /// The partner whose trunk feeds the models' join layer.
    pub features_from: Option<FeatureSource>,
}

impl Session {
    /// Evaluates `ids` on the training or validation split, as `spec` says; `per_sample` and
    /// `probabilities` ask for each sample's loss and class probabilities per model.
    pub fn evaluate(
        &self,
        ids: &[ModelId],
        spec: &EvalSpec,
        per_sample: bool,
        probabilities: bool,
    ) -> Result<Evaluation> {
        self.evaluate_on_split(
            ids,
            spec,
            EvalOptions {
                per_sample_loss: per_sample,
                probabilities,
                ..EvalOptions::default()
            },
        )
    }

    /// Each sample's loss and, for classes, whether it was predicted right, per model, in one
    /// pass over the split (or `spec`'s subset of it): the values a selection rule scores
    /// subsets of the data from, however many subsets it scores.
    pub fn evaluate_samples(&self, ids: &[ModelId], spec: &EvalSpec) -> Result<Evaluation> {
        let classification = matches!(self.data()?.task, coevo_sdk::Task::Classification { .. });
        self.evaluate_on_split(
            ids,
            spec,
            EvalOptions {
                per_sample_loss: true,
                per_sample_correct: classification,
                ..EvalOptions::default()
            },
        )
    }

    /// Evaluates `ids` on `spec`'s split and subset, returning what `extra` asks besides.
    fn evaluate_on_split(
        &self,
        ids: &[ModelId],
        spec: &EvalSpec,
        extra: EvalOptions,
    ) -> Result<Evaluation> {
        let data = self.data()?;
        let (split, name) = match spec.split {
            Split::Train => (&data.train, SplitName::Train),
            Split::Validation => (data.selection(), SplitName::Validation),
        };
        let subset = spec
            .subset
            .as_ref()
            .map(|s| s.iter().map(|&i| i as usize).collect::<Vec<_>>());
        if let Some(&bad) = subset.iter().flatten().find(|&&i| i >= split.len()) {
            return Err(ServiceError::invalid(format!(
                "subset index {bad} is past the split's {} samples",
                split.len()
            )));
        }
        let options = EvalOptions {
            combination: spec.combination,
            subset,
            diagnostics: spec.diagnostics,
            batch_size: eval_batch_size(&self.device),
            ..extra
        };
        self.score(ids, (split, name), options, spec.features_from)
    }

    /// Evaluates `ids` on the test split (or the unseen one). Its name says what it is for:
    /// nothing that selects or scores candidates calls it, so no search reads these splits by
    /// accident.
    pub fn evaluate_for_final_report(
        &self,
        ids: &[ModelId],
        report: FinalReport,
    ) -> Result<Evaluation> {
        let options = EvalOptions {
            combination: report.combination,
            diagnostics: report.diagnostics,
            predictions: report.predictions,
            batch_size: eval_batch_size(&self.device),
            ..EvalOptions::default()
        };
        let data = self.data()?;
        let split = match report.split {
            Reported::Test => (data.test_for_final_report(), SplitName::Test),
            Reported::Unseen => match data.unseen_for_final_report() {
                Some(split) => (split, SplitName::Unseen),
                None => {
                    return Err(ServiceError::invalid(
                        "no unseen split: load the data with an `unseen` share of validation \
                         (load_data(source, #{ unseen: 0.5 }))",
                    ));
                }
            },
        };
        self.score(ids, split, options, report.features_from)
    }

    /// Scores `ids` on `split` (named, so that workers elsewhere can read the same one): on
    /// a CPU model by model, each model's outputs computed here or, with an executor, by its
    /// workers, and scored here by the same code either way.
    fn score(
        &self,
        ids: &[ModelId],
        (split, name): (&DeviceSplit, SplitName),
        options: EvalOptions,
        features_from: Option<FeatureSource>,
    ) -> Result<Evaluation> {
        if ids.is_empty() {
            return Err(ServiceError::invalid("evaluate needs at least one model"));
        }
        let members = self.lend_features(ids, self.cloned_models(ids)?, features_from)?;
        let loss = default_loss(self.data()?.task);
        let failed = |e: EvaluateError| match e {
            EvaluateError::Architecture(_) => ServiceError::invalid(e.to_string()),
            _ => ServiceError::failed(e.to_string()),
        };
        let remote = members.len() > 1 && !options.diagnostics && features_from.is_none();
        if let (true, Some(recipe)) = (remote, self.remote_recipe()) {
            Model::stack(&members).map_err(|e| failed(e.into()))?;
            let outputs = remote_outputs(self, recipe, &members, split, name, &options)?;
            let scale = members[0].spec().target_scale;
            return evaluate_outputs(outputs, scale, split, loss, options)
                .map_err(|e| failed(e.into()));
        }
        // A stack computes all members in one pass, which pays on a GPU; CPU kernels run each
        // model's convolutions faster on their own (see BENCHMARKS.md, MeGA).
        let evaluation = match is_cpu(&self.device) {
            true => evaluate_each(&members, split, loss, options),
            false => Model::stack(&members)
                .map_err(EvaluateError::from)
                .and_then(|stack| Ok(evaluate(&stack, split, loss, options)?)),
        };
        evaluation.map_err(failed)
    }
}

/// Each model's [`batch_outputs`](crate::train::batch_outputs) on `split`, computed by the
/// executor's workers: one job per model, answered in order.
fn remote_outputs(
    session: &Session,
    recipe: &Recipe,
    models: &[Model],
    split: &DeviceSplit,
    name: SplitName,
    options: &EvalOptions,
) -> Result<Vec<Vec<Tensor<3>>>> {
    let outcomes = session.run_jobs(|identity| {
        (models.iter().enumerate())
            .map(|(i, model)| Job {
                spec: JobSpec {
                    label: format!("evaluate {name:?} model {i} of {}", models.len()),
                    identity: identity.clone(),
                    task: Task::Outputs {
                        data: recipe.clone(),
                        split: name,
                        subset: options.subset.clone(),
                        batch_size: options.batch_size,
                    },
                },
                blobs: vec![Blob::new(checkpoint::to_bytes(model))],
            })
            .collect()
    })?;
    let sizes = batch_sizes(split, options);
    let device = split.inputs.device();
    outcomes
        .into_iter()
        .map(|outcome| {
            let answer = outcome.map_err(ServiceError::failed)?;
            let columns = answer.header["columns"].as_u64().unwrap_or(0) as usize;
            let values = answer
                .blobs
                .first()
                .and_then(|b| bytes_f32(b))
                .filter(|v| v.len() == columns * sizes.iter().sum::<usize>())
                .ok_or_else(|| ServiceError::failed("a worker's outputs do not fit the split"))?;
            let mut at = 0;
            Ok(sizes
                .iter()
                .map(|&rows| {
                    let part = values[at * columns..(at + rows) * columns].to_vec();
                    at += rows;
                    Tensor::from_data(TensorData::new(part, [1, rows, columns]), &device)
                })
                .collect())
        })
        .collect()
}
