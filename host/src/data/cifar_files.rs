//! Where CIFAR's batch files are: an unpacked folder, or the official `.tar.gz` read in memory.
//!
//! Users keep CIFAR in different shapes (the archive as downloaded, the unpacked folder, or the
//! folder above it); accepting each saves an unpack step and a class of "file not found" help.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use super::DataError;
use super::cifar::Variant;
use super::read::read_file;

/// The most bytes reserved ahead for one archive member (CIFAR's largest is 154 MB).
const MAX_PREALLOCATION: usize = 256 << 20;

/// A file's path (for messages; inside an archive, `archive/member`) and its bytes.
pub(super) type Member<'a> = (PathBuf, Cow<'a, [u8]>);

/// Where the batch files are: a folder, or members of the official archive held in memory.
#[derive(Debug)]
pub(super) enum Files {
    Folder(PathBuf),
    Archive {
        path: PathBuf,
        /// Member file name → (member path inside the archive, bytes).
        members: HashMap<String, (PathBuf, Vec<u8>)>,
    },
}

impl Files {
    /// Resolves the forms a user may point at: the batch folder, its parent, the archive, or
    /// the archive's folder.
    pub(super) fn locate(path: &Path, variant: Variant) -> Result<Self, DataError> {
        if path.is_file() {
            return Self::open_archive(path, variant);
        }
        let first = variant.train_files()[0];
        for folder in [path.to_owned(), path.join(variant.folder())] {
            if folder.join(first).is_file() {
                return Ok(Self::Folder(folder));
            }
        }
        let archive = path.join(variant.archive());
        if archive.is_file() {
            return Self::open_archive(&archive, variant);
        }
        Err(DataError::MissingFile {
            path: path.to_owned(),
            what: format!(
                "{first}, {}/{first} or {}",
                variant.folder(),
                variant.archive()
            ),
        })
    }

    /// Reads the wanted members of a `.tar.gz` into memory (about 180 MB for CIFAR-10).
    fn open_archive(path: &Path, variant: Variant) -> Result<Self, DataError> {
        let file = std::fs::File::open(path).map_err(DataError::io(path))?;
        let mut archive = tar::Archive::new(GzDecoder::new(std::io::BufReader::new(file)));
        let wanted = variant.wanted();
        let mut members = HashMap::new();
        for entry in archive.entries().map_err(DataError::io(path))? {
            let mut entry = entry.map_err(DataError::io(path))?;
            let member = entry.path().map_err(DataError::io(path))?.into_owned();
            let Some(name) = member.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !wanted.contains(&name) {
                continue;
            }
            let name = name.to_owned();
            // The size comes from the archive's header: trust it only up to a sane bound.
            let size = usize::try_from(entry.size())
                .unwrap_or(0)
                .min(MAX_PREALLOCATION);
            let mut bytes = Vec::with_capacity(size);
            entry.read_to_end(&mut bytes).map_err(DataError::io(path))?;
            members.insert(name, (member, bytes));
        }
        Ok(Self::Archive {
            path: path.to_owned(),
            members,
        })
    }

    /// The member `name` and the path to name in errors; an error when it is missing.
    pub(super) fn get(&self, name: &str) -> Result<Member<'_>, DataError> {
        self.get_optional(name)?
            .ok_or_else(|| DataError::MissingFile {
                path: self.root().to_owned(),
                what: name.to_owned(),
            })
    }

    pub(super) fn get_optional(&self, name: &str) -> Result<Option<Member<'_>>, DataError> {
        match self {
            Self::Folder(folder) => {
                let path = folder.join(name);
                if !path.is_file() {
                    return Ok(None);
                }
                let bytes = read_file(&path)?;
                Ok(Some((path, Cow::Owned(bytes))))
            }
            Self::Archive { path, members } => Ok(members
                .get(name)
                .map(|(member, bytes)| (path.join(member), Cow::Borrowed(bytes.as_slice())))),
        }
    }

    fn root(&self) -> &Path {
        match self {
            Self::Folder(path) | Self::Archive { path, .. } => path,
        }
    }
}
