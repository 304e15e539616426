//! Models: presets, creation, copies, blends, perturbation, saving and loading.

use rhai::{Array, Dynamic, Engine, INT, Map};
use serde_json::{Value, json};

use super::{Rr, Shared, from_dynamic, ids, journaled, pure, to_dynamic};
use coevo_sdk::{Coefficients, Noise};

use crate::experiment::state::RunState;
use crate::seed;

pub fn register(engine: &mut Engine, state: &Shared) {
    let s = state.clone();
    engine.register_fn("preset", move |name: &str| -> Rr<Dynamic> {
        let spec = pure(&s, "preset", |st| {
            st.host()
                .spec_from_json(&json!({ "preset": name }))
                .map_err(|e| e.message)
        })?;
        to_dynamic(&spec)
    });
    let s = state.clone();
    engine.register_fn("model", move |spec: Dynamic, seed: INT| {
        create(&s, &spec, Some(seed as u64))
    });
    let s = state.clone();
    engine.register_fn("model", move |spec: Dynamic| create(&s, &spec, None));
    let s = state.clone();
    engine.register_fn("clone_model", move |id: INT| -> Rr<Dynamic> {
        journaled(&s, "clone_model", |st, _, _| {
            st.host_mut()
                .clone_model(id as u64)
                .map(|id| json!(id))
                .map_err(|e| e.message)
        })
    });
    let s = state.clone();
    engine.register_fn(
        "spawn_children",
        move |id: INT, count: INT| -> Rr<Dynamic> {
            journaled(&s, "spawn_children", |st, _, _| {
                let count = usize::try_from(count)
                    .map_err(|_| format!("spawn_children: {count} children"))?;
                st.host_mut()
                    .spawn(id as u64, count)
                    .map(|ids| json!(ids))
                    .map_err(|e| e.message)
            })
        },
    );
    let s = state.clone();
    engine.register_fn("align", move |reference: INT, id: INT| -> Rr<Dynamic> {
        journaled(&s, "align", |st, call, _| {
            let seed = seed::derive(st.host().seed(), "align", call);
            st.host_mut()
                .align(reference as u64, id as u64, seed)
                .map(|id| json!(id))
                .map_err(|e| e.message)
        })
    });
    let s = state.clone();
    engine.register_fn("transfer", move |from: INT, to: INT| -> Rr<Dynamic> {
        journaled(&s, "transfer", |st, _, _| {
            let copied = st
                .host_mut()
                .transfer(from as u64, to as u64)
                .map_err(|e| e.message)?;
            serde_json::to_value(copied).map_err(|e| e.to_string())
        })
    });
    let s = state.clone();
    engine.register_fn("compact", move |id: INT| -> Rr<Dynamic> {
        journaled(&s, "compact", |st, _, _| {
            st.host_mut()
                .compact(id as u64)
                .map(|id| json!(id))
                .map_err(|e| e.message)
        })
    });
    let s = state.clone();
    engine.register_fn("free_model", move |id: INT| -> Rr<Dynamic> {
        journaled(&s, "free_model", |st, _, _| {
            st.host_mut()
                .free_model(id as u64)
                .map(|()| Value::Null)
                .map_err(|e| e.message)
        })
    });
    let s = state.clone();
    engine.register_fn("param_count", move |id: INT| -> Rr<Dynamic> {
        journaled(&s, "param_count", |st, _, _| {
            st.host()
                .model(id as u64)
                .map(|m| json!(m.param_count()))
                .map_err(|e| e.message)
        })
    });
    let s = state.clone();
    engine.register_fn(
        "blend",
        move |models: Array, coefficients: Dynamic| -> Rr<Dynamic> {
            let ids = ids(&Dynamic::from_array(models))?;
            let coefficients = coefficients_from(&coefficients)?;
            journaled(&s, "blend", |st, _, _| {
                st.host_mut()
                    .blend(&ids, coefficients)
                    .map(|id| json!(id))
                    .map_err(|e| e.message)
            })
        },
    );
    let s = state.clone();
    engine.register_fn("perturb", move |id: INT, options: Map| -> Rr<Dynamic> {
        let options: Value = from_dynamic(&Dynamic::from_map(options), "perturb options")?;
        journaled(&s, "perturb", |st, call, _| {
            perturb(st, id as u64, &options, call)
        })
    });
    let s = state.clone();
    engine.register_fn("save_model", move |id: INT, path: &str| -> Rr<Dynamic> {
        journaled(&s, "save_model", |st, _, _| {
            let target = st.roots.writable(path)?;
            st.host()
                .save_model(id as u64, &target)
                .map_err(|e| e.message)?;
            Ok(json!(target.display().to_string()))
        })
    });
    let s = state.clone();
    engine.register_fn("load_model", move |path: &str| -> Rr<Dynamic> {
        journaled(&s, "load_model", |st, _, _| {
            let source = st.roots.readable(path)?;
            let id = st.host_mut().load_model(&source).map_err(|e| e.message)?;
            Ok(json!(id))
        })
    });
}

fn create(state: &Shared, spec: &Dynamic, seed: Option<u64>) -> Rr<Dynamic> {
    let spec: Value = match spec.clone().into_string() {
        Ok(name) => json!({ "preset": name }),
        Err(_) => from_dynamic(spec, "model spec")?,
    };
    journaled(state, "model", |st, call, _| {
        let seed = seed.unwrap_or_else(|| seed::derive(st.host().seed(), "model", call));
        st.host_mut()
            .create_model(&spec, seed)
            .map(|id| json!(id))
            .map_err(|e| e.message)
    })
}

/// Blend coefficients from a script: an array (one per model), or a map with `per_layer` or
/// `per_element`, model-major.
fn coefficients_from(value: &Dynamic) -> Rr<Coefficients> {
    if value.is_array() {
        return from_dynamic(value, "blend coefficients").map(Coefficients::Whole);
    }
    let map: std::collections::BTreeMap<String, Vec<f32>> =
        from_dynamic(value, "blend coefficients")?;
    match map.into_iter().collect::<Vec<_>>().as_slice() {
        [(kind, c)] if kind == "per_layer" => Ok(Coefficients::PerLayer(c.clone())),
        [(kind, c)] if kind == "per_element" => Ok(Coefficients::PerElement(c.clone())),
        _ => Err(super::fail(
            "blend coefficients: an array (one per model), #{per_layer: [...]} or #{per_element: [...]}",
        )),
    }
}

fn perturb(st: &mut RunState, id: u64, options: &Value, call: u64) -> Result<Value, String> {
    let number =
        |key: &str, default: f64| options.get(key).and_then(Value::as_f64).unwrap_or(default);
    let noise = Noise {
        sigma: number("sigma", 0.01),
        probability: number("probability", 1.0),
        per_tensor: options
            .get("per_tensor")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        seed: options
            .get("seed")
            .and_then(Value::as_u64)
            .unwrap_or_else(|| seed::derive(st.host().seed(), "perturb", call)),
    };
    st.host_mut()
        .add_noise(id, noise)
        .map(|()| Value::Null)
        .map_err(|e| format!("perturb: {}", e.message))
}
