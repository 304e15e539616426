//! A plugin instance on a mock host, created without `unsafe` in the test.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use super::MockHost;
use crate::algorithm::Algorithm;
use crate::client::{CallError, Plugin, PluginInstance};
use crate::export::StaticDescriptor;

/// An instance of an algorithm driven through its exported table, on a mock host it cannot
/// outlive. It derefs to the [`PluginInstance`] the real host would drive.
#[derive(Debug)]
pub struct MockInstance<'h> {
    instance: PluginInstance,
    host: PhantomData<&'h MockHost>,
}

impl MockHost {
    /// Creates an instance of `A` from `config` (JSON text), through the same descriptor and
    /// `extern "C"` functions that `export_plugin!(A)` exports, so the test covers the glue.
    pub fn instance<A: Algorithm>(&self, config: &str) -> Result<MockInstance<'_>, CallError> {
        // A test builds a few descriptors; leaking them gives the `'static` life the
        // exported one has, which `Plugin` needs.
        let descriptor: &'static StaticDescriptor =
            Box::leak(Box::new(StaticDescriptor::new::<A>()));
        // SAFETY: the descriptor was just built for this SDK's ABI and is never freed.
        let plugin = unsafe { Plugin::new(descriptor.raw()) }.map_err(|e| CallError {
            status: crate::ffi::STATUS_ERROR,
            message: e.to_string(),
        })?;
        // SAFETY: the table lives in `self`, which the returned instance borrows.
        let instance = unsafe { PluginInstance::create(plugin, self.table(), config) }?;
        Ok(MockInstance {
            instance,
            host: PhantomData,
        })
    }
}

impl Deref for MockInstance<'_> {
    type Target = PluginInstance;

    fn deref(&self) -> &PluginInstance {
        &self.instance
    }
}

impl DerefMut for MockInstance<'_> {
    fn deref_mut(&mut self) -> &mut PluginInstance {
        &mut self.instance
    }
}
