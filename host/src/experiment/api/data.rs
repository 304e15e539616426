//! `load_data`: the data set every later call works on.

use rhai::{Dynamic, Engine, Map};
use serde::Deserialize;
use serde_json::json;

use super::{Rr, Shared, from_dynamic, pure, to_dynamic};
use crate::data::{DataSource, DatasetInfo, LimitBy, Normalise, Recipe};

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Options {
    validation: f64,
    /// The share of the validation split set aside as an unseen split that nothing selects
    /// on (read only by `evaluate_unseen`).
    unseen: f64,
    limit_train: Option<usize>,
    limit_test: Option<usize>,
    /// How the limits pick samples: `"first"` or `"random"` (seeded by the run).
    limit_by: LimitBy,
    normalise: Normalise,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            validation: 0.1,
            unseen: 0.0,
            limit_train: None,
            limit_test: None,
            limit_by: LimitBy::First,
            normalise: Normalise::Auto,
        }
    }
}

pub fn register(engine: &mut Engine, state: &Shared) {
    let s = state.clone();
    engine.register_fn("load_data", move |source: &str, options: Map| {
        load(&s, source, &Dynamic::from_map(options))
    });
    let s = state.clone();
    engine.register_fn("load_data", move |source: &str| {
        load(&s, source, &Dynamic::from_map(Map::new()))
    });
}

/// Loads, splits and uploads a data set. It is not journaled: loading is deterministic and
/// the data is not in checkpoints, so a resumed run loads it again.
fn load(state: &Shared, source: &str, options: &Dynamic) -> Rr<Dynamic> {
    let options: Options = from_dynamic(options, "load_data options")?;
    let info = pure(state, "load_data", |st| {
        let mut source: DataSource = source
            .parse()
            .map_err(|e: crate::data::DataError| e.to_string())?;
        source.path = st.roots.readable(&source.path.display().to_string())?;
        let recipe = Recipe {
            source,
            validation: options.validation,
            unseen: options.unseen,
            limit_train: options.limit_train,
            limit_test: options.limit_test,
            limit_by: options.limit_by,
            normalise: options.normalise,
            seed: st.host().seed(),
        };
        let device = st.host().device().clone();
        let loaded = recipe.load(&device).map_err(|e| e.to_string())?;
        let info = DatasetInfo::from(&loaded.dataset);
        let answer = json!({
            "name": info.name,
            "task": info.task,
            "sample_shape": info.sample_shape,
            "train": loaded.train,
            "validation": loaded.validation,
            "unseen": loaded.unseen,
            "test": info.test,
            "classes": loaded.dataset.class_names,
        });
        st.host_mut().set_data_from(recipe, loaded.resident);
        Ok(answer)
    })?;
    to_dynamic(&info)
}
