//! [`Identity`]: what must be the same on a worker for its answers to be the driver's bits.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::job::sha256_hex;
use crate::ComputeDevice;

/// The binary, the device and the LibTorch library a process computes with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// SHA-256 of the running executable.
    pub binary_sha256: String,
    /// The compute device.
    pub device: ComputeDevice,
    /// LibTorch's CPU library as mapped into the process (`file name, bytes`), when linked.
    pub libtorch: Option<String>,
}

impl Identity {
    /// This process's identity on `device`; the executable is hashed once per process.
    pub fn current(device: ComputeDevice) -> Result<Self, String> {
        static BINARY: OnceLock<Result<String, String>> = OnceLock::new();
        let binary = BINARY.get_or_init(|| {
            let exe = std::env::current_exe().map_err(|e| format!("the executable: {e}"))?;
            let bytes =
                std::fs::read(&exe).map_err(|e| format!("reading {}: {e}", exe.display()))?;
            Ok(sha256_hex(&bytes))
        });
        Ok(Self {
            binary_sha256: binary.clone()?,
            device,
            libtorch: libtorch(),
        })
    }

    /// `Ok` when `self` (a worker) computes what `driver` does; else what differs, in words.
    pub fn check(&self, driver: &Identity) -> Result<(), String> {
        let mut differences = Vec::new();
        if self.binary_sha256 != driver.binary_sha256 {
            differences.push(format!(
                "the binary (sha256 {} here, {} on the driver)",
                self.binary_sha256, driver.binary_sha256
            ));
        }
        if !self.device.computes_as(driver.device) {
            differences.push(format!(
                "the device ({} here, {} on the driver)",
                self.device, driver.device
            ));
        }
        if self.libtorch != driver.libtorch {
            let name = |l: &Option<String>| l.clone().unwrap_or_else(|| "none".into());
            differences.push(format!(
                "LibTorch ({} here, {} on the driver)",
                name(&self.libtorch),
                name(&driver.libtorch)
            ));
        }
        match differences.is_empty() {
            true => Ok(()),
            false => Err(format!(
                "this worker differs from the driver in {}",
                differences.join(" and ")
            )),
        }
    }
}

/// LibTorch's CPU library among the process's mapped files, by name and size (Linux).
fn libtorch() -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let path = maps
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|p| p.ends_with("/libtorch_cpu.so"))?;
    let bytes = std::fs::metadata(path).ok()?.len();
    Some(format!("libtorch_cpu.so, {bytes} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_that_differs_says_in_what() {
        let me = Identity::current(ComputeDevice::Flex).unwrap();
        assert!(me.check(&me).is_ok());
        let other = Identity {
            binary_sha256: "00".into(),
            device: ComputeDevice::TorchCpu,
            libtorch: me.libtorch.clone(),
        };
        let why = me.check(&other).unwrap_err();
        assert!(
            why.contains("the binary") && why.contains("the device"),
            "{why}"
        );
        assert!(!why.contains("LibTorch"), "{why}");
    }

    #[test]
    fn a_worker_on_another_gpu_index_is_not_refused() {
        // Ray gives a worker its GPU as cuda:0 in that worker; the driver may be on cuda:1.
        let mut driver = Identity::current(ComputeDevice::TorchCuda(1)).unwrap();
        let worker = Identity::current(ComputeDevice::TorchCuda(0)).unwrap();
        assert!(worker.check(&driver).is_ok());
        driver.device = ComputeDevice::TorchCpu;
        assert!(worker.check(&driver).unwrap_err().contains("the device"));
    }
}
