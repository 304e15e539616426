//! Max pooling over planes of `f32` values, for any backend whose tensors can be read as
//! slices: the forward pass keeps each window's argmax, the backward pass sends every gradient
//! to its window's argmax.
//!
//! A ReLU can ride along. It commutes with max pooling, so applying it to the pooled values
//! costs one comparison per output, and its backward pass is a gate on the output gradient.
//!
//! The window rule is PyTorch's: scanning a window row by row, a value replaces the maximum
//! when it is greater or NaN. So the first of tied maxima wins, and the last NaN.

use rayon::prelude::*;

/// Square windows of `kernel × kernel` every `stride` over planes of `plane` = `[H, W]`,
/// without padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// `[H, W]` of one input plane.
    pub plane: [usize; 2],
    /// The window's side.
    pub kernel: usize,
    /// The step between windows.
    pub stride: usize,
}

impl Windows {
    /// The windows over planes of `plane`, when a plane holds at least one window and its
    /// argmaxes fit in `u32`.
    pub fn fitting(plane: [usize; 2], kernel: usize, stride: usize) -> Option<Self> {
        let [h, w] = plane;
        let fits =
            kernel > 0 && stride > 0 && h >= kernel && w >= kernel && u32::try_from(h * w).is_ok();
        fits.then_some(Self {
            plane,
            kernel,
            stride,
        })
    }

    /// `[oH, oW]` of one pooled plane.
    pub fn pooled(&self) -> [usize; 2] {
        let [h, w] = self.plane;
        [
            (h - self.kernel) / self.stride + 1,
            (w - self.kernel) / self.stride + 1,
        ]
    }

    /// Values in one input plane.
    pub fn plane_len(&self) -> usize {
        self.plane[0] * self.plane[1]
    }

    /// Values in one pooled plane.
    pub fn pooled_len(&self) -> usize {
        let [oh, ow] = self.pooled();
        oh * ow
    }
}

/// Whether `v` replaces `best` in a window scan.
#[inline(always)]
fn replaces(v: f32, best: f32) -> bool {
    v > best || v.is_nan()
}

/// `if take { k } else { at }` as a conditional move. Which element of a window wins follows
/// the data, so a branch would be mispredicted about as often as not on real activations.
/// Only indices are chosen this way and values are loaded from the chosen index: x86 has no
/// conditional move for floats, and LLVM turns a float select into a branch.
#[inline(always)]
fn pick(take: bool, k: usize, at: usize) -> usize {
    std::hint::select_unpredictable(take, k, at)
}

/// A ReLU that keeps NaN, as PyTorch's does.
#[inline(always)]
fn relu(v: f32) -> f32 {
    if v < 0.0 { 0.0 } else { v }
}

/// The two input rows under one row of 2×2 windows, with the upper row's offset in its plane
/// and the plane's width.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
struct RowPair<'a> {
    upper: &'a [f32],
    lower: &'a [f32],
    top: u32,
    width: u32,
}

/// Pools one plane into `out` and `argmax` (indices within the plane).
fn pool_plane(x: &[f32], win: Windows, relu_after: bool, out: &mut [f32], argmax: &mut [u32]) {
    let [_, w] = win.plane;
    let [oh, ow] = win.pooled();
    let finish = |v: f32| if relu_after { relu(v) } else { v };
    if win.kernel == 2 && win.stride == 2 {
        // The common 2×2 pooling as a tree: each row's pair, then the two rows. The later one
        // wins only when strictly greater or NaN, which is the row-major scan's rule, so the
        // tree picks what the scan picks. SSE2 takes four outputs at a time, this loop the
        // rest of the row.
        for oi in 0..oh {
            let top = 2 * oi * w;
            let rows = RowPair {
                upper: &x[top..top + 2 * ow],
                lower: &x[top + w..top + w + 2 * ow],
                top: top as u32,
                width: w as u32,
            };
            let out = &mut out[oi * ow..(oi + 1) * ow];
            let argmax = &mut argmax[oi * ow..(oi + 1) * ow];
            let done = simd::pool_row_2x2(rows, relu_after, out, argmax);
            let rows = &x[top..top + 2 * w];
            for oj in done..ow {
                let j = 2 * oj;
                let upper = pick(replaces(rows[j + 1], rows[j]), j + 1, j);
                let lower = pick(replaces(rows[w + j + 1], rows[w + j]), w + j + 1, w + j);
                let at = pick(replaces(rows[lower], rows[upper]), lower, upper);
                out[oj] = finish(rows[at]);
                argmax[oj] = (top + at) as u32;
            }
        }
        return;
    }
    let (k, s) = (win.kernel, win.stride);
    for oi in 0..oh {
        for oj in 0..ow {
            let first = oi * s * w + oj * s;
            let mut at = first;
            for i in 0..k {
                for j in 0..k {
                    let p = first + i * w + j;
                    at = pick(replaces(x[p], x[at]), p, at);
                }
            }
            out[oi * ow + oj] = finish(x[at]);
            argmax[oi * ow + oj] = at as u32;
        }
    }
}

/// The 2×2 pooling of one output row, four outputs at a time in SSE2 registers (every x86-64
/// CPU has them): the same tree, with selects as bit masks. Returns how many leading outputs
/// it wrote, a multiple of four; the caller does the rest.
#[cfg(target_arch = "x86_64")]
mod simd {
    use super::RowPair;
    use std::arch::x86_64::{
        __m128, __m128i, _mm_add_epi32, _mm_and_ps, _mm_and_si128, _mm_andnot_ps, _mm_castps_si128,
        _mm_cmpgt_ps, _mm_cmplt_ps, _mm_cmpunord_ps, _mm_loadu_ps, _mm_or_ps, _mm_set1_epi32,
        _mm_setr_epi32, _mm_setzero_ps, _mm_shuffle_ps, _mm_storeu_ps, _mm_storeu_si128,
    };

    /// Lanes where `v` replaces `best` in a window scan: greater, or NaN.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn replaces(v: __m128, best: __m128) -> __m128 {
        _mm_or_ps(_mm_cmpgt_ps(v, best), _mm_cmpunord_ps(v, v))
    }

    /// `take ? a : b` lane by lane.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn select(take: __m128, a: __m128, b: __m128) -> __m128 {
        _mm_or_ps(_mm_and_ps(take, a), _mm_andnot_ps(take, b))
    }

    /// The even and the odd elements of `pair[0..8]`.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn deinterleave(pair: &[f32; 8]) -> (__m128, __m128) {
        // SAFETY: `pair` holds eight f32 values, so both unaligned four-lane loads are in bounds.
        let (lo, hi) = unsafe {
            (
                _mm_loadu_ps(pair.as_ptr()),
                _mm_loadu_ps(pair.as_ptr().add(4)),
            )
        };
        (
            _mm_shuffle_ps::<0b10_00_10_00>(lo, hi),
            _mm_shuffle_ps::<0b11_01_11_01>(lo, hi),
        )
    }

    #[target_feature(enable = "sse2")]
    fn row_2x2(rows: RowPair<'_>, relu: bool, out: &mut [f32], argmax: &mut [u32]) -> usize {
        let quads = out.len() / 4;
        let lanes = _mm_setr_epi32(0, 2, 4, 6);
        let (one, down) = (_mm_set1_epi32(1), _mm_set1_epi32(rows.width as i32));
        for q in 0..quads {
            let j = 8 * q;
            let (Ok(p0), Ok(p1)) = (
                <&[f32; 8]>::try_from(&rows.upper[j..j + 8]),
                <&[f32; 8]>::try_from(&rows.lower[j..j + 8]),
            ) else {
                return 4 * q;
            };
            let ((a, b), (c, d)) = (deinterleave(p0), deinterleave(p1));
            let tb = replaces(b, a);
            let upper = select(tb, b, a);
            let td = replaces(d, c);
            let lower = select(td, d, c);
            let tl = replaces(lower, upper);
            let mut best = select(tl, lower, upper);
            if relu {
                best = _mm_andnot_ps(_mm_cmplt_ps(best, _mm_setzero_ps()), best);
            }
            // Index within the plane: the window's corner, plus a row when the lower pair won,
            // plus one when the winning pair's right element won.
            let corner = _mm_add_epi32(_mm_set1_epi32((rows.top + j as u32) as i32), lanes);
            let row = _mm_and_si128(_mm_castps_si128(tl), down);
            let col = _mm_and_si128(_mm_castps_si128(select(tl, td, tb)), one);
            let at: __m128i = _mm_add_epi32(_mm_add_epi32(corner, row), col);
            let o = &mut out[4 * q..4 * q + 4];
            let m = &mut argmax[4 * q..4 * q + 4];
            // SAFETY: `o` and `m` are four elements long, so both unaligned stores are in bounds.
            unsafe {
                _mm_storeu_ps(o.as_mut_ptr(), best);
                _mm_storeu_si128(m.as_mut_ptr().cast(), at);
            }
        }
        4 * quads
    }

    pub(super) fn pool_row_2x2(
        rows: RowPair<'_>,
        relu: bool,
        out: &mut [f32],
        argmax: &mut [u32],
    ) -> usize {
        // SAFETY: SSE2 is part of the x86-64 baseline, so every CPU this code runs on has it.
        unsafe { row_2x2(rows, relu, out, argmax) }
    }
}

/// Without SSE2 every output takes the scalar path.
#[cfg(not(target_arch = "x86_64"))]
mod simd {
    pub(super) fn pool_row_2x2(
        _: super::RowPair<'_>,
        _: bool,
        _: &mut [f32],
        _: &mut [u32],
    ) -> usize {
        0
    }
}

/// `g` where a ReLU's output `o` let it through: only where `o` is positive.
#[inline(always)]
fn gated(g: f32, o: Option<f32>) -> f32 {
    // One comparison feeding a select stays branch-free (a mask), where a branch would be
    // mispredicted on half the outputs.
    match o {
        Some(o) => {
            if o > 0.0 {
                g
            } else {
                0.0
            }
        }
        None => g,
    }
}

/// Adds one plane's pooled gradients into its input gradient `dx`: each output's gradient at
/// its argmax, summed where windows overlap. With a `gate` (the ReLU's output), a gradient
/// passes only where the gate is positive.
///
/// A zeroed `dx` and a scatter beat writing each window's elements once, with or without SIMD:
/// zeroing is a memset (or comes with the allocation), and the scatter touches a quarter of
/// the elements under 2×2 pooling.
fn unpool_plane(grad: &[f32], argmax: &[u32], gate: Option<&[f32]>, dx: &mut [f32]) {
    for (k, (&g, &at)) in grad.iter().zip(argmax).enumerate() {
        dx[at as usize] += gated(g, gate.map(|o| o[k]));
    }
}

/// How the planes are spread over threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// Over rayon's pool.
    Rayon,
    /// On the calling thread, for a backend whose own thread pool would compete with rayon's.
    #[cfg_attr(not(feature = "tch"), allow(dead_code))]
    Caller,
}

/// Pools every plane of `x` into `out` and `argmax` (one per output, an index within its
/// plane), applying a ReLU to the pooled values when `relu_after`.
pub fn pool(
    x: &[f32],
    win: Windows,
    relu_after: bool,
    out: &mut [f32],
    argmax: &mut [u32],
    threads: Threads,
) {
    let (n_in, n_out) = (win.plane_len(), win.pooled_len());
    debug_assert_eq!(x.len() / n_in, out.len() / n_out);
    debug_assert_eq!(out.len(), argmax.len());
    let each = |((out, argmax), plane): ((&mut [f32], &mut [u32]), &[f32])| {
        pool_plane(plane, win, relu_after, out, argmax)
    };
    match threads {
        Threads::Rayon => out
            .par_chunks_mut(n_out)
            .zip(argmax.par_chunks_mut(n_out))
            .zip(x.par_chunks(n_in))
            .for_each(each),
        Threads::Caller => out
            .chunks_mut(n_out)
            .zip(argmax.chunks_mut(n_out))
            .zip(x.chunks(n_in))
            .for_each(each),
    }
}

/// Adds the input gradient of [`pool`] from its output gradient `grad` into `dx`, which the
/// caller zeroes for a plain gradient; `gate` is the pooled output when a ReLU rode along.
pub fn unpool(
    grad: &[f32],
    argmax: &[u32],
    gate: Option<&[f32]>,
    win: Windows,
    dx: &mut [f32],
    threads: Threads,
) {
    let (n_in, n_out) = (win.plane_len(), win.pooled_len());
    debug_assert_eq!(grad.len(), argmax.len());
    debug_assert_eq!(grad.len() / n_out, dx.len() / n_in);
    let each = |(k, dx): (usize, &mut [f32])| {
        let span = k * n_out..(k + 1) * n_out;
        let gate = gate.map(|g| &g[span.clone()]);
        unpool_plane(&grad[span.clone()], &argmax[span], gate, dx)
    };
    match threads {
        Threads::Rayon => dx.par_chunks_mut(n_in).enumerate().for_each(each),
        Threads::Caller => dx.chunks_mut(n_in).enumerate().for_each(each),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pooled(x: &[f32], win: Windows, relu_after: bool) -> (Vec<f32>, Vec<u32>) {
        let n = x.len() / win.plane_len() * win.pooled_len();
        let (mut out, mut argmax) = (vec![0.0; n], vec![0; n]);
        pool(x, win, relu_after, &mut out, &mut argmax, Threads::Rayon);
        (out, argmax)
    }

    fn unpooled(grad: &[f32], argmax: &[u32], gate: Option<&[f32]>, win: Windows) -> Vec<f32> {
        let mut dx = vec![0.0; grad.len() / win.pooled_len() * win.plane_len()];
        unpool(grad, argmax, gate, win, &mut dx, Threads::Caller);
        dx
    }

    /// The window rule written as plainly as possible: every window of every plane scanned in
    /// row-major order from minus infinity.
    fn reference(x: &[f32], win: Windows) -> (Vec<f32>, Vec<u32>) {
        let (w, [oh, ow]) = (win.plane[1], win.pooled());
        let (mut out, mut argmax) = (vec![], vec![]);
        for plane in x.chunks(win.plane_len()) {
            for oi in 0..oh {
                for oj in 0..ow {
                    let first = oi * win.stride * w + oj * win.stride;
                    let (mut best, mut at) = (f32::NEG_INFINITY, first);
                    for i in oi * win.stride..oi * win.stride + win.kernel {
                        for j in oj * win.stride..oj * win.stride + win.kernel {
                            if plane[i * w + j] > best || plane[i * w + j].is_nan() {
                                (best, at) = (plane[i * w + j], i * w + j);
                            }
                        }
                    }
                    out.push(best);
                    argmax.push(at as u32);
                }
            }
        }
        (out, argmax)
    }

    #[test]
    fn windows_give_their_maximum_and_its_place() {
        // One 4×5 plane, 2×2 windows every 2: column 4 is never read.
        #[rustfmt::skip]
        let x: Vec<f32> = vec![
            1.0, 5.0, 2.0, 0.0, 9.0,
            3.0, 4.0, 8.0, 7.0, 9.0,
            -1.0, -2.0, 6.0, f32::NAN, 9.0,
            -3.0, -0.5, 6.5, 1.0, 9.0,
        ];
        let win = Windows {
            plane: [4, 5],
            kernel: 2,
            stride: 2,
        };
        let (out, argmax) = pooled(&x, win, false);
        assert_eq!(out[..3], [5.0, 8.0, -0.5]);
        assert!(out[3].is_nan(), "a NaN in a window wins");
        assert_eq!(argmax, vec![1, 7, 16, 13]);
        let dx = unpooled(&[1.0, 2.0, 3.0, 4.0], &argmax, None, win);
        let mut expected = vec![0.0; 20];
        for (at, g) in [(1, 1.0), (7, 2.0), (16, 3.0), (13, 4.0)] {
            expected[at] = g;
        }
        assert_eq!(dx, expected);

        let (out, argmax_relu) = pooled(&x, win, true);
        assert_eq!(out[..3], [5.0, 8.0, 0.0]);
        assert!(out[3].is_nan(), "the ReLU keeps NaN");
        assert_eq!(argmax_relu, argmax);
        let dx = unpooled(&[1.0, 2.0, 3.0, 4.0], &argmax, Some(&out), win);
        expected[16] = 0.0;
        expected[13] = 0.0;
        assert_eq!(
            dx, expected,
            "the gate stops a non-positive or NaN output's gradient"
        );
    }

    #[test]
    fn ties_go_to_the_first_maximum_and_nans_to_the_last() {
        let win = Windows {
            plane: [2, 2],
            kernel: 2,
            stride: 2,
        };
        let nan = f32::NAN;
        for (x, at) in [
            ([1.0, 2.0, 2.0, 2.0], 1),
            ([3.0, 1.0, 3.0, 3.0], 0),
            ([nan, 1.0, nan, 0.0], 2),
            ([0.0, nan, 5.0, 1.0], 1),
            ([f32::NEG_INFINITY; 4], 0),
        ] {
            assert_eq!(pooled(&x, win, false).1, vec![at], "{x:?}");
            assert_eq!(reference(&x, win).1, vec![at], "{x:?}");
        }
    }

    #[test]
    fn every_geometry_matches_the_plain_scan() {
        // Values with many ties, some NaN, over several planes and geometries: the 2×2 path
        // (with and without a scalar remainder, odd and even sides) and the general one
        // (overlapping and ragged windows).
        let values = |len: usize, salt: u32| -> Vec<f32> {
            (0..len as u32)
                .map(
                    |i| match i.wrapping_mul(2654435761).wrapping_add(salt) >> 27 {
                        0 => f32::NAN,
                        r => (r % 7) as f32 - 3.0,
                    },
                )
                .collect()
        };
        let same = |a: &[f32], b: &[f32]| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(&u, &v)| u == v || (u.is_nan() && v.is_nan()))
        };
        for (plane, kernel, stride) in [
            ([7, 9], 2, 2),
            ([6, 22], 2, 2),
            ([5, 19], 2, 2),
            ([7, 9], 3, 2),
            ([7, 9], 2, 1),
            ([7, 9], 3, 3),
            ([7, 9], 1, 1),
        ] {
            let win = Windows {
                plane,
                kernel,
                stride,
            };
            let what = format!("{plane:?} {kernel}/{stride}");
            let x = values(3 * win.plane_len(), 0);
            let (out, argmax) = pooled(&x, win, false);
            let (want_out, want_argmax) = reference(&x, win);
            assert_eq!(argmax, want_argmax, "{what}");
            assert!(same(&out, &want_out), "{what}");
            let (relu_out, relu_argmax) = pooled(&x, win, true);
            let want_relu: Vec<f32> = want_out
                .iter()
                .map(|&v| if v < 0.0 { 0.0 } else { v })
                .collect();
            assert_eq!(relu_argmax, argmax, "{what}");
            assert!(same(&relu_out, &want_relu), "{what}");

            let grad = values(out.len(), 99);
            for gate in [None, Some(&relu_out[..])] {
                let mut want = vec![0.0; x.len()];
                for (k, (&g, &at)) in grad.iter().zip(&argmax).enumerate() {
                    let plane = k / win.pooled_len() * win.plane_len();
                    if gate.is_none_or(|o| o[k] > 0.0) {
                        want[plane + at as usize] += g;
                    }
                }
                let dx = unpooled(&grad, &argmax, gate, win);
                assert!(same(&dx, &want), "{what} gate {}", gate.is_some());
            }
        }
    }

    #[test]
    fn overlapping_windows_add_their_gradients() {
        // A 3×3 plane, 2×2 windows every 1: the centre is every window's maximum and collects
        // all four gradients.
        let x = vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0];
        let win = Windows {
            plane: [3, 3],
            kernel: 2,
            stride: 1,
        };
        let (out, argmax) = pooled(&x, win, false);
        assert_eq!(out, vec![1.0; 4]);
        let dx = unpooled(&[1.0, 2.0, 3.0, 4.0], &argmax, None, win);
        assert_eq!(dx[4], 10.0);
        assert_eq!(dx.iter().sum::<f32>(), 10.0);
    }

    #[test]
    fn windows_that_do_not_fit_are_refused() {
        let fits = |plane, kernel, stride| Windows::fitting(plane, kernel, stride).is_some();
        assert!(fits([2, 2], 2, 2));
        assert!(!fits([1, 4], 2, 2));
        assert!(!fits([4, 4], 0, 1));
        assert!(!fits([4, 4], 2, 0));
    }
}
