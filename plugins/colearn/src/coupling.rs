//! The coupling matrix β of one epoch, from the script's `coupling(epoch, i, j, n)` hook or the
//! config's uniform β̄ / N.
//!
//! The hook is asked at the start of every epoch, so a schedule written in the script (or an
//! edit of the hook while the run goes on) takes effect from the next epoch on, and every batch
//! of one epoch sees one β.

use coevo_sdk::serde_json::{Value, json};
use coevo_sdk::{Host, PluginError};

/// The script function that sets β.
pub const HOOK: &str = "coupling";

/// `β[i][j]` for `members` members at `epoch` (counted from 0); the diagonal is 0.
pub fn matrix(
    host: &Host,
    epoch: usize,
    members: usize,
    uniform: f64,
) -> Result<Vec<Vec<f64>>, PluginError> {
    let mut beta = vec![vec![0.0; members]; members];
    let mut defined = true;
    for (i, row) in beta.iter_mut().enumerate() {
        for (j, entry) in row.iter_mut().enumerate().filter(|&(j, _)| j != i) {
            *entry = match defined {
                true => match host.call_hook(HOOK, &json!([epoch, i, j, members]))? {
                    Some(answer) => parse(&answer, epoch, i, j)?,
                    None => {
                        // No hook in the script: the default for every pair.
                        defined = false;
                        uniform
                    }
                },
                false => uniform,
            };
        }
    }
    Ok(beta)
}

fn parse(answer: &Value, epoch: usize, i: usize, j: usize) -> Result<f64, PluginError> {
    answer
        .as_f64()
        .filter(|b| b.is_finite())
        .ok_or_else(|| {
            PluginError(format!(
                "the {HOOK} hook returned {answer} for epoch {epoch}, members ({i}, {j}); it must return a finite number"
            ))
        })
}

/// The mean of the off-diagonal entries (β of a uniform matrix).
pub fn mean_off_diagonal(matrix: &[Vec<f64>]) -> f64 {
    let n = matrix.len();
    if n < 2 {
        return 0.0;
    }
    let total: f64 = (0..n)
        .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
        .map(|(i, j)| matrix[i][j])
        .sum();
    total / (n * (n - 1)) as f64
}

#[cfg(test)]
mod tests {
    use coevo_sdk::testing::MockHost;

    use super::*;

    #[test]
    fn without_a_hook_every_pair_gets_the_uniform_beta() {
        let mock = MockHost::new();
        let beta = matrix(&mock.host(), 0, 3, -0.25).unwrap();
        assert_eq!(
            beta,
            vec![
                vec![0.0, -0.25, -0.25],
                vec![-0.25, 0.0, -0.25],
                vec![-0.25, -0.25, 0.0]
            ]
        );
        assert_eq!(mean_off_diagonal(&beta), -0.25);
    }

    #[test]
    fn the_hook_decides_each_pair_from_its_arguments() {
        // β_ij = epoch − i + 10 j, so a swapped argument shows.
        let mock = MockHost::new().with_hook(HOOK, |args| {
            let a: Vec<f64> = args
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert_eq!(a[3], 2.0, "n");
            json!(a[0] - a[1] + 10.0 * a[2])
        });
        let beta = matrix(&mock.host(), 4, 2, 99.0).unwrap();
        assert_eq!(beta, vec![vec![0.0, 14.0], vec![3.0, 0.0]]);
    }

    #[test]
    fn a_hook_answer_that_is_not_a_number_names_the_hook_and_the_pair() {
        let mock = MockHost::new().with_hook(HOOK, |_| json!("strong"));
        let err = matrix(&mock.host(), 1, 2, 0.0).unwrap_err();
        assert!(
            err.0.contains("coupling") && err.0.contains("(0, 1)"),
            "{err}"
        );
    }
}
