//! The CEST plugin and the host services it stands on, in a real host: one pass of per-sample
//! results scores a population as a forward pass per subset would, the ledger matches a hand
//! count, and a bad index is named.

use coevo::plugin::{PluginRun, load};
use coevo_sdk::{EvalSpec, Host, Split, TrainSpec};
use coevo_tests::{cdylib, device_lock, tiny_host};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

fn mlp() -> Value {
    json!({"input": [1, 28, 28], "layers": [{"type": "flatten"}, {"type": "linear", "out": 16},
        {"type": "relu"}, {"type": "linear", "out": 10}]})
}

fn train_split(subset: Option<Vec<u32>>) -> EvalSpec {
    EvalSpec {
        split: Split::Train,
        subset,
        ..EvalSpec::default()
    }
}

#[test]
fn a_population_scored_from_one_pass_matches_a_forward_pass_per_subset() {
    let _device = device_lock();
    let plugin_host = tiny_host(300, 1);
    // SAFETY: the table lives in `plugin_host`, which outlives `host`.
    let host = unsafe { Host::from_raw(plugin_host.table()) }.unwrap();
    let model = host.create_model(&mlp(), 3).unwrap();
    let spec = TrainSpec {
        epochs: 1,
        batch_size: 32,
        ..TrainSpec::default()
    };
    // A little training, so that the model is right about some samples and not others.
    host.train(&[model], &spec, None).unwrap();
    let results = host.sample_results(model, &train_split(None)).unwrap();
    assert_eq!(results.len(), 240);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    // Subsets with repeats, as index prey have.
    let population: Vec<Vec<u32>> = (0..6)
        .map(|_| (0..50).map(|_| rng.random_range(0..240)).collect())
        .collect();
    let scored = results.score_population(&population).unwrap();
    for (subset, stats) in population.iter().zip(&scored) {
        let plain = host
            .evaluate(&[model], &train_split(Some(subset.clone())))
            .unwrap();
        let m = &plain.members[0];
        assert_eq!(m.samples, stats.size);
        assert!(
            (m.accuracy.unwrap() - stats.accuracy).abs() < 1e-9,
            "{m:?} {stats:?}"
        );
        assert!((m.loss - stats.loss).abs() < 1e-4, "{m:?} {stats:?}");
    }
    assert!(
        scored.iter().any(|s| s.accuracy > 0.0 && s.accuracy < 1.0),
        "the model should be right about some samples and wrong about others"
    );

    // The training pass measures what it trains, position by position, repeats included.
    let subset = [3u32, 3, 7, 11, 200];
    let (report, measured) = host
        .train_recording(
            &[model],
            &TrainSpec {
                batch_size: 5,
                ..spec
            },
            Some(&subset),
        )
        .unwrap();
    assert_eq!(report.samples, 5);
    let seen = &measured[0];
    assert_eq!((seen.len(), seen.correct.len()), (5, 5));
    assert!(
        seen.loss.iter().all(|l| l.is_finite() && *l >= 0.0),
        "{seen:?}"
    );
}

#[test]
fn an_index_past_the_training_samples_is_named() {
    let _device = device_lock();
    let plugin_host = tiny_host(100, 1);
    // SAFETY: the table lives in `plugin_host`, which outlives `host`.
    let host = unsafe { Host::from_raw(plugin_host.table()) }.unwrap();
    let model = host.create_model(&mlp(), 1).unwrap();
    let spec = TrainSpec {
        epochs: 1,
        batch_size: 8,
        ..TrainSpec::default()
    };
    for error in [
        host.train(&[model], &spec, Some(&[0, 1, 4321]))
            .unwrap_err(),
        host.train_recording(&[model], &spec, Some(&[4321]))
            .unwrap_err(),
        host.sample_results(model, &train_split(Some(vec![2, 4321])))
            .unwrap_err(),
    ] {
        assert!(error.message.contains("4321"), "{}", error.message);
    }
}

fn run_to_end(config: Value) -> Value {
    let path = cdylib("coevo-plugin-cest");
    let mut run = PluginRun::start(load(&path).unwrap(), config, tiny_host(50, 2)).unwrap();
    loop {
        let report = run.step().unwrap();
        if report.done {
            return report.result.unwrap();
        }
    }
}

#[test]
fn the_ledger_matches_a_hand_count() {
    let _device = device_lock();
    // 40 training images (50, a fifth held out); batches of 4; a subset of 9 (0.225 · 40)
    // trains 4 + 4 and drops the lone ninth sample, which has no batch statistics.
    let base = json!({"model": {"preset": "mlp"}, "batch_size": 4, "fraction": 0.225,
        "population": 4, "generations": 1, "loss_points": 1, "epochs": 3});
    let with = |extra: Value| {
        let mut c = base.clone();
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    // Warm-up: 40 sample-gradients; then 8 per epoch. Random subsets need no forward pass;
    // index prey one pass over the 40 images per selecting epoch.
    let cases = [
        (json!({"selection": "random"}), 40 + 8 + 8, 0),
        (json!({"selection": "cest"}), 40 + 8 + 8, 40 * 2),
        (json!({"selection": "top_loss"}), 40 + 8 + 8, 40 * 2),
        // A budget of 50: 40, then 8, then the last 2 of a subset cut to what is left.
        (
            json!({"selection": "cest", "budget": 50, "epochs": 10}),
            40 + 8 + 2,
            40 * 2,
        ),
    ];
    for (extra, gradients, forwards) in cases {
        let result = run_to_end(with(extra.clone()));
        let a = &result["accounting"];
        assert_eq!(a["sample_gradients"], gradients, "{extra}");
        assert_eq!(a["sample_forwards"], forwards, "{extra}");
        assert!(a["wall_seconds"].as_f64().unwrap() > 0.0);
        let history = result["history"].as_array().unwrap();
        let last = history.last().unwrap();
        assert_eq!(
            last["sample_gradients"], gradients,
            "{extra}: logged per epoch"
        );
    }
}
