//! The compute device a command runs on, chosen once at the edge.
//!
//! burn 0.22 dispatches on the device at run time, so a binary built with the `tch` feature
//! offers both its pure-Rust `flex` CPU backend and LibTorch; the cargo feature decides what is
//! compiled in, `--device` decides what a run uses.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// Where tensors live and kernels run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ComputeDevice {
    /// burn's pure-Rust CPU backend (`flex`); always available.
    Flex,
    /// LibTorch on the CPU (`tch` feature).
    TorchCpu,
    /// LibTorch on the CUDA device with this index (`tch` feature).
    TorchCuda(usize),
}

/// A device name that `--device` does not accept, or one this build lacks.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceError {
    /// The text names no device.
    #[error("unknown device `{0}`: expected `cpu`, `flex`, `tch-cpu` or `cuda:N` (N a GPU index)")]
    Unknown(String),
    /// The device needs LibTorch, which this binary was built without.
    #[error("device `{0}` needs LibTorch: rebuild with `--features tch` (see tools/libtorch.sh)")]
    NeedsTorch(ComputeDevice),
}

impl ComputeDevice {
    /// The device `cpu` stands for: LibTorch's CPU when it is compiled in, else `flex`.
    pub fn cpu() -> Self {
        if cfg!(feature = "tch") {
            Self::TorchCpu
        } else {
            Self::Flex
        }
    }

    /// Whether this build can run on the device.
    pub fn is_available(self) -> bool {
        matches!(self, Self::Flex) || cfg!(feature = "tch")
    }

    /// Whether results on this device are bit-for-bit repeatable for one seed.
    pub fn is_deterministic(self) -> bool {
        !matches!(self, Self::TorchCuda(_))
    }

    /// The device a worker process computes on for a driver on `self`, where `visible` is the
    /// worker's `CUDA_VISIBLE_DEVICES`. A scheduler that hands a process its GPUs (Ray does)
    /// sets that variable, and the process then numbers the GPUs it sees from 0: the driver's
    /// index names a GPU as the driver's process sees them, not the one the worker was given.
    pub fn for_worker(self, visible: Option<&str>) -> Self {
        match (self, visible.map(str::trim)) {
            (Self::TorchCuda(_), Some(list)) if !list.is_empty() => Self::TorchCuda(0),
            _ => self,
        }
    }

    /// Whether a worker on `self` computes as a driver on `driver` does: the same device, with
    /// any two CUDA devices alike, since an index only means something within one process.
    pub fn computes_as(self, driver: Self) -> bool {
        match (self, driver) {
            (Self::TorchCuda(_), Self::TorchCuda(_)) => true,
            _ => self == driver,
        }
    }

    /// The burn device, or why this build cannot provide it.
    pub fn to_burn(self) -> Result<Device, DeviceError> {
        match self {
            Self::Flex => Ok(Device::flex()),
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            // burn-tch is deprecated upstream; 0.22 is pinned for it
            Self::TorchCpu => Ok(Device::libtorch()),
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            Self::TorchCuda(index) => Ok(Device::libtorch_cuda(index)),
            #[cfg(not(feature = "tch"))]
            other => Err(DeviceError::NeedsTorch(other)),
        }
    }
}

/// Whether `device` computes on the CPU (flex, or LibTorch's CPU).
pub fn is_cpu(device: &Device) -> bool {
    #[cfg(feature = "tch")]
    #[allow(deprecated)] // burn-tch is deprecated upstream; 0.22 is pinned for it
    if *device == Device::libtorch() {
        return true;
    }
    *device == Device::flex()
}

impl Default for ComputeDevice {
    fn default() -> Self {
        Self::cpu()
    }
}

impl fmt::Display for ComputeDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flex => write!(f, "flex"),
            Self::TorchCpu => write!(f, "tch-cpu"),
            Self::TorchCuda(index) => write!(f, "cuda:{index}"),
        }
    }
}

impl FromStr for ComputeDevice {
    type Err = DeviceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let device = match text.trim().to_ascii_lowercase().as_str() {
            "cpu" => Self::cpu(),
            "flex" => Self::Flex,
            "tch-cpu" | "libtorch" | "torch-cpu" => Self::TorchCpu,
            "cuda" => Self::TorchCuda(0),
            other => match other.strip_prefix("cuda:").map(str::parse) {
                Some(Ok(index)) => Self::TorchCuda(index),
                _ => return Err(DeviceError::Unknown(text.to_string())),
            },
        };
        if device.is_available() {
            Ok(device)
        } else {
            Err(DeviceError::NeedsTorch(device))
        }
    }
}

impl TryFrom<String> for ComputeDevice {
    type Error = DeviceError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<ComputeDevice> for String {
    fn from(device: ComputeDevice) -> Self {
        device.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_given_one_gpu_computes_on_its_first_visible_device() {
        let driver = ComputeDevice::TorchCuda(3);
        assert_eq!(driver.for_worker(Some("5")), ComputeDevice::TorchCuda(0));
        assert_eq!(
            driver.for_worker(Some("GPU-8f2a,GPU-11c0")),
            ComputeDevice::TorchCuda(0)
        );
        // No GPUs handed out: the index stands as the driver gave it.
        assert_eq!(driver.for_worker(None), driver);
        assert_eq!(driver.for_worker(Some(" ")), driver);
        // CPU devices ignore the variable.
        assert_eq!(
            ComputeDevice::Flex.for_worker(Some("0")),
            ComputeDevice::Flex
        );
        assert!(ComputeDevice::TorchCuda(0).computes_as(driver));
        assert!(!ComputeDevice::TorchCpu.computes_as(driver));
        assert!(!ComputeDevice::Flex.computes_as(ComputeDevice::TorchCpu));
    }

    #[test]
    fn parses_the_names_the_cli_documents() {
        assert_eq!("flex".parse(), Ok(ComputeDevice::Flex));
        assert_eq!("cpu".parse(), Ok(ComputeDevice::cpu()));
        assert!(matches!(
            "gpu".parse::<ComputeDevice>(),
            Err(DeviceError::Unknown(_))
        ));
        assert!(matches!(
            "cuda:x".parse::<ComputeDevice>(),
            Err(DeviceError::Unknown(_))
        ));
    }

    #[cfg(not(feature = "tch"))]
    #[test]
    fn a_build_without_torch_says_how_to_get_cuda() {
        let err = "cuda:1".parse::<ComputeDevice>().unwrap_err();
        assert_eq!(err, DeviceError::NeedsTorch(ComputeDevice::TorchCuda(1)));
        assert!(err.to_string().contains("--features tch"));
    }

    #[test]
    fn display_round_trips() {
        for device in [ComputeDevice::Flex, ComputeDevice::TorchCuda(3)] {
            if device.is_available() {
                assert_eq!(device.to_string().parse(), Ok(device));
            }
        }
    }
}
