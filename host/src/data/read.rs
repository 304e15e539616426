//! Reading whole data files, transparently gunzipping the compressed ones.
//!
//! Official data sets ship both plain and gzip'd (MNIST's `.gz`, a user's `gunzip`ped copy, a
//! `.tsv.gz` table). The content decides, not the name: a renamed file still loads.

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::DataError;

/// The two bytes every gzip stream starts with (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether `bytes` start like a gzip stream.
pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// The bytes of `path`, or an error naming it.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            DataError::MissingFile {
                path: path.to_owned(),
                what: "a data file".to_owned(),
            }
        } else {
            DataError::Io {
                path: path.to_owned(),
                source,
            }
        }
    })
}

/// The content of `path`, decompressed when it is gzip'd.
pub(crate) fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = read_file(path)?;
    gunzip_if_needed(bytes, path)
}

/// `bytes` decompressed when they are gzip'd, as they are otherwise.
pub(crate) fn gunzip_if_needed(bytes: Vec<u8>, path: &Path) -> Result<Vec<u8>, DataError> {
    if !is_gzip(&bytes) {
        return Ok(bytes);
    }
    // Compressed data sets are 2-10x smaller; start there to avoid most reallocations.
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4));
    // Multi-member aware: `cat a.gz b.gz` is a valid gzip file, and some tools write that.
    MultiGzDecoder::new(bytes.as_slice())
        .read_to_end(&mut out)
        .map_err(|source| DataError::Io {
            path: path.to_owned(),
            source,
        })?;
    Ok(out)
}

/// The one entry of `dir` whose name is `name` or `name.gz`; plain wins when both exist.
pub(crate) fn find_plain_or_gz(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let plain = dir.join(name);
    if plain.is_file() {
        return Ok(plain);
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    Err(DataError::MissingFile {
        path: dir.to_owned(),
        what: format!("{name} or {name}.gz"),
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    #[test]
    fn gzip_is_detected_by_content_not_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(b"hello").unwrap();
        let packed = encoder.finish().unwrap();
        let disguised = dir.path().join("plain.txt");
        std::fs::write(&disguised, &packed).unwrap();
        let plain = dir.path().join("data.gz");
        std::fs::write(&plain, b"hello").unwrap();
        assert_eq!(read_maybe_gzip(&disguised).unwrap(), b"hello");
        assert_eq!(read_maybe_gzip(&plain).unwrap(), b"hello");
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let error = find_plain_or_gz(dir.path(), "labels").unwrap_err();
        assert!(matches!(error, DataError::MissingFile { .. }));
        assert!(error.to_string().contains("labels or labels.gz"), "{error}");
    }
}
