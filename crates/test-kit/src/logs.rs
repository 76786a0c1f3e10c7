//! TRACE log capture: a `tracing` subscriber that writes into a buffer a test reads back.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::subscriber::DefaultGuard;
use tracing_subscriber::fmt::MakeWriter;

/// A shared buffer that every `tracing` event of the test is written into, at TRACE level
/// and without colours, so that `text()` is what a log file would hold.
///
/// Two ways to install it:
///
/// - [`set_default`](Self::set_default) for the current thread, until the guard drops. Use it
///   on a current-thread runtime (`#[tokio::test]`): every task runs on the test's thread.
/// - [`set_global`](Self::set_global) for the whole test binary. Use it on a multi-thread
///   runtime, where the HTTP client's tasks log from other threads; a binary can install
///   only one global subscriber, so keep such a test alone in its file.
///
/// ```
/// let logs = steadfast_test_kit::LogCapture::new();
/// let guard = logs.set_default();
/// tracing::trace!(attempt = 1, "retrying");
/// drop(guard);
/// assert!(logs.text().contains("retrying"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// An empty capture, not yet installed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs the capture for the current thread until the guard is dropped.
    pub fn set_default(&self) -> DefaultGuard {
        tracing::subscriber::set_default(self.subscriber())
    }

    /// Installs the capture for every thread of the test binary.
    ///
    /// # Panics
    ///
    /// When a global subscriber is already installed in this binary.
    pub fn set_global(&self) {
        tracing::subscriber::set_global_default(self.subscriber())
            .expect("a global subscriber is already installed in this test binary");
    }

    /// Everything captured so far, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lock()).into_owned()
    }

    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(self.clone())
            .finish()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        // A test that panicked while logging must not hide what was logged before.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lock().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_trace_events_with_their_fields_and_no_colour_codes() {
        let logs = LogCapture::new();
        let guard = logs.set_default();
        tracing::trace!(provider = "anthropic", attempt = 2, "sending a request");
        drop(guard);
        let text = logs.text();
        assert!(text.contains("TRACE"), "{text}");
        assert!(text.contains("sending a request"), "{text}");
        assert!(text.contains("provider=\"anthropic\""), "{text}");
        assert!(text.contains("attempt=2"), "{text}");
        assert!(!text.contains('\u{1b}'), "no ANSI escapes: {text:?}");
    }

    #[test]
    fn nothing_is_captured_after_the_guard_drops() {
        let logs = LogCapture::new();
        drop(logs.set_default());
        tracing::error!("after the guard");
        assert_eq!(logs.text(), "");
    }

    #[test]
    fn clones_share_one_buffer() {
        let logs = LogCapture::new();
        let mut writer = logs.clone();
        io::Write::write_all(&mut writer, b"written through a clone").unwrap();
        assert_eq!(logs.text(), "written through a clone");
    }
}
