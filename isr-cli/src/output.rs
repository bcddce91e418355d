//! Writing to standard output, where a reader that went away (`isr ls | head`) ends the command
//! quietly instead of with a panic.

use std::io::{self, Write};

use crate::failure::Failure;

/// What became of a write.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Written {
    /// Written and flushed.
    Done,
    /// The reader closed the pipe: stop writing.
    Closed,
}

/// Writes `text` to standard output and flushes it.
pub(crate) fn emit(text: &str) -> Result<Written, Failure> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(Written::Done),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Written::Closed),
        Err(e) => Err(Failure::Partial(format!("cannot write the output: {e}"))),
    }
}
