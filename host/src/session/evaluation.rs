//! Evaluation of models on a split, the test split only for the final report.

use coevo_sdk::ffi::ModelId;
use coevo_sdk::{Combination, EvalSpec, FeatureSource, Split};

use super::ServiceError;
use super::state::{Result, Session};
use crate::data::DeviceSplit;
use crate::device::is_cpu;
use crate::model::Model;
use crate::train::{
    EvalOptions, EvaluateError, Evaluation, default_loss, eval_batch_size, evaluate, evaluate_each,
};

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
        let split = match spec.split {
            Split::Train => &data.train,
            Split::Validation => data.selection(),
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
        self.score(ids, split, options, spec.features_from)
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
            Reported::Test => data.test_for_final_report(),
            Reported::Unseen => data.unseen_for_final_report().ok_or_else(|| {
                ServiceError::invalid(
                    "no unseen split: load the data with an `unseen` share of validation \
                     (load_data(source, #{ unseen: 0.5 }))",
                )
            })?,
        };
        self.score(ids, split, options, report.features_from)
    }

    fn score(
        &self,
        ids: &[ModelId],
        split: &DeviceSplit,
        options: EvalOptions,
        features_from: Option<FeatureSource>,
    ) -> Result<Evaluation> {
        if ids.is_empty() {
            return Err(ServiceError::invalid("evaluate needs at least one model"));
        }
        let members = self.lend_features(ids, self.cloned_models(ids)?, features_from)?;
        let loss = default_loss(self.data()?.task);
        // A stack computes all members in one pass, which pays on a GPU; CPU kernels run each
        // model's convolutions faster on their own (see BENCHMARKS.md, MeGA).
        let evaluation = match is_cpu(&self.device) {
            true => evaluate_each(&members, split, loss, options),
            false => Model::stack(&members)
                .map_err(EvaluateError::from)
                .and_then(|stack| Ok(evaluate(&stack, split, loss, options)?)),
        };
        evaluation.map_err(|e| match e {
            EvaluateError::Architecture(_) => ServiceError::invalid(e.to_string()),
            _ => ServiceError::failed(e.to_string()),
        })
    }
}
