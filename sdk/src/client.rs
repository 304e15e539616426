//! The host's side of the ABI, made safe: checking a descriptor and driving an instance.
//!
//! The coevo host uses this to drive loaded libraries, and plugin tests use it with
//! [`crate::testing::MockHost`] to drive an algorithm through the very `extern "C"` functions
//! the host will call.

use std::ffi::{CStr, c_char};

use serde_json::Value;

use crate::algorithm::{HookInfo, StepReport};
use crate::ffi::{self, HostTable, Instance, PluginDescriptor, Status, VersionHeader};

/// Why a descriptor's version is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionMismatch {
    /// Another major version.
    Major {
        /// The plugin's version.
        plugin: (u32, u32),
        /// The host's version.
        host: (u32, u32),
    },
    /// A newer minor version than the host's.
    NewerMinor {
        /// The plugin's version.
        plugin: (u32, u32),
        /// The host's version.
        host: (u32, u32),
    },
    /// The descriptor is smaller than its version requires.
    TooSmall {
        /// Bytes the descriptor claims.
        size: u32,
        /// Bytes version 1.0 has.
        needed: u32,
    },
}

impl std::fmt::Display for VersionMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Major { plugin, host } => write!(
                f,
                "plugin ABI {}.{} has another major version than the host's {}.{}; rebuild the plugin against this SDK",
                plugin.0, plugin.1, host.0, host.1
            ),
            Self::NewerMinor { plugin, host } => write!(
                f,
                "plugin ABI {}.{} is newer than the host's {}.{}; update coevo",
                plugin.0, plugin.1, host.0, host.1
            ),
            Self::TooSmall { size, needed } => {
                write!(f, "descriptor of {size} bytes, version 1.0 has {needed}")
            }
        }
    }
}

/// Accepts a header of the same major and a minor at most `host_minor`.
pub fn check_version(
    header: VersionHeader,
    host_major: u32,
    host_minor: u32,
    needed: u32,
) -> Result<(), VersionMismatch> {
    let plugin = (header.abi_major, header.abi_minor);
    let host = (host_major, host_minor);
    if header.abi_major != host_major {
        return Err(VersionMismatch::Major { plugin, host });
    }
    if header.abi_minor > host_minor {
        return Err(VersionMismatch::NewerMinor { plugin, host });
    }
    if header.size < needed {
        return Err(VersionMismatch::TooSmall {
            size: header.size,
            needed,
        });
    }
    Ok(())
}

/// A call into a plugin that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    /// The status it returned.
    pub status: Status,
    /// Its message.
    pub message: String,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.status == ffi::STATUS_PANIC {
            write!(f, "{} (the plugin panicked)", self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for CallError {}

/// A checked plugin descriptor.
#[derive(Debug, Clone, Copy)]
pub struct Plugin {
    descriptor: *const PluginDescriptor,
}

// SAFETY: a descriptor is immutable static data and function pointers.
unsafe impl Send for Plugin {}
// SAFETY: as above.
unsafe impl Sync for Plugin {}

impl Plugin {
    /// Checks the version header, then accepts the descriptor.
    ///
    /// # Safety
    /// `descriptor` must point at a descriptor that stays valid (its library loaded) for as
    /// long as the returned value and every instance made from it are used.
    pub unsafe fn new(descriptor: *const PluginDescriptor) -> Result<Self, VersionMismatch> {
        // SAFETY: every descriptor starts with the version header; nothing else is read before
        // the check passes.
        let header = unsafe { *descriptor.cast::<VersionHeader>() };
        check_version(
            header,
            ffi::ABI_MAJOR,
            ffi::ABI_MINOR,
            size_of::<PluginDescriptor>() as u32,
        )?;
        Ok(Self { descriptor })
    }

    fn raw(&self) -> &PluginDescriptor {
        // SAFETY: checked at construction; the caller keeps the library loaded.
        unsafe { &*self.descriptor }
    }

    fn text(p: *const c_char) -> String {
        if p.is_null() {
            return String::new();
        }
        // SAFETY: descriptor strings are static and NUL-terminated.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }

    /// Name.
    pub fn name(&self) -> String {
        Self::text(self.raw().name)
    }

    /// Version.
    pub fn version(&self) -> String {
        Self::text(self.raw().version)
    }

    /// One-line description.
    pub fn description(&self) -> String {
        Self::text(self.raw().description)
    }

    /// The hooks it calls (empty if the JSON does not parse).
    pub fn hooks(&self) -> Vec<HookInfo> {
        serde_json::from_str(&Self::text(self.raw().hooks_json)).unwrap_or_default()
    }

    /// The config's JSON Schema (`null` if it does not parse).
    pub fn schema(&self) -> Value {
        serde_json::from_str(&Self::text(self.raw().schema_json)).unwrap_or(Value::Null)
    }

    /// Takes a string the plugin allocated and frees it with the plugin's `free_string`.
    fn take(&self, p: *mut c_char) -> String {
        if p.is_null() {
            return String::new();
        }
        // SAFETY: the plugin allocated `p` as a NUL-terminated string; it is read once and
        // returned to the plugin's own allocator.
        unsafe {
            let text = CStr::from_ptr(p).to_string_lossy().into_owned();
            (self.raw().free_string)(p);
            text
        }
    }

    fn result(&self, status: Status, error: *mut c_char) -> Result<(), CallError> {
        let message = self.take(error);
        if status == ffi::STATUS_OK {
            Ok(())
        } else {
            let message = if message.is_empty() {
                format!("failed with status {status}")
            } else {
                message
            };
            Err(CallError { status, message })
        }
    }
}

/// A live plugin instance; destroyed on drop.
#[derive(Debug)]
pub struct PluginInstance {
    plugin: Plugin,
    instance: *mut Instance,
}

impl PluginInstance {
    /// Creates an instance from a config (JSON text).
    ///
    /// # Safety
    /// `host` must point at a host table that outlives the instance.
    pub unsafe fn create(
        plugin: Plugin,
        host: *const HostTable,
        config_json: &str,
    ) -> Result<Self, CallError> {
        let config = crate::host::c_string(config_json);
        let mut instance = std::ptr::null_mut();
        let mut error = std::ptr::null_mut();
        // SAFETY: valid pointers for the call; the plugin writes one pointer to each out place.
        let status =
            unsafe { (plugin.raw().create)(host, config.as_ptr(), &mut instance, &mut error) };
        plugin.result(status, error)?;
        if instance.is_null() {
            return Err(CallError {
                status: ffi::STATUS_ERROR,
                message: "create returned no instance".into(),
            });
        }
        Ok(Self { plugin, instance })
    }

    /// The plugin it belongs to.
    pub fn plugin(&self) -> Plugin {
        self.plugin
    }

    fn call_out(
        &mut self,
        f: impl FnOnce(*mut Instance, *mut *mut c_char, *mut *mut c_char) -> Status,
    ) -> Result<String, CallError> {
        let mut out = std::ptr::null_mut();
        let mut error = std::ptr::null_mut();
        let status = f(self.instance, &mut out, &mut error);
        let text = self.plugin.take(out);
        self.plugin.result(status, error)?;
        Ok(text)
    }

    /// One step.
    pub fn step(&mut self) -> Result<StepReport, CallError> {
        let step = self.plugin.raw().step;
        // SAFETY: our live instance and valid out places.
        let text = self.call_out(|i, o, e| unsafe { step(i, o, e) })?;
        serde_json::from_str(&text).map_err(|e| CallError {
            status: ffi::STATUS_ERROR,
            message: format!("step report: {e}"),
        })
    }

    /// The state as JSON text.
    pub fn snapshot(&mut self) -> Result<String, CallError> {
        let snapshot = self.plugin.raw().snapshot;
        // SAFETY: our live instance and valid out places.
        self.call_out(|i, o, e| unsafe { snapshot(i, o, e) })
    }

    /// Continues from a snapshot.
    pub fn restore(&mut self, snapshot_json: &str) -> Result<(), CallError> {
        let json = crate::host::c_string(snapshot_json);
        let mut error = std::ptr::null_mut();
        // SAFETY: our live instance, a valid C string and error place.
        let status =
            unsafe { (self.plugin.raw().restore)(self.instance, json.as_ptr(), &mut error) };
        self.plugin.result(status, error)
    }
}

impl Drop for PluginInstance {
    fn drop(&mut self) {
        // SAFETY: created by this plugin's `create`, destroyed once, here.
        unsafe { (self.plugin.raw().destroy)(self.instance) }
    }
}
