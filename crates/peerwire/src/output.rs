//! Writing the program's results to stdout, one line at a time.

use std::io::Write as _;

/// Writes `text` and a newline to stdout and flushes, so that a reader of a pipe sees each line
/// as soon as it is written.
///
/// # Errors
///
/// When stdout is closed or cannot be written (a closed pipe is `ErrorKind::BrokenPipe`).
pub(crate) fn line(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").and_then(|()| out.flush())
}
