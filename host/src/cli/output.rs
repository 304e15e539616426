//! A command's results: a human summary, or with `--json` one JSON object as the last line.

use serde::Serialize;

/// Prints `result` as JSON when asked, else the human summary.
pub fn emit<T: Serialize>(json: bool, result: &T, human: impl FnOnce(&T)) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(result)?);
    } else {
        human(result);
    }
    Ok(())
}
