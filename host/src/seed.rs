//! Seeds derived from one experiment seed.
//!
//! Every random choice in coevo (initial weights, validation split, batch order, augmentation,
//! dropout, mutations) draws from a generator seeded by [`derive`] from the run's seed and a
//! label naming the use. Streams are therefore independent of one another and of the order in
//! which they are asked for, which is what makes a run resumable at any step.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The generator every part of coevo uses: small, fast, and its state is serialisable.
pub type Rng = ChaCha8Rng;

/// A seed for the use named `label` (and `index`, for the n-th of many) under `parent`.
pub fn derive(parent: u64, label: &str, index: u64) -> u64 {
    // FNV-1a over the label, then SplitMix64 finalisation of the mix: cheap, stable across
    // platforms and releases (unlike std's hasher), and well spread for nearby inputs.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in label.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    let mix = splitmix(parent ^ splitmix(hash ^ splitmix(index)));
    splitmix(mix)
}

/// burn draws random tensors from one generator per device, which `Device::seed` resets. Code
/// that seeds it and then draws holds this lock over both, so that no other thread's draw can
/// fall in between and change the numbers: one seed gives one run, also in a process that
/// trains on several threads (the tests do).
pub fn device_generator() -> std::sync::MutexGuard<'static, ()> {
    static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());
    GENERATOR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A generator for the use named `label` under `parent`.
pub fn rng(parent: u64, label: &str, index: u64) -> Rng {
    Rng::seed_from_u64(derive(parent, label, index))
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_by_label_index_and_parent() {
        let base = derive(7, "init", 0);
        assert_eq!(base, derive(7, "init", 0));
        assert_ne!(base, derive(7, "init", 1));
        assert_ne!(base, derive(7, "split", 0));
        assert_ne!(base, derive(8, "init", 0));
    }
}
