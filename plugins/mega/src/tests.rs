//! The plugin through its exported table, on the SDK's in-memory host: hook edits mid-run,
//! snapshot and restore mid-merge, hierarchical merge orders.

use std::cell::RefCell;
use std::rc::Rc;

use coevo_sdk::serde_json::{Value, json};
use coevo_sdk::testing::{MockHost, MockInstance};

use super::*;

/// The accuracy of every candidate the `fitness` hook was asked about, by generation.
type Seen = Rc<RefCell<Vec<Vec<f64>>>>;

fn instance<'h>(host: &'h MockHost, config: &Value) -> MockInstance<'h> {
    host.instance::<Searching<Mega>>(&config.to_string())
        .unwrap()
}

/// Fitness as minus the mean squared distance of the parameters to `target`.
fn closeness_to(target: Vec<f32>) -> impl Fn(&[f32]) -> f64 + 'static {
    move |p| {
        let d: f64 = p
            .iter()
            .zip(&target)
            .map(|(a, b)| f64::from((a - b) * (a - b)))
            .sum();
        -d / p.len() as f64
    }
}

/// Parents far apart around an optimum that only some blends reach: accuracy is minus the
/// mean squared distance to a target between them.
fn host_with_parents(count: usize) -> (MockHost, Vec<ModelId>) {
    let target: Vec<f32> = (0..24).map(|i| ((i as f32) * 0.37).sin() * 0.2).collect();
    let host = MockHost::new()
        .with_seed(17)
        .with_fitness(closeness_to(target));
    let parents = (0..count)
        .map(|k| {
            let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
            host.insert_model(
                (0..24)
                    .map(|i| sign * (1.0 + (i + k) as f32 * 0.05))
                    .collect(),
            )
        })
        .collect();
    (host, parents)
}

/// A `fitness` hook that records the accuracy it sees and returns it times `sign`.
fn recording_fitness(seen: &Seen, sign: f64) -> Box<dyn Fn(Value) -> Value> {
    let seen = Rc::clone(seen);
    Box::new(move |args| {
        let accuracy = args[0]["accuracy"].as_f64().unwrap();
        let generation = args[1]["generation"].as_u64().unwrap() as usize;
        let mut seen = seen.borrow_mut();
        if seen.len() <= generation {
            seen.resize(generation + 1, Vec::new());
        }
        seen[generation].push(accuracy);
        json!(sign * accuracy)
    })
}

/// [`host_with_parents`] with a `fitness` hook recording what it sees, as it is.
fn recorded_host(count: usize) -> (MockHost, Vec<ModelId>, Seen) {
    let seen = Seen::default();
    let (host, parents) = host_with_parents(count);
    host.set_hook("fitness", Some(recording_fitness(&seen, 1.0)));
    (host, parents, seen)
}

fn config(parents: &[ModelId]) -> Value {
    json!({
        "parents": parents,
        "population": 8,
        "generations": 10,
        "selected": 4,
        "mutation_rate": 0.1,
        "sigma": 0.05,
        "seed": 3,
    })
}

fn run_to_end(search: &mut MockInstance) -> Value {
    loop {
        let report = search.step().unwrap();
        if report.done {
            return report.result.unwrap();
        }
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

#[test]
fn an_edited_fitness_hook_changes_selection_from_the_next_generation_on() {
    let (host, parents, seen_plain) = recorded_host(2);
    run_to_end(&mut instance(&host, &config(&parents)));

    let (host, parents, seen_edited) = recorded_host(2);
    let mut search = instance(&host, &config(&parents));
    for _ in 0..3 {
        search.step().unwrap();
    }
    // As a script reload would: from now on the least accurate candidates are the fittest.
    host.set_hook("fitness", Some(recording_fitness(&seen_edited, -1.0)));
    run_to_end(&mut search);

    let (plain, edited) = (seen_plain.borrow(), seen_edited.borrow());
    // Generation 3 was bred from generation 2's scores, all taken under the old rule.
    assert_eq!(plain[..4], edited[..4]);
    // Generation 4 is the first bred under the new rule, and it selects the other way.
    assert_ne!(plain[4], edited[4]);
    let late = |seen: &[Vec<f64>]| mean(&seen[5..].concat());
    assert!(
        late(&edited) < late(&plain),
        "selection still favours accuracy: {} vs {}",
        late(&edited),
        late(&plain)
    );
}

#[test]
fn a_merge_restored_from_a_snapshot_continues_as_if_never_stopped() {
    let (host, parents, seen_whole) = recorded_host(3);
    let whole = run_to_end(&mut instance(&host, &config(&parents)));
    let whole_params = host.params(whole["merged"]["model"].as_u64().unwrap());

    let (host, parents, seen_resumed) = recorded_host(3);
    let mut first = instance(&host, &config(&parents));
    // Midway through the first of the two merges.
    for _ in 0..6 {
        first.step().unwrap();
    }
    let snapshot = first.snapshot().unwrap();
    drop(first);
    let mut second = instance(&host, &config(&parents));
    second.restore(&snapshot).unwrap();
    let resumed = run_to_end(&mut second);

    assert_eq!(*seen_whole.borrow(), *seen_resumed.borrow());
    assert_eq!(whole["merges"], resumed["merges"]);
    assert_eq!(whole["merged"]["fitness"], resumed["merged"]["fitness"]);
    let resumed_params = host.params(resumed["merged"]["model"].as_u64().unwrap());
    assert!(whole_params.is_some());
    assert_eq!(whole_params, resumed_params);
}

#[test]
fn the_merge_order_hook_pairs_the_models_and_the_last_merge_is_the_result() {
    let (host, parents) = host_with_parents(4);
    let levels = Rc::new(RefCell::new(Vec::new()));
    let seen_levels = Rc::clone(&levels);
    host.set_hook(
        "merge_order",
        Some(Box::new(move |args| {
            seen_levels
                .borrow_mut()
                .push(args[1]["level"].as_u64().unwrap());
            // Pair the first model with the last: [[0, 3], [1, 2]].
            json!([[0, 3], [1, 2]])
        })),
    );
    let mut cfg = config(&parents);
    cfg["generations"] = json!(2);
    let result = run_to_end(&mut instance(&host, &cfg));
    let merges = result["merges"].as_array().unwrap();
    assert_eq!(merges.len(), 3);
    assert_eq!(merges[0]["a"], json!(parents[0]));
    assert_eq!(merges[0]["b"], json!(parents[3]));
    assert_eq!(merges[1]["a"], json!(parents[1]));
    assert_eq!(merges[1]["b"], json!(parents[2]));
    assert_eq!(merges[2]["level"], json!(1));
    // Only the four-model level asks; two models need no order.
    assert_eq!(*levels.borrow(), vec![0]);
    assert_eq!(result["merged"]["fitness"], merges[2]["fitness"]);
    // The parents, the merged model and the SDK's best-of-all copy are what is left.
    assert_eq!(host.live_models(), parents.len() + 2);
}

#[test]
fn with_the_parents_in_generation_zero_a_merge_never_ends_below_the_better_parent() {
    // Fitness is closeness to the first parent: no blend of the two can beat it.
    let first: Vec<f32> = (0..24).map(|i| (i as f32 * 0.3).cos()).collect();
    let merged = |include_parents: bool| {
        let host = MockHost::new()
            .with_seed(3)
            .with_fitness(closeness_to(first.clone()));
        let a = host.insert_model(first.clone());
        let b = host.insert_model(first.iter().map(|v| -v).collect());
        let config = json!({"parents": [a, b], "population": 4, "generations": 2,
            "selected": 2, "include_parents": include_parents});
        let mut run = instance(&host, &config);
        let last = loop {
            let report = run.step().unwrap();
            if report.done {
                break report;
            }
        };
        last.result.unwrap()["merged"]["fitness"].as_f64().unwrap()
    };
    assert_eq!(
        merged(true),
        0.0,
        "the first parent itself, scored as it is"
    );
    assert!(merged(false) < 0.0, "blends and mutants only");
}
