//! Building one scenario's world: its fault servers (or a refused port), their scripts, the
//! real provider for each wire format, and the router over them — with the retry, budget,
//! breaker and resume settings the report derives its bounds from.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use steadfast_circuit::Config as BreakerConfig;
use steadfast_fallback::{ChainConfig, EntryConfig, ResumeSettings};
use steadfast_providers_core::{ApiKey, ChatProvider};
use steadfast_providers_mock::{Continuation, Fault, FaultServer, RecordedRequest, ServerConfig};
use steadfast_retry::{Backoff, BudgetConfig, Jitter, RetryConfig};
use steadfast_router::{ProviderConfig, Router, RouterConfig};
use steadfast_streaming::Timeouts;

use super::scenario::{Format, Plan};

/// Tokens in every answer.
pub(crate) const TOKENS: usize = 24;
/// Attempts per provider per call (the first and its retries).
pub(crate) const MAX_ATTEMPTS: u32 = 3;
/// Continuations per stream at most.
pub(crate) const MAX_RESUMES: u32 = 4;
/// How long a tripped breaker stays open.
pub(crate) const OPEN_FOR: Duration = Duration::from_millis(500);
/// The retry budget of each provider.
pub(crate) fn budget() -> BudgetConfig {
    BudgetConfig::default()
}

/// A cheap deterministic hash: which requests get a fault.
pub(crate) fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Whether a request continues a partial answer: it holds an assistant (or Gemini `model`)
/// turn.
fn continues(req: &RecordedRequest) -> bool {
    let Some(body) = req.json() else {
        return false;
    };
    let turns = body
        .get("messages")
        .or_else(|| body.get("contents"))
        .and_then(|m| m.as_array().cloned())
        .unwrap_or_default();
    turns
        .iter()
        .any(|t| matches!(t["role"].as_str(), Some("assistant" | "model")))
}

/// When each request of a time-based plan came, and whether it was refused.
pub(crate) type Timeline = Arc<Mutex<Vec<(Duration, bool)>>>;

/// One provider's side: its server (none when the port refuses connections).
pub(crate) struct Side {
    pub(crate) format: Format,
    pub(crate) server: Option<FaultServer>,
    base_url: String,
    pub(crate) timeline: Timeline,
}

impl Side {
    /// Starts the server for `format` with `plan`; `salt` seeds which requests are faulted.
    pub(crate) async fn start(
        format: Format,
        plan: Plan,
        continuation: Continuation,
        salt: u64,
    ) -> Result<Side, String> {
        let timeline: Timeline = Arc::default();
        if let Plan::Refused = plan {
            // A port that was free a moment ago and has nobody listening now.
            let listener = std::net::TcpListener::bind("127.0.0.1:0")
                .map_err(|e| format!("binding a loopback port: {e}"))?;
            let addr = listener
                .local_addr()
                .map_err(|e| format!("reading a loopback port: {e}"))?;
            drop(listener);
            return Ok(Side {
                format,
                server: None,
                base_url: format!("http://{addr}"),
                timeline,
            });
        }
        let server = FaultServer::with_config(ServerConfig {
            answer_tokens: TOKENS,
            continuation,
            ..ServerConfig::default()
        })
        .await
        .map_err(|e| format!("starting a fault server: {e}"))?;
        match plan {
            Plan::Share { per_mille, fault } | Plan::FirstAttempts { per_mille, fault } => {
                let first_only = matches!(plan, Plan::FirstAttempts { .. });
                server.set_script(move |req| {
                    let r = mix(salt ^ req.index);
                    if r % 1000 >= per_mille || (first_only && continues(req)) {
                        Fault::None
                    } else {
                        fault(r / 1000)
                    }
                });
            }
            Plan::Flapping { period, down } => {
                let started = Instant::now();
                let timeline = Arc::clone(&timeline);
                server.set_script(move |_| {
                    let at = started.elapsed();
                    let refused = at.as_nanos() % period.as_nanos() < down.as_nanos();
                    super::lock(&timeline).push((at, refused));
                    if refused {
                        Fault::status(503)
                    } else {
                        Fault::None
                    }
                });
            }
            Plan::Healthy | Plan::Refused => {}
        }
        let base_url = server.base_url();
        Ok(Side {
            format,
            server: Some(server),
            base_url,
            timeline,
        })
    }

    pub(crate) fn requests(&self) -> u64 {
        self.server.as_ref().map_or(0, FaultServer::request_count)
    }

    pub(crate) fn fired(&self) -> u64 {
        self.server
            .as_ref()
            .map_or(0, FaultServer::faults_fired_total)
    }

    pub(crate) fn unreported_output_bound(&self) -> u64 {
        self.server
            .as_ref()
            .map_or(0, FaultServer::unreported_output_bound)
    }

    pub(crate) fn reported_usage(&self) -> (u64, u64) {
        self.server
            .as_ref()
            .map_or((0, 0), FaultServer::reported_usage)
    }

    pub(crate) fn continuations(&self) -> u64 {
        self.server
            .as_ref()
            .map_or(0, FaultServer::continuation_count)
    }

    /// The real provider for this side's format, pointed at its server.
    fn provider(&self, id: &str) -> Arc<dyn ChatProvider> {
        let client = steadfast_providers_core::http::default_client();
        let timeouts = Timeouts {
            first_byte: Some(Duration::from_millis(400)),
            idle: Some(Duration::from_millis(250)),
            total: Some(Duration::from_secs(10)),
            keep_alive_resets_idle: false,
        };
        let timeout = Duration::from_millis(400);
        let key = |k: &str| Some(ApiKey::new(format!("{k}-inject-failures-test-key")));
        match self.format {
            Format::OpenAi => {
                let mut c = steadfast_providers_openai::OpenAiConfig::openai();
                c.id = id.into();
                c.base_url = format!("{}/v1", self.base_url);
                c.api_key = key("sk");
                c.timeout = timeout;
                c.stream_timeouts = timeouts;
                Arc::new(steadfast_providers_openai::OpenAiProvider::with_client(
                    c, client,
                ))
            }
            Format::Anthropic => {
                let c = steadfast_providers_anthropic::AnthropicConfig {
                    id: id.into(),
                    base_url: self.base_url.clone(),
                    api_key: key("sk-ant"),
                    timeout,
                    stream: timeouts,
                    ..steadfast_providers_anthropic::AnthropicConfig::default()
                };
                Arc::new(steadfast_providers_anthropic::AnthropicProvider::with_client(c, client))
            }
            Format::Gemini => {
                let c = steadfast_providers_gemini::GeminiConfig {
                    id: id.into(),
                    base_url: self.base_url.clone(),
                    api_key: key("AIza"),
                    timeout,
                    stream: timeouts,
                    continue_style: steadfast_providers_gemini::ContinueStyle::ModelTurn,
                    ..steadfast_providers_gemini::GeminiConfig::default()
                };
                Arc::new(steadfast_providers_gemini::GeminiProvider::with_client(
                    c, client,
                ))
            }
            Format::Ollama => {
                let c = steadfast_providers_ollama::OllamaConfig {
                    id: id.into(),
                    base_url: self.base_url.clone(),
                    timeout,
                    stream: timeouts,
                    ..steadfast_providers_ollama::OllamaConfig::default()
                };
                Arc::new(steadfast_providers_ollama::OllamaProvider::with_client(
                    c, client,
                ))
            }
        }
    }
}

fn entry() -> EntryConfig {
    EntryConfig {
        retry: RetryConfig {
            max_attempts: MAX_ATTEMPTS,
            backoff: Backoff {
                initial: Duration::from_millis(5),
                multiplier: 2.0,
                max: Duration::from_millis(80),
                jitter: Jitter::Full,
            },
            max_retry_after: Duration::from_secs(2),
            budget: Some(budget()),
            ..RetryConfig::default()
        },
        // Trips on a run of failures or a failure rate well above the faulted shares, so that
        // the primary keeps serving (and resuming) through 30-40 % faults; an outage trips it.
        breaker: BreakerConfig {
            open_duration: OPEN_FOR,
            consecutive_failures: Some(8),
            failure_rate: Some(0.8),
            ..BreakerConfig::default()
        },
        ..EntryConfig::default()
    }
}

/// The router (priority strategy) over `primary` then `fallback`.
pub(crate) fn router(primary: &Side, fallback: &Side) -> Router {
    let routed = |priority: i32| ProviderConfig {
        priority,
        entry: entry(),
        ..ProviderConfig::default()
    };
    Router::builder()
        .provider(primary.provider(PRIMARY), routed(1))
        .provider(fallback.provider(FALLBACK), routed(2))
        .config(RouterConfig {
            chain: ChainConfig {
                deadline: Some(Duration::from_secs(15)),
                resume: ResumeSettings {
                    max_resumes: MAX_RESUMES,
                    ..ResumeSettings::default()
                },
            },
            ..RouterConfig::default()
        })
        .build()
}

/// The primary's provider id.
pub(crate) const PRIMARY: &str = "primary";
/// The fallback's provider id.
pub(crate) const FALLBACK: &str = "fallback";
