//! The mock honours what plugins ask of the host.

use serde_json::json;

use super::*;
use crate::host::Noise;
use crate::metrics::{EvalSpec, Split};

fn spec(epochs: usize) -> TrainSpec {
    TrainSpec {
        epochs,
        batch_size: 10,
        ..TrainSpec::default()
    }
}

#[test]
fn training_sees_its_subset_and_reports_its_steps() {
    let mock = MockHost::new().with_trainer(|p, call| {
        let samples = call.subset.as_ref().map_or(100, Vec::len);
        p.iter_mut().for_each(|v| *v -= samples as f32);
    });
    let host = mock.host();
    let model = mock.insert_model(vec![0.0; 3]);
    let report = host.train(&[model], &spec(2), Some(&[1, 1, 5])).unwrap();
    assert_eq!(report.steps, 2, "3 samples in batches of 10, twice");
    assert_eq!(mock.params(model), Some(vec![-3.0; 3]));
    let calls = mock.trained();
    assert_eq!(calls[0].subset, Some(vec![1, 1, 5]));
    assert_eq!(calls[0].models, vec![model]);
    let err = host.train(&[model], &spec(1), Some(&[100])).unwrap_err();
    assert!(err.message.contains("subset index 100"), "{}", err.message);
}

#[test]
fn per_sample_buffers_follow_the_subset_and_the_models() {
    let mock = MockHost::new();
    let host = mock.host();
    let good = mock.insert_model(vec![0.1; 4]);
    let bad = mock.insert_model(vec![2.0; 4]);
    let spec = EvalSpec {
        split: Split::Train,
        subset: Some(vec![3, 7, 7]),
        ..EvalSpec::default()
    };
    let mut losses = vec![0.0; 6];
    let mut probabilities = vec![0.0; 60];
    let evaluation = host
        .evaluate_into(
            &[good, bad],
            &spec,
            Some(&mut losses),
            Some(&mut probabilities),
        )
        .unwrap();
    assert_eq!(evaluation.members[0].samples, 3);
    assert_eq!(losses[1], losses[2], "a repeated sample scores the same");
    assert!(losses[3..].iter().zip(&losses[..3]).all(|(b, g)| b > g));
    // Sample i's label is i mod 10, and its loss is the cross-entropy of its probabilities.
    let labels = [3, 7, 7, 3, 7, 7];
    for ((sample, loss), label) in probabilities.chunks(10).zip(&losses).zip(labels) {
        assert!((sample.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!((-sample[label].ln() - loss).abs() < 1e-4);
    }
    let mut short = vec![0.0; 5];
    let err = host
        .evaluate_into(&[good, bad], &spec, Some(&mut short), None)
        .unwrap_err();
    assert!(err.message.contains("losses"), "{}", err.message);
}

#[test]
fn a_mask_stays_applied_through_writes_training_and_copies() {
    let mock = MockHost::new().with_trainer(|p, _| p.iter_mut().for_each(|v| *v += 1.0));
    let host = mock.host();
    let model = mock.insert_model(vec![1.0, 2.0, 3.0]);
    host.set_mask(model, Some(&[1.0, 0.0, 1.0])).unwrap();
    assert_eq!(mock.params(model), Some(vec![1.0, 0.0, 3.0]));
    host.write_params(model, &[5.0, 5.0, 5.0]).unwrap();
    host.train(&[model], &spec(1), None).unwrap();
    assert_eq!(mock.params(model), Some(vec![6.0, 0.0, 6.0]));
    let copy = host.clone_model(model).unwrap();
    assert_eq!(mock.model(copy).unwrap().mask, Some(vec![1.0, 0.0, 1.0]));
    host.set_mask(model, None).unwrap();
    host.train(&[model], &spec(1), None).unwrap();
    assert_eq!(mock.params(model), Some(vec![7.0, 1.0, 7.0]));
}

#[test]
fn per_tensor_noise_moves_whole_tensors() {
    let mock = MockHost::new();
    let host = mock.host();
    let model = host
        .create_model(&json!({"tensors": [50, 50, 50, 50]}), 1)
        .unwrap();
    let before = mock.params(model).unwrap();
    let noise = |per_tensor| Noise {
        sigma: 0.1,
        probability: 0.5,
        per_tensor,
        seed: 9,
    };
    host.add_noise(model, noise(true)).unwrap();
    let after = mock.params(model).unwrap();
    let moved: Vec<usize> = (0..4)
        .map(|t| {
            (t * 50..t * 50 + 50)
                .filter(|&i| before[i] != after[i])
                .count()
        })
        .collect();
    assert!(moved.iter().all(|&n| n == 0 || n == 50), "{moved:?}");
    assert!(moved.contains(&0) && moved.contains(&50), "{moved:?}");
    host.add_noise(model, noise(false)).unwrap();
    let element = mock.params(model).unwrap();
    let changed = (0..200).filter(|&i| element[i] != after[i]).count();
    assert!(
        (60..140).contains(&changed),
        "{changed} of 200 elements moved"
    );
}

#[test]
fn the_mock_host_refuses_a_model_listed_twice_in_train_each() {
    let mock = MockHost::new();
    let a = mock.insert_model(vec![1.0, 2.0]);
    let spec = TrainSpec::default();
    let host = mock.host();
    let error = host
        .train_each(&[(a, spec.clone()), (a, spec)])
        .unwrap_err();
    assert!(error.to_string().contains("twice"), "{error}");
    assert_eq!(mock.params(a), Some(vec![1.0, 2.0]));
    assert!(mock.trained().is_empty());
}
