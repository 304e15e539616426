//! A network's clusters: the output units of its convolutions and linear layers, each with the
//! values that compute it. Evolutionary synthesis samples and drops whole clusters; dropping one
//! means masking its weight row, its bias, and the scale and shift of the batch norm that
//! normalises it, so that it outputs exactly zero and [`super::compact`] can remove it.

use serde::Serialize;

use crate::model::{Layout, Model, Step};

/// The output units of one convolution or linear layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnitLayer {
    /// The layer's name (`0`, `3.body.1`).
    pub layer: String,
    /// Its weight: a parameter index; unit `u` owns row `u` (all of axis 0's slice).
    pub weight: usize,
    /// Units (output channels or features).
    pub units: usize,
    /// Values per row: the unit's incoming synapses.
    pub fan_in: usize,
    /// Output positions each weight acts at per sample (multiply-adds per weight).
    pub positions: usize,
    /// Parameters of one value per unit that also compute it: the bias, then the scale and
    /// shift of a batch norm that directly follows.
    pub members: Vec<usize>,
}

/// Every convolution's and linear layer's units, in flat-vector order.
pub fn unit_layers(layout: &Layout) -> Vec<UnitLayer> {
    let mut out = Vec::new();
    walk(layout, &layout.plan, &mut out);
    out
}

/// A flat mask (one member's vector) dropping whole units: in every unit layer but the last
/// (the head, whose units are outputs), each unit `u` of layer `l` for which `drop(l, u)` holds
/// loses its weights, its bias and the scale and shift of its batch norm, so that it outputs
/// exactly zero and [`super::compact`] removes it.
pub fn dropping_units(model: &Model, mut drop: impl FnMut(usize, usize) -> bool) -> Vec<f32> {
    let slots = model.param_slots();
    let units = unit_layers(model.layout());
    let mut mask = vec![1.0; model.param_count()];
    for (l, layer) in units.iter().enumerate().take(units.len().saturating_sub(1)) {
        for u in (0..layer.units).filter(|&u| drop(l, u)) {
            let start = slots[layer.weight].offset + u * layer.fan_in;
            mask[start..start + layer.fan_in].fill(0.0);
            for &member in &layer.members {
                mask[slots[member].offset + u] = 0.0;
            }
        }
    }
    mask
}

fn walk(layout: &Layout, steps: &[Step], out: &mut Vec<UnitLayer>) {
    // The layer whose units the activation flowing here still is, one value per channel.
    let mut current: Option<usize> = None;
    for step in steps {
        match step {
            Step::Conv1d { weight, bias, .. }
            | Step::Conv2d { weight, bias, .. }
            | Step::Linear { weight, bias, .. } => {
                let entry = &layout.params[*weight];
                out.push(UnitLayer {
                    layer: layout.layers[entry.layer].clone(),
                    weight: *weight,
                    units: entry.shape[0],
                    fan_in: entry.numel() / entry.shape[0].max(1),
                    positions: entry.positions,
                    members: bias.iter().copied().collect(),
                });
                current = Some(out.len() - 1);
            }
            Step::BatchNorm { scale, shift, .. } => {
                if let Some(c) = current {
                    out[c].members.extend([*scale, *shift]);
                }
            }
            // A flatten makes features of positions; a residual sum or a join mixes in values
            // the layer before did not compute.
            Step::Flatten | Step::Join { .. } => current = None,
            Step::Residual { body, shortcut } => {
                walk(layout, body, out);
                walk(layout, shortcut, out);
                current = None;
            }
            Step::MaxPool1d { .. }
            | Step::MaxPool2d { .. }
            | Step::AvgPool1d { .. }
            | Step::AvgPool2d { .. }
            | Step::GlobalAvgPool
            | Step::Dropout { .. }
            | Step::Relu
            | Step::LeakyRelu { .. }
            | Step::Tanh
            | Step::Sigmoid
            | Step::Gelu => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Layout, preset};

    #[test]
    fn lenet5_has_five_unit_layers_with_their_positions() {
        let spec = preset("lenet5", &[1, 28, 28], 10).unwrap();
        let layout = Layout::build(&spec).unwrap();
        let units = unit_layers(&layout);
        let summary: Vec<(usize, usize, usize)> = units
            .iter()
            .map(|u| (u.units, u.fan_in, u.positions))
            .collect();
        assert_eq!(summary.len(), 5, "{summary:?}");
        assert_eq!(summary[0].0, 6);
        assert_eq!(summary[0].1, 25);
        assert!(summary[0].2 > 1, "a convolution acts at many positions");
        assert_eq!(summary[4], (10, 84, 1));
        assert!(
            units.iter().all(|u| u.members.len() == 1),
            "biases, no batch norm"
        );
    }

    #[test]
    fn batch_norm_joins_the_convolution_before_it() {
        let spec = preset("resnet20", &[3, 32, 32], 10).unwrap();
        let layout = Layout::build(&spec).unwrap();
        let units = unit_layers(&layout);
        let first = &units[0];
        let names: Vec<&str> = first
            .members
            .iter()
            .map(|&p| layout.params[p].name.as_str())
            .collect();
        assert!(names.iter().any(|n| n.ends_with(".weight")), "{names:?}");
        assert!(
            units.iter().any(|u| u.layer.contains("body")),
            "residual bodies are walked"
        );
    }
}
