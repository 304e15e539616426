//! The plugin on the SDK's mock host: hooks edited during a run, and snapshots of the mask
//! encoding's state.

use std::cell::RefCell;
use std::rc::Rc;

use coevo_sdk::serde_json::{Value, json};
use coevo_sdk::testing::MockHost;
use coevo_sdk::{EvalSpec, Split, Task};

use crate::Cest;

/// 400 training samples of a two-class task: the mock predicts a sample right when its loss
/// (the model's plus the sample's own difficulty) is below ln 2, so about seven in ten are.
fn host() -> MockHost {
    MockHost::new()
        .with_dataset(Task::Classification { classes: 2 }, 400, 40)
        .with_seed(7)
}

fn config(extra: Value) -> String {
    let mut config = json!({
        "model": { "params": 4 }, "epochs": 6, "population": 6, "generations": 2,
        "fraction": 0.1, "batch_size": 16, "loss_points": 1
    });
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    config.to_string()
}

/// The accuracy of the predator on what the last training call trained.
fn last_trained_accuracy(host: &MockHost) -> f64 {
    let call = host.trained().pop().unwrap();
    let subset = call.subset.unwrap();
    let results = host
        .host()
        .sample_results(
            call.models[0],
            &EvalSpec {
                split: Split::Train,
                ..EvalSpec::default()
            },
        )
        .unwrap();
    results.stats(&subset).unwrap().accuracy
}

#[test]
fn an_edited_prey_fitness_hook_selects_from_the_next_generation_on() {
    let (plain, edited) = (host(), host());
    let mut a = plain.instance::<Cest>(&config(json!({}))).unwrap();
    let mut b = edited.instance::<Cest>(&config(json!({}))).unwrap();
    // Warm-up and one selecting epoch with the default: the two runs are one run.
    for _ in 0..2 {
        assert_eq!(a.step().unwrap().metrics, b.step().unwrap().metrics);
    }
    assert_eq!(plain.trained(), edited.trained());
    // The script now prefers easy subsets; every call is recorded.
    let calls: Rc<RefCell<Vec<Value>>> = Rc::default();
    let seen = Rc::clone(&calls);
    edited.set_hook(
        "prey_fitness",
        Some(Box::new(move |args: Value| {
            seen.borrow_mut().push(args[1].clone());
            args[0]["accuracy"].clone()
        })),
    );
    a.step().unwrap();
    b.step().unwrap();
    let calls = calls.borrow();
    // Every prey of every generation of the next epoch asked the new hook, from generation 0.
    assert_eq!(calls.len(), 6 * 3);
    assert_eq!(
        calls[0],
        json!({"epoch": 2, "generation": 0, "prey": 0, "encoding": "indices"})
    );
    assert_eq!(calls.last().unwrap()["generation"], 2);
    // The default picks the hardest prey, the edit the easiest.
    let (hard, easy) = (
        last_trained_accuracy(&plain),
        last_trained_accuracy(&edited),
    );
    assert!(easy > hard + 0.1, "edited {easy}, default {hard}");
}

#[test]
fn a_subset_fraction_hook_sizes_each_epoch() {
    let host = host().with_hook("subset_fraction", |args| {
        json!(0.05 * (args[0].as_f64().unwrap()))
    });
    let mut run = host
        .instance::<Cest>(&config(json!({"selection": "random"})))
        .unwrap();
    for _ in 0..4 {
        run.step().unwrap();
    }
    let sizes: Vec<usize> = host
        .trained()
        .iter()
        .map(|c| c.subset.as_ref().unwrap().len())
        .collect();
    // Warm-up on all 400, then 5 %, 10 %, 15 % of them.
    assert_eq!(sizes, vec![400, 20, 40, 60]);
    let bad = MockHost::new().with_hook("subset_fraction", |_| json!(1.5));
    let mut run = bad
        .instance::<Cest>(&config(json!({"selection": "random"})))
        .unwrap();
    run.step().unwrap();
    let error = run.step().unwrap_err();
    assert!(
        error.message.contains("subset_fraction") && error.message.contains("1.5"),
        "{error}"
    );
}

#[test]
fn a_restored_mask_run_continues_identically() {
    let masks = json!({"encoding": "mask", "forget_threshold": 0.05, "mutation": 0.01});
    let whole_host = host();
    let mut whole = whole_host.instance::<Cest>(&config(masks.clone())).unwrap();
    let uninterrupted: Vec<Value> = (0..6).map(|_| whole.step().unwrap().metrics).collect();

    let parted_host = host();
    let mut first = parted_host
        .instance::<Cest>(&config(masks.clone()))
        .unwrap();
    let mut resumed: Vec<Value> = (0..3).map(|_| first.step().unwrap().metrics).collect();
    let snapshot = first.snapshot().unwrap();
    let mut second = parted_host.instance::<Cest>(&config(masks)).unwrap();
    second.restore(&snapshot).unwrap();
    resumed.extend((3..6).map(|_| second.step().unwrap().metrics));
    assert_eq!(resumed, uninterrupted);
    // The union of the masks floats from epoch to epoch.
    let sizes: Vec<u64> = uninterrupted[1..]
        .iter()
        .map(|m| m["subset"].as_u64().unwrap())
        .collect();
    assert!(sizes.windows(2).any(|w| w[0] != w[1]), "{sizes:?}");
}

#[test]
fn masks_need_no_forward_pass_and_index_prey_one_per_refresh() {
    // Four epochs: the warm-up, then three selecting; the last case passes over the samples
    // only in the first of them and then reads the training passes.
    for (extra, forwards) in [
        (json!({"encoding": "mask"}), 0),
        (json!({"encoding": "indices"}), 400 * 3),
        (json!({"encoding": "indices", "refresh_every": 3}), 400),
    ] {
        let host = host();
        let mut config: Value = serde_json::from_str(&config(json!({"epochs": 4}))).unwrap();
        config
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let mut run = host.instance::<Cest>(&config.to_string()).unwrap();
        let last = loop {
            let report = run.step().unwrap();
            if report.done {
                break report;
            }
        };
        let accounting = &last.result.unwrap()["accounting"];
        assert_eq!(accounting["sample_forwards"], forwards, "{extra}");
    }
}

#[test]
fn a_run_whose_prey_select_nothing_ends_instead_of_spinning() {
    let host = host();
    // Masks that express almost nothing: the union of six over 400 samples is empty.
    let mut run = host
        .instance::<Cest>(&config(
            json!({"encoding": "mask", "fraction": 1e-6, "mutation": 0.0, "epochs": 50}),
        ))
        .unwrap();
    let mut steps = 0;
    let last = loop {
        let report = run.step().unwrap();
        steps += 1;
        if report.done {
            break report;
        }
    };
    assert!(steps < 50, "{steps} steps");
    let history = last.result.unwrap()["history"].clone();
    assert_eq!(history.as_array().unwrap().last().unwrap()["trained"], 0);
}
