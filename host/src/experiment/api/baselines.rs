//! `elastic_net`: the ElasticNet baseline on the loaded data, journaled like training so that a
//! resumed run replays its result instead of fitting again.

use rhai::{Dynamic, Engine, Map};

use super::{Rr, Shared, from_dynamic, journaled};
use crate::train::elastic_net::ElasticNetOptions;

pub fn register(engine: &mut Engine, state: &Shared) {
    let s = state.clone();
    engine.register_fn("elastic_net", move |options: Map| -> Rr<Dynamic> {
        let options: ElasticNetOptions =
            from_dynamic(&Dynamic::from_map(options), "elastic_net options")?;
        journaled(&s, "elastic_net", |st, _, _| {
            let report = st.host().elastic_net(&options).map_err(|e| e.message)?;
            let _ = st.run_dir.event(
                "test_evaluation",
                serde_json::json!({ "baseline": "elastic_net", "step": st.step.get() }),
            );
            serde_json::to_value(report).map_err(|e| e.to_string())
        })
    });
}
