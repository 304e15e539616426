//! The glue [`crate::export_plugin!`] generates: a static descriptor and `extern "C"`
//! functions that catch every panic and turn results into statuses and messages.

use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::algorithm::{Algorithm, HookInfo, PluginError};
use crate::ffi::{self, HostTable, Instance, PluginDescriptor, Status};
use crate::host::{Host, c_string};

/// A descriptor and the strings it points into, built once per plugin library.
#[derive(Debug)]
pub struct StaticDescriptor {
    descriptor: PluginDescriptor,
    _strings: Vec<CString>,
}

// SAFETY: the descriptor's pointers point into `_strings`, which it owns and never changes,
// and to functions; sharing it between threads only reads.
unsafe impl Sync for StaticDescriptor {}
// SAFETY: as above; nothing in it is tied to a thread.
unsafe impl Send for StaticDescriptor {}

impl StaticDescriptor {
    /// The descriptor of algorithm `A`.
    pub fn new<A: Algorithm>() -> Self {
        let hooks: Vec<HookInfo> = A::hooks();
        let strings = vec![
            c_string(A::NAME),
            c_string(A::VERSION),
            c_string(A::DESCRIPTION),
            c_string(&serde_json::to_string(&hooks).expect("hook descriptions serialise")),
            c_string(&A::schema().to_string()),
        ];
        let descriptor = PluginDescriptor {
            abi_major: ffi::ABI_MAJOR,
            abi_minor: ffi::ABI_MINOR,
            size: size_of::<PluginDescriptor>() as u32,
            name: strings[0].as_ptr(),
            version: strings[1].as_ptr(),
            description: strings[2].as_ptr(),
            hooks_json: strings[3].as_ptr(),
            schema_json: strings[4].as_ptr(),
            create: create::<A>,
            step: step::<A>,
            snapshot: snapshot::<A>,
            restore: restore::<A>,
            destroy: destroy::<A>,
            free_string,
        };
        Self {
            descriptor,
            _strings: strings,
        }
    }

    /// The raw descriptor.
    pub fn raw(&self) -> *const PluginDescriptor {
        &self.descriptor
    }
}

/// What an instance holds: the algorithm and the host it talks to.
struct Live<A> {
    algorithm: A,
    host: Host,
}

/// Runs `body`, turning an error or a panic into a status and a plugin-allocated message.
fn guarded(error: *mut *mut c_char, body: impl FnOnce() -> Result<(), PluginError>) -> Status {
    let (status, message) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return ffi::STATUS_OK,
        Ok(Err(e)) => (ffi::STATUS_ERROR, e.0),
        Err(panic) => (
            ffi::STATUS_PANIC,
            format!("panicked: {}", panic_message(panic.as_ref())),
        ),
    };
    if !error.is_null() {
        // SAFETY: the host passes a valid place for one pointer; it frees the string with our
        // `free_string`.
        unsafe { *error = c_string(&message).into_raw() };
    }
    status
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".into())
}

fn read_str<'a>(p: *const c_char, what: &str) -> Result<&'a str, PluginError> {
    if p.is_null() {
        return Err(PluginError(format!("{what} is null")));
    }
    // SAFETY: non-null, and the host passes NUL-terminated strings valid for the call.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| PluginError(format!("{what} is not UTF-8")))
}

fn write_out(out: *mut *mut c_char, text: &str) -> Result<(), PluginError> {
    if out.is_null() {
        return Err("the output pointer is null".into());
    }
    // SAFETY: non-null place for one pointer; the host frees the string with `free_string`.
    unsafe { *out = c_string(text).into_raw() };
    Ok(())
}

fn live<'a, A>(instance: *mut Instance) -> Result<&'a mut Live<A>, PluginError> {
    if instance.is_null() {
        return Err("the instance is null".into());
    }
    // SAFETY: instances are created by `create::<A>` of this same descriptor, and the host
    // never uses one from two threads at once.
    Ok(unsafe { &mut *instance.cast::<Live<A>>() })
}

unsafe extern "C" fn create<A: Algorithm>(
    host: *const HostTable,
    config_json: *const c_char,
    out: *mut *mut Instance,
    error: *mut *mut c_char,
) -> Status {
    guarded(error, || {
        // SAFETY: the host passes its table, alive for as long as the instance.
        let host = unsafe { Host::from_raw(host) }?;
        let config: A::Config = serde_json::from_str(read_str(config_json, "config")?)
            .map_err(|e| PluginError(format!("config: {e}")))?;
        let algorithm = A::create(config, &host)?;
        if out.is_null() {
            return Err("the output pointer is null".into());
        }
        let boxed = Box::new(Live { algorithm, host });
        // SAFETY: non-null place for one pointer; ownership passes to the host until `destroy`.
        unsafe { *out = Box::into_raw(boxed).cast() };
        Ok(())
    })
}

unsafe extern "C" fn step<A: Algorithm>(
    instance: *mut Instance,
    out: *mut *mut c_char,
    error: *mut *mut c_char,
) -> Status {
    guarded(error, || {
        let live = live::<A>(instance)?;
        let report = live.algorithm.step(&live.host)?;
        write_out(out, &serde_json::to_string(&report)?)
    })
}

unsafe extern "C" fn snapshot<A: Algorithm>(
    instance: *mut Instance,
    out: *mut *mut c_char,
    error: *mut *mut c_char,
) -> Status {
    guarded(error, || {
        let live = live::<A>(instance)?;
        write_out(out, &live.algorithm.snapshot()?.to_string())
    })
}

unsafe extern "C" fn restore<A: Algorithm>(
    instance: *mut Instance,
    json: *const c_char,
    error: *mut *mut c_char,
) -> Status {
    guarded(error, || {
        let live = live::<A>(instance)?;
        let snapshot = serde_json::from_str(read_str(json, "snapshot")?)?;
        live.algorithm.restore(snapshot, &live.host)
    })
}

unsafe extern "C" fn destroy<A: Algorithm>(instance: *mut Instance) {
    if instance.is_null() {
        return;
    }
    // A panic in a destructor must not cross either; there is nobody to tell, so it is dropped.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: created by `create::<A>` with Box::into_raw; the host destroys it once.
        drop(unsafe { Box::from_raw(instance.cast::<Live<A>>()) });
    }));
}

unsafe extern "C" fn free_string(string: *mut c_char) {
    if !string.is_null() {
        // SAFETY: every string this plugin hands out comes from CString::into_raw.
        drop(unsafe { CString::from_raw(string) });
    }
}

/// Exports the entry symbol of a plugin library for the [`Algorithm`] type given.
///
/// ```ignore
/// coevo_sdk::export_plugin!(MyAlgorithm);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($algorithm:ty) => {
        /// The plugin's entry point (see `coevo.h`).
        ///
        /// # Safety
        /// `out` and `error` must be valid places for one pointer each, or null.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn coevo_plugin_entry(
            out: *mut *const $crate::ffi::PluginDescriptor,
            error: *mut *const ::std::ffi::c_char,
        ) -> $crate::ffi::Status {
            static DESCRIPTOR: ::std::sync::OnceLock<$crate::export::StaticDescriptor> =
                ::std::sync::OnceLock::new();
            let built = ::std::panic::catch_unwind(|| {
                DESCRIPTOR
                    .get_or_init($crate::export::StaticDescriptor::new::<$algorithm>)
                    .raw()
            });
            match built {
                Ok(descriptor) if !out.is_null() => {
                    // SAFETY: the caller passes a valid place for one pointer.
                    unsafe { *out = descriptor };
                    $crate::ffi::STATUS_OK
                }
                _ => {
                    if !error.is_null() {
                        // SAFETY: as above; the message is static.
                        unsafe { *error = c"the plugin could not build its descriptor".as_ptr() };
                    }
                    $crate::ffi::STATUS_ERROR
                }
            }
        }
    };
}
