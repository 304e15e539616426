//! Training: one loop for every caller, an epoch at a time.
//!
//! A [`TrainingRun`] holds the stacked members and their trainer between epochs, and
//! [`Session::train_epoch`] writes the members and their optimiser state back after each one.
//! Callers differ only in what they do between epochs: the plugin table runs to the end, the
//! script API checkpoints and may stop, `coevo train` validates and shows progress.

use coevo_sdk::ffi::ModelId;
use coevo_sdk::{TrainReport, TrainSpec};

use super::ServiceError;
use super::state::{Result, Session};
use crate::model::Model;
use crate::train::{EpochReport, Progress, SampleRecord, TrainError, Trainer, TrainerState};

/// Whether a training call starts or carries on one a checkpoint interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continue {
    /// A new call: it runs all its epochs, from the momentum the models' last training left
    /// (unless the spec resets it).
    NewCall,
    /// The same call, resumed after the epochs its saved state completed.
    InterruptedCall,
}

/// A training call under way.
#[derive(Debug)]
pub struct TrainingRun {
    ids: Vec<ModelId>,
    stack: Model,
    trainer: Trainer,
    subset: Option<Vec<usize>>,
    /// The trainer's step count when the call began, so the report counts this call's steps.
    first_step: u64,
    /// Samples back-propagated by the epochs this process ran of the call.
    samples: u64,
    last: Option<EpochReport>,
}

impl TrainingRun {
    /// Whether every epoch of the call is done.
    pub fn finished(&self) -> bool {
        self.trainer.finished()
    }

    /// The trainer (its loss, config and position).
    pub fn trainer(&self) -> &Trainer {
        &self.trainer
    }

    /// The samples trained on: the subset's length, or the whole training split's.
    pub fn samples(&self, train_len: usize) -> usize {
        self.subset.as_ref().map_or(train_len, Vec::len)
    }

    /// Keep each trained sample's loss and correctness from the training pass (see
    /// [`TrainingRun::take_record`]).
    pub fn record_samples(&mut self) {
        self.trainer.record_samples(true);
    }

    /// What the last epoch recorded, by position in the call's subset (see
    /// [`SampleRecord`]), when [`TrainingRun::record_samples`] asked for it.
    pub fn take_record(&mut self) -> Option<SampleRecord> {
        self.trainer.take_record()
    }

    /// What the call did so far.
    pub fn report(&self) -> TrainReport {
        TrainReport {
            samples: self.samples,
            steps: self.trainer.state().step - self.first_step,
            train_loss: self
                .last
                .as_ref()
                .map_or_else(Vec::new, |r| r.train_loss.clone()),
            lr: self.last.as_ref().map_or(0.0, |r| r.lr),
        }
    }
}

impl Session {
    /// Starts training `ids` as one stack of members on the training samples `subset` (all
    /// when `None`; an index may repeat, and each repeat is trained on).
    pub fn start_training(
        &self,
        ids: &[ModelId],
        spec: TrainSpec,
        subset: Option<Vec<usize>>,
        mode: Continue,
    ) -> Result<TrainingRun> {
        if ids.is_empty() {
            return Err(ServiceError::invalid("train needs at least one model"));
        }
        let data = self.data()?;
        let train_len = data.train.len();
        if let Some(&bad) = subset.iter().flatten().find(|&&i| i >= train_len) {
            return Err(ServiceError::invalid(format!(
                "subset index {bad} is past the {train_len} training samples"
            )));
        }
        let models = self.lend_features(ids, self.cloned_models(ids)?, spec.features_from)?;
        let stack = Model::stack(&models).map_err(|e| ServiceError::invalid(e.to_string()))?;
        let teacher = match &spec.distill {
            Some(d) => Some(self.model(d.teacher)?.clone()),
            None => None,
        };
        let previous = match spec.reset_optimizer {
            true => None,
            false => self.optimizers.get(ids).cloned(),
        };
        // A state restored from a snapshot or a worker must fit the parameters it updates.
        if let Some(state) = &previous {
            let sizes: Vec<usize> = stack.params().iter().map(|p| p.dims()[0]).collect();
            let fits = |slot: &Vec<Vec<f32>>| slot.iter().map(Vec::len).eq(sizes.iter().copied());
            if !state.optimizer.slots.iter().all(fits) {
                return Err(ServiceError::failed(format!(
                    "the optimiser state of models {ids:?} does not fit their {} parameter \
                     tensors",
                    sizes.len()
                )));
            }
        }
        let samples = subset.as_ref().map_or(train_len, Vec::len);
        let steps_per_epoch = Trainer::steps_per_epoch(samples, spec.batch_size);
        let (trainer, first_step) = match (previous, mode) {
            (Some(state), Continue::InterruptedCall) => {
                let first = state.step - state.epoch as u64 * steps_per_epoch;
                (
                    Trainer::restore(spec, data.task, &state, &self.device),
                    first,
                )
            }
            (Some(state), Continue::NewCall) => {
                let first = state.step;
                let state = TrainerState { epoch: 0, ..state };
                (
                    Trainer::restore(spec, data.task, &state, &self.device),
                    first,
                )
            }
            (None, _) => (Trainer::new(spec, data.task), 0),
        };
        let mut trainer = trainer.map_err(|e| ServiceError::invalid(e.to_string()))?;
        if let Some(teacher) = teacher {
            trainer.set_teacher(teacher);
        }
        Ok(TrainingRun {
            ids: ids.to_vec(),
            stack,
            trainer,
            subset,
            first_step,
            samples: 0,
            last: None,
        })
    }

    /// Trains `run` for one epoch, then writes its members and optimiser state back, so
    /// that between epochs the session holds the models as trained so far.
    pub fn train_epoch(
        &mut self,
        run: &mut TrainingRun,
        on_progress: &mut dyn FnMut(Progress),
    ) -> Result<EpochReport> {
        let data = self
            .data
            .as_ref()
            .ok_or_else(|| ServiceError::failed("no data set is loaded"))?;
        let report = run
            .trainer
            .run_epoch(
                &mut run.stack,
                &data.train,
                run.subset.as_deref(),
                on_progress,
            )
            .map_err(|e| match e {
                TrainError::Config { .. } | TrainError::Loss(_) => {
                    ServiceError::invalid(e.to_string())
                }
                _ => ServiceError::failed(e.to_string()),
            })?;
        for (&id, member) in run.ids.iter().zip(run.stack.unstack()) {
            self.insert_model_as(id, member);
        }
        self.optimizers.insert(run.ids.clone(), run.trainer.state());
        run.samples += report.samples as u64;
        run.last = Some(report.clone());
        Ok(report)
    }

    /// Trains `ids` for all the spec's epochs (see [`Session::start_training`]), stopping
    /// between epochs when the run is cancelled.
    pub fn train(
        &mut self,
        ids: &[ModelId],
        spec: TrainSpec,
        subset: Option<Vec<usize>>,
    ) -> Result<TrainReport> {
        let mut run = self.start_training(ids, spec, subset, Continue::NewCall)?;
        self.run_to_end(&mut run)?;
        Ok(run.report())
    }

    /// [`Session::train`], also returning each trained position's loss and correctness of
    /// the last epoch's training pass: what a selection rule needs without another forward
    /// pass.
    pub fn train_recording(
        &mut self,
        ids: &[ModelId],
        spec: TrainSpec,
        subset: Option<Vec<usize>>,
    ) -> Result<(TrainReport, SampleRecord)> {
        let mut run = self.start_training(ids, spec, subset, Continue::NewCall)?;
        run.record_samples();
        self.run_to_end(&mut run)?;
        let record = run
            .take_record()
            .ok_or_else(|| ServiceError::invalid("training ran no epoch to record"))?;
        Ok((run.report(), record))
    }

    fn run_to_end(&mut self, run: &mut TrainingRun) -> Result<()> {
        while !run.finished() {
            if self.is_cancelled() {
                return Err(ServiceError::cancelled());
            }
            self.train_epoch(run, &mut |_| {})?;
        }
        Ok(())
    }
}
