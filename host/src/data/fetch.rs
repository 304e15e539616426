//! `coevo data fetch`: the public data sets' official files, their addresses and checksums.
//!
//! Each set is fetched from where its authors publish it and checked against the checksum
//! they publish (MD5 where that is all there is), so a fetched set is the one papers report
//! on. The address is a parameter ([`fetch_from`]) so that mirrors and tests can stand in.

use std::path::Path;

use super::{Checksum, DataError, DataKind, DataSource, Downloader, Progress};

/// One file of a [`Remote`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// File name, both under the base address and on disk.
    pub name: String,
    /// The published checksum.
    pub checksum: Checksum,
}

/// Where a data set's files are published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// The address the file names are appended to.
    pub base_url: String,
    /// The files that make up the data set.
    pub files: Vec<RemoteFile>,
}

impl Remote {
    /// The address of `file`.
    pub fn url(&self, file: &RemoteFile) -> String {
        format!("{}/{}", self.base_url.trim_end_matches('/'), file.name)
    }
}

/// The kinds [`official`] knows.
pub const DOWNLOADABLE: [DataKind; 4] = [
    DataKind::Cifar10,
    DataKind::Cifar100,
    DataKind::Mnist,
    DataKind::FashionMnist,
];

/// The official files of `kind`; `None` for kinds that are a user's own data.
pub fn official(kind: DataKind) -> Option<Remote> {
    let (base_url, files): (&str, &[(&str, &str)]) = match kind {
        // The authors' page publishes MD5 sums; these SHA-256 sums of the same archives are
        // the ones widely used data-set libraries pin.
        DataKind::Cifar10 => (
            "https://www.cs.toronto.edu/~kriz",
            &[(
                "cifar-10-binary.tar.gz",
                "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
            )],
        ),
        DataKind::Cifar100 => (
            "https://www.cs.toronto.edu/~kriz",
            &[(
                "cifar-100-binary.tar.gz",
                "58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec",
            )],
        ),
        // The original MNIST site no longer serves the files reliably; this mirror serves
        // the identical files (same MD5 sums as published with the original release).
        DataKind::Mnist => (
            "https://ossci-datasets.s3.amazonaws.com/mnist",
            &[
                (
                    "train-images-idx3-ubyte.gz",
                    "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                ),
                (
                    "train-labels-idx1-ubyte.gz",
                    "d53e105ee54ea40749a09fcbcd1e9432",
                ),
                (
                    "t10k-images-idx3-ubyte.gz",
                    "9fb629c4189551a2d022fa330f9573f3",
                ),
                (
                    "t10k-labels-idx1-ubyte.gz",
                    "ec29112dd5afa0611ce80d1b7f02629c",
                ),
            ],
        ),
        // MD5 sums as listed in Fashion-MNIST's README.
        DataKind::FashionMnist => (
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",
            &[
                (
                    "train-images-idx3-ubyte.gz",
                    "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                ),
                (
                    "train-labels-idx1-ubyte.gz",
                    "25c81989df183df01b3e8a0aad5dffbe",
                ),
                (
                    "t10k-images-idx3-ubyte.gz",
                    "bef4ecab320f06d8554ea6380940ec79",
                ),
                (
                    "t10k-labels-idx1-ubyte.gz",
                    "bb300cfdad3c16e7a12a480ee83cd310",
                ),
            ],
        ),
        DataKind::ImageFolder | DataKind::Methylation => return None,
    };
    let files = files
        .iter()
        .map(|&(name, hex)| RemoteFile {
            name: name.to_owned(),
            checksum: checksum_of_hex(hex),
        })
        .collect();
    Some(Remote {
        base_url: base_url.to_owned(),
        files,
    })
}

/// The digest a hex string's length implies: 32 digits for MD5, 64 for SHA-256.
fn checksum_of_hex(hex: &str) -> Checksum {
    if hex.len() == 32 {
        Checksum::Md5(hex.to_owned())
    } else {
        Checksum::Sha256(hex.to_owned())
    }
}

/// Downloads the official files of `kind` into `dir` and returns the source that loads them.
pub fn fetch(
    kind: DataKind,
    dir: &Path,
    downloader: &Downloader,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<DataSource, DataError> {
    let remote = official(kind).ok_or_else(|| DataError::NotDownloadable {
        kind: kind.to_string(),
        downloadable: DOWNLOADABLE.map(DataKind::as_str).join(", "),
    })?;
    fetch_from(kind, &remote, dir, downloader, progress)
}

/// Downloads `remote`'s files into `dir` (created if needed); files already there with the
/// right checksum are kept, interrupted downloads resumed.
pub fn fetch_from(
    kind: DataKind,
    remote: &Remote,
    dir: &Path,
    downloader: &Downloader,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<DataSource, DataError> {
    std::fs::create_dir_all(dir).map_err(DataError::io(dir))?;
    for file in &remote.files {
        let dest = dir.join(&file.name);
        downloader.download(&remote.url(file), &dest, &file.checksum, progress)?;
    }
    Ok(DataSource {
        kind,
        path: dir.to_owned(),
        options: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use md5::{Digest, Md5};

    use super::*;
    use crate::data::test_server::TestServer;

    #[test]
    fn the_official_table_covers_the_public_sets() {
        for kind in DataKind::ALL {
            let remote = official(kind);
            assert_eq!(remote.is_some(), DOWNLOADABLE.contains(&kind), "{kind}");
            for file in remote.iter().flat_map(|r| &r.files) {
                let (Checksum::Md5(hex) | Checksum::Sha256(hex)) = &file.checksum;
                assert!(
                    hex.chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_uppercase())
                );
                assert!(matches!(hex.len(), 32 | 64), "{}", file.name);
            }
        }
        let mnist = official(DataKind::Mnist).unwrap();
        assert_eq!(
            mnist.url(&mnist.files[0]),
            "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz"
        );
        let error = fetch(
            DataKind::Methylation,
            Path::new("x"),
            &Downloader::default(),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(
            matches!(error, DataError::NotDownloadable { .. }),
            "{error:?}"
        );
    }

    /// IDX bytes: the magic, the dimensions, then `data`.
    fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut bytes = magic.to_be_bytes().to_vec();
        dims.iter().for_each(|d| bytes.extend(d.to_be_bytes()));
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn fetched_files_load_through_the_returned_source() {
        let files = HashMap::from([
            (
                "mnist/train-images-idx3-ubyte.gz".to_owned(),
                idx(0x803, &[2, 2, 2], &[7; 8]),
            ),
            (
                "mnist/train-labels-idx1-ubyte.gz".to_owned(),
                idx(0x801, &[2], &[3, 9]),
            ),
            (
                "mnist/t10k-images-idx3-ubyte.gz".to_owned(),
                idx(0x803, &[1, 2, 2], &[1; 4]),
            ),
            (
                "mnist/t10k-labels-idx1-ubyte.gz".to_owned(),
                idx(0x801, &[1], &[0]),
            ),
        ]);
        let remote_files = files
            .iter()
            .map(|(path, bytes)| RemoteFile {
                name: path.trim_start_matches("mnist/").to_owned(),
                checksum: Checksum::Md5(
                    Md5::digest(bytes)
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect(),
                ),
            })
            .collect();
        let server = TestServer::start(files, true);
        let remote = Remote {
            base_url: format!("{}/mnist/", server.url),
            files: remote_files,
        };
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(10)))
            .build();
        let downloader = Downloader::with_agent(config.into());
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("mnist");
        let source =
            fetch_from(DataKind::Mnist, &remote, &target, &downloader, &mut |_| {}).unwrap();
        assert_eq!(source.to_string(), format!("mnist={}", target.display()));
        let data = source.load().unwrap();
        assert_eq!(
            (data.train.len(), data.test.len(), data.sample_shape),
            (2, 1, vec![1, 2, 2])
        );
        // A second fetch finds every file in place and asks the server for nothing.
        fetch_from(DataKind::Mnist, &remote, &target, &downloader, &mut |_| {}).unwrap();
        assert_eq!(server.requests().len(), 4);
    }
}
