//! Max pooling on LibTorch CPU tensors, by coevo's pooling kernels.
//!
//! LibTorch's CPU pooling with indices visits each window element by element, with a branch
//! per comparison and index bookkeeping; in a LeNet-5 training step at batch 128 it took about a
//! fifth of the CPU time. coevo's kernel reads the tensor's memory in place, compares four
//! windows at a time and keeps its argmax as `u32`s. GPUs keep LibTorch's pooling.

use std::sync::Arc;

use tch::{Device, Kind, Tensor};

use super::pool_kernel::{self, Threads, Windows};

/// What the backward pass needs: where each output came from and the geometry.
#[derive(Debug, Clone)]
pub struct PoolRecord {
    argmax: Arc<Vec<u32>>,
    /// `[N, C, H, W]`.
    input: [i64; 4],
    windows: Windows,
}

/// Whether coevo's kernels take `t`: a non-empty f32 tensor in the CPU's memory.
fn on_cpu(t: &Tensor) -> bool {
    t.device() == Device::Cpu && t.kind() == Kind::Float && t.numel() > 0
}

/// The values of `t`, a contiguous non-empty f32 CPU tensor.
fn values(t: &Tensor) -> &[f32] {
    assert!(
        t.is_contiguous() && on_cpu(t),
        "pooling read a tensor it does not cover"
    );
    // SAFETY: `t` is a contiguous f32 tensor in CPU memory (checked above), so its data pointer
    // is non-null and holds `numel` f32 values, alive while `t` is borrowed. LibTorch runs no
    // operation on it while the slice lives: this thread is the only one using it.
    unsafe { std::slice::from_raw_parts(t.data_ptr() as *const f32, t.numel()) }
}

/// The values of `t`, a contiguous non-empty f32 CPU tensor, for writing.
fn values_mut(t: &mut Tensor) -> &mut [f32] {
    assert!(
        t.is_contiguous() && on_cpu(t),
        "pooling wrote a tensor it does not cover"
    );
    // SAFETY: as in `values`; the exclusive borrow of a tensor this module just allocated
    // (no other handle shares its storage) makes the slice the only access.
    unsafe { std::slice::from_raw_parts_mut(t.data_ptr() as *mut f32, t.numel()) }
}

/// Max pooling of `x` (`[N, C, H, W]`), then a ReLU when `relu`, with its record for
/// [`backward`]; `None` when `x` is not a CPU tensor these kernels cover.
pub fn forward(
    x: &Tensor,
    kernel: usize,
    stride: usize,
    relu: bool,
) -> Option<(Tensor, PoolRecord)> {
    let &[n, c, h, w] = &x.size()[..] else {
        return None;
    };
    let plane = [usize::try_from(h).ok()?, usize::try_from(w).ok()?];
    let windows = Windows::fitting(plane, kernel, stride)?;
    if !on_cpu(x) {
        return None;
    }
    let x = x.contiguous();
    let [oh, ow] = windows.pooled().map(|v| v as i64);
    let mut out = Tensor::empty([n, c, oh, ow], (Kind::Float, Device::Cpu));
    let mut argmax = vec![0u32; out.numel()];
    // On the calling thread: LibTorch's own threads are still spinning from the convolution,
    // and rayon's would compete with them for the same cores.
    pool_kernel::pool(
        values(&x),
        windows,
        relu,
        values_mut(&mut out),
        &mut argmax,
        Threads::Caller,
    );
    let record = PoolRecord {
        argmax: Arc::new(argmax),
        input: [n, c, h, w],
        windows,
    };
    Some((out, record))
}

/// The gradient of the pooling's input from its output gradient; `gate` is the pooled output
/// when a ReLU rode along.
pub fn backward(record: &PoolRecord, gate: Option<&Tensor>, output_grad: &Tensor) -> Tensor {
    let grad = output_grad.to_kind(Kind::Float).contiguous();
    let gate = gate.map(Tensor::contiguous);
    // Zeroed by LibTorch (in its threads); the kernel adds into it.
    let mut dx = Tensor::zeros(record.input, (Kind::Float, Device::Cpu));
    pool_kernel::unpool(
        values(&grad),
        &record.argmax,
        gate.as_ref().map(values),
        record.windows,
        values_mut(&mut dx),
        Threads::Caller,
    );
    dx
}
