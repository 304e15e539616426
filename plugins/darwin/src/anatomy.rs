//! Where a network's synapses and clusters sit in its flat parameter vector, read from the
//! host's description of the model (ABI 1.4's `units`), and what a vector holds of them.

use coevo_sdk::PluginError;
use coevo_sdk::serde_json::Value;
use serde::{Deserialize, Serialize};

/// One convolution or linear layer: its weights (the synapses), row `u` of which feeds unit
/// (cluster) `u`, and the per-unit values that also compute each unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layer {
    /// The layer's name (`0`, `3.body.1`).
    pub name: String,
    /// First index of its weights in the flat vector.
    pub offset: usize,
    /// Units (clusters).
    pub units: usize,
    /// Synapses per unit.
    pub fan_in: usize,
    /// Multiply-adds per synapse and sample.
    pub positions: usize,
    /// First index of each per-unit tensor (bias, batch norm scale and shift).
    pub members: Vec<usize>,
}

impl Layer {
    /// Its synapses' indices in the flat vector.
    pub fn weights(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.units * self.fan_in
    }

    /// The synapses of unit `u`.
    pub fn row(&self, u: usize) -> std::ops::Range<usize> {
        let start = self.offset + u * self.fan_in;
        start..start + self.fan_in
    }
}

/// A network's layers, in flat-vector order; the last is the head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anatomy {
    /// Its convolution and linear layers.
    pub layers: Vec<Layer>,
    /// Parameters in all.
    pub params: usize,
}

#[derive(Deserialize)]
struct Described {
    params: usize,
    tensors: Vec<Slot>,
    units: Option<Vec<Units>>,
}

#[derive(Deserialize)]
struct Slot {
    offset: usize,
    len: usize,
}

#[derive(Deserialize)]
struct Units {
    layer: String,
    weight: usize,
    units: usize,
    fan_in: usize,
    positions: usize,
    members: Vec<usize>,
}

impl Anatomy {
    /// The anatomy of the model the host describes as `description` (`Host::model_spec`).
    pub fn of(description: &Value) -> Result<Self, PluginError> {
        let described: Described = serde_json::from_value(description.clone())
            .map_err(|e| PluginError(format!("the host's model description: {e}")))?;
        let units = described.units.ok_or_else(|| {
            PluginError(
                "the host's model description has no units: darwin needs a host of ABI 1.4".into(),
            )
        })?;
        let slot = |index: usize, len: usize| -> Result<usize, PluginError> {
            match described.tensors.get(index) {
                Some(s) if s.len == len && s.offset + s.len <= described.params => Ok(s.offset),
                _ => Err(PluginError(format!(
                    "the host's model description: tensor {index} is not {len} values in the \
                     vector"
                ))),
            }
        };
        let layers = units
            .into_iter()
            .map(|u| {
                Ok(Layer {
                    offset: slot(u.weight, u.units * u.fan_in)?,
                    members: (u.members.iter())
                        .map(|&m| slot(m, u.units))
                        .collect::<Result<_, PluginError>>()?,
                    name: u.layer,
                    units: u.units,
                    fan_in: u.fan_in,
                    positions: u.positions,
                })
            })
            .collect::<Result<Vec<Layer>, PluginError>>()?;
        if layers.is_empty() {
            return Err(PluginError(
                "config.model: darwin samples synapses of convolutions and linear layers, and \
                 this network has none"
                    .into(),
            ));
        }
        Ok(Self {
            layers,
            params: described.params,
        })
    }

    /// The layers whose clusters may be dropped: all but the head, whose units are outputs.
    pub fn hidden(&self) -> &[Layer] {
        &self.layers[..self.layers.len() - 1]
    }
}

/// What one layer of a parameter vector holds: synapses present (non-zero weights), clusters
/// with at least one, and their multiply-adds per sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerCount {
    /// The layer's name.
    pub layer: String,
    /// Present synapses.
    pub synapses: usize,
    /// Units with a present synapse.
    pub clusters: usize,
    /// Multiply-adds per sample: present synapses times positions.
    pub flops: u64,
    /// Synapses the full layer has.
    pub weights: usize,
    /// Units the full layer has.
    pub units: usize,
}

/// A vector's counts, layer by layer and in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Census {
    /// Present synapses in all.
    pub synapses: usize,
    /// Clusters with a present synapse in all (the head's units included).
    pub clusters: usize,
    /// Multiply-adds per sample in all.
    pub flops: u64,
    /// Per layer.
    pub layers: Vec<LayerCount>,
}

impl Census {
    /// The counts of `params`, a vector of `anatomy`'s network. A synapse is present when its
    /// weight is non-zero: the host keeps masked weights exactly zero through training.
    pub fn of(anatomy: &Anatomy, params: &[f32]) -> Self {
        let layers: Vec<LayerCount> = (anatomy.layers.iter())
            .map(|l| {
                let row_present = |u: usize| params[l.row(u)].iter().filter(|w| **w != 0.0).count();
                let rows: Vec<usize> = (0..l.units).map(row_present).collect();
                let synapses = rows.iter().sum::<usize>();
                LayerCount {
                    layer: l.name.clone(),
                    synapses,
                    clusters: rows.iter().filter(|&&n| n > 0).count(),
                    flops: (synapses * l.positions) as u64,
                    weights: l.units * l.fan_in,
                    units: l.units,
                }
            })
            .collect();
        Self {
            synapses: layers.iter().map(|l| l.synapses).sum(),
            clusters: layers.iter().map(|l| l.clusters).sum(),
            flops: layers.iter().map(|l| l.flops).sum(),
            layers,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;

    /// A linear 3 → 2 (bias) and a head 2 → 2 (bias), as the host describes them.
    pub(crate) fn two_layers() -> Value {
        json!({
            "params": 14,
            "tensors": [
                {"name": "0.weight", "offset": 0, "len": 6},
                {"name": "0.bias", "offset": 6, "len": 2},
                {"name": "2.weight", "offset": 8, "len": 4},
                {"name": "2.bias", "offset": 12, "len": 2}
            ],
            "units": [
                {"layer": "0", "weight": 0, "units": 2, "fan_in": 3, "positions": 1, "members": [1]},
                {"layer": "2", "weight": 2, "units": 2, "fan_in": 2, "positions": 5, "members": [3]}
            ]
        })
    }

    #[test]
    fn reads_where_each_layer_sits_and_counts_what_is_present() {
        let anatomy = Anatomy::of(&two_layers()).unwrap();
        assert_eq!(anatomy.layers[1].offset, 8);
        assert_eq!(anatomy.layers[1].members, vec![12]);
        assert_eq!(anatomy.hidden().len(), 1);
        let params = [1., 0., 2., 0., 0., 0., 0.5, 0.5, 1., 1., 0., 3., 0., 0.];
        let census = Census::of(&anatomy, &params);
        assert_eq!(census.layers[0].synapses, 2);
        assert_eq!(census.layers[0].clusters, 1, "unit 1 has no synapse left");
        assert_eq!(census.layers[1].flops, 15);
        assert_eq!((census.synapses, census.clusters), (5, 3));
    }

    #[test]
    fn a_description_without_units_names_the_abi() {
        let mut old = two_layers();
        old.as_object_mut().unwrap().remove("units");
        let error = Anatomy::of(&old).unwrap_err();
        assert!(error.0.contains("1.4"), "{error}");
    }
}
