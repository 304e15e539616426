//! A run's metrics as a TensorBoard event file (`tensorboard/events.out.tfevents.coevo`), so
//! that `tensorboard --logdir runs/` shows every run beside the others.
//!
//! The file is TensorFlow's record format: each record is its length (u64, little-endian),
//! the length's masked CRC-32C, the bytes, and their masked CRC-32C; each record is an
//! `Event` protocol buffer. The first says which file version it is; every metric record
//! becomes one event at its step with one scalar per numeric field (a plugin's fields under
//! its name, as the report names them).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use prost::Message;
use serde_json::Value;

/// The file, inside the run directory.
pub const FILE: &str = "tensorboard/events.out.tfevents.coevo";

/// `tensorflow.Event`, the fields this writer sets.
#[derive(Clone, PartialEq, Message)]
struct Event {
    #[prost(double, tag = "1")]
    wall_time: f64,
    #[prost(int64, tag = "2")]
    step: i64,
    #[prost(string, optional, tag = "3")]
    file_version: Option<String>,
    #[prost(message, optional, tag = "5")]
    summary: Option<Summary>,
}

/// `tensorflow.Summary`.
#[derive(Clone, PartialEq, Message)]
struct Summary {
    #[prost(message, repeated, tag = "1")]
    value: Vec<SummaryValue>,
}

/// `tensorflow.Summary.Value`, as a scalar.
#[derive(Clone, PartialEq, Message)]
struct SummaryValue {
    #[prost(string, tag = "1")]
    tag: String,
    #[prost(float, optional, tag = "2")]
    simple_value: Option<f32>,
}

/// The CRC TensorFlow's records carry: CRC-32C, rotated and offset so that a CRC of data
/// holding CRCs stays well spread.
fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

fn framed(event: &Event) -> Vec<u8> {
    let data = event.encode_to_vec();
    let length = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&length);
    out.extend_from_slice(&masked_crc(&length).to_le_bytes());
    out.extend_from_slice(&data);
    out.extend_from_slice(&masked_crc(&data).to_le_bytes());
    out
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The event of one metrics record (`step` and its fields), if it has any number.
fn metrics_event(record: &Value, wall_time: f64) -> Option<Event> {
    let step = record["step"].as_i64()?;
    let prefix = record["plugin"]
        .as_str()
        .map(|p| format!("{p}/"))
        .unwrap_or_default();
    let value: Vec<SummaryValue> = (record.as_object()?.iter())
        .filter(|(k, _)| !matches!(k.as_str(), "step" | "plugin" | "plugin_step"))
        .filter_map(|(k, v)| {
            let v = v.as_f64().filter(|v| v.is_finite())?;
            Some(SummaryValue {
                tag: format!("{prefix}{k}"),
                simple_value: Some(v as f32),
            })
        })
        .collect();
    (!value.is_empty()).then_some(Event {
        wall_time,
        step,
        file_version: None,
        summary: Some(Summary { value }),
    })
}

/// Appends `record`'s event to the event file under `root`, starting the file when it is
/// new.
pub fn append(root: &Path, record: &Value) -> std::io::Result<()> {
    let path = root.join(FILE);
    let mut bytes = Vec::new();
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        bytes.extend(record_of_version());
    }
    if let Some(event) = metrics_event(record, now()) {
        bytes.extend(framed(&event));
    }
    let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
    file.write_all(&bytes)
}

/// Writes the event file under `root` afresh from `records` (after a resume cut the metrics
/// back to a checkpoint).
pub fn rewrite(root: &Path, records: &[Value]) -> std::io::Result<()> {
    let path = root.join(FILE);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let wall_time = now();
    let mut bytes = record_of_version();
    for event in records.iter().filter_map(|r| metrics_event(r, wall_time)) {
        bytes.extend(framed(&event));
    }
    crate::checkpoint::write_atomic(&path, &bytes)
}

fn record_of_version() -> Vec<u8> {
    framed(&Event {
        wall_time: now(),
        step: 0,
        file_version: Some("brain.Event:2".into()),
        summary: None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_masked_crc_is_tensorflows() {
        // TensorFlow's crc32c_test: the CRC-32C of 32 zero bytes is 0x8a9136aa; masking
        // rotates it right by 15 and adds 0xa282ead8.
        let crc = crc32c::crc32c(&[0u8; 32]);
        assert_eq!(crc, 0x8a91_36aa);
        assert_eq!(
            masked_crc(&[0u8; 32]),
            crc.rotate_right(15).wrapping_add(0xa282_ead8)
        );
    }

    #[test]
    fn a_record_frames_its_event_and_a_plugins_fields_carry_its_name() {
        let event = metrics_event(
            &json!({"step": 3, "plugin": "mega", "plugin_step": 1, "fitness": 0.5, "note": "x"}),
            1.0,
        )
        .unwrap();
        let summary = event.summary.clone().unwrap();
        assert_eq!(summary.value.len(), 1);
        assert_eq!(summary.value[0].tag, "mega/fitness");
        let bytes = framed(&event);
        let length = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(bytes.len(), length + 16);
        let data = &bytes[12..12 + length];
        assert_eq!(Event::decode(data).unwrap(), event);
        assert_eq!(bytes[12 + length..], masked_crc(data).to_le_bytes());
        assert!(metrics_event(&json!({"step": 1, "note": "x"}), 1.0).is_none());
    }
}
