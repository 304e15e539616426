//! The evolutionary synthesis plugin in a real host: an environment hook asked once per
//! generation (so an edit sets the next generation's density), champions compacted into
//! networks that compute what the masked ones do, the baselines keeping exactly the counts
//! given, and the lottery ticket rewound to the ancestor's initial weights.

use std::cell::Cell;
use std::rc::Rc;

use coevo::plugin::{PluginRun, load};
use coevo::session::Hooks;
use coevo_sdk::EvalSpec;
use coevo_tests::{cdylib, device_lock, tiny_host};
use serde_json::{Value, json};

/// An environment whose factor the test changes between generations, as an edit of the
/// script would; it counts its calls.
struct Environment {
    factor: Rc<Cell<f64>>,
    calls: Rc<Cell<usize>>,
}

impl Hooks for Environment {
    fn call(&self, name: &str, _args: &Value) -> Result<Option<Value>, String> {
        if name != "environment" {
            return Ok(None);
        }
        self.calls.set(self.calls.get() + 1);
        Ok(Some(json!({ "synapse": self.factor.get() })))
    }
}

fn start(config: Value, hooks: Option<Box<dyn Hooks>>) -> PluginRun {
    let host = tiny_host(200, 4);
    if let Some(hooks) = hooks {
        host.state_mut().set_hooks(hooks);
    }
    let path = cdylib("coevo-plugin-darwin");
    PluginRun::start(load(&path).unwrap(), config, host).unwrap()
}

fn config(extra: Value) -> Value {
    let mut config = json!({
        "model": {"preset": "mlp"},
        "generations": 2,
        "offspring": 1,
        "ancestor_epochs": 1,
        "epochs": 1,
        "batch_size": 32,
        "timing_repeats": 1,
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    config
}

fn finish(run: &mut PluginRun) -> Value {
    for _ in 0..100 {
        let report = run.step().unwrap();
        if report.done {
            return report.result.unwrap();
        }
    }
    panic!("no end after 100 steps");
}

#[test]
fn an_edited_environment_sets_the_next_generations_density() {
    let _device = device_lock();
    let (factor, calls) = (Rc::new(Cell::new(2.0)), Rc::new(Cell::new(0)));
    let hooks = Environment {
        factor: factor.clone(),
        calls: calls.clone(),
    };
    let mut run = start(config(json!({"offspring": 2})), Some(Box::new(hooks)));
    let ancestor = run.step().unwrap().metrics;
    assert_eq!(calls.get(), 0, "the ancestor is not sampled");
    run.step().unwrap();
    let first = run.step().unwrap().metrics;
    assert_eq!(calls.get(), 1, "asked once per generation");
    // The script is edited: the next generation lives in a harsher environment.
    factor.set(0.1);
    run.step().unwrap();
    let second = run.step().unwrap().metrics;
    assert_eq!(calls.get(), 2);
    let density =
        |m: &Value, of: &Value| m["synapses"].as_f64().unwrap() / of["synapses"].as_f64().unwrap();
    // F = 2 keeps each synapse with probability ≥ 2/e; F = 0.1 with at most 0.1.
    assert!(density(&first, &ancestor) > 0.7, "{first} {ancestor}");
    assert!(density(&second, &first) < 0.12, "{second} {first}");
}

#[test]
fn champions_compact_into_networks_that_compute_what_the_masked_ones_do() {
    let _device = device_lock();
    let mut run = start(config(json!({"level": "cluster"})), None);
    let result = finish(&mut run);
    let host = run.host();
    let spec = EvalSpec::default();
    for generation in result["generations"].as_array().unwrap() {
        let (masked, small) = (
            generation["model"].as_u64().unwrap(),
            generation["compact"].as_u64().unwrap(),
        );
        let state = host.state();
        let full = state.model(masked).unwrap().param_count();
        let compact = state.model(small).unwrap().param_count();
        drop(state);
        assert_eq!(generation["compact_params"], json!(compact));
        if generation["generation"] != json!(0) {
            assert!(compact < full, "{compact} of {full} parameters");
        }
        let a = host
            .state()
            .evaluate(&[masked], &spec, false, true)
            .unwrap();
        let b = host.state().evaluate(&[small], &spec, false, true).unwrap();
        let (pa, pb) = (a.probabilities.unwrap(), b.probabilities.unwrap());
        for (x, y) in pa.iter().zip(&pb) {
            assert!((x - y).abs() < 1e-5, "masked {x} vs compacted {y}");
        }
    }
}

#[test]
fn the_baselines_keep_exactly_the_counts_given() {
    let _device = device_lock();
    let counts = json!([
        {"synapses": [20000, 3000, 600], "clusters": [200, 90]},
        {"synapses": [5000, 600, 200], "clusters": [100, 40]}
    ]);
    for method in ["magnitude", "random", "lottery"] {
        let mut run = start(
            config(json!({"method": method, "level": "both", "counts": counts})),
            None,
        );
        let result = finish(&mut run);
        for (generation, given) in result["generations"].as_array().unwrap()[1..]
            .iter()
            .zip(counts.as_array().unwrap())
        {
            // A cluster none of whose synapses is chosen goes too.
            let clusters = generation["counts"]["clusters"].as_array().unwrap();
            for (kept, most) in clusters.iter().zip(given["clusters"].as_array().unwrap()) {
                assert!(kept.as_u64() <= most.as_u64(), "{method}: {clusters:?}");
            }
            assert_eq!(
                generation["counts"]["synapses"], given["synapses"],
                "{method}"
            );
            let layers = generation["layers"].as_array().unwrap();
            let present: Vec<u64> = layers
                .iter()
                .map(|l| l["synapses"].as_u64().unwrap())
                .collect();
            assert_eq!(
                json!(present),
                given["synapses"],
                "{method}: the trained network keeps them"
            );
        }
    }
}

#[test]
fn the_lottery_ticket_starts_from_the_ancestors_initial_weights() {
    let _device = device_lock();
    let mut run = start(
        config(json!({"method": "lottery", "epochs": 0, "generations": 1})),
        None,
    );
    run.step().unwrap();
    let snapshot = run.snapshot().unwrap();
    let init = snapshot["state"]["init"]
        .as_u64()
        .or_else(|| snapshot["init"].as_u64())
        .unwrap_or_else(|| panic!("the snapshot names the initial weights: {snapshot}"));
    let result = finish(&mut run);
    let ticket = result["model"].as_u64().unwrap();
    let state = run.host().state();
    let (theta0, ticket) = (
        state.model(init).unwrap().flat_params(),
        state.model(ticket).unwrap().flat_params(),
    );
    let ancestor = state
        .model(result["ancestor"].as_u64().unwrap())
        .unwrap()
        .flat_params();
    let mut kept = 0;
    for ((t, w0), a) in ticket.iter().zip(&theta0).zip(&ancestor) {
        assert!(*t == 0.0 || t == w0, "a survivor is rewound: {t} vs {w0}");
        kept += usize::from(*t != 0.0);
        assert!(
            *t == 0.0 || *a != 0.0,
            "only the ancestor's synapses survive"
        );
    }
    assert!(kept > 0 && kept < ticket.len());
}

#[test]
fn given_ancestors_are_copied_and_fresh_offspring_take_their_architecture() {
    let _device = device_lock();
    let host = tiny_host(200, 4);
    let ancestor = host
        .state_mut()
        .create_model(&json!({"preset": "mlp"}), 3)
        .unwrap();
    let before = host.state().model(ancestor).unwrap().flat_params();
    let path = cdylib("coevo-plugin-darwin");
    let config = config(json!({"ancestors": [ancestor], "inherit": false, "model": "ignored"}));
    let mut run = PluginRun::start(load(&path).unwrap(), config, host).unwrap();
    let result = finish(&mut run);
    let state = run.host().state();
    assert_eq!(
        state.model(ancestor).unwrap().flat_params(),
        before,
        "the given one is kept"
    );
    let first = result["generations"][0]["model"].as_u64().unwrap();
    assert_eq!(
        state.model(first).unwrap().flat_params(),
        before,
        "generation 0 is a copy"
    );
    let last = state.model(result["model"].as_u64().unwrap()).unwrap();
    assert_eq!(last.param_count(), before.len());
}
