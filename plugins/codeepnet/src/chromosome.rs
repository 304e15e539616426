//! A chromosome: both networks' architectures and how they cooperate, and the model specs it
//! stands for.
//!
//! A network is convolution blocks (a 1-D convolution with `filters` and an odd `kernel`,
//! padded to keep the length, a ReLU, and max pooling when `pool > 1`), a flatten, then hidden
//! fully-connected layers with ReLU and a linear output. Its trunk is everything up to and
//! including the flatten; with `transfer: features` a join layer after the flatten takes the
//! partner's trunk output.

use coevo_sdk::serde_json::{Value, json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::SearchSpace;

/// One convolution block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvGene {
    /// Output channels.
    pub filters: usize,
    /// Kernel length (odd).
    pub kernel: usize,
    /// Max-pooling window after the block (1: none).
    pub pool: usize,
}

/// One network's architecture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetGenes {
    /// The convolution blocks, input first.
    pub conv: Vec<ConvGene>,
    /// Units of the hidden fully-connected layers.
    pub fc: Vec<usize>,
}

/// Both networks and their cooperation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Chromosome {
    /// The two networks.
    pub nets: [NetGenes; 2],
    /// Knowledge-transmission rate: epochs per turn.
    pub k: usize,
    /// Adam's learning rate.
    pub lr: f64,
}

/// A gene outside what the search space or the input allows, by its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneError {
    /// Where: `nets[1].conv[2].kernel`.
    pub gene: String,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for GeneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "chromosome gene {}: {}", self.gene, self.reason)
    }
}

impl NetGenes {
    /// The sequence length after the convolution blocks, for an input of `length`, or the
    /// first gene whose pooling leaves nothing.
    pub fn trunk_length(&self, length: usize, net: usize) -> Result<usize, GeneError> {
        let mut l = length;
        for (i, block) in self.conv.iter().enumerate() {
            if block.pool > l {
                return Err(GeneError {
                    gene: format!("nets[{net}].conv[{i}].pool"),
                    reason: format!(
                        "a window of {} is longer than the {l} positions that reach it",
                        block.pool
                    ),
                });
            }
            l /= block.pool.max(1);
        }
        Ok(l)
    }

    /// Values per sample the trunk gives, for input `[channels, length]`.
    pub fn trunk_features(&self, length: usize, net: usize) -> Result<usize, GeneError> {
        let channels = self.conv.last().map_or(1, |b| b.filters);
        Ok(channels * self.trunk_length(length, net)?)
    }

    /// Layers of the trunk in the model spec: each block's convolution, ReLU and pooling (when
    /// it pools), then the flatten.
    pub fn trunk_layers(&self) -> usize {
        self.conv
            .iter()
            .map(|b| if b.pool > 1 { 3 } else { 2 })
            .sum::<usize>()
            + 1
    }

    /// The model spec: input `[channels, length]`, `outputs` outputs, a join layer of
    /// `join` features after the trunk when given.
    pub fn spec(
        &self,
        input: &[usize],
        outputs: usize,
        join: Option<usize>,
        dropout: f64,
    ) -> Value {
        let mut layers = Vec::new();
        for block in &self.conv {
            layers.push(json!({
                "type": "conv1d", "out": block.filters, "kernel": block.kernel,
                "padding": block.kernel / 2,
            }));
            layers.push(json!({ "type": "relu" }));
            if block.pool > 1 {
                layers.push(json!({ "type": "max_pool1d", "kernel": block.pool }));
            }
        }
        layers.push(json!({ "type": "flatten" }));
        if let Some(features) = join {
            layers.push(json!({ "type": "join", "features": features }));
        }
        for &units in &self.fc {
            if dropout > 0.0 {
                layers.push(json!({ "type": "dropout", "p": dropout }));
            }
            layers.push(json!({ "type": "linear", "out": units }));
            layers.push(json!({ "type": "relu" }));
        }
        layers.push(json!({ "type": "linear", "out": outputs }));
        json!({ "input": input, "layers": layers })
    }

    /// Parameters of the network [`NetGenes::spec`] builds (no join), for input
    /// `[channels, length]`; `None` when the pooling leaves nothing.
    pub fn param_count(&self, input: &[usize], outputs: usize) -> Option<usize> {
        let (mut channels, length) = (input[0], input[input.len() - 1]);
        let mut params = 0;
        for b in &self.conv {
            params += b.filters * channels * b.kernel + b.filters;
            channels = b.filters;
        }
        let mut features = self.trunk_features(length, 0).ok()?;
        for &units in self.fc.iter().chain(std::iter::once(&outputs)) {
            params += features * units + units;
            features = units;
        }
        Some(params)
    }

    /// This network with every convolution's filters and hidden layer's units scaled by
    /// `factor` (rounded, at least 1): the same shape of network, wider.
    pub fn widened(&self, factor: f64) -> NetGenes {
        let scale = |n: usize| ((n as f64 * factor).round() as usize).max(1);
        NetGenes {
            conv: self
                .conv
                .iter()
                .map(|b| ConvGene {
                    filters: scale(b.filters),
                    ..*b
                })
                .collect(),
            fc: self.fc.iter().map(|&w| scale(w)).collect(),
        }
    }

    /// The narrowest widening of this network with at least `target` parameters, found in
    /// steps of 1 %, and its parameter count.
    pub fn widened_to(&self, input: &[usize], outputs: usize, target: usize) -> (NetGenes, usize) {
        let mut factor = 1.0;
        loop {
            let wide = self.widened(factor);
            let params = wide.param_count(input, outputs).unwrap_or(0);
            if params >= target || factor > 16.0 {
                return (wide, params);
            }
            factor += 0.01;
        }
    }

    fn check(&self, space: &SearchSpace, net: usize) -> Result<(), GeneError> {
        let fail = |gene: String, reason: String| Err(GeneError { gene, reason });
        let [lo, hi] = space.conv_layers;
        if !(lo..=hi).contains(&self.conv.len()) {
            return fail(
                format!("nets[{net}].conv"),
                format!(
                    "{} blocks, the search space allows {lo} to {hi}",
                    self.conv.len()
                ),
            );
        }
        let [lo, hi] = space.fc_layers;
        if !(lo..=hi).contains(&self.fc.len()) {
            return fail(
                format!("nets[{net}].fc"),
                format!(
                    "{} layers, the search space allows {lo} to {hi}",
                    self.fc.len()
                ),
            );
        }
        for (i, b) in self.conv.iter().enumerate() {
            for (name, value, allowed) in [
                ("filters", b.filters, &space.filters),
                ("kernel", b.kernel, &space.kernels),
                ("pool", b.pool, &space.pools),
            ] {
                if !allowed.contains(&value) {
                    return fail(
                        format!("nets[{net}].conv[{i}].{name}"),
                        format!("{value} is not one of {allowed:?}"),
                    );
                }
            }
        }
        for (i, &w) in self.fc.iter().enumerate() {
            if !space.widths.contains(&w) {
                return fail(
                    format!("nets[{net}].fc[{i}]"),
                    format!("{w} units is not one of {:?}", space.widths),
                );
            }
        }
        Ok(())
    }
}

impl Chromosome {
    /// Checks every gene against the search space and the input length; the error names the
    /// first gene at fault.
    pub fn validate(&self, space: &SearchSpace, length: usize) -> Result<(), GeneError> {
        for (net, genes) in self.nets.iter().enumerate() {
            genes.check(space, net)?;
            genes.trunk_length(length, net)?;
        }
        let [lo, hi] = space.rates;
        if !(lo..=hi).contains(&self.k) {
            return Err(GeneError {
                gene: "k".into(),
                reason: format!(
                    "{} epochs per turn, the search space allows {lo} to {hi}",
                    self.k
                ),
            });
        }
        let [lo, hi] = space.lr;
        if !(self.lr >= lo && self.lr <= hi) {
            return Err(GeneError {
                gene: "lr".into(),
                reason: format!("{} is outside [{lo}, {hi}]", self.lr),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn net(conv: &[(usize, usize, usize)], fc: &[usize]) -> NetGenes {
        NetGenes {
            conv: conv
                .iter()
                .map(|&(filters, kernel, pool)| ConvGene {
                    filters,
                    kernel,
                    pool,
                })
                .collect(),
            fc: fc.to_vec(),
        }
    }

    #[test]
    fn trunk_sizes_follow_the_pooling_and_the_spec_has_its_layers() {
        let genes = net(&[(8, 5, 2), (16, 3, 1), (4, 7, 4)], &[32]);
        assert_eq!(genes.trunk_length(100, 0), Ok(12));
        assert_eq!(genes.trunk_features(100, 0), Ok(48));
        assert_eq!(genes.trunk_layers(), 3 + 2 + 3 + 1);
        let spec = genes.spec(&[1, 100], 1, Some(20), 0.0);
        let layers = spec["layers"].as_array().unwrap();
        assert_eq!(layers[genes.trunk_layers() - 1]["type"], "flatten");
        assert_eq!(layers[genes.trunk_layers()]["type"], "join");
        assert_eq!(layers[0]["padding"], 2);
        assert_eq!(layers.last().unwrap()["out"], 1);
    }

    #[test]
    fn parameter_counts_follow_the_layers_and_widening_reaches_its_target() {
        let genes = net(&[(8, 5, 2), (4, 3, 1)], &[16]);
        // conv 8·1·5 + 8, conv 4·8·3 + 4, linear (4·50)·16 + 16, linear 16·1 + 1.
        let expected = 48 + 100 + (200 * 16 + 16) + 17;
        assert_eq!(genes.param_count(&[1, 100], 1), Some(expected));
        let (wide, params) = genes.widened_to(&[1, 100], 1, 2 * expected);
        assert!(
            params >= 2 * expected && params < 2 * expected * 11 / 10,
            "{params}"
        );
        assert_eq!(wide.conv.len(), 2);
        assert_eq!(wide.conv[0].kernel, 5);
    }

    #[test]
    fn an_invalid_gene_is_named() {
        let space = SearchSpace::default();
        let ok = Chromosome {
            nets: [net(&[(8, 5, 2)], &[32]), net(&[(4, 3, 1), (16, 9, 4)], &[])],
            k: 2,
            lr: 1e-3,
        };
        assert_eq!(ok.validate(&space, 100), Ok(()));
        let mut bad = ok.clone();
        bad.nets[1].conv[1].kernel = 11;
        let error = bad.validate(&space, 100).unwrap_err();
        assert_eq!(error.gene, "nets[1].conv[1].kernel");
        assert!(error.to_string().contains("11 is not one of"), "{error}");
        let error = ok.validate(&space, 3).unwrap_err();
        assert_eq!(error.gene, "nets[1].conv[1].pool", "{error}");
        let mut bad = ok.clone();
        bad.k = 9;
        assert_eq!(bad.validate(&space, 100).unwrap_err().gene, "k");
        let mut bad = ok;
        bad.nets[0].fc = vec![16, 16, 16];
        assert_eq!(bad.validate(&space, 100).unwrap_err().gene, "nets[0].fc");
    }
}
