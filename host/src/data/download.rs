//! Resumable HTTP downloads, verified against a published checksum before they are used.
//!
//! The public data sets are 30–170 MB on servers far away, so an interrupted download is
//! common: bytes go to `<file>.part` and a later attempt asks only for the rest with an HTTP
//! `Range` request. Nothing is trusted until its checksum matches the one the data set's
//! authors published; only then is the file renamed into place, so a file with the final name
//! is always complete and correct.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use md5::Md5;
use sha2::{Digest, Sha256};

use super::DataError;

/// A published checksum: lower-case hex digits of one of the two digests publishers use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    /// MD5, where the publisher gives only that (MNIST, Fashion-MNIST).
    Md5(String),
    /// SHA-256.
    Sha256(String),
}

impl Checksum {
    /// The same kind of checksum computed over `path`.
    pub fn of_file(&self, path: &Path) -> Result<Self, DataError> {
        let mut file = File::open(path).map_err(DataError::io(path))?;
        Ok(match self {
            Self::Md5(_) => Self::Md5(hex_digest::<Md5>(&mut file, path)?),
            Self::Sha256(_) => Self::Sha256(hex_digest::<Sha256>(&mut file, path)?),
        })
    }

    fn algorithm(&self) -> &'static str {
        match self {
            Self::Md5(_) => "md5",
            Self::Sha256(_) => "sha256",
        }
    }

    fn hex(&self) -> &str {
        match self {
            Self::Md5(hex) | Self::Sha256(hex) => hex,
        }
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm(), self.hex())
    }
}

fn hex_digest<D: Digest>(reader: &mut impl Read, path: &Path) -> Result<String, DataError> {
    let mut digest = D::new();
    let mut buffer = vec![0; 1 << 16];
    loop {
        let read = reader.read(&mut buffer).map_err(DataError::io(path))?;
        if read == 0 {
            break;
        }
        digest.update(&buffer[..read]);
    }
    Ok(digest
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// How far a download has come, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress<'a> {
    /// The file being downloaded (its name).
    pub file: &'a str,
    /// Bytes on disk so far, resumed ones included.
    pub done: u64,
    /// The file's full size, when the server says it.
    pub total: Option<u64>,
}

/// What [`Downloader::download`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The file was there with the right checksum; nothing was downloaded.
    AlreadyPresent,
    /// The file was downloaded, continuing from `resumed_from` bytes of an earlier attempt.
    Downloaded {
        /// Bytes kept from the `.part` file (0 for a fresh download).
        resumed_from: u64,
    },
}

/// Downloads files over HTTP(S); one agent, so connections and proxy settings are shared.
#[derive(Debug, Clone)]
pub struct Downloader {
    agent: ureq::Agent,
}

impl Default for Downloader {
    /// Proxy from the environment (`HTTPS_PROXY`, `NO_PROXY`, ...); a stalled connection is
    /// abandoned after a minute without data, and the `.part` file kept for a retry.
    fn default() -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_per_read(Some(Duration::from_secs(60)))
            .build();
        Self::with_agent(config.into())
    }
}

impl Downloader {
    /// A downloader using `agent`, which must not turn HTTP error statuses into errors
    /// (`http_status_as_error(false)`): 206 and 416 answers are part of resuming.
    pub fn with_agent(agent: ureq::Agent) -> Self {
        Self { agent }
    }

    /// Downloads `url` to `dest` unless `dest` already has `checksum`.
    ///
    /// A `dest.part` left by an interrupted attempt is resumed; a checksum mismatch removes
    /// the downloaded bytes and is an error.
    pub fn download(
        &self,
        url: &str,
        dest: &Path,
        checksum: &Checksum,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Outcome, DataError> {
        if dest.is_file() && checksum.of_file(dest)? == *checksum {
            return Ok(Outcome::AlreadyPresent);
        }
        let part = part_path(dest);
        let name = dest
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into());
        let job = Job {
            url,
            part: &part,
            name: &name,
            dest,
        };
        let resumed_from = self.fetch_to_part(&job, progress)?;
        verify(&part, dest, checksum)?;
        std::fs::rename(&part, dest).map_err(DataError::io(dest))?;
        Ok(Outcome::Downloaded { resumed_from })
    }

    /// Fills `part` with the whole file; returns the bytes kept from an earlier attempt.
    fn fetch_to_part(
        &self,
        job: &Job<'_>,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<u64, DataError> {
        let offset = std::fs::metadata(job.part).map_or(0, |m| m.len());
        let mut request = self
            .agent
            .get(job.url)
            .header("Accept-Encoding", "identity");
        if offset > 0 {
            request = request.header("Range", format!("bytes={offset}-"));
        }
        let response = request.call().map_err(|e| job.error(e.to_string()))?;
        let status = response.status().as_u16();
        let headers = response.headers();
        let content_range = headers.get("content-range").and_then(|v| v.to_str().ok());
        let resumes = status == 206 && content_range.is_some_and(|r| starts_at(r, offset));
        if status == 416 && offset > 0 {
            // Nothing left to send: the part is complete (or stale, which the checksum tells).
            return Ok(offset);
        }
        if status != 200 && !resumes {
            return Err(job.error(format!("the server answered HTTP {status}")));
        }
        let start = if resumes { offset } else { 0 };
        let length = headers
            .get("content-length")
            .and_then(|v| v.to_str().ok()?.parse().ok());
        let total = length.map(|l: u64| start + l);
        let body = response.into_body().into_reader();
        job.write_body(body, start, total, progress)?;
        Ok(start)
    }
}

/// One download's addresses, for writing and for error messages.
struct Job<'a> {
    url: &'a str,
    part: &'a Path,
    name: &'a str,
    dest: &'a Path,
}

impl Job<'_> {
    /// Writes `body` into the part file from byte `start` (appending, or replacing it all).
    fn write_body(
        &self,
        mut body: impl Read,
        start: u64,
        total: Option<u64>,
        progress: &mut dyn FnMut(Progress<'_>),
    ) -> Result<(), DataError> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(start > 0)
            .write(true)
            .truncate(start == 0)
            .open(self.part)
            .map_err(DataError::io(self.part))?;
        let mut done = start;
        let mut buffer = vec![0; 1 << 16];
        loop {
            let read = body
                .read(&mut buffer)
                .map_err(|e| self.error(e.to_string()))?;
            if read == 0 {
                break;
            }
            file.write_all(&buffer[..read])
                .map_err(DataError::io(self.part))?;
            done += read as u64;
            progress(Progress {
                file: self.name,
                done,
                total,
            });
        }
        file.flush().map_err(DataError::io(self.part))
    }

    fn error(&self, what: String) -> DataError {
        DataError::Download {
            url: self.url.to_owned(),
            path: self.dest.to_owned(),
            what,
        }
    }
}

/// Whether a `Content-Range` value (`bytes 100-199/200`) starts at `offset`.
fn starts_at(content_range: &str, offset: u64) -> bool {
    content_range
        .strip_prefix("bytes ")
        .and_then(|r| r.split_once('-'))
        .and_then(|(first, _)| first.trim().parse::<u64>().ok())
        == Some(offset)
}

/// Checks `part` against `checksum`; removes it and names `dest` when they differ.
fn verify(part: &Path, dest: &Path, checksum: &Checksum) -> Result<(), DataError> {
    let found = checksum.of_file(part)?;
    if found == *checksum {
        return Ok(());
    }
    std::fs::remove_file(part).map_err(DataError::io(part))?;
    Err(DataError::ChecksumMismatch {
        path: dest.to_owned(),
        expected: checksum.to_string(),
        found: found.to_string(),
    })
}

/// `dest` with `.part` appended to its name.
fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::data::test_server::{Request, TestServer};

    /// 200 kB that are not all alike, so a wrongly placed byte changes the checksum.
    fn content() -> Vec<u8> {
        (0..200_000u32).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    fn sha256(bytes: &[u8]) -> Checksum {
        Checksum::Sha256(
            Sha256::digest(bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        )
    }

    /// A downloader that ignores proxy settings: the test server is local.
    fn downloader() -> Downloader {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(10)))
            .build();
        Downloader::with_agent(config.into())
    }

    fn serve(bytes: &[u8], honour_range: bool) -> TestServer {
        TestServer::start(
            HashMap::from([("f.bin".to_owned(), bytes.to_vec())]),
            honour_range,
        )
    }

    #[test]
    fn fresh_download_verifies_and_renames_into_place() {
        let bytes = content();
        let server = serve(&bytes, true);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.bin");
        let mut last = None;
        let outcome = downloader()
            .download(
                &format!("{}/f.bin", server.url),
                &dest,
                &sha256(&bytes),
                &mut |p| {
                    last = Some((p.done, p.total));
                },
            )
            .unwrap();
        assert_eq!(outcome, Outcome::Downloaded { resumed_from: 0 });
        assert_eq!(std::fs::read(&dest).unwrap(), bytes);
        assert!(!part_path(&dest).exists());
        assert_eq!(last, Some((200_000, Some(200_000))));
        assert_eq!(server.requests()[0].range, None);
    }

    #[test]
    fn a_partial_download_is_resumed_with_a_range_request() {
        let bytes = content();
        let server = serve(&bytes, true);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.bin");
        std::fs::write(part_path(&dest), &bytes[..123_456]).unwrap();
        let mut first = None;
        let outcome = downloader()
            .download(
                &format!("{}/f.bin", server.url),
                &dest,
                &sha256(&bytes),
                &mut |p| {
                    first.get_or_insert(p.done);
                },
            )
            .unwrap();
        assert_eq!(
            outcome,
            Outcome::Downloaded {
                resumed_from: 123_456
            }
        );
        assert_eq!(std::fs::read(&dest).unwrap(), bytes);
        let expected = Request {
            path: "/f.bin".to_owned(),
            range: Some("bytes=123456-".to_owned()),
        };
        assert_eq!(server.requests(), vec![expected]);
        assert!(first.is_some_and(|done| done > 123_456));
    }

    #[test]
    fn a_server_ignoring_range_makes_the_download_restart() {
        let bytes = content();
        let server = serve(&bytes, false);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.bin");
        std::fs::write(part_path(&dest), &bytes[..50_000]).unwrap();
        let outcome = downloader()
            .download(
                &format!("{}/f.bin", server.url),
                &dest,
                &sha256(&bytes),
                &mut |_| {},
            )
            .unwrap();
        assert_eq!(outcome, Outcome::Downloaded { resumed_from: 0 });
        assert_eq!(std::fs::read(&dest).unwrap(), bytes);
        assert!(
            server.requests()[0].range.is_some(),
            "a range was asked for"
        );
    }

    #[test]
    fn a_checksum_mismatch_is_an_error_and_removes_the_file() {
        let bytes = content();
        let server = serve(&bytes[..1000], true);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.bin");
        let expected = Checksum::Md5("00112233445566778899aabbccddeeff".to_owned());
        let error = downloader()
            .download(
                &format!("{}/f.bin", server.url),
                &dest,
                &expected,
                &mut |_| {},
            )
            .unwrap_err();
        assert!(
            matches!(error, DataError::ChecksumMismatch { .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("f.bin"), "{message}");
        assert!(
            message.contains("expected md5:00112233445566778899aabbccddeeff"),
            "{message}"
        );
        assert!(message.contains("found md5:"), "{message}");
        assert!(!dest.exists() && !part_path(&dest).exists());
    }

    #[test]
    fn a_present_file_with_the_right_checksum_is_not_downloaded_again() {
        let bytes = content();
        let server = serve(&bytes, true);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f.bin");
        std::fs::write(&dest, &bytes).unwrap();
        let outcome = downloader()
            .download(
                &format!("{}/f.bin", server.url),
                &dest,
                &sha256(&bytes),
                &mut |_| {},
            )
            .unwrap();
        assert_eq!(outcome, Outcome::AlreadyPresent);
        assert!(server.requests().is_empty());
    }

    #[test]
    fn an_http_error_names_the_url() {
        let server = serve(b"x", true);
        let dir = tempfile::tempdir().unwrap();
        let url = format!("{}/missing.bin", server.url);
        let error = downloader()
            .download(&url, &dir.path().join("m.bin"), &sha256(b"x"), &mut |_| {})
            .unwrap_err();
        assert!(matches!(error, DataError::Download { .. }), "{error:?}");
        assert!(error.to_string().contains(&url) && error.to_string().contains("404"));
    }

    #[test]
    fn md5_of_a_known_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        std::fs::write(&path, "The quick brown fox jumps over the lazy dog").unwrap();
        let md5 = Checksum::Md5(String::new()).of_file(&path).unwrap();
        assert_eq!(md5.to_string(), "md5:9e107d9d372bb6826bd81d3542a419d6");
    }
}
