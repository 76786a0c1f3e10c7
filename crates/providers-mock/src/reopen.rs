//! `ContinueOn`: resumes an interrupted stream on the same provider, through its
//! [`continuation`](ChatProvider::continuation) hook — the wiring a resume test needs.

use std::fmt;
use std::sync::Arc;

use steadfast_errors::{ErrorKind, ProviderError};
use steadfast_providers_core::{ChatProvider, ChatRequest};
use steadfast_streaming::resume::ReopenFuture;
use steadfast_streaming::{Reopen, ResumableStream, ResumeConfig, StreamState};

/// A [`Reopen`] that asks `provider` to continue `request` from what was delivered: it
/// builds the continuation with [`ChatProvider::continuation`] (the partial answer as an
/// assistant prefix) and opens it with `chat_stream`.
///
/// Works with any provider, the [`ScriptedProvider`](crate::ScriptedProvider) and real ones
/// pointed at a [`FaultServer`](crate::FaultServer) alike. When the provider offers no
/// continuation the reopen fails with an `unknown` error, which ends the answer as
/// explicitly incomplete.
///
/// ```
/// use std::sync::Arc;
/// use futures_util::StreamExt;
/// use steadfast_providers_core::{ChatProvider, ChatRequest, Message};
/// use steadfast_providers_mock::{ContinueOn, Outcome, ScriptedProvider};
/// use steadfast_streaming::ResumeConfig;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let provider = Arc::new(ScriptedProvider::from_outcomes([
///     Outcome::cut(["One", " two"]),                     // dropped after two words
///     Outcome::continue_from("One two three four."),      // continues after the prefix
/// ]));
/// let request = ChatRequest::new("m", vec![Message::user("Count")]);
/// let exact = ResumeConfig { overlap_window: 0, ..ResumeConfig::default() };
/// let mut stream = ContinueOn::new(provider.clone(), request).open(exact).await.unwrap();
/// while let Some(item) = stream.next().await {
///     item.unwrap();
/// }
/// assert_eq!(stream.delivered().text(), "One two three four.");
/// assert_eq!(stream.resumes(), 1);
/// # }
/// ```
#[derive(Clone)]
pub struct ContinueOn {
    provider: Arc<dyn ChatProvider>,
    request: ChatRequest,
}

impl fmt::Debug for ContinueOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContinueOn")
            .field("provider", &self.provider.id())
            .field("model", &self.request.model)
            .finish_non_exhaustive()
    }
}

impl ContinueOn {
    /// Continues `request` on `provider`.
    pub fn new(provider: Arc<dyn ChatProvider>, request: ChatRequest) -> ContinueOn {
        ContinueOn { provider, request }
    }

    /// Opens the first stream and wraps it in a [`ResumableStream`] that reopens through
    /// this.
    pub async fn open(self, config: ResumeConfig) -> Result<ResumableStream, ProviderError> {
        let first = self.provider.chat_stream(&self.request).await?;
        Ok(ResumableStream::new(first, Arc::new(self), config))
    }
}

impl Reopen for ContinueOn {
    fn reopen(&self, delivered: StreamState, _attempt: u32) -> ReopenFuture {
        let provider = self.provider.clone();
        let next = provider.continuation(&self.request, delivered.text());
        Box::pin(async move {
            match next {
                Some(request) => provider.chat_stream(&request).await,
                None => Err(ProviderError::new(
                    ErrorKind::Unknown,
                    provider.id().to_owned(),
                    "the provider offers no way to continue an answer; it is incomplete",
                )
                .with_first_byte_received(true)),
            }
        })
    }
}
