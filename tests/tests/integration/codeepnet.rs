//! The Co-DeepNet plugin in a real host: turns of exactly k epochs, a transmission-rate hook
//! asked at every swap (so an edit applies from the next one), weights transfer that copies
//! exactly the matching tensors, and a `features` pair whose predictor needs its partner.

use std::cell::Cell;
use std::rc::Rc;

use coevo::plugin::{PluginRun, load};
use coevo::session::Hooks;
use coevo_sdk::{EvalSpec, Host, Split};
use coevo_tests::{cdylib, device_lock, tiny_sequence_host};
use serde_json::{Value, json};

/// A transmission-rate hook whose answer the test changes between steps, as an edit of the
/// script would; it counts its calls.
struct Rate {
    rate: Rc<Cell<u64>>,
    calls: Rc<Cell<usize>>,
}

impl Hooks for Rate {
    fn call(&self, name: &str, args: &Value) -> Result<Option<Value>, String> {
        if name != "transmission_rate" {
            return Ok(None);
        }
        self.calls.set(self.calls.get() + 1);
        // Rate 1 for the first two epochs of every pair, then the current setting.
        let epoch = args[1].as_u64().unwrap_or(0);
        Ok(Some(json!(if epoch < 2 { 1 } else { self.rate.get() })))
    }
}

fn config(transfer: &str, population: usize) -> Value {
    json!({
        "transfer": transfer,
        "epochs": 9,
        "population": population,
        "generations": 0,
        "batch_size": 16,
        "space": {"conv_layers": [1, 2], "filters": [2, 4], "kernels": [3], "pools": [1, 2],
                  "fc_layers": [0, 1], "widths": [4], "rates": [1, 3]}
    })
}

fn start(config: Value, hooks: Option<Box<dyn Hooks>>) -> PluginRun {
    let host = tiny_sequence_host(100, 3);
    if let Some(hooks) = hooks {
        host.state_mut().set_hooks(hooks);
    }
    let path = cdylib("coevo-plugin-codeepnet");
    PluginRun::start(load(&path).unwrap(), config, host).unwrap()
}

#[test]
fn turns_last_k_epochs_and_an_edited_rate_applies_from_the_next_swap() {
    let _device = device_lock();
    let (rate, calls) = (Rc::new(Cell::new(3)), Rc::new(Cell::new(0)));
    let hooks = Rate {
        rate: rate.clone(),
        calls: calls.clone(),
    };
    let mut run = start(config("none", 3), Some(Box::new(hooks)));
    let first = run.step().unwrap().metrics;
    // Epochs 0 and 1 at rate 1, then turns of 3 until the budget of 9 ends the last one early.
    assert_eq!(first["turn_epochs"], json!([1, 1, 3, 3, 1]));
    assert_eq!(calls.get(), 5, "asked once per turn");
    rate.set(2);
    let second = run.step().unwrap().metrics;
    assert_eq!(second["turn_epochs"], json!([1, 1, 2, 2, 2, 1]));
    rate.set(7);
    let third = run.step().unwrap();
    assert_eq!(third.metrics["turn_epochs"], json!([1, 1, 7]));
    assert!(third.done);
    let result = third.result.unwrap();
    let turns = result["best"]["turns"].as_array().unwrap();
    // Turns alternate between the networks and tile the budget.
    let mut next_start = 0;
    for (i, turn) in turns.iter().enumerate() {
        assert_eq!(turn["net"], json!(i % 2));
        assert_eq!(turn["start"], json!(next_start));
        next_start += turn["epochs"].as_u64().unwrap();
    }
    assert_eq!(next_start, 9);
}

#[test]
fn weights_transfer_copies_exactly_the_tensors_whose_names_and_shapes_match() {
    let _device = device_lock();
    let plugin_host = tiny_sequence_host(60, 1);
    // SAFETY: the table lives in `plugin_host`, which outlives `host`.
    let host = unsafe { Host::from_raw(plugin_host.table()) }.unwrap();
    let a = host
        .create_model(
            &json!({"input": [1, 32], "layers": [
                {"type": "conv1d", "out": 4, "kernel": 3, "padding": 1}, {"type": "relu"},
                {"type": "flatten"}, {"type": "linear", "out": 1}]}),
            1,
        )
        .unwrap();
    let b = host
        .create_model(
            &json!({"input": [1, 32], "layers": [
                {"type": "conv1d", "out": 4, "kernel": 3, "padding": 1}, {"type": "relu"},
                {"type": "conv1d", "out": 2, "kernel": 3, "padding": 1}, {"type": "relu"},
                {"type": "flatten"}, {"type": "linear", "out": 1}]}),
            2,
        )
        .unwrap();
    let (before_a, before_b) = (host.read_params(a).unwrap(), host.read_params(b).unwrap());
    // `0.weight` [4, 1, 3] and `0.bias` [4] match; A's `3.*` and B's `2.*`, `5.*` do not.
    assert_eq!(host.transfer(a, b).unwrap(), 16);
    let after = host.read_params(b).unwrap();
    assert_eq!(after[..16], before_a[..16]);
    assert_eq!(after[16..], before_b[16..]);
    assert_ne!(before_b[..16], before_a[..16]);
}

#[test]
fn a_features_pair_predicts_through_its_partner_and_the_result_names_it() {
    let _device = device_lock();
    let mut run = start(config("features", 2), None);
    let result = loop {
        let report = run.step().unwrap();
        if report.done {
            break report.result.unwrap();
        }
    };
    let models = &result["models"];
    let predictor = models["predictor"].as_u64().unwrap();
    let from: coevo_sdk::FeatureSource =
        serde_json::from_value(models["features_from"].clone()).unwrap();
    let pair: Vec<u64> = serde_json::from_value(models["pair"].clone()).unwrap();
    assert!(pair.contains(&predictor) && pair.contains(&from.model) && predictor != from.model);
    let host = run.host();
    let spec = |features_from| EvalSpec {
        split: Split::Validation,
        features_from,
        ..EvalSpec::default()
    };
    let state = host.state();
    let with = state
        .evaluate(&[predictor], &spec(Some(from)), false, false)
        .unwrap();
    let mae = with.metrics.members[0].mae.unwrap();
    let reported = result["best"]["validation"]["mae"].as_f64().unwrap();
    assert!((mae - reported).abs() < 1e-6, "{mae} against {reported}");
    let without = state.evaluate(&[predictor], &spec(None), false, false);
    assert!(without.unwrap_err().message.contains("features_from"));
    // Every pair but the champion's was freed.
    assert_eq!(state.model_ids().len(), 2);
    // The baselines are specs the host builds, the double about twice a member's size.
    let baselines = &result["baselines"];
    let member = baselines["member_params"].as_array().unwrap();
    let larger = member.iter().map(|p| p.as_u64().unwrap()).max().unwrap();
    let double = baselines["double_params"].as_u64().unwrap();
    assert!(
        double >= 2 * larger && double < 3 * larger,
        "{double} for {larger}"
    );
}
