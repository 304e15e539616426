//! Image augmentation on the device: random crop with zero padding and horizontal flip.
//!
//! Both are one gather: for each sample the host draws a crop offset and a flip bit (three
//! numbers), the device builds the source index of every output pixel from them, and a single
//! `gather` over the padded batch produces the augmented batch.

use burn::tensor::{Int, Tensor, TensorData};
pub use coevo_sdk::Augment;
use rand::Rng as _;

use crate::seed::Rng;

/// Augments rows `[B, C·H·W]` of `[C, H, W]` images; other shapes pass through.
pub fn augment_batch(
    augment: &Augment,
    rows: Tensor<2>,
    sample_shape: &[usize],
    rng: &mut Rng,
) -> Tensor<2> {
    let [c, h, w] = match *sample_shape {
        [c, h, w] if augment.is_active() => [c, h, w],
        _ => return rows,
    };
    let [b, numel] = rows.dims();
    let device = rows.device();
    let pad = augment.crop_padding;
    let (hp, wp) = (h + 2 * pad, w + 2 * pad);
    let mut dy = Vec::with_capacity(b);
    let mut dx = Vec::with_capacity(b);
    let mut flip = Vec::with_capacity(b);
    for _ in 0..b {
        dy.push(rng.random_range(0..=2 * pad) as i64);
        dx.push(rng.random_range(0..=2 * pad) as i64);
        flip.push(i64::from(augment.flip && rng.random_bool(0.5)));
    }
    let column = |v: Vec<i64>| Tensor::<1, Int>::from_data(TensorData::new(v, [b]), &device);
    let (dy, dx, flip) = (column(dy), column(dx), column(flip));
    // Source row y + dy; source column x + dx, or (w - 1 - x) + dx when flipped.
    let ys = Tensor::<1, Int>::arange(0..h as i64, &device).reshape([1, h, 1]);
    let xs = Tensor::<1, Int>::arange(0..w as i64, &device).reshape([1, 1, w]);
    let mirrored = xs.clone().neg().add_scalar(w as i64 - 1);
    let flip3 = flip.reshape([b, 1, 1]);
    let cols = xs.clone() + (mirrored - xs) * flip3 + dx.reshape([b, 1, 1]);
    let rows_idx = ys + dy.reshape([b, 1, 1]);
    let index = (rows_idx.mul_scalar(wp as i64) + cols)
        .reshape([b, 1, h * w])
        .expand([b, c, h * w]);
    let padded = rows
        .reshape([b, c, h, w])
        .pad(
            [(pad, pad), (pad, pad)],
            burn::tensor::ops::PadMode::Constant(0.0),
        )
        .reshape([b, c, hp * wp]);
    padded.gather(2, index).reshape([b, numel])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensors::to_f32;
    use burn::tensor::Device;
    use rand::SeedableRng;

    fn image(device: &Device) -> Tensor<2> {
        // One 1x3x3 image with values 1..9, row-major.
        Tensor::from_data(
            TensorData::new((1..=9).map(|v| v as f32).collect::<Vec<_>>(), [1, 9]),
            device,
        )
    }

    #[test]
    fn flip_alone_mirrors_rows() {
        let device = Device::flex();
        let augment = Augment {
            crop_padding: 0,
            flip: true,
        };
        let seen: Vec<Vec<f32>> = (0..16)
            .map(|s| {
                let mut rng = Rng::seed_from_u64(s);
                to_f32(augment_batch(
                    &augment,
                    image(&device),
                    &[1, 3, 3],
                    &mut rng,
                ))
            })
            .collect();
        let same = vec![1., 2., 3., 4., 5., 6., 7., 8., 9.];
        let mirrored = vec![3., 2., 1., 6., 5., 4., 9., 8., 7.];
        assert!(seen.iter().all(|v| *v == same || *v == mirrored));
        assert!(seen.contains(&same) && seen.contains(&mirrored));
    }

    #[test]
    fn crops_are_shifted_windows_of_the_padded_image() {
        let device = Device::flex();
        let augment = Augment {
            crop_padding: 1,
            flip: false,
        };
        let mut shifted = 0;
        for s in 0..32 {
            let mut rng = Rng::seed_from_u64(s);
            let v: Vec<f32> = to_f32(augment_batch(
                &augment,
                image(&device),
                &[1, 3, 3],
                &mut rng,
            ));
            // Every output pixel is either padding or the source pixel one step away at most.
            for (i, &value) in v.iter().enumerate() {
                if value != 0.0 {
                    let (src, dst) = (value as usize - 1, i);
                    assert!((src / 3).abs_diff(dst / 3) <= 1 && (src % 3).abs_diff(dst % 3) <= 1);
                }
            }
            shifted += usize::from(v[4] != 5.0);
        }
        assert!(shifted > 0, "some crops must move the centre");
    }
}
