//! `train`, `evaluate`, `evaluate_test` and `evaluate_unseen`.

use coevo_sdk::{EvalSpec, Split, TrainSpec};
use rhai::{Dynamic, Engine, Map};
use serde_json::{Value, json};

use super::{Rr, Shared, from_dynamic, ids, journaled};
use crate::experiment::journal::InProgress;
use crate::experiment::state::RunState;
use crate::session::{Continue, FinalReport, Reported};

pub fn register(engine: &mut Engine, state: &Shared) {
    let s = state.clone();
    engine.register_fn("train", move |models: Dynamic, spec: Map| -> Rr<Dynamic> {
        let ids = ids(&models)?;
        let spec: TrainSpec = from_dynamic(&Dynamic::from_map(spec), "train spec")?;
        journaled(&s, "train", |st, call, resume| {
            train(st, call, resume, &ids, spec, None)
        })
    });
    let s = state.clone();
    engine.register_fn(
        "train",
        move |models: Dynamic, spec: Map, subset: rhai::Array| -> Rr<Dynamic> {
            let ids = ids(&models)?;
            let spec: TrainSpec = from_dynamic(&Dynamic::from_map(spec), "train spec")?;
            let subset: Vec<usize> = from_dynamic(&Dynamic::from_array(subset), "training subset")?;
            journaled(&s, "train", |st, call, resume| {
                train(st, call, resume, &ids, spec, Some(subset))
            })
        },
    );
    let s = state.clone();
    engine.register_fn(
        "evaluate",
        move |models: Dynamic, spec: Map| -> Rr<Dynamic> {
            let ids = ids(&models)?;
            let spec: EvalSpec = from_dynamic(&Dynamic::from_map(spec), "evaluate options")?;
            journaled(&s, "evaluate", |st, _, _| scores(st, &ids, &spec))
        },
    );
    let s = state.clone();
    engine.register_fn("evaluate", move |models: Dynamic| -> Rr<Dynamic> {
        let ids = ids(&models)?;
        journaled(&s, "evaluate", |st, _, _| {
            scores(
                st,
                &ids,
                &EvalSpec {
                    split: Split::Validation,
                    ..EvalSpec::default()
                },
            )
        })
    });
    for (name, split) in [
        ("evaluate_test", Reported::Test),
        ("evaluate_unseen", Reported::Unseen),
    ] {
        let s = state.clone();
        engine.register_fn(name, move |models: Dynamic| -> Rr<Dynamic> {
            let ids = ids(&models)?;
            journaled(&s, name, |st, _, _| {
                final_report(st, &ids, split, &TestOptions::default())
            })
        });
        let s = state.clone();
        engine.register_fn(name, move |models: Dynamic, options: Map| -> Rr<Dynamic> {
            let ids = ids(&models)?;
            let options: TestOptions =
                from_dynamic(&Dynamic::from_map(options), &format!("{name} options"))?;
            journaled(&s, name, |st, _, _| final_report(st, &ids, split, &options))
        });
    }
}

/// What `evaluate_test` and `evaluate_unseen` may be asked besides the models: the split is
/// always the one the function names.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
struct TestOptions {
    combination: coevo_sdk::Combination,
    diagnostics: bool,
    /// Return each model's predictions and the targets (regression, in target units).
    predictions: bool,
    /// The partner whose trunk feeds the models' join layer.
    features_from: Option<coevo_sdk::FeatureSource>,
}

/// Points of the training loss a `train` call logs, about.
const LOSS_POINTS: usize = 50;

/// Trains `ids` as one stack through the session, with a checkpoint after each epoch; logs
/// the loss every few steps and, after each epoch, its mean, the learning rate and the
/// validation metrics (over members, when several train together).
fn train(
    st: &mut RunState,
    call: u64,
    resume: Option<InProgress>,
    ids: &[u64],
    spec: TrainSpec,
    subset: Option<Vec<usize>>,
) -> Result<Value, String> {
    let mode = match resume {
        Some(_) => Continue::InterruptedCall,
        None => Continue::NewCall,
    };
    let epochs = spec.epochs.max(1);
    let mut run = st
        .host()
        .start_training(ids, spec, subset, mode)
        .map_err(|e| e.message)?;
    let validation = st.host().dataset_info().map_or(0, |d| d.validation) > 0;
    while !run.finished() {
        // The loss of the last steps, about LOSS_POINTS times over the call, so that a short
        // run still draws a curve.
        let mut points: Vec<(usize, f64)> = Vec::new();
        let mut last = 0;
        let report = st
            .host_mut()
            .train_epoch(&mut run, &mut |p| {
                let every = (p.steps_in_epoch * epochs / LOSS_POINTS).max(1);
                let end = p.step_in_epoch == p.steps_in_epoch;
                if let (Some(loss), true) = (p.loss, end || p.step_in_epoch - last >= every) {
                    points.push((p.step_in_epoch, loss));
                    last = p.step_in_epoch;
                }
            })
            .map_err(|e| e.message)?;
        let steps = report.steps.max(1) as f64;
        for (step, loss) in points {
            let mut values = serde_json::Map::new();
            values.insert("batch_loss".into(), json!(loss));
            let at = (report.epoch - 1) as f64 + step as f64 / steps;
            values.insert("batch_epoch".into(), json!(at));
            st.log_metrics(&values)?;
        }
        let mean = report.train_loss.iter().sum::<f64>() / report.train_loss.len().max(1) as f64;
        let mut values = serde_json::Map::new();
        values.insert("epoch".into(), json!(report.epoch));
        values.insert("train_loss".into(), json!(mean));
        values.insert("lr".into(), json!(report.lr));
        if validation {
            let spec = EvalSpec::default();
            let evaluation = st
                .host()
                .evaluate(ids, &spec, false, false)
                .map_err(|e| e.message)?;
            let members = &evaluation.metrics.members;
            let mean_of = |f: fn(&coevo_sdk::Metrics) -> Option<f64>| {
                let v: Vec<f64> = members.iter().filter_map(f).collect();
                (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
            };
            values.insert("val_loss".into(), json!(mean_of(|m| Some(m.loss))));
            for (name, value) in [
                ("val_accuracy", mean_of(|m| m.accuracy)),
                ("val_mae", mean_of(|m| m.mae)),
            ] {
                if let Some(v) = value {
                    values.insert(name.into(), json!(v));
                }
            }
        }
        st.log_metrics(&values)?;
        let progress = InProgress {
            call,
            kind: "train".into(),
            state: json!({ "epochs": report.epoch }),
        };
        st.checkpoint(Some(progress.clone()))?;
        st.stop_if_cancelled(Some(progress))?;
    }
    serde_json::to_value(run.report()).map_err(|e| e.to_string())
}

fn scores(st: &RunState, ids: &[u64], spec: &EvalSpec) -> Result<Value, String> {
    let evaluation = st
        .host()
        .evaluate(ids, spec, false, false)
        .map_err(|e| e.message)?;
    serde_json::to_value(evaluation.metrics).map_err(|e| e.to_string())
}

/// The test split (or the unseen one), read for the final report: the only way a script
/// reaches it.
fn final_report(
    st: &RunState,
    ids: &[u64],
    split: Reported,
    options: &TestOptions,
) -> Result<Value, String> {
    let evaluation = st
        .host()
        .evaluate_for_final_report(
            ids,
            FinalReport {
                split,
                combination: options.combination,
                diagnostics: options.diagnostics,
                predictions: options.predictions,
                features_from: options.features_from,
            },
        )
        .map_err(|e| e.message)?;
    let event = match split {
        Reported::Test => "test_evaluation",
        Reported::Unseen => "unseen_evaluation",
    };
    let _ = st
        .run_dir
        .event(event, json!({ "models": ids, "step": st.step.get() }));
    let mut value = serde_json::to_value(evaluation.metrics).map_err(|e| e.to_string())?;
    if let (Some(predictions), Some(targets)) = (evaluation.predictions, evaluation.targets) {
        value["predictions"] = json!(predictions);
        value["targets"] = json!(targets);
    }
    Ok(value)
}
