//! The process allocator's settings for training.
//!
//! glibc hands the free memory at the top of its heap back to the kernel once it exceeds the
//! trim threshold, and serves requests above the mmap threshold with fresh mappings. Both
//! thresholds adapt at run time, but a training step frees most of what it allocated (its
//! activations and gradients) at its end and asks for the same sizes again at the next one, so
//! the heap keeps shrinking and regrowing and every regrowth is paid in page faults while the
//! kernels write their outputs. LibTorch's CPU tensors come from the same allocator, so its steps
//! pay too. Keeping freed memory for reuse costs no more than the peak a step has already
//! reached.

/// What the allocator was told, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tuning {
    /// Thresholds set to these byte counts.
    Set {
        mmap_threshold: usize,
        trim_threshold: usize,
    },
    /// The user configured glibc's allocator through the environment; that choice stands.
    UserSettings,
    /// glibc refused a setting. Setting either threshold stops glibc adapting both, so one that
    /// was accepted still stands.
    Refused,
    /// Not a glibc target.
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    Unsupported,
}

/// Largest mmap threshold glibc accepts on 64-bit targets (half its arena heap size); blocks
/// below it come from the heap and are reused.
const MMAP_THRESHOLD: usize = 32 << 20;

/// Free memory kept at the heap's top before any goes back to the kernel.
const TRIM_THRESHOLD: usize = 1 << 30;

/// Applies the thresholds unless the environment already configures glibc's allocator.
/// Call it first thing in `main`, before threads start allocating.
pub fn tune_for_training() -> Tuning {
    if user_configured(|name| std::env::var_os(name)) {
        return Tuning::UserSettings;
    }
    apply()
}

/// Whether glibc's allocator is configured through its environment variables.
fn user_configured(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    let tunables = var("GLIBC_TUNABLES")
        .is_some_and(|value| value.to_string_lossy().contains("glibc.malloc."));
    let legacy = [
        "MALLOC_MMAP_THRESHOLD_",
        "MALLOC_TRIM_THRESHOLD_",
        "MALLOC_TOP_PAD_",
    ]
    .iter()
    .any(|name| var(name).is_some());
    tunables || legacy
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() -> Tuning {
    let as_int = |bytes: usize| libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: mallopt only changes glibc's allocation thresholds; it is called before the
    // program starts other threads, and either setting is valid at any time.
    let mmap = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, as_int(MMAP_THRESHOLD)) };
    // SAFETY: as above.
    let trim = unsafe { libc::mallopt(libc::M_TRIM_THRESHOLD, as_int(TRIM_THRESHOLD)) };
    if mmap == 1 && trim == 1 {
        Tuning::Set {
            mmap_threshold: MMAP_THRESHOLD,
            trim_threshold: TRIM_THRESHOLD,
        }
    } else {
        Tuning::Refused
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() -> Tuning {
    Tuning::Unsupported
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        }
    }

    #[test]
    fn malloc_tunables_and_legacy_variables_count_as_user_settings() {
        assert!(user_configured(env(&[(
            "GLIBC_TUNABLES",
            "glibc.malloc.trim_threshold=0"
        )])));
        assert!(user_configured(env(&[("MALLOC_TRIM_THRESHOLD_", "0")])));
        assert!(user_configured(env(&[("MALLOC_MMAP_THRESHOLD_", "4096")])));
    }

    #[test]
    fn other_tunables_leave_the_allocator_to_coevo() {
        assert!(!user_configured(env(&[(
            "GLIBC_TUNABLES",
            "glibc.cpu.hwcaps=-AVX512F"
        )])));
        assert!(!user_configured(env(&[])));
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn glibc_accepts_both_thresholds() {
        assert_eq!(
            apply(),
            Tuning::Set {
                mmap_threshold: MMAP_THRESHOLD,
                trim_threshold: TRIM_THRESHOLD
            }
        );
    }
}
