//! Test support for the provider crates: what every provider's integration tests used to copy.
//!
//! This crate is a dev-dependency only (`publish = false`). It holds four small tools, one a
//! module:
//!
//! - [`logs`] — [`LogCapture`], a TRACE subscriber whose output a test can read back, so a
//!   test can prove both that the provider logged and that the key is not in what it logged.
//! - [`secret`] — [`assert_hidden`], the "key never appears" check, and [`shown`], the text a
//!   value shows a user (its `Display` and `Debug` together).
//! - [`fixture`](mod@fixture) — the wire fixtures of `tests/conformance/` at the workspace
//!   root, loaded as [`Fixture`]s and served as wiremock responses; [`expect`] checks a
//!   provider's error, answer or stream against a fixture's `expect` object.
//! - [`http`] — wiremock response shapes (SSE, NDJSON, JSON with a status), a response
//!   sequence, request counting; [`stream`] drains a chat stream into its [`StreamState`].
//! - [`cases!`] — a table of cases as one `#[tokio::test]` per row.
//!
//! Everything here panics on failure, with a message that names the case: it is for tests,
//! where a panic is the failure report.
//!
//! [`StreamState`]: steadfast_streaming::StreamState
//!
//! # Example
//!
//! ```
//! use steadfast_test_kit::{LogCapture, assert_hidden};
//!
//! const KEY: &str = "sk-LEAKCANARY-0123";
//! let logs = LogCapture::new();
//! let _guard = logs.set_default();
//! tracing::info!(provider = "openai", "sending a request");
//! let text = logs.text();
//! assert!(text.contains("sending a request"));
//! assert_hidden("the logs", &text, &[KEY, "LEAKCANARY"]);
//! ```

mod cases;
pub mod expect;
pub mod fixture;
pub mod http;
pub mod logs;
pub mod redirect;
pub mod secret;
pub mod stream;

pub use expect::{check_error, check_tool_calls, check_usage};
pub use fixture::{Fixture, fixture, fixtures};
pub use logs::LogCapture;
pub use secret::{assert_hidden, shown};
pub use stream::{drain, drain_items};
