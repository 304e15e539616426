//! `train`, `evaluate` and `evaluate_test`.

use coevo_sdk::{EvalSpec, Split, TrainSpec};
use rhai::{Dynamic, Engine, Map};
use serde_json::{Value, json};

use super::{Rr, Shared, from_dynamic, ids, journaled};
use crate::experiment::journal::InProgress;
use crate::experiment::state::RunState;
use crate::model::Model;
use crate::train::{EvalOptions, Trainer, TrainerState, default_loss, evaluate};

pub fn register(engine: &mut Engine, state: &Shared) {
    let s = state.clone();
    engine.register_fn("train", move |models: Dynamic, spec: Map| -> Rr<Dynamic> {
        let ids = ids(&models)?;
        let spec: TrainSpec = from_dynamic(&Dynamic::from_map(spec), "train spec")?;
        journaled(&s, "train", |st, call, resume| {
            train(st, call, resume, &ids, spec)
        })
    });
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
}

/// Trains `ids` as one stack, epoch by epoch, with a checkpoint after each epoch.
fn train(
    st: &mut RunState,
    call: u64,
    resume: Option<InProgress>,
    ids: &[u64],
    spec: TrainSpec,
) -> Result<Value, String> {
    let (members, teacher, split, task, device) = {
        let host = st.host();
        let members = ids
            .iter()
            .map(|&id| host.model(id).cloned().map_err(|e| e.message))
            .collect::<Result<Vec<Model>, _>>()?;
        let teacher = match &spec.distill {
            Some(d) => Some(host.model(d.teacher).cloned().map_err(|e| e.message)?),
            None => None,
        };
        let data = host.data().map_err(|e| e.message)?;
        (
            members,
            teacher,
            data.train.clone(),
            data.task,
            host.device().clone(),
        )
    };
    let mut stack = Model::stack(&members).map_err(|e| e.to_string())?;
    let previous = st.host().optimizer_states().get(ids).cloned();
    let mut trainer = match (&resume, previous) {
        // Continuing this very call: the state after its last completed epoch.
        (Some(_), Some(state)) => Trainer::restore(spec, task, &state, &device),
        // A new call on models trained before: their momentum carries over.
        (None, Some(state)) => {
            Trainer::restore(spec, task, &TrainerState { epoch: 0, ..state }, &device)
        }
        (_, None) => Trainer::new(spec, task),
    }
    .map_err(|e| e.to_string())?;
    if let Some(teacher) = teacher {
        trainer.set_teacher(teacher);
    }
    let mut last = Vec::new();
    while !trainer.finished() {
        let report = trainer
            .run_epoch(&mut stack, &split, None, &mut |_| {})
            .map_err(|e| e.to_string())?;
        {
            let mut host = st.host_mut();
            for (&id, member) in ids.iter().zip(stack.unstack()) {
                host.insert_model_as(id, member);
            }
            host.set_optimizer_state(ids.to_vec(), trainer.state());
        }
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
        last = report.train_loss;
    }
    Ok(json!({ "steps": trainer.state().step, "train_loss": last }))
}

fn scores(st: &RunState, ids: &[u64], spec: &EvalSpec) -> Result<Value, String> {
    let evaluation = st
        .host()
        .evaluate(ids, spec, false, false)
        .map_err(|e| e.message)?;
    serde_json::to_value(coevo_sdk::Evaluation {
        members: evaluation.members,
        ensemble: evaluation.ensemble,
        diagnostics: evaluation.diagnostics,
    })
    .map_err(|e| e.to_string())
}

/// The test split, read for the final report: the only way a script reaches it.
fn final_report(st: &RunState, ids: &[u64], options: &TestOptions) -> Result<Value, String> {
    let host = st.host();
    let data = host.data().map_err(|e| e.message)?;
    let members = ids
        .iter()
        .map(|&id| host.model(id).cloned().map_err(|e| e.message))
        .collect::<Result<Vec<Model>, _>>()?;
    let stack = Model::stack(&members).map_err(|e| e.to_string())?;
    let evaluation = evaluate(
        &stack,
        data.test_for_final_report(),
        default_loss(data.task),
        EvalOptions {
            combination: options.combination,
            diagnostics: options.diagnostics,
            ..EvalOptions::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let _ = st.run_dir.event(
        "test_evaluation",
        json!({ "models": ids, "step": st.step.get() }),
    );
    serde_json::to_value(coevo_sdk::Evaluation {
        members: evaluation.members,
        ensemble: evaluation.ensemble,
        diagnostics: evaluation.diagnostics,
    })
    .map_err(|e| e.to_string())
}
