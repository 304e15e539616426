//! The journal of a run's stateful API calls, which makes resuming exact.
//!
//! A script is a deterministic program: the same calls in the same order with the same
//! results. So a run resumes by running the script again from the top while the journal
//! answers every call that completed before the checkpoint with its recorded result (its
//! effect on models is already in the checkpoint), resumes the one call that was under way
//! (a plugin run, a training), and then goes on live.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A call under way when a checkpoint was taken, with what it needs to continue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InProgress {
    /// Its position in the journal.
    pub call: u64,
    /// `plugin` or `train`.
    pub kind: String,
    /// What it needs to continue (a plugin snapshot and step count, a trainer state).
    pub state: Value,
}

/// How a call proceeds.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// Completed before the checkpoint: here is its result.
    Replay(Value),
    /// To run now, as call number `.0` (possibly continuing from `.1`).
    Live(u64, Option<InProgress>),
}

/// Results of completed calls, and the replay position.
#[derive(Debug, Clone, Default)]
pub struct Journal {
    results: Vec<Value>,
    replay: Vec<Value>,
    in_progress: Option<InProgress>,
}

impl Journal {
    /// A journal that replays `results` first, then continues `in_progress`.
    pub fn resumed(results: Vec<Value>, in_progress: Option<InProgress>) -> Self {
        Self {
            results: Vec::new(),
            replay: results,
            in_progress,
        }
    }

    /// The next call.
    pub fn next(&mut self) -> Entry {
        let call = self.results.len();
        if let Some(result) = self.replay.get(call).cloned() {
            self.results.push(result.clone());
            return Entry::Replay(result);
        }
        let in_progress = self.in_progress.take_if(|p| p.call == call as u64);
        Entry::Live(call as u64, in_progress)
    }

    /// Records the result of the live call.
    pub fn record(&mut self, result: Value) {
        self.results.push(result);
    }

    /// Every result so far.
    pub fn results(&self) -> &[Value] {
        &self.results
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn replays_then_resumes_then_goes_live() {
        let running = InProgress {
            call: 2,
            kind: "plugin".into(),
            state: json!({"steps": 3}),
        };
        let mut journal = Journal::resumed(vec![json!(1), json!("two")], Some(running.clone()));
        assert_eq!(journal.next(), Entry::Replay(json!(1)));
        assert_eq!(journal.next(), Entry::Replay(json!("two")));
        assert_eq!(journal.next(), Entry::Live(2, Some(running)));
        journal.record(json!(3));
        assert_eq!(journal.next(), Entry::Live(3, None));
        assert_eq!(journal.results().len(), 3);
    }
}
