//! `load_data`: the data set every later call works on.

use rhai::{Dynamic, Engine, Map};
use serde::Deserialize;
use serde_json::json;

use super::{Rr, Shared, from_dynamic, pure, to_dynamic};
use crate::data::{DataSource, DatasetInfo, Holdout, Normalise, ResidentData, Splits};
use crate::seed;

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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum LimitBy {
    #[default]
    First,
    Random,
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
        let mut data = source.load().map_err(|e| e.to_string())?;
        match options.limit_by {
            LimitBy::First => data.truncate(options.limit_train, options.limit_test),
            LimitBy::Random => data.sample(
                options.limit_train,
                options.limit_test,
                seed::derive(st.host().seed(), "limit", 0),
            ),
        }
        let split_seed = seed::derive(st.host().seed(), "split", 0);
        let splits = Splits::of(&data, Holdout::Fraction(options.validation), split_seed)
            .map_err(|e| e.to_string())?;
        let unseen_seed = seed::derive(st.host().seed(), "unseen", 0);
        let (validation, unseen) = splits
            .set_aside(&data, options.unseen, unseen_seed)
            .map_err(|e| format!("load_data options.unseen: {e}"))?;
        let device = st.host().device().clone();
        let resident = ResidentData::upload_with_unseen(
            &data,
            &validation,
            &unseen,
            options.normalise,
            &device,
        );
        st.host_mut().set_data(resident);
        let info = DatasetInfo::from(&data);
        Ok(json!({
            "name": info.name,
            "task": info.task,
            "sample_shape": info.sample_shape,
            "train": splits.train.len(),
            "validation": validation.len(),
            "unseen": unseen.len(),
            "test": info.test,
            "classes": data.class_names,
        }))
    })?;
    to_dynamic(&info)
}
