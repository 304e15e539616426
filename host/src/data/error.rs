//! [`DataError`]: everything that can go wrong while finding, fetching or reading a data set.
//!
//! Data files come from outside the program, so a failure is almost always a problem with the
//! input, not a bug. Each variant therefore carries what a user needs to find and fix it: the
//! file, the place in it (record, line, column) and what was expected against what was found.

use std::path::PathBuf;

/// A data set could not be found, fetched or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The operating system refused a read, write, rename or listing.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// A file that should exist is not there.
    #[error("missing file: expected {what} at {}", path.display())]
    MissingFile {
        /// Where the file was looked for.
        path: PathBuf,
        /// What file was expected.
        what: String,
    },

    /// A binary file starts with the wrong magic number: probably a different kind of file.
    #[error("{}: bad magic number: expected {expected:#010x}, found {found:#010x}", path.display())]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The magic number the format requires.
        expected: u32,
        /// The one in the file.
        found: u32,
    },

    /// A file ends in the middle of its header or of a record.
    #[error(
        "{}: {} is truncated: expected {expected} bytes, found {found}",
        path.display(),
        record.map_or_else(|| "the header".to_owned(), |r| format!("record {r}"))
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The 0-based index of the incomplete record, `None` for the header.
        record: Option<usize>,
        /// Bytes the record (or header) needs.
        expected: usize,
        /// Bytes the file still had.
        found: usize,
    },

    /// A class label is not below the number of classes.
    #[error(
        "{}: record {record} has label {label}, but there are {classes} classes (0..{classes})",
        path.display()
    )]
    LabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// The 0-based index of the record.
        record: usize,
        /// The label found.
        label: u32,
        /// The number of classes of the data set.
        classes: usize,
    },

    /// A table cell that must hold a number holds something else, or is missing.
    #[error(
        "{}: line {line}, column {column}: expected a number, found {text:?}",
        path.display()
    )]
    NotANumber {
        /// The file.
        path: PathBuf,
        /// 1-based line number, as an editor shows it.
        line: usize,
        /// 1-based column number.
        column: usize,
        /// The cell's text (empty for a missing cell).
        text: String,
    },

    /// Two counts that must agree do not (images vs labels, cells vs header, ...).
    #[error("{}: inconsistent sizes: {what}: expected {expected}, found {found}", path.display())]
    SizeMismatch {
        /// The file (or folder) where the second count was found.
        path: PathBuf,
        /// What was counted.
        what: String,
        /// The count the first source implies.
        expected: usize,
        /// The count found.
        found: usize,
    },

    /// An image has a different size from the first image of its data set.
    #[error(
        "{}: image is {}x{}, but {} is {}x{}; all images must have one size",
        path.display(),
        found.0,
        found.1,
        reference.display(),
        expected.0,
        expected.1
    )]
    ImageSizeMismatch {
        /// The image that differs.
        path: PathBuf,
        /// Width and height of the differing image.
        found: (u32, u32),
        /// The first image, which sets the size.
        reference: PathBuf,
        /// Width and height of the first image.
        expected: (u32, u32),
    },

    /// An image file could not be decoded.
    #[error("{}: cannot decode image: {source}", path.display())]
    Image {
        /// The image file.
        path: PathBuf,
        /// What the decoder said.
        #[source]
        source: image::ImageError,
    },

    /// A file's structure is wrong in a way no more specific variant describes.
    #[error("{}: {what}", path.display())]
    Malformed {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong, in words.
        what: String,
    },

    /// The text naming a data source is not `<kind>=<path>` with a known kind.
    #[error("unknown data source {text:?}: expected <kind>=<path> with kind one of {known}")]
    UnknownKind {
        /// The text given.
        text: String,
        /// The kinds there are, comma-separated.
        known: String,
    },

    /// A data source's options (`<kind>=<path>?key=value&…`) are unknown or out of range.
    #[error("{kind} options: {what}")]
    InvalidOptions {
        /// The data kind.
        kind: &'static str,
        /// What is wrong, naming the option.
        what: String,
    },

    /// A validation hold-out that cannot be taken from the training part.
    #[error("invalid validation hold-out: {what}")]
    InvalidHoldout {
        /// What is wrong, in words.
        what: String,
    },

    /// A data kind that has no official download (a user's own folder or table).
    #[error("{kind} cannot be downloaded; the kinds that can are {downloadable}")]
    NotDownloadable {
        /// The kind asked for.
        kind: String,
        /// The kinds that can, comma-separated.
        downloadable: String,
    },

    /// A download failed (network, HTTP status, or the server's answer).
    #[error("downloading {url} to {}: {what}", path.display())]
    Download {
        /// The address asked for.
        url: String,
        /// Where the file was to be written.
        path: PathBuf,
        /// What went wrong.
        what: String,
    },

    /// A downloaded file's checksum is not the published one; the file has been removed.
    #[error("{}: checksum mismatch: expected {expected}, found {found}", path.display())]
    ChecksumMismatch {
        /// The file (already deleted).
        path: PathBuf,
        /// The published checksum, as `algorithm:hex`.
        expected: String,
        /// The checksum of what was received, as `algorithm:hex`.
        found: String,
    },
}

impl DataError {
    /// An [`DataError::Io`] for `path`; a short form for `map_err`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    /// A [`DataError::Malformed`] for `path`.
    pub(crate) fn malformed(path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        Self::Malformed {
            path: path.into(),
            what: what.into(),
        }
    }
}
