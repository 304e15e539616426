//! 2-D convolution kernels for flex: per sample, the patches are unfolded into a matrix
//! (im2col) that stays in cache, and a matrix product does the arithmetic.
//!
//! flex convolves directly and differentiates by other convolutions, which was slowest on
//! layers with few input channels (LeNet-5's first) and dominated flex's training step. The
//! unfolded form turns the forward pass and both gradients into small dense products, which
//! the `gemm` crate (flex's own matrix kernels) runs near the machine's peak. Samples are
//! spread over rayon's threads, each with its own unfolding buffer.
//!
//! Layouts are NCHW, contiguous; weights `[O, C/groups, kH, kW]`. Dilation is 1 and padding
//! is the same on both sides, as the model layouts produce.

use burn::backend::flex::FlexTensor;
use burn::backend::ops::{ConvOptions, ModuleOps};
use burn::backend::{Flex, TensorMetadata};
use burn::tensor::TensorData;
use rayon::prelude::*;

/// The sizes of one convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Batch size.
    pub batch: usize,
    /// Input channels.
    pub channels: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// Output channels.
    pub outputs: usize,
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Stride along both axes.
    pub stride: [usize; 2],
    /// Zero padding on each side, along both axes.
    pub padding: [usize; 2],
    /// Channel groups.
    pub groups: usize,
}

impl Geometry {
    /// Output height and width.
    pub fn output(&self) -> [usize; 2] {
        [0, 1].map(|a| (self.input[a] + 2 * self.padding[a] - self.kernel[a]) / self.stride[a] + 1)
    }

    /// Output positions per channel.
    fn positions(&self) -> usize {
        let [oh, ow] = self.output();
        oh * ow
    }

    /// Rows of a group's unfolded matrix: its input channels times the kernel's taps.
    fn taps(&self) -> usize {
        self.channels / self.groups * self.kernel[0] * self.kernel[1]
    }

    fn sample_len(&self) -> usize {
        self.channels * self.input[0] * self.input[1]
    }

    fn output_len(&self) -> usize {
        self.outputs * self.positions()
    }
}

/// A row-major matrix view for [`matmul`]: its start and how far apart rows and columns are.
#[derive(Clone, Copy)]
struct View {
    ptr: *const f32,
    row_stride: isize,
    col_stride: isize,
}

impl View {
    fn rows(slice: &[f32], cols: usize) -> Self {
        Self {
            ptr: slice.as_ptr(),
            row_stride: cols as isize,
            col_stride: 1,
        }
    }

    /// `slice` holds a `cols × rows` row-major matrix; the view reads its transpose.
    fn transposed(slice: &[f32], rows: usize) -> Self {
        Self {
            ptr: slice.as_ptr(),
            row_stride: 1,
            col_stride: rows as isize,
        }
    }
}

/// `dst (m × n) = [dst +] lhs (m × k) · rhs (k × n)`, single-threaded.
fn matmul(dst: &mut [f32], [m, n, k]: [usize; 3], lhs: View, rhs: View, accumulate: bool) {
    assert!(dst.len() >= m * n, "destination too small for {m}×{n}");
    // SAFETY: `dst` holds m·n values (checked above) and is exclusively borrowed; callers build
    // `lhs` and `rhs` from slices holding m·k and k·n values under the strides given, and
    // none of them aliases `dst`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.ptr,
            lhs.col_stride,
            lhs.row_stride,
            rhs.ptr,
            rhs.col_stride,
            rhs.row_stride,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// The output columns `oj` whose input column `oj·stride + tap − pad` lies inside `0..width`.
fn inside(outputs: usize, width: usize, stride: usize, tap: usize, pad: usize) -> (usize, usize) {
    // The first oj with oj·stride + tap ≥ pad, and one past the last with it < width + pad.
    let lo = pad.saturating_sub(tap).div_ceil(stride).min(outputs);
    let hi = (width + pad)
        .saturating_sub(tap)
        .div_ceil(stride)
        .clamp(lo, outputs);
    (lo, hi)
}

/// One output row of one tap: where its values sit in `cols`, and what of the input it reads.
struct TapRow {
    cols_at: usize,
    /// `None` when the row lies wholly in the padding.
    read: Option<LineRead>,
}

/// The input line an output row reads.
struct LineRead {
    /// The line's start in the sample.
    line_at: usize,
    /// The output columns `lo..hi` that fall inside the line.
    lo: usize,
    hi: usize,
    /// The input column read by output column `lo`; the next ones follow every stride.
    start: usize,
}

/// Calls `visit` for every output row of every tap of `group`'s channels, in `cols` order.
fn for_each_tap_row(geo: &Geometry, group: usize, mut visit: impl FnMut(TapRow)) {
    let [h, w] = geo.input;
    let [kh, kw] = geo.kernel;
    let [sh, sw] = geo.stride;
    let [ph, pw] = geo.padding;
    let [oh, ow] = geo.output();
    let per_group = geo.channels / geo.groups;
    for cl in 0..per_group {
        let plane_at = (group * per_group + cl) * h * w;
        for ki in 0..kh {
            for kj in 0..kw {
                let row_at = ((cl * kh + ki) * kw + kj) * oh * ow;
                let (lo, hi) = inside(ow, w, sw, kj, pw);
                for oi in 0..oh {
                    let i = (oi * sh + ki) as isize - ph as isize;
                    let inside_rows = i >= 0 && i < h as isize;
                    // The first input column read is in bounds by `inside`.
                    let read = (inside_rows && lo < hi).then(|| LineRead {
                        line_at: plane_at + i as usize * w,
                        lo,
                        hi,
                        start: lo * sw + kj - pw,
                    });
                    visit(TapRow {
                        cols_at: row_at + oi * ow,
                        read,
                    });
                }
            }
        }
    }
}

/// Unfolds `group`'s channels of one sample into `cols` (`taps × positions`).
fn unfold(sample: &[f32], geo: &Geometry, group: usize, cols: &mut [f32]) {
    let (w, ow, sw) = (geo.input[1], geo.output()[1], geo.stride[1]);
    for_each_tap_row(geo, group, |row| {
        let out = &mut cols[row.cols_at..][..ow];
        let Some(LineRead {
            line_at,
            lo,
            hi,
            start,
        }) = row.read
        else {
            out.fill(0.0);
            return;
        };
        let line = &sample[line_at..][..w];
        out[..lo].fill(0.0);
        out[hi..].fill(0.0);
        if sw == 1 {
            out[lo..hi].copy_from_slice(&line[start..start + hi - lo]);
        } else {
            for (v, x) in out[lo..hi].iter_mut().zip(line[start..].iter().step_by(sw)) {
                *v = *x;
            }
        }
    });
}

/// Adds the unfolded `cols` of `group` back onto one sample's input gradient (col2im).
fn fold_add(cols: &[f32], geo: &Geometry, group: usize, sample: &mut [f32]) {
    let (w, ow, sw) = (geo.input[1], geo.output()[1], geo.stride[1]);
    for_each_tap_row(geo, group, |row| {
        let Some(read) = row.read else {
            return;
        };
        let values = &cols[row.cols_at..][..ow];
        let line = &mut sample[read.line_at..][..w];
        let targets = line[read.start..].iter_mut().step_by(sw);
        for (x, v) in targets.zip(&values[read.lo..read.hi]) {
            *x += v;
        }
    });
}

/// The convolution of `x` (`[N, C, H, W]`) with `weight`, plus `bias`: `[N, O, oH, oW]`.
pub fn forward(x: &[f32], weight: &[f32], bias: Option<&[f32]>, geo: &Geometry) -> Vec<f32> {
    let (taps, positions) = (geo.taps(), geo.positions());
    let per_group = geo.outputs / geo.groups;
    let mut out = vec![0.0; geo.batch * geo.output_len()];
    out.par_chunks_mut(geo.output_len())
        .zip(x.par_chunks(geo.sample_len()))
        .for_each_init(
            || vec![0.0; taps * positions],
            |cols, (y, sample)| {
                if let Some(bias) = bias {
                    for (channel, b) in y.chunks_exact_mut(positions).zip(bias) {
                        channel.fill(*b);
                    }
                }
                for g in 0..geo.groups {
                    unfold(sample, geo, g, cols);
                    let w = &weight[g * per_group * taps..][..per_group * taps];
                    let dst = &mut y[g * per_group * positions..][..per_group * positions];
                    let lhs = View::rows(w, taps);
                    let rhs = View::rows(cols, positions);
                    matmul(dst, [per_group, positions, taps], lhs, rhs, bias.is_some());
                }
            },
        );
    out
}

/// Samples whose contributions to a sum over the batch are added up in order, as one task. The
/// chunks' partial sums are then added in chunk order, so that a sum does not depend on how
/// rayon happened to split the work: one seed, the same numbers.
const SUM_CHUNK: usize = 8;

/// Sums `part(samples)` over the batch in fixed chunks of samples, in order.
fn batch_sum(
    geo: &Geometry,
    len: usize,
    part: impl Fn(std::ops::Range<usize>, &mut [f32]) + Sync,
) -> Vec<f32> {
    let starts: Vec<usize> = (0..geo.batch).step_by(SUM_CHUNK).collect();
    let partials: Vec<Vec<f32>> = starts
        .par_iter()
        .map(|&start| {
            let mut acc = vec![0.0; len];
            part(start..(start + SUM_CHUNK).min(geo.batch), &mut acc);
            acc
        })
        .collect();
    let mut total = vec![0.0; len];
    for partial in partials {
        total.iter_mut().zip(partial).for_each(|(t, p)| *t += p);
    }
    total
}

/// The gradient of the weight, `[O, C/groups, kH, kW]`, from the output gradient `grad`.
pub fn weight_grad(x: &[f32], grad: &[f32], geo: &Geometry) -> Vec<f32> {
    let (taps, positions) = (geo.taps(), geo.positions());
    let per_group = geo.outputs / geo.groups;
    batch_sum(geo, geo.outputs * taps, |samples, acc| {
        let mut cols = vec![0.0; taps * positions];
        for n in samples {
            let sample = &x[n * geo.sample_len()..][..geo.sample_len()];
            let g_out = &grad[n * geo.output_len()..][..geo.output_len()];
            for g in 0..geo.groups {
                unfold(sample, geo, g, &mut cols);
                let go = &g_out[g * per_group * positions..][..per_group * positions];
                let dst = &mut acc[g * per_group * taps..][..per_group * taps];
                let lhs = View::rows(go, positions);
                let rhs = View::transposed(&cols, positions);
                matmul(dst, [per_group, taps, positions], lhs, rhs, true);
            }
        }
    })
}

/// The gradient of the input, `[N, C, H, W]`, from the output gradient `grad`.
pub fn input_grad(weight: &[f32], grad: &[f32], geo: &Geometry) -> Vec<f32> {
    let (taps, positions) = (geo.taps(), geo.positions());
    let per_group = geo.outputs / geo.groups;
    let mut dx = vec![0.0; geo.batch * geo.sample_len()];
    dx.par_chunks_mut(geo.sample_len())
        .zip(grad.par_chunks(geo.output_len()))
        .for_each_init(
            || vec![0.0; taps * positions],
            |cols, (sample, g_out)| {
                for g in 0..geo.groups {
                    let w = &weight[g * per_group * taps..][..per_group * taps];
                    let go = &g_out[g * per_group * positions..][..per_group * positions];
                    let lhs = View::transposed(w, taps);
                    let rhs = View::rows(go, positions);
                    matmul(cols, [taps, positions, per_group], lhs, rhs, false);
                    fold_add(cols, geo, g, sample);
                }
            },
        );
    dx
}

/// The gradient of the bias, `[O]`: the output gradient summed over samples and positions.
pub fn bias_grad(grad: &[f32], geo: &Geometry) -> Vec<f32> {
    let positions = geo.positions();
    batch_sum(geo, geo.outputs, |samples, acc| {
        for n in samples {
            let g_out = &grad[n * geo.output_len()..][..geo.output_len()];
            for (a, channel) in acc.iter_mut().zip(g_out.chunks_exact(positions)) {
                *a += channel.iter().sum::<f32>();
            }
        }
    })
}

/// The geometry of convolving `x` by `weight` under `options`, when these kernels cover it:
/// 4-D f32 tensors, dilation 1, the same padding on both sides. Anything else is left to flex.
fn geometry(x: &FlexTensor, weight: &FlexTensor, options: &ConvOptions<2>) -> Option<Geometry> {
    let (xs, ws) = (x.shape(), weight.shape());
    let (&[n, c, h, w], &[o, _, kh, kw]) = (&xs[..], &ws[..]) else {
        return None;
    };
    let f32_only = x.dtype() == burn::tensor::DType::F32 && weight.dtype() == x.dtype();
    let plain = options.dilation == [1, 1] && options.padding_begin() == options.padding_end();
    (f32_only && plain).then_some(Geometry {
        batch: n,
        channels: c,
        input: [h, w],
        outputs: o,
        kernel: [kh, kw],
        stride: options.stride,
        padding: options.padding_begin(),
        groups: options.groups,
    })
}

/// `t`'s values in order; a copy only when `t` is a strided view.
pub(super) fn values(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(slice) => std::borrow::Cow::Borrowed(slice),
        None => std::borrow::Cow::Owned(
            t.to_contiguous()
                .as_slice::<f32>()
                .unwrap_or_default()
                .to_vec(),
        ),
    }
}

/// A flex tensor of `shape` holding `values` in order.
pub(super) fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// flex's `conv2d`, by these kernels where they apply.
pub fn conv2d(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: ConvOptions<2>,
) -> FlexTensor {
    let Some(geo) = geometry(&x, &weight, &options) else {
        return Flex::conv2d(x, weight, bias, options);
    };
    let bias_values = bias.as_ref().map(values);
    let out = forward(&values(&x), &values(&weight), bias_values.as_deref(), &geo);
    let [oh, ow] = geo.output();
    tensor(out, [geo.batch, geo.outputs, oh, ow])
}

/// flex's `conv2d_weight_backward`, by these kernels where they apply.
pub fn conv2d_weight_backward(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: ConvOptions<2>,
) -> FlexTensor {
    let Some(geo) = geometry(&x, &weight, &options) else {
        return Flex::conv2d_weight_backward(x, weight, output_grad, options);
    };
    let dw = weight_grad(&values(&x), &values(&output_grad), &geo);
    let [kh, kw] = geo.kernel;
    tensor(dw, [geo.outputs, geo.channels / geo.groups, kh, kw])
}

/// flex's `conv2d_x_backward`, by these kernels where they apply.
pub fn conv2d_x_backward(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: ConvOptions<2>,
) -> FlexTensor {
    let Some(geo) = geometry(&x, &weight, &options) else {
        return Flex::conv2d_x_backward(x, weight, output_grad, options);
    };
    let dx = input_grad(&values(&weight), &values(&output_grad), &geo);
    let [h, w] = geo.input;
    tensor(dx, [geo.batch, geo.channels, h, w])
}

/// flex's `conv2d_bias_backward`, by these kernels where they apply.
pub fn conv2d_bias_backward(
    x: FlexTensor,
    weight: FlexTensor,
    bias: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let Some(geo) = geometry(&x, &weight, options) else {
        return Flex::conv2d_bias_backward(x, bias, output_grad);
    };
    let db = bias_grad(&values(&output_grad), &geo);
    tensor(db, [geo.outputs])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The convolution by its definition, one output value at a time.
    fn reference(x: &[f32], weight: &[f32], geo: &Geometry) -> Vec<f32> {
        let [h, w] = geo.input;
        let [kh, kw] = geo.kernel;
        let [oh, ow] = geo.output();
        let (cg, og) = (geo.channels / geo.groups, geo.outputs / geo.groups);
        let mut out = vec![0.0; geo.batch * geo.output_len()];
        for n in 0..geo.batch {
            for o in 0..geo.outputs {
                for oi in 0..oh {
                    for oj in 0..ow {
                        let mut sum = 0.0;
                        for cl in 0..cg {
                            let c = o / og * cg + cl;
                            for ki in 0..kh {
                                for kj in 0..kw {
                                    let i = (oi * geo.stride[0] + ki) as isize
                                        - geo.padding[0] as isize;
                                    let j = (oj * geo.stride[1] + kj) as isize
                                        - geo.padding[1] as isize;
                                    if i >= 0 && j >= 0 && (i as usize) < h && (j as usize) < w {
                                        let xv = x[((n * geo.channels + c) * h + i as usize) * w
                                            + j as usize];
                                        sum += xv * weight[((o * cg + cl) * kh + ki) * kw + kj];
                                    }
                                }
                            }
                        }
                        out[((n * geo.outputs + o) * oh + oi) * ow + oj] = sum;
                    }
                }
            }
        }
        out
    }

    fn values(len: usize, salt: u32) -> Vec<f32> {
        (0..len as u32)
            .map(|i| {
                ((i.wrapping_mul(2654435761).wrapping_add(salt) >> 8) % 1000) as f32 / 500.0 - 1.0
            })
            .collect()
    }

    fn close(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        for (i, (u, v)) in a.iter().zip(b).enumerate() {
            assert!(
                (u - v).abs() <= 1e-3 * (1.0 + v.abs()),
                "{what}[{i}]: {u} vs {v}"
            );
        }
    }

    fn geometries() -> [Geometry; 4] {
        let base = Geometry {
            batch: 3,
            channels: 4,
            input: [7, 6],
            outputs: 6,
            kernel: [3, 2],
            stride: [1, 1],
            padding: [0, 0],
            groups: 1,
        };
        [
            base,
            Geometry {
                stride: [2, 1],
                padding: [1, 2],
                ..base
            },
            Geometry {
                groups: 2,
                padding: [1, 1],
                ..base
            },
            Geometry {
                stride: [3, 2],
                padding: [2, 1],
                kernel: [3, 3],
                ..base
            },
        ]
    }

    #[test]
    fn forward_is_the_definition() {
        for geo in geometries() {
            let x = values(geo.batch * geo.sample_len(), 1);
            let w = values(geo.outputs * geo.taps(), 2);
            let b = values(geo.outputs, 3);
            close(
                &forward(&x, &w, None, &geo),
                &reference(&x, &w, &geo),
                "no bias",
            );
            let with_bias = forward(&x, &w, Some(&b), &geo);
            let mut expected = reference(&x, &w, &geo);
            for (i, v) in expected.iter_mut().enumerate() {
                *v += b[i / geo.positions() % geo.outputs];
            }
            close(&with_bias, &expected, "bias");
        }
    }

    /// Gradients are the transposes of the forward map: ⟨conv(x, w), g⟩ is linear in x and in
    /// w, so its gradient at a unit vector is the matching entry of the forward pass.
    #[test]
    fn gradients_are_the_adjoints_of_the_forward_pass() {
        for geo in geometries() {
            let x = values(geo.batch * geo.sample_len(), 4);
            let w = values(geo.outputs * geo.taps(), 5);
            let g = values(geo.batch * geo.output_len(), 6);
            let dot = |x: &[f32], w: &[f32]| -> f32 {
                reference(x, w, &geo)
                    .iter()
                    .zip(&g)
                    .map(|(a, b)| a * b)
                    .sum()
            };
            let dw = weight_grad(&x, &g, &geo);
            let expected_dw: Vec<f32> = (0..w.len())
                .map(|i| {
                    let mut unit = vec![0.0; w.len()];
                    unit[i] = 1.0;
                    dot(&x, &unit)
                })
                .collect();
            close(&dw, &expected_dw, "weight grad");
            let dx = input_grad(&w, &g, &geo);
            let expected_dx: Vec<f32> = (0..x.len())
                .map(|i| {
                    let mut unit = vec![0.0; x.len()];
                    unit[i] = 1.0;
                    dot(&unit, &w)
                })
                .collect();
            close(&dx, &expected_dx, "input grad");
            let db = bias_grad(&g, &geo);
            let expected_db: Vec<f32> = (0..geo.outputs)
                .map(|o| {
                    g.iter()
                        .enumerate()
                        .filter(|(i, _)| i / geo.positions() % geo.outputs == o)
                        .map(|(_, v)| v)
                        .sum()
                })
                .collect();
            close(&db, &expected_db, "bias grad");
        }
    }

    /// Sums over the batch do not depend on how many threads share the work.
    #[test]
    fn gradients_are_the_same_on_one_thread_and_on_many() {
        let geo = Geometry {
            batch: 61,
            ..geometries()[0]
        };
        let x = values(geo.batch * geo.sample_len(), 7);
        let g = values(geo.batch * geo.output_len(), 8);
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a thread pool");
            pool.install(|| (weight_grad(&x, &g, &geo), bias_grad(&g, &geo)))
        };
        let one = on(1);
        for threads in [2, 3, 4] {
            let many = on(threads);
            assert!(
                one.0
                    .iter()
                    .zip(&many.0)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "weight grad on {threads} threads"
            );
            assert!(
                one.1
                    .iter()
                    .zip(&many.1)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "bias grad on {threads} threads"
            );
        }
    }
}
