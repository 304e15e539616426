//! Progress bars on standard error (hidden when it is not a terminal or with `--quiet`).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `len` steps with `message` in front.
pub fn bar(len: u64, message: impl Into<String>, quiet: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(len),
        if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>12} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {prefix}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_message(message.into());
    bar
}
