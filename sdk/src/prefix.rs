//! Reading a table that its writer may have built for another minor version.
//!
//! A table's writer says in `size` how many bytes of it it built. A reader of a newer minor
//! knows fields the writer did not; a reader of an older one does not know the writer's
//! additions. Rather than comparing `size` before each access, a reader copies the declared
//! bytes once into an all-zero table of its own version ([`read`]): the fields the writer did
//! not build then read as zero, which every field appended after 1.0 (an `Option` of a
//! function pointer) reads as `None`. So a new function needs no check of its own: it is
//! `Some` exactly when the writer built it and set it. The copy also keeps the reader from
//! ever forming a reference to a table shorter than its Rust type, which would be undefined
//! behaviour in itself.

use std::ffi::c_void;

use crate::ffi::{HostTable, PluginDescriptor, VersionHeader};

/// A `#[repr(C)]` table of the ABI, read through [`read`].
///
/// # Safety
/// The type begins with a [`VersionHeader`], every field after the header is pointer-sized,
/// and every field that ends past `V1_0_SIZE` is valid when all its bytes are zero (an
/// `Option` of a function pointer), so that a zeroed tail is a valid value.
pub unsafe trait Table: Copy {
    /// Bytes of version 1.0: the least a reader accepts.
    const V1_0_SIZE: u32;
}

// SAFETY: starts with the header; every field past 1.0's (`model_align`) is an `Option`.
unsafe impl Table for HostTable {
    const V1_0_SIZE: u32 = HostTable::V1_0_SIZE;
}

// SAFETY: starts with the header; nothing has been appended past 1.0.
unsafe impl Table for PluginDescriptor {
    const V1_0_SIZE: u32 = PluginDescriptor::V1_0_SIZE;
}

/// The version header of the table at `table`, read before anything else of it.
///
/// # Safety
/// `table` is non-null and points at a table of the ABI (any version).
pub unsafe fn header<T: Table>(table: *const T) -> VersionHeader {
    // SAFETY: every version of every table begins with the header (the trait's contract).
    unsafe { table.cast::<VersionHeader>().read() }
}

/// The table at `table` as its writer built it: its first `size` bytes (at most a whole `T`,
/// whole fields only) over an all-zero `T`, so fields past them read as absent. `None` when
/// the table declares fewer bytes than version 1.0 has.
///
/// # Safety
/// `table` is non-null and points at a table of the ABI whose first `size` bytes (as its
/// header declares) are readable.
pub unsafe fn read<T: Table>(table: *const T) -> Option<T> {
    // SAFETY: the caller's contract.
    let declared = unsafe { header(table) }.size;
    if declared < T::V1_0_SIZE {
        return None;
    }
    // Whole fields only: a size that ends inside a pointer must not yield half of one.
    let field = size_of::<*const c_void>();
    let len = (declared as usize).min(size_of::<T>()) / field * field;
    let mut copy = std::mem::MaybeUninit::<T>::zeroed();
    // SAFETY: `len` bytes are readable at `table` (the caller's contract) and fit in `copy`;
    // the two do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(table.cast::<u8>(), copy.as_mut_ptr().cast(), len) };
    // SAFETY: the first `len >= V1_0_SIZE` bytes are the writer's valid fields, and the zero
    // bytes after them are valid for every field past 1.0 (the trait's contract).
    Some(unsafe { copy.assume_init() })
}

#[cfg(test)]
mod tests {
    use std::mem::offset_of;

    use super::*;
    use crate::testing::MockHost;

    /// The mock's table as a writer of `size` bytes would have built it, in a buffer exactly
    /// that long (so reading past it would be caught by Miri or a sanitiser).
    fn truncated(mock: &MockHost, size: u32) -> Vec<u8> {
        let full = mock.table().cast::<u8>();
        // SAFETY: the mock's table is live and at least `size` bytes long.
        let mut bytes = unsafe { std::slice::from_raw_parts(full, size as usize) }.to_vec();
        bytes[offset_of!(HostTable, size)..][..4].copy_from_slice(&size.to_ne_bytes());
        bytes
    }

    fn read_bytes(bytes: &[u8]) -> Option<HostTable> {
        // The buffer may be unaligned for a `HostTable`; `read` copies bytes, so it does not
        // care, but `header` reads a `VersionHeader`, so align a copy.
        let mut aligned = vec![0u64; bytes.len().div_ceil(8)];
        // SAFETY: `aligned` has room for `bytes`.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), aligned.as_mut_ptr().cast(), bytes.len())
        };
        // SAFETY: a table of the declared size.
        unsafe { read(aligned.as_ptr().cast::<HostTable>()) }
    }

    #[test]
    fn a_1_0_table_reads_with_the_1_1_function_absent() {
        let mock = MockHost::new();
        let table = read_bytes(&truncated(&mock, HostTable::V1_0_SIZE)).expect("1.0 is enough");
        assert!(table.model_align.is_none());
        assert_eq!(table.size, HostTable::V1_0_SIZE);
    }

    #[test]
    fn a_1_1_table_reads_with_its_function_present() {
        let mock = MockHost::new();
        let table = read_bytes(&truncated(&mock, HostTable::V1_1_SIZE)).expect("1.1 is enough");
        assert!(table.model_align.is_some());
    }

    #[test]
    fn a_size_inside_a_field_does_not_read_half_of_it() {
        let mock = MockHost::new();
        let table = read_bytes(&truncated(&mock, HostTable::V1_0_SIZE + 4)).expect("more than 1.0");
        assert!(table.model_align.is_none());
    }

    #[test]
    fn a_table_smaller_than_1_0_is_refused() {
        let mock = MockHost::new();
        assert!(read_bytes(&truncated(&mock, HostTable::V1_0_SIZE - 8)).is_none());
        assert!(read_bytes(&truncated(&mock, 12)).is_none());
    }

    #[test]
    fn a_larger_table_from_a_newer_writer_reads_as_far_as_this_version_knows() {
        let mock = MockHost::new();
        let mut bytes = truncated(&mock, HostTable::V1_1_SIZE);
        // A newer writer's extra function, which this reader does not know.
        bytes.extend_from_slice(&usize::MAX.to_ne_bytes());
        let size = bytes.len() as u32;
        bytes[offset_of!(HostTable, size)..][..4].copy_from_slice(&size.to_ne_bytes());
        let table = read_bytes(&bytes).expect("a newer table");
        assert!(table.model_align.is_some());
        assert_eq!(table.size, size);
    }
}
