//! The host's side of the ABI, made safe: checking a descriptor and driving an instance.
//!
//! The coevo host uses this to drive loaded libraries, and plugin tests use it with
//! [`crate::testing::MockHost`] to drive an algorithm through the very `extern "C"` functions
//! the host will call.

use std::ffi::{CStr, c_char};

use serde_json::Value;

use crate::algorithm::{HookInfo, StepReport};
use crate::ffi::{self, HostTable, Instance, PluginDescriptor, Status, VersionHeader};
use crate::prefix;

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

/// Accepts a header of the same major and a minor at most `host_minor`. The size is checked
/// by [`prefix::read`], the one place that compares sizes.
pub fn check_version(
    header: VersionHeader,
    host_major: u32,
    host_minor: u32,
) -> Result<(), VersionMismatch> {
    let plugin = (header.abi_major, header.abi_minor);
    let host = (host_major, host_minor);
    if header.abi_major != host_major {
        return Err(VersionMismatch::Major { plugin, host });
    }
    if header.abi_minor > host_minor {
        return Err(VersionMismatch::NewerMinor { plugin, host });
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

/// A checked plugin descriptor, copied as its plugin built it (see [`prefix`]).
#[derive(Debug, Clone, Copy)]
pub struct Plugin {
    descriptor: PluginDescriptor,
}

// SAFETY: a descriptor is pointers to immutable static data and to functions.
unsafe impl Send for Plugin {}
// SAFETY: as above.
unsafe impl Sync for Plugin {}

impl Plugin {
    /// Checks the version header, then accepts a descriptor at least as large as version
    /// 1.0's; the fields past its declared size read as absent.
    ///
    /// # Safety
    /// `descriptor` must point at a descriptor whose strings and functions stay valid (its
    /// library loaded) for as long as the returned value and every instance made from it are
    /// used.
    pub unsafe fn new(descriptor: *const PluginDescriptor) -> Result<Self, VersionMismatch> {
        // SAFETY: every descriptor starts with the version header; nothing else is read before
        // the check passes.
        let header = unsafe { prefix::header(descriptor) };
        check_version(header, ffi::ABI_MAJOR, ffi::ABI_MINOR)?;
        // SAFETY: a descriptor of a version this host reads: `size` bytes of its layout.
        let descriptor = unsafe { prefix::read(descriptor) }.ok_or(VersionMismatch::TooSmall {
            size: header.size,
            needed: PluginDescriptor::V1_0_SIZE,
        })?;
        Ok(Self { descriptor })
    }

    fn raw(&self) -> &PluginDescriptor {
        &self.descriptor
    }

    /// The ABI version (major, minor) the plugin was built for.
    pub fn abi_version(&self) -> (u32, u32) {
        (self.descriptor.abi_major, self.descriptor.abi_minor)
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

#[cfg(test)]
mod tests {
    use std::ptr::null;

    use super::*;

    unsafe extern "C" fn create(
        _: *const HostTable,
        _: *const c_char,
        _: *mut *mut Instance,
        _: *mut *mut c_char,
    ) -> Status {
        ffi::STATUS_ERROR
    }
    unsafe extern "C" fn out(_: *mut Instance, _: *mut *mut c_char, _: *mut *mut c_char) -> Status {
        ffi::STATUS_ERROR
    }
    unsafe extern "C" fn restore(
        _: *mut Instance,
        _: *const c_char,
        _: *mut *mut c_char,
    ) -> Status {
        ffi::STATUS_ERROR
    }
    unsafe extern "C" fn destroy(_: *mut Instance) {}
    unsafe extern "C" fn free_string(_: *mut c_char) {}

    fn descriptor(minor: u32, size: u32) -> PluginDescriptor {
        PluginDescriptor {
            abi_major: ffi::ABI_MAJOR,
            abi_minor: minor,
            size,
            name: c"old".as_ptr(),
            version: null(),
            description: null(),
            hooks_json: null(),
            schema_json: null(),
            create,
            step: out,
            snapshot: out,
            restore,
            destroy,
            free_string,
        }
    }

    #[test]
    fn descriptors_of_every_earlier_minor_are_accepted_at_their_own_size() {
        for (minor, size) in [
            (0, PluginDescriptor::V1_0_SIZE),
            (1, PluginDescriptor::V1_1_SIZE),
            (ffi::ABI_MINOR, size_of::<PluginDescriptor>() as u32),
        ] {
            let old = descriptor(minor, size);
            // SAFETY: `old` outlives the plugin, whose functions are never called.
            let plugin = unsafe { Plugin::new(&old) }.expect("an earlier minor loads");
            assert_eq!(plugin.abi_version(), (ffi::ABI_MAJOR, minor));
            assert_eq!(plugin.name(), "old");
        }
    }

    #[test]
    fn a_descriptor_smaller_than_1_0_is_refused_with_both_sizes() {
        let small = descriptor(0, PluginDescriptor::V1_0_SIZE - 8);
        // SAFETY: as above.
        let err = unsafe { Plugin::new(&small) }.expect_err("too small");
        assert_eq!(
            err,
            VersionMismatch::TooSmall {
                size: PluginDescriptor::V1_0_SIZE - 8,
                needed: PluginDescriptor::V1_0_SIZE
            }
        );
    }

    #[test]
    fn another_major_or_a_newer_minor_is_refused_before_the_size_is_read() {
        let mut other = descriptor(0, 0);
        other.abi_major = ffi::ABI_MAJOR + 1;
        // SAFETY: as above.
        let err = unsafe { Plugin::new(&other) }.expect_err("another major");
        assert!(matches!(err, VersionMismatch::Major { .. }), "{err}");
        let newer = descriptor(ffi::ABI_MINOR + 1, size_of::<PluginDescriptor>() as u32);
        // SAFETY: as above.
        let err = unsafe { Plugin::new(&newer) }.expect_err("a newer minor");
        assert!(matches!(err, VersionMismatch::NewerMinor { .. }), "{err}");
    }
}
