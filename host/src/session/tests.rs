//! The session's lifecycles and its one training loop, on small synthetic data.

use burn::tensor::Device;
use coevo_sdk::{OptimizerConfig, Schedule, Task, TrainSpec};

use super::{Continue, Session};
use crate::data::Normalise;
use crate::testing::synthetic_session as session;

fn classes() -> Task {
    Task::Classification { classes: 3 }
}

fn mlp(session: &mut Session, seed: u64) -> u64 {
    let spec = serde_json::json!({"input": [8], "layers": [
        {"type": "linear", "out": 6}, {"type": "relu"}, {"type": "linear", "out": 3}]});
    session.create_model(&spec, seed).unwrap()
}

fn spec(epochs: usize) -> TrainSpec {
    TrainSpec {
        epochs,
        batch_size: 16,
        seed: 3,
        ..TrainSpec::default()
    }
}

fn params(session: &Session, id: u64) -> Vec<f32> {
    session.model(id).unwrap().flat_params()
}

#[test]
fn freeing_a_model_frees_its_optimiser_state_and_ids_are_never_reused() {
    let mut s = session(classes());
    let mut seen = Vec::new();
    for seed in 0..5 {
        let id = mlp(&mut s, seed);
        s.train(&[id], spec(1), None).unwrap();
        assert_eq!(s.optimizer_states().len(), 1);
        s.free_model(id).unwrap();
        assert!(
            s.optimizer_states().is_empty(),
            "model {id}'s momentum outlived it"
        );
        assert!(!seen.contains(&id), "id {id} was handed out twice");
        seen.push(id);
    }
    let a = mlp(&mut s, 0);
    let b = mlp(&mut s, 1);
    s.train(&[a, b], spec(1), None).unwrap();
    s.train(&[b], spec(1), None).unwrap();
    assert_eq!(s.optimizer_states().len(), 2);
    s.free_model(a).unwrap();
    assert_eq!(
        s.optimizer_states().len(),
        1,
        "the stack of a and b went with a"
    );
    assert!(s.optimizer_states().get(&[b]).is_some());
}

#[test]
fn a_schedule_continued_over_calls_is_one_schedule() {
    let cosine = |epochs, offset| TrainSpec {
        schedule: Schedule::Cosine { min_lr: 0.0 },
        schedule_offset: offset,
        schedule_epochs: Some(3),
        ..spec(epochs)
    };
    let mut s = session(classes());
    let whole = mlp(&mut s, 9);
    let pieces = s.clone_model(whole).unwrap();
    let one = s.train(&[whole], cosine(3, 0), None).unwrap();
    let mut last = None;
    for epoch in 0..3 {
        last = Some(s.train(&[pieces], cosine(1, epoch), None).unwrap());
    }
    let last = last.unwrap();
    assert_eq!(params(&s, whole), params(&s, pieces));
    assert_eq!(one.lr, last.lr);
    assert_eq!(one.steps, 3 * last.steps, "each call counts its own steps");
    // Without the offset each call restarts the schedule at the base rate.
    let restarted = s.clone_model(whole).unwrap();
    let report = s.train(&[restarted], spec(1), None).unwrap();
    assert_eq!(report.lr, 0.05);
}

#[test]
fn resetting_the_optimiser_trains_as_a_fresh_model_would() {
    let mut s = session(classes());
    let trained = mlp(&mut s, 2);
    s.train(&[trained], spec(1), None).unwrap();
    let fresh = s.clone_model(trained).unwrap();
    let momentum = s.clone_model(trained).unwrap();
    let reset = TrainSpec {
        reset_optimizer: true,
        ..spec(1)
    };
    s.train(&[trained], reset, None).unwrap();
    s.train(&[fresh], spec(1), None).unwrap();
    // A copy does not inherit the original's momentum, so `fresh` trained from none; the
    // original, reset, must match it. Training `momentum`'s original on would not.
    assert_eq!(params(&s, trained), params(&s, fresh));
    let with_momentum = s.clone_model(momentum).unwrap();
    s.set_optimizer_state(
        vec![with_momentum],
        s.optimizer_states().get(&[fresh]).unwrap().clone(),
    );
    s.train(&[with_momentum], spec(1), None).unwrap();
    s.train(&[momentum], spec(1), None).unwrap();
    assert_ne!(params(&s, with_momentum), params(&s, momentum));
}

#[test]
fn a_subset_trains_on_its_samples_repeats_included() {
    let mut s = session(classes());
    let id = mlp(&mut s, 4);
    let subset = vec![
        0, 1, 2, 3, 3, 3, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
    ];
    let report = s.train(&[id], spec(2), Some(subset)).unwrap();
    // 18 samples in batches of 16: one full batch and a batch of two, per epoch.
    assert_eq!(report.steps, 4);
    let err = s.train(&[id], spec(1), Some(vec![0, 100])).unwrap_err();
    assert!(err.message.contains("subset index 100"), "{}", err.message);
}

#[test]
fn every_caller_gets_the_learning_rate_default_of_its_task() {
    let mut s = session(Task::Regression);
    let id = mlp_regression(&mut s);
    let report = s.train(&[id], spec(1), None).unwrap();
    assert_eq!(report.lr, crate::train::defaults::sgd_lr(Task::Regression));
    let explicit = TrainSpec {
        optimizer: Some(OptimizerConfig::Adam {
            lr: 0.002,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }),
        ..spec(1)
    };
    assert_eq!(s.train(&[id], explicit, None).unwrap().lr, 0.002);
}

fn mlp_regression(session: &mut Session) -> u64 {
    let spec = serde_json::json!({"input": [8], "layers": [
        {"type": "linear", "out": 4}, {"type": "relu"}, {"type": "linear", "out": 1}]});
    session.create_model(&spec, 1).unwrap()
}

#[test]
fn an_interrupted_call_continues_where_its_state_left_it() {
    let mut s = session(classes());
    let whole = mlp(&mut s, 6);
    let resumed = s.clone_model(whole).unwrap();
    s.train(&[whole], spec(3), None).unwrap();
    // Two epochs, then the call is taken up again as a resumed run would.
    let mut run = s
        .start_training(&[resumed], spec(3), None, Continue::NewCall)
        .unwrap();
    s.train_epoch(&mut run, &mut |_| {}).unwrap();
    s.train_epoch(&mut run, &mut |_| {}).unwrap();
    let steps_so_far = run.report().steps;
    drop(run);
    let mut run = s
        .start_training(&[resumed], spec(3), None, Continue::InterruptedCall)
        .unwrap();
    while !run.finished() {
        s.train_epoch(&mut run, &mut |_| {}).unwrap();
    }
    assert_eq!(params(&s, whole), params(&s, resumed));
    assert_eq!(run.report().steps, steps_so_far / 2 * 3);
}

#[test]
fn a_preset_asked_wider_has_the_parameters_of_its_widths() {
    let mut session = session(classes());
    let count = |session: &mut Session, spec: serde_json::Value| {
        let id = session.create_model(&spec, 1).unwrap();
        session.model(id).unwrap().flat_params().len()
    };
    // The MLP preset on 8 inputs and 3 classes: 256 and 128 hidden units, ×2 at width 2.
    let plain = count(&mut session, serde_json::json!({"preset": "mlp"}));
    assert_eq!(plain, (8 * 256 + 256) + (256 * 128 + 128) + (128 * 3 + 3));
    let wide = count(
        &mut session,
        serde_json::json!({"preset": "mlp", "width": 2}),
    );
    assert_eq!(wide, (8 * 512 + 512) + (512 * 256 + 256) + (256 * 3 + 3));
    let error = session
        .create_model(&serde_json::json!({"preset": "mlp", "width": "wide"}), 1)
        .unwrap_err();
    assert!(error.message.contains("width"), "{}", error.message);
}

#[test]
fn spawned_children_start_as_their_parent_and_part_with_their_seeds() {
    let mut session = session(classes());
    let parent = mlp(&mut session, 1);
    session.train(&[parent], spec(1), None).unwrap();
    let children = session.spawn(parent, 3).unwrap();
    assert_eq!(children.len(), 3);
    for &child in &children {
        assert_eq!(params(&session, child), params(&session, parent));
    }
    // A child trained with the parent's seed continues exactly as the parent does, momentum
    // included; one with another seed sees another data order and ends elsewhere.
    session.train(&[parent], spec(1), None).unwrap();
    session.train(&[children[0]], spec(1), None).unwrap();
    assert_eq!(params(&session, children[0]), params(&session, parent));
    let other = TrainSpec {
        seed: 99,
        ..spec(1)
    };
    session.train(&[children[1]], other, None).unwrap();
    assert_ne!(params(&session, children[1]), params(&session, parent));
}

#[test]
fn a_join_layer_reads_its_partner_detached_and_only_while_lent() {
    use coevo_sdk::{EvalSpec, FeatureSource, Noise};
    let mut s = session(Task::Regression);
    let partner = s
        .create_model(
            &serde_json::json!({"input": [8], "layers": [
                {"type": "linear", "out": 4}, {"type": "relu"}, {"type": "linear", "out": 1}]}),
            1,
        )
        .unwrap();
    let joined = s
        .create_model(
            &serde_json::json!({"input": [8], "layers": [
                {"type": "linear", "out": 6}, {"type": "relu"},
                {"type": "join", "features": 4}, {"type": "linear", "out": 1}]}),
            2,
        )
        .unwrap();
    let from = FeatureSource {
        model: partner,
        layers: 2,
    };
    let error = s.train(&[joined], spec(1), None).unwrap_err().message;
    assert!(
        error.contains("features_from") && error.contains(&format!("model {joined}")),
        "{error}"
    );
    let (partner_before, joined_before) = (params(&s, partner), params(&s, joined));
    let lent = TrainSpec {
        features_from: Some(from),
        ..spec(2)
    };
    s.train(&[joined], lent, None).unwrap();
    assert_eq!(
        params(&s, partner),
        partner_before,
        "the partner only lends"
    );
    assert_ne!(params(&s, joined), joined_before);
    assert!(
        s.optimizer_states()
            .iter()
            .all(|(ids, _)| ids == &vec![joined]),
        "no optimiser state for the partner"
    );
    // The head reads the partner: another partner, another prediction.
    let loss = |s: &Session| {
        let spec = EvalSpec {
            features_from: Some(from),
            ..EvalSpec::default()
        };
        s.evaluate(&[joined], &spec, false, false)
            .unwrap()
            .metrics
            .members[0]
            .loss
    };
    let with_partner = loss(&s);
    s.add_noise(partner, Noise::gaussian(0.5, 3)).unwrap();
    assert_ne!(loss(&s), with_partner);
    let short = FeatureSource { layers: 3, ..from };
    let spec = TrainSpec {
        features_from: Some(short),
        ..spec(1)
    };
    let error = s.train(&[joined], spec, None).unwrap_err().message;
    assert!(
        error.contains("takes 4 features") && error.contains("gives 1"),
        "{error}"
    );
    let itself = FeatureSource {
        model: joined,
        ..from
    };
    let spec = TrainSpec {
        features_from: Some(itself),
        ..TrainSpec::default()
    };
    assert!(s.train(&[joined], spec, None).is_err());
}

#[test]
fn training_each_on_an_executor_ends_as_training_each_here() {
    use crate::ComputeDevice;
    use crate::data::{LimitBy, Recipe};
    use crate::executor::InProcess;

    let recipe = Recipe {
        source: concat!(
            "fashion-mnist=",
            env!("CARGO_MANIFEST_DIR"),
            "/../data/fashion-mnist-10k"
        )
        .parse()
        .unwrap(),
        validation: 0.1,
        unseen: 0.0,
        limit_train: Some(300),
        limit_test: Some(50),
        limit_by: LimitBy::First,
        normalise: Normalise::Auto,
        seed: 2,
    };
    let device = Device::flex();
    // Three models: one masked, one with momentum from an earlier call, one fresh.
    let prepare = |executor: bool| {
        let mut s = Session::without_data(device.clone(), 2);
        s.set_data_from(recipe.clone(), recipe.load(&device).unwrap().resident);
        if executor {
            s.set_executor(Box::new(InProcess::new(ComputeDevice::Flex).unwrap()));
        }
        let spec = serde_json::json!({"preset": "mlp"});
        let ids: Vec<u64> = (0..3)
            .map(|i| s.create_model(&spec, 10 + i).unwrap())
            .collect();
        let n = params(&s, ids[0]).len();
        let mask: Vec<f32> = (0..n).map(|i| (i % 3 != 0) as u8 as f32).collect();
        s.set_mask(ids[0], Some(&mask)).unwrap();
        s.train(&[ids[1]], spec_of(1, 7), None).unwrap();
        (s, ids)
    };
    let items = |ids: &[u64]| -> Vec<(u64, TrainSpec)> {
        ids.iter()
            .enumerate()
            .map(|(i, &id)| (id, spec_of(2, 20 + i as u64)))
            .collect()
    };
    let (mut here, ids) = prepare(false);
    let reports_here = here.train_each(&items(&ids)).unwrap();
    let (mut there, ids_there) = prepare(true);
    assert_eq!(ids, ids_there);
    let reports_there = there.train_each(&items(&ids)).unwrap();
    assert_eq!(reports_there, reports_here);
    for &id in &ids {
        let (a, b) = (params(&here, id), params(&there, id));
        assert_eq!(
            a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            b.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "model {id}"
        );
        assert_eq!(
            here.optimizers.get(&[id]),
            there.optimizers.get(&[id]),
            "model {id}"
        );
        assert_eq!(
            here.model(id).unwrap().flat_mask(),
            there.model(id).unwrap().flat_mask()
        );
    }
    assert!(
        params(&there, ids[0]).iter().step_by(3).all(|&v| v == 0.0),
        "the mask held"
    );
    assert!(there.optimizers.get(&[ids[1]]).unwrap().step > reports_there[1].steps);

    // A model listed twice is refused on both paths, before anything trains.
    for session in [&mut here, &mut there] {
        let twice = vec![(ids[2], spec_of(1, 1)), (ids[2], spec_of(1, 2))];
        let before = params(session, ids[2]);
        let error = session.train_each(&twice).unwrap_err();
        let named = format!("model {} twice", ids[2]);
        assert!(error.message.contains(&named), "{}", error.message);
        assert_eq!(params(session, ids[2]), before);
    }
    // A cancelled run sends no job.
    there
        .cancel_flag()
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let before = params(&there, ids[0]);
    assert!(there.train_each(&items(&ids)).is_err());
    assert_eq!(params(&there, ids[0]), before);
}

fn spec_of(epochs: usize, seed: u64) -> TrainSpec {
    TrainSpec {
        epochs,
        batch_size: 32,
        optimizer: Some(OptimizerConfig::Sgd {
            lr: 0.05,
            momentum: 0.9,
            weight_decay: 0.0,
            nesterov: false,
        }),
        seed,
        ..TrainSpec::default()
    }
}

#[test]
fn an_optimiser_state_that_does_not_fit_the_model_is_an_error() {
    use crate::train::{OptimizerState, TrainerState};

    let mut s = session(classes());
    let id = s
        .create_model(&serde_json::json!({"preset": "mlp"}), 1)
        .unwrap();
    let before = params(&s, id);
    // One momentum buffer of one value, for a model of several parameter tensors.
    let state = TrainerState {
        epoch: 1,
        step: 10,
        optimizer: OptimizerState {
            step: 10,
            slots: vec![vec![vec![0.0]]],
        },
    };
    s.set_optimizer_state(vec![id], state);
    let error = s.train(&[id], spec_of(1, 3), None).unwrap_err();
    assert!(error.message.contains("does not fit"), "{}", error.message);
    assert_eq!(params(&s, id), before, "nothing trained");
}
