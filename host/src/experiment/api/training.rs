//! `train`, `evaluate` and `evaluate_test`.

use coevo_sdk::{EvalSpec, Split, TrainSpec};
use rhai::{Dynamic, Engine, Map};
use serde_json::{Value, json};

use super::{Rr, Shared, from_dynamic, ids, journaled};
use crate::experiment::journal::InProgress;
use crate::experiment::state::RunState;
use crate::session::{Continue, FinalReport};

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
    let s = state.clone();
    engine.register_fn("evaluate_test", move |models: Dynamic| -> Rr<Dynamic> {
        let ids = ids(&models)?;
        journaled(&s, "evaluate_test", |st, _, _| {
            final_report(st, &ids, &TestOptions::default())
        })
    });
    let s = state.clone();
    engine.register_fn(
        "evaluate_test",
        move |models: Dynamic, options: Map| -> Rr<Dynamic> {
            let ids = ids(&models)?;
            let options: TestOptions =
                from_dynamic(&Dynamic::from_map(options), "evaluate_test options")?;
            journaled(&s, "evaluate_test", |st, _, _| {
                final_report(st, &ids, &options)
            })
        },
    );
}

/// What `evaluate_test` may be asked besides the models: the split is always the test split.
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

/// Trains `ids` as one stack through the session, with a checkpoint after each epoch.
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
    let mut run = st
        .host()
        .start_training(ids, spec, subset, mode)
        .map_err(|e| e.message)?;
    while !run.finished() {
        let report = st
            .host_mut()
            .train_epoch(&mut run, &mut |_| {})
            .map_err(|e| e.message)?;
        let mean = report.train_loss.iter().sum::<f64>() / report.train_loss.len().max(1) as f64;
        let mut values = serde_json::Map::new();
        values.insert("epoch".into(), json!(report.epoch));
        values.insert("train_loss".into(), json!(mean));
        values.insert("lr".into(), json!(report.lr));
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

/// The test split, read for the final report: the only way a script reaches it.
fn final_report(st: &RunState, ids: &[u64], options: &TestOptions) -> Result<Value, String> {
    let evaluation = st
        .host()
        .evaluate_for_final_report(
            ids,
            FinalReport {
                combination: options.combination,
                diagnostics: options.diagnostics,
                predictions: options.predictions,
                features_from: options.features_from,
            },
        )
        .map_err(|e| e.message)?;
    let _ = st.run_dir.event(
        "test_evaluation",
        json!({ "models": ids, "step": st.step.get() }),
    );
    let mut value = serde_json::to_value(evaluation.metrics).map_err(|e| e.to_string())?;
    if let (Some(predictions), Some(targets)) = (evaluation.predictions, evaluation.targets) {
        value["predictions"] = json!(predictions);
        value["targets"] = json!(targets);
    }
    Ok(value)
}
