//! What a `tracing` subscriber wrote, for tests of what is logged.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// The lines written by the subscriber [`record`](Captured::record) sets up.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Runs `f` with a subscriber (every level, no colours) writing here.
    pub(crate) fn record<T>(&self, f: impl FnOnce() -> T) -> T {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f)
    }

    /// Everything written.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// How often `text` occurs in what was written.
    pub(crate) fn count(&self, text: &str) -> usize {
        self.text().matches(text).count()
    }
}
