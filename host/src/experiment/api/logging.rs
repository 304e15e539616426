//! Metrics, parameters from `--set`, and reports.

use rhai::{Dynamic, Engine, Map};
use serde_json::Value;

use super::{Rr, Shared, fail, from_dynamic, journaled, pure, to_dynamic};

pub fn register(engine: &mut Engine, state: &Shared) {
    let s = state.clone();
    engine.register_fn("log_metrics", move |values: Map| -> Rr<Dynamic> {
        let values: serde_json::Map<String, Value> =
            from_dynamic(&Dynamic::from_map(values), "metrics")?;
        journaled(&s, "log_metrics", |st, _, _| {
            st.log_metrics(&values).map(|()| Value::Null)
        })
    });
    let s = state.clone();
    engine.register_fn(
        "param",
        move |name: &str, default: Dynamic| -> Rr<Dynamic> {
            let value = pure(&s, "param", |st| Ok(st.sets.get(name).cloned()))?;
            match value {
                Some(value) => to_dynamic(&value),
                None => Ok(default),
            }
        },
    );
    let s = state.clone();
    engine.register_fn("run_dir", move || -> Rr<String> {
        pure(&s, "run_dir", |st| {
            Ok(st.run_dir.root().display().to_string())
        })
    });
    let s = state.clone();
    engine.register_fn("write_report", move || -> Rr<String> {
        pure(&s, "write_report", |st| {
            crate::experiment::report::write(&st.run_dir)
                .map(|p| p.display().to_string())
                .map_err(|e| e.to_string())
        })
    });
    engine.register_fn("fail", |message: &str| -> Rr<Dynamic> {
        Err(fail(message.to_string()))
    });
}
