//! The wire format between the host, the Ray driver and `coevo worker`: a JSON header on one
//! line, whose `blob_lengths` says how many raw bytes follow it and how they divide.
//!
//! Weights travel as raw bytes beside the JSON rather than inside it, so a model costs its
//! size on the wire and no encoding pass.

use std::io::{BufRead, Write};

use serde_json::{Value, json};

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The pipe failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The header line is not a JSON object with whole-number `blob_lengths`.
    #[error("a malformed frame header: {0}")]
    Header(String),
}

/// A header and the blobs after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The JSON header, without `blob_lengths`.
    pub header: Value,
    /// The raw bytes, in order.
    pub blobs: Vec<Vec<u8>>,
}

/// Writes `header` (an object) and `blobs`, then flushes.
pub fn write(out: &mut impl Write, header: &Value, blobs: &[&[u8]]) -> Result<(), FrameError> {
    let mut header = header.clone();
    let lengths: Vec<usize> = blobs.iter().map(|b| b.len()).collect();
    match header.as_object_mut() {
        Some(object) => object.insert("blob_lengths".into(), json!(lengths)),
        None => {
            return Err(FrameError::Header(
                "a frame header must be a JSON object".into(),
            ));
        }
    };
    let mut line = serde_json::to_vec(&header).map_err(|e| FrameError::Header(e.to_string()))?;
    line.push(b'\n');
    out.write_all(&line)?;
    for blob in blobs {
        out.write_all(blob)?;
    }
    out.flush()?;
    Ok(())
}

/// Reads one frame; `None` at the end of the input.
pub fn read(input: &mut impl BufRead) -> Result<Option<Frame>, FrameError> {
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut header: Value =
        serde_json::from_str(line.trim_end()).map_err(|e| FrameError::Header(e.to_string()))?;
    let lengths: Vec<usize> = match header.as_object_mut().map(|o| o.remove("blob_lengths")) {
        Some(Some(lengths)) => serde_json::from_value(lengths)
            .map_err(|e| FrameError::Header(format!("blob_lengths: {e}")))?,
        Some(None) => Vec::new(),
        None => return Err(FrameError::Header("not a JSON object".into())),
    };
    let mut blobs = Vec::with_capacity(lengths.len());
    for length in lengths {
        let mut blob = vec![0; length];
        input.read_exact(&mut blob)?;
        blobs.push(blob);
    }
    Ok(Some(Frame { header, blobs }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_back_to_back_and_end_cleanly() {
        let mut wire = Vec::new();
        write(&mut wire, &json!({"op": "a"}), &[b"xyz", b""]).unwrap();
        write(&mut wire, &json!({"op": "b", "n": 2}), &[]).unwrap();
        let mut input = std::io::Cursor::new(wire);
        let first = read(&mut input).unwrap().unwrap();
        assert_eq!(first.header, json!({"op": "a"}));
        assert_eq!(first.blobs, vec![b"xyz".to_vec(), Vec::new()]);
        let second = read(&mut input).unwrap().unwrap();
        assert_eq!(second.header, json!({"op": "b", "n": 2}));
        assert!(second.blobs.is_empty());
        assert!(read(&mut input).unwrap().is_none());
    }

    #[test]
    fn a_short_or_malformed_frame_is_an_error() {
        let mut short = std::io::Cursor::new(b"{\"blob_lengths\": [5]}\nabc".to_vec());
        assert!(matches!(read(&mut short), Err(FrameError::Io(_))));
        let mut bad = std::io::Cursor::new(b"[1, 2]\n".to_vec());
        assert!(matches!(read(&mut bad), Err(FrameError::Header(_))));
        assert!(write(&mut Vec::new(), &json!([1]), &[]).is_err());
    }
}
