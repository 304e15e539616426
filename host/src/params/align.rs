//! Permutation alignment of one network to another by weight matching.
//!
//! Hidden units of a network can be reordered without changing its function, so two networks
//! trained from different seeds rarely number their units alike, and the plain average of two
//! such networks mixes unrelated units. Weight matching (Ainsworth, Hayase and Srinivasa, "Git
//! Re-Basin", 2023) reorders the second network's units to resemble the first's before they
//! are blended.
//!
//! The units that must be reordered together form *groups*: the output channels of a
//! convolution or linear layer, carried through batch norm, activations and pooling into the
//! next layer's inputs (and, after a flatten, into blocks of its inputs). A residual block adds
//! its body's output to its input (or to the projection shortcut's output), so those two
//! channel sets share one group. The network's input and output are never reordered. For each
//! group in turn the permutation that maximises `Σ ⟨W_a, P W_b⟩` over every tensor axis the
//! group touches, the other axes already permuted, is a linear assignment problem; passes
//! repeat until no group improves.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::model::{Layout, Model, ModelError, Step};
use crate::tensors::to_f32;

/// Passes over all groups at most; weight matching usually settles in a handful.
const MAX_PASSES: usize = 100;

/// One axis of one tensor that a group reorders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Axis {
    /// The tensor: a parameter index, or a buffer index when `buffer` is set.
    pub(super) tensor: usize,
    pub(super) buffer: bool,
    /// The axis of the tensor's shape.
    pub(super) axis: usize,
    /// Consecutive values along the axis per unit (more than 1 for a linear layer's inputs
    /// after a flatten: one unit is a channel's whole feature map).
    pub(super) block: usize,
    /// Whether the values along this axis compute the unit (a weight's outputs, a bias, batch
    /// norm's scale and shift) rather than read it or follow it (running statistics).
    pub(super) writes: bool,
}

/// The groups of a layout: their sizes and the tensor axes each one reorders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermutationSpec {
    pub(super) sizes: Vec<usize>,
    pub(super) axes: Vec<Vec<Axis>>,
    /// Per group: whether a unit whose writing values are all zero outputs zero. A sigmoid
    /// between the unit and its readers makes zero into a half.
    pub(super) keeps_zero: Vec<bool>,
}

/// Where the activation flowing through the network stands during the walk.
#[derive(Debug, Clone, Copy)]
struct Flow {
    /// The group of its channels (`None`: the input's, never reordered).
    group: Option<usize>,
    /// Whether a flatten has turned each channel into a block of features.
    flattened: bool,
}

/// Builds a [`PermutationSpec`] while walking the compiled plan, merging the groups a residual
/// connection ties together (union-find over provisional groups).
struct Builder<'a> {
    layout: &'a Layout,
    parent: Vec<usize>,
    sizes: Vec<usize>,
    uses: Vec<(usize, Axis)>,
    /// Groups tied to the network's input or output.
    fixed: Vec<usize>,
    /// Groups a sigmoid reads.
    lifted: Vec<usize>,
}

impl Builder<'_> {
    fn new_group(&mut self, size: usize) -> usize {
        self.parent.push(self.parent.len());
        self.sizes.push(size);
        self.parent.len() - 1
    }

    fn find(&mut self, g: usize) -> usize {
        let mut root = g;
        while self.parent[root] != root {
            root = self.parent[root];
        }
        let mut g = g;
        while self.parent[g] != root {
            let next = self.parent[g];
            self.parent[g] = root;
            g = next;
        }
        root
    }

    fn touch(
        &mut self,
        group: Option<usize>,
        tensor: usize,
        buffer: bool,
        axis: usize,
        block: usize,
    ) {
        if let Some(g) = group {
            // Running statistics follow a unit; a weight's input axis reads it.
            let writes = !buffer && axis == 0;
            let axis = Axis {
                tensor,
                buffer,
                axis,
                block,
                writes,
            };
            self.uses.push((g, axis));
        }
    }

    /// A convolution or linear layer: its outputs start a new group, its inputs are `flow`'s.
    fn weights(&mut self, weight: usize, bias: Option<usize>, flow: Flow) -> Flow {
        let shape = &self.layout.params[weight].shape;
        let (outputs, inputs) = (shape[0], shape[1]);
        let block = match flow.group {
            Some(g) if flow.flattened => {
                let root = self.find(g);
                let channels = self.sizes[root];
                inputs / channels.max(1)
            }
            _ => 1,
        };
        self.touch(flow.group, weight, false, 1, block);
        let group = self.new_group(outputs);
        self.touch(Some(group), weight, false, 0, 1);
        if let Some(b) = bias {
            self.touch(Some(group), b, false, 0, 1);
        }
        Flow {
            group: Some(group),
            flattened: false,
        }
    }

    fn walk(&mut self, steps: &[Step], mut flow: Flow) -> Flow {
        for step in steps {
            flow = match step {
                Step::Conv1d { weight, bias, .. }
                | Step::Conv2d { weight, bias, .. }
                | Step::Linear { weight, bias, .. } => self.weights(*weight, *bias, flow),
                Step::BatchNorm {
                    scale,
                    shift,
                    mean,
                    var,
                    ..
                } => {
                    self.touch(flow.group, *scale, false, 0, 1);
                    self.touch(flow.group, *shift, false, 0, 1);
                    self.touch(flow.group, *mean, true, 0, 1);
                    self.touch(flow.group, *var, true, 0, 1);
                    flow
                }
                Step::Flatten => Flow {
                    flattened: true,
                    ..flow
                },
                Step::GlobalAvgPool => Flow {
                    flattened: false,
                    ..flow
                },
                // Another model's features follow the units in a fixed order, so the units
                // before a join keep theirs and what follows reads a fixed input.
                Step::Join { .. } => {
                    if let Some(group) = flow.group {
                        self.fixed.push(group);
                    }
                    Flow {
                        group: None,
                        flattened: false,
                    }
                }
                Step::Residual { body, shortcut } => {
                    let body = self.walk(body, flow);
                    let short = self.walk(shortcut, flow);
                    let group = match (body.group, short.group) {
                        (Some(x), Some(y)) => {
                            let (x, y) = (self.find(x), self.find(y));
                            self.parent[y] = x;
                            Some(x)
                        }
                        // Added to the network's input, whose order is fixed.
                        (Some(x), None) | (None, Some(x)) => {
                            self.fixed.push(x);
                            Some(x)
                        }
                        (None, None) => None,
                    };
                    Flow {
                        group,
                        flattened: body.flattened || short.flattened,
                    }
                }
                Step::MaxPool1d { .. }
                | Step::MaxPool2d { .. }
                | Step::AvgPool1d { .. }
                | Step::AvgPool2d { .. }
                | Step::Dropout { .. }
                | Step::Relu
                | Step::LeakyRelu { .. }
                | Step::Tanh
                | Step::Gelu => flow,
                Step::Sigmoid => {
                    self.lifted.extend(flow.group);
                    flow
                }
            };
        }
        flow
    }
}

impl PermutationSpec {
    /// The groups of `layout`'s hidden units.
    pub fn of(layout: &Layout) -> Self {
        let mut builder = Builder {
            layout,
            parent: Vec::new(),
            sizes: Vec::new(),
            uses: Vec::new(),
            fixed: Vec::new(),
            lifted: Vec::new(),
        };
        let start = Flow {
            group: None,
            flattened: false,
        };
        let end = builder.walk(&layout.plan, start);
        // The outputs are classes or targets: their order means something.
        builder.fixed.extend(end.group);
        let fixed: Vec<usize> = builder
            .fixed
            .clone()
            .into_iter()
            .map(|g| builder.find(g))
            .collect();
        let mut index: Vec<Option<usize>> = vec![None; builder.sizes.len()];
        let lifted: Vec<usize> = (builder.lifted.clone().into_iter())
            .map(|g| builder.find(g))
            .collect();
        let mut spec = Self {
            sizes: Vec::new(),
            axes: Vec::new(),
            keeps_zero: Vec::new(),
        };
        for (g, axis) in builder.uses.clone() {
            let root = builder.find(g);
            if fixed.contains(&root) {
                continue;
            }
            let id = *index[root].get_or_insert_with(|| {
                spec.sizes.push(builder.sizes[root]);
                spec.axes.push(Vec::new());
                spec.keeps_zero.push(!lifted.contains(&root));
                spec.sizes.len() - 1
            });
            spec.axes[id].push(axis);
        }
        spec
    }

    /// The number of groups, and the units in each.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// The permutations (`perm[g][u]`: the unit of `b` that goes to place `u`) that make `b`'s
    /// weights most like `a`'s; groups are visited in an order drawn from `seed`.
    fn match_weights(&self, a: &[Tensor], b: &[Tensor], seed: u64) -> Vec<Vec<usize>> {
        let mut perms: Vec<Vec<usize>> = self.sizes.iter().map(|&n| (0..n).collect()).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for _ in 0..MAX_PASSES {
            let mut order: Vec<usize> = (0..self.sizes.len()).collect();
            order.shuffle(&mut rng);
            let mut improved = false;
            for g in order {
                let n = self.sizes[g];
                let similarity = self.similarity(g, a, b, &perms);
                let score = |p: &[usize]| -> f64 { (0..n).map(|u| similarity[u * n + p[u]]).sum() };
                let best = assign_max(&similarity, n);
                let (old, new) = (score(&perms[g]), score(&best));
                if new > old + 1e-9 * old.abs().max(1.0) {
                    perms[g] = best;
                    improved = true;
                }
            }
            if !improved {
                break;
            }
        }
        perms
    }

    /// `S[u][v] = Σ ⟨a's unit u, b's unit v⟩` over the weight axes of group `g`, every other
    /// axis of `b` permuted as `perms` says.
    fn similarity(&self, g: usize, a: &[Tensor], b: &[Tensor], perms: &[Vec<usize>]) -> Vec<f64> {
        let n = self.sizes[g];
        let mut s = vec![0.0f64; n * n];
        for axis in self.axes[g].iter().filter(|x| !x.buffer) {
            let mut wb = b[axis.tensor].clone();
            for (other, ax) in self.axes_of(axis.tensor, false) {
                if ax.axis != axis.axis {
                    wb = wb.permuted(ax, &perms[other]);
                }
            }
            let ra = a[axis.tensor].unit_rows(axis);
            let rb = wb.unit_rows(axis);
            let width = ra.len() / n;
            for u in 0..n {
                let row_a = &ra[u * width..(u + 1) * width];
                for v in 0..n {
                    let row_b = &rb[v * width..(v + 1) * width];
                    let dot: f32 = row_a.iter().zip(row_b).map(|(x, y)| x * y).sum();
                    s[u * n + v] += f64::from(dot);
                }
            }
        }
        s
    }

    /// Every (group, axis) that reorders tensor `tensor`.
    fn axes_of(&self, tensor: usize, buffer: bool) -> impl Iterator<Item = (usize, Axis)> + '_ {
        self.axes.iter().enumerate().flat_map(move |(g, axes)| {
            axes.iter()
                .filter(move |x| x.tensor == tensor && x.buffer == buffer)
                .map(move |&x| (g, x))
        })
    }

    /// `tensors` with every axis a group touches reordered by `perms`.
    fn apply(&self, tensors: Vec<Tensor>, buffer: bool, perms: &[Vec<usize>]) -> Vec<Tensor> {
        tensors
            .into_iter()
            .enumerate()
            .map(|(i, mut t)| {
                for (g, axis) in self.axes_of(i, buffer) {
                    t = t.permuted(axis, &perms[g]);
                }
                t
            })
            .collect()
    }
}

/// One tensor's values with its shape, on the host.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Tensor {
    pub(super) values: Vec<f32>,
    pub(super) shape: Vec<usize>,
}

impl Tensor {
    /// `[outer, along, inner]` around `axis`.
    fn split(&self, axis: usize) -> (usize, usize, usize) {
        let outer = self.shape[..axis].iter().product();
        let inner = self.shape[axis + 1..].iter().product();
        (outer, self.shape[axis], inner)
    }

    /// The values reordered along `axis`: place `u` gets unit `perm[u]`. `perm` may also
    /// name fewer units than the axis has, to keep only those.
    pub(super) fn permuted(&self, axis: Axis, perm: &[usize]) -> Self {
        let (outer, along, inner) = self.split(axis.axis);
        let block = axis.block * inner;
        let mut values = Vec::with_capacity(self.values.len());
        for o in 0..outer {
            let base = o * along * inner;
            for &from in perm {
                let start = base + from * block;
                values.extend_from_slice(&self.values[start..start + block]);
            }
        }
        let mut shape = self.shape.clone();
        shape[axis.axis] = perm.len() * axis.block;
        Self { values, shape }
    }

    /// The values as rows, one per unit of `axis` (each row holds everything else).
    pub(super) fn unit_rows(&self, axis: &Axis) -> Vec<f32> {
        let (outer, along, inner) = self.split(axis.axis);
        let units = along / axis.block;
        let block = axis.block * inner;
        let mut rows = Vec::with_capacity(self.values.len());
        for u in 0..units {
            for o in 0..outer {
                let start = o * along * inner + u * block;
                rows.extend_from_slice(&self.values[start..start + block]);
            }
        }
        rows
    }
}

/// The assignment `row → column` of an `n × n` matrix that maximises the sum of the chosen
/// entries (the Hungarian method with potentials, O(n³)).
fn assign_max(weights: &[f64], n: usize) -> Vec<usize> {
    let cost = |i: usize, j: usize| -weights[(i - 1) * n + (j - 1)];
    // 1-based, with row/column 0 as the sentinel the augmenting paths start from.
    let mut u = vec![0.0f64; n + 1];
    let mut v = vec![0.0f64; n + 1];
    let mut owner = vec![0usize; n + 1];
    let mut way = vec![0usize; n + 1];
    for row in 1..=n {
        owner[0] = row;
        let mut j0 = 0;
        let mut min_slack = vec![f64::INFINITY; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let i0 = owner[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0;
            for j in 1..=n {
                if used[j] {
                    continue;
                }
                let slack = cost(i0, j) - u[i0] - v[j];
                if slack < min_slack[j] {
                    min_slack[j] = slack;
                    way[j] = j0;
                }
                if min_slack[j] < delta {
                    delta = min_slack[j];
                    j1 = j;
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[owner[j]] += delta;
                    v[j] -= delta;
                } else {
                    min_slack[j] -= delta;
                }
            }
            j0 = j1;
            if owner[j0] == 0 {
                break;
            }
        }
        while j0 != 0 {
            let j1 = way[j0];
            owner[j0] = owner[j1];
            j0 = j1;
        }
    }
    let mut assignment = vec![0; n];
    for j in 1..=n {
        assignment[owner[j] - 1] = j - 1;
    }
    assignment
}

/// Errors of [`align`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AlignError {
    /// The models differ in architecture, or one is a stack.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// `model` with its hidden units reordered to match `reference`'s; it computes exactly what
/// `model` computes. Masks are not carried over. `seed` orders the groups' visits.
pub fn align(reference: &Model, model: &Model, seed: u64) -> Result<Model, AlignError> {
    if reference.layout() != model.layout() || reference.members() != 1 || model.members() != 1 {
        return Err(ModelError::Architecture("aligned (or one is a stack)").into());
    }
    let layout = model.layout();
    let tensors = |m: &Model| -> Vec<Tensor> {
        m.params()
            .iter()
            .zip(&layout.params)
            .map(|(t, entry)| Tensor {
                values: to_f32(t.clone()),
                shape: entry.shape.clone(),
            })
            .collect()
    };
    let buffers: Vec<Tensor> = model
        .buffers()
        .iter()
        .zip(&layout.buffers)
        .map(|(t, entry)| Tensor {
            values: to_f32(t.clone()),
            shape: vec![entry.len],
        })
        .collect();
    let spec = PermutationSpec::of(layout);
    let (a, b) = (tensors(reference), tensors(model));
    let perms = spec.match_weights(&a, &b, seed);
    let values = |t: Vec<Tensor>| t.into_iter().map(|t| t.values).collect();
    let params = values(spec.apply(b, false, &perms));
    let buffers = values(spec.apply(buffers, true, &perms));
    Ok(Model::from_values(
        model.spec().clone(),
        1,
        params,
        buffers,
        model.device(),
    )?)
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Distribution, Tensor as Burn};
    use rand::Rng;

    use super::*;
    use crate::model::{ModelSpec, preset};
    use burn::tensor::Device;

    fn with_random_stats(model: Model, seed: u64) -> Model {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let params = model.params().iter().map(|t| to_f32(t.clone())).collect();
        let buffers = model
            .layout()
            .buffers
            .iter()
            .map(|b| (0..b.len).map(|_| rng.random_range(0.5..1.5)).collect())
            .collect();
        Model::from_values(model.spec().clone(), 1, params, buffers, model.device()).unwrap()
    }

    fn all_values(model: &Model) -> Vec<Vec<f32>> {
        model
            .params()
            .iter()
            .chain(model.buffers())
            .map(|t| to_f32(t.clone()))
            .collect()
    }

    fn shuffled(model: &Model, seed: u64) -> Model {
        let layout = model.layout();
        let spec = PermutationSpec::of(layout);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let perms: Vec<Vec<usize>> = spec
            .sizes()
            .iter()
            .map(|&n| {
                let mut p: Vec<usize> = (0..n).collect();
                p.shuffle(&mut rng);
                p
            })
            .collect();
        let as_tensors = |values: Vec<Vec<f32>>, shapes: Vec<Vec<usize>>| -> Vec<Tensor> {
            values
                .into_iter()
                .zip(shapes)
                .map(|(values, shape)| Tensor { values, shape })
                .collect()
        };
        let params = as_tensors(
            model.params().iter().map(|t| to_f32(t.clone())).collect(),
            layout.params.iter().map(|p| p.shape.clone()).collect(),
        );
        let buffers = as_tensors(
            model.buffers().iter().map(|t| to_f32(t.clone())).collect(),
            layout.buffers.iter().map(|b| vec![b.len]).collect(),
        );
        let strip = |t: Vec<Tensor>| t.into_iter().map(|t| t.values).collect();
        Model::from_values(
            model.spec().clone(),
            1,
            strip(spec.apply(params, false, &perms)),
            strip(spec.apply(buffers, true, &perms)),
            model.device(),
        )
        .unwrap()
    }

    fn outputs(model: &Model, x: &Burn<2>) -> Vec<f32> {
        to_f32(model.predict(x.clone()))
    }

    fn specs() -> Vec<(&'static str, ModelSpec)> {
        vec![
            ("mlp", preset("mlp", &[20], 4).unwrap()),
            ("lenet5", preset("lenet5", &[3, 32, 32], 10).unwrap()),
            ("resnet20", preset("resnet20", &[3, 8, 8], 10).unwrap()),
            // A flatten of 2x2 feature maps: each channel is a block of 4 linear inputs.
            (
                "conv-flatten-linear",
                ModelSpec::from_json(
                    r#"{"input": [2, 6, 6], "layers": [
                        {"type": "conv2d", "out": 4, "kernel": 3}, {"type": "batch_norm"},
                        {"type": "relu"}, {"type": "max_pool2d", "kernel": 2}, {"type": "flatten"},
                        {"type": "linear", "out": 5}, {"type": "relu"}, {"type": "linear", "out": 3}]}"#,
                )
                .unwrap(),
            ),
        ]
    }

    #[test]
    fn groups_follow_the_architecture() {
        let count = |name: &str, input: &[usize]| {
            let layout = Layout::build(&preset(name, input, 10).unwrap()).unwrap();
            PermutationSpec::of(&layout).sizes().to_vec()
        };
        // LeNet-5: conv 6, conv 16, conv 120, fc 84; the last layer's outputs stay put.
        assert_eq!(count("lenet5", &[3, 32, 32]), vec![6, 16, 120, 84]);
        // ResNet-20: one group per stage (the stem or projection and every block's output,
        // tied by the additions) and one per block's inner convolution.
        let mut resnet = count("resnet20", &[3, 8, 8]);
        resnet.sort_unstable();
        let mut expected = vec![16, 32, 64];
        expected.extend([16; 3].iter().chain(&[32; 3]).chain(&[64; 3]));
        expected.sort_unstable();
        assert_eq!(resnet, expected);
    }

    #[test]
    fn the_assignment_is_optimal() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for n in 1..=6 {
            let w: Vec<f64> = (0..n * n).map(|_| rng.random_range(-1.0..1.0)).collect();
            let score = |p: &[usize]| -> f64 { (0..n).map(|i| w[i * n + p[i]]).sum() };
            let found = assign_max(&w, n);
            let mut sorted = found.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "not a permutation");
            // Brute force over all permutations (Heap's algorithm).
            let mut p: Vec<usize> = (0..n).collect();
            let mut best = score(&p);
            let mut c = vec![0; n];
            let mut i = 0;
            while i < n {
                if c[i] < i {
                    let j = if i % 2 == 0 { 0 } else { c[i] };
                    p.swap(j, i);
                    best = best.max(score(&p));
                    c[i] += 1;
                    i = 0;
                } else {
                    c[i] = 0;
                    i += 1;
                }
            }
            assert!((score(&found) - best).abs() < 1e-12, "n = {n}");
        }
    }

    #[test]
    fn a_shuffled_copy_is_put_back_in_order() {
        let device = Device::flex();
        for (name, spec) in specs() {
            let a = with_random_stats(Model::new(spec, &device, 1).unwrap(), 2);
            let b = shuffled(&a, 9);
            assert_ne!(
                all_values(&a),
                all_values(&b),
                "{name}: the shuffle did nothing"
            );
            let aligned = align(&a, &b, 0).unwrap();
            assert_eq!(all_values(&aligned), all_values(&a), "{name}");
        }
    }

    #[test]
    fn alignment_keeps_the_function() {
        let device = Device::flex();
        for (name, spec) in specs() {
            let input: usize = spec.input.iter().product();
            let a = Model::new(spec.clone(), &device, 1).unwrap();
            let b = with_random_stats(Model::new(spec, &device, 2).unwrap(), 3);
            let aligned = align(&a, &b, 4).unwrap();
            assert_ne!(
                all_values(&aligned),
                all_values(&b),
                "{name}: nothing moved"
            );
            let _generator = crate::seed::device_generator();
            device.seed(5);
            let x = Burn::<2>::random([3, input], Distribution::Normal(0.0, 1.0), &device);
            let (before, after) = (outputs(&b, &x), outputs(&aligned, &x));
            for (p, q) in before.iter().zip(&after) {
                assert!(
                    (p - q).abs() <= 1e-4 * p.abs().max(1.0),
                    "{name}: {p} vs {q}"
                );
            }
        }
    }

    #[test]
    fn stacks_and_other_architectures_are_refused() {
        let device = Device::flex();
        let a = Model::new(preset("mlp", &[20], 4).unwrap(), &device, 1).unwrap();
        let b = Model::new(preset("mlp", &[21], 4).unwrap(), &device, 1).unwrap();
        assert!(align(&a, &b, 0).is_err());
        let stack = Model::stack(&[a.clone(), a.clone()]).unwrap();
        assert!(align(&a, &stack, 0).is_err());
    }
}
