//! Transforms of regression targets that models learn in place of the raw values, with their
//! inverses, so that metrics are still reported in the targets' own units.

use serde::{Deserialize, Serialize};

/// A monotone map from target units to the values a model learns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TargetTransform {
    /// Horvath's age transform (2013): `ln(age + 1) − ln(adult + 1)` up to `adult` years,
    /// `(age − adult) / (adult + 1)` above. Epigenetic ageing is fast in childhood and about
    /// linear in adults; the log part stretches the young ages that would otherwise weigh
    /// little in a squared error. Continuous and smooth at `adult`.
    Horvath {
        /// The age where the log part gives way to the linear one (20 in Horvath's clock).
        adult_age: f32,
    },
}

impl TargetTransform {
    /// Horvath's transform with his adult age of 20 years.
    pub const HORVATH: Self = Self::Horvath { adult_age: 20.0 };

    /// The learnt value of `age`; `None` where the transform is undefined (an age of −1 year
    /// or less for Horvath's).
    pub fn forward(self, age: f32) -> Option<f32> {
        match self {
            Self::Horvath { adult_age } => match age {
                a if a <= -1.0 || !a.is_finite() => None,
                a if a <= adult_age => Some((a + 1.0).ln() - (adult_age + 1.0).ln()),
                a => Some((a - adult_age) / (adult_age + 1.0)),
            },
        }
    }

    /// The age a learnt value stands for.
    pub fn inverse(self, value: f32) -> f32 {
        match self {
            Self::Horvath { adult_age } => match value {
                v if v <= 0.0 => (adult_age + 1.0) * v.exp() - 1.0,
                v => v * (adult_age + 1.0) + adult_age,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horvath_is_log_below_twenty_linear_above_and_inverts() {
        let t = TargetTransform::HORVATH;
        assert_eq!(t.forward(20.0), Some(0.0));
        assert!((t.forward(41.0).unwrap() - 1.0).abs() < 1e-6);
        assert!((t.forward(0.0).unwrap() + 21f32.ln()).abs() < 1e-6);
        assert_eq!(t.forward(-1.0), None);
        for age in [-0.5, 0.0, 3.0, 19.9, 20.0, 20.1, 64.0, 97.0] {
            let back = t.inverse(t.forward(age).unwrap());
            assert!((back - age).abs() < 1e-4, "{age} came back as {back}");
        }
        // Monotone: order is kept, so a sorted list of ages stays sorted.
        let values: Vec<f32> = [-0.4, 1.0, 15.0, 25.0, 80.0]
            .iter()
            .map(|&a| t.forward(a).unwrap())
            .collect();
        assert!(values.windows(2).all(|w| w[0] < w[1]));
    }
}
