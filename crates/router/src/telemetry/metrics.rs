//! `MetricsObserver`: the router's events as metrics through the `metrics` facade, named
//! after the OpenTelemetry GenAI conventions where they have a name (see
//! `docs/observability.md` for the list).
//!
//! Every handle is resolved once per provider, model group and bounded label value (error
//! kind, token type, refusal reason, breaker state) — the first time it moves — and kept:
//! after that an event only finds its handle and bumps it, it never formats a label.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use arc_swap::{ArcSwap, Guard};

use metrics::{Counter, Gauge, Histogram, SharedString, Unit};
use steadfast_errors::ErrorKind;
use steadfast_errors::observe::{BreakerState, Event, Observer, Refusal};

/// The label of the model group.
const GROUP: &str = "model_group";
/// The label of the provider (the deployment id).
const PROVIDER: &str = "provider";
/// The label of how an attempt or a call ended: `success` or an [`ErrorKind`] name.
const OUTCOME: &str = "outcome";
/// The GenAI operation of every routed call.
const OPERATION: &str = "chat";

/// The outcomes, in label order: `success`, then every [`ErrorKind`].
const OUTCOMES: usize = ErrorKind::ALL.len() + 1;

fn outcome_index(error: Option<ErrorKind>) -> usize {
    error.map_or(0, |k| {
        ErrorKind::ALL
            .iter()
            .position(|&x| x == k)
            .map_or(0, |i| i + 1)
    })
}

fn outcome_name(index: usize) -> &'static str {
    index
        .checked_sub(1)
        .map_or("success", |i| ErrorKind::ALL[i].as_str())
}

const STATES: [BreakerState; 3] = [
    BreakerState::Closed,
    BreakerState::HalfOpen,
    BreakerState::Open,
];

fn state_index(state: BreakerState) -> usize {
    STATES.iter().position(|&s| s == state).unwrap_or(0)
}

const REFUSALS: [Refusal; 4] = [
    Refusal::Breaker,
    Refusal::RateLimit,
    Refusal::Budget,
    Refusal::NoProvider,
];

/// A handle resolved on first use and kept: a series appears once it moves (a scrape is
/// not flooded with zeros for every error kind), and is never looked up by name again.
type Lazy<T> = OnceLock<T>;

fn lazies<T, const N: usize>() -> [Lazy<T>; N] {
    std::array::from_fn(|_| OnceLock::new())
}

/// One provider's handles.
/// One provider's handles: one the router was built with, or one added at run time (at
/// an index of the current list).
enum Found<'a> {
    Built(&'a ProviderHandles),
    Added(Guard<Arc<Vec<Arc<ProviderHandles>>>>, usize),
}

impl Deref for Found<'_> {
    type Target = ProviderHandles;

    fn deref(&self) -> &ProviderHandles {
        match self {
            Found::Built(p) => p,
            Found::Added(all, index) => &all[*index],
        }
    }
}

struct ProviderHandles {
    id: String,
    group: SharedString,
    label: SharedString,
    attempts: [Lazy<Counter>; OUTCOMES],
    retries: Lazy<Counter>,
    fallbacks: Lazy<Counter>,
    resumes: Lazy<Counter>,
    breaker_state: Gauge,
    /// `[from][to]`.
    transitions: [[Lazy<Counter>; 3]; 3],
    time_to_first_token: Lazy<Histogram>,
}

impl ProviderHandles {
    fn new(group: &SharedString, id: &str) -> Self {
        let label = SharedString::from(id.to_owned());
        let breaker_state = metrics::gauge!("steadfast.breaker.state", GROUP => group.clone(), PROVIDER => label.clone());
        breaker_state.set(BreakerState::Closed.gauge());
        ProviderHandles {
            id: id.to_owned(),
            group: group.clone(),
            label,
            attempts: lazies(),
            retries: OnceLock::new(),
            fallbacks: OnceLock::new(),
            resumes: OnceLock::new(),
            breaker_state,
            transitions: std::array::from_fn(|_| lazies()),
            time_to_first_token: OnceLock::new(),
        }
    }

    fn labels(&self) -> [(&'static str, SharedString); 2] {
        [(GROUP, self.group.clone()), (PROVIDER, self.label.clone())]
    }

    fn counter(&self, slot: &Lazy<Counter>, name: &'static str) -> Counter {
        slot.get_or_init(|| metrics::counter!(name, &self.labels()))
            .clone()
    }

    fn attempt(&self, i: usize) -> Counter {
        self.attempts[i]
            .get_or_init(|| {
                metrics::counter!("steadfast.attempts", GROUP => self.group.clone(), PROVIDER => self.label.clone(), OUTCOME => outcome_name(i))
            })
            .clone()
    }

    fn transition(&self, from: usize, to: usize) -> Counter {
        self.transitions[from][to]
            .get_or_init(|| {
                metrics::counter!(
                    "steadfast.breaker.transitions",
                    GROUP => self.group.clone(),
                    PROVIDER => self.label.clone(),
                    "from" => STATES[from].as_str(),
                    "to" => STATES[to].as_str()
                )
            })
            .clone()
    }
}

/// Reports a router's events as metrics through the [`metrics`] facade.
///
/// Every [`Router`](crate::Router) built with the `metrics` feature (on by default)
/// installs one, labelled with its [name](crate::RouterBuilder::name) and its providers'
/// ids. Each series is resolved on the recorder the first time it moves and kept, so
/// install the exporter before the router's first call; without one, an event costs a
/// look-up and a no-op. Labels are bounded: the model group, the provider id, an error
/// kind, a token type, a refusal reason and breaker states — never a prompt, a key, an
/// error message or a model string a caller chose.
pub struct MetricsObserver {
    /// The handles of the providers the router was built with.
    providers: Vec<ProviderHandles>,
    /// Those of providers added to the router at run time, made on each one's first event.
    added: ArcSwap<Vec<Arc<ProviderHandles>>>,
    /// Serialises adding a provider's handles.
    adding: Mutex<()>,
    group: SharedString,
    duration: [Lazy<Histogram>; OUTCOMES],
    requests: [Lazy<Counter>; OUTCOMES],
    tokens: [Lazy<Histogram>; 2],
    rejected: [Lazy<Counter>; 4],
    in_flight: Gauge,
    cost: Lazy<Gauge>,
}

impl fmt::Debug for MetricsObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsObserver")
            .field("group", &self.group)
            .field(
                "providers",
                &self
                    .providers
                    .iter()
                    .map(|p| p.id.clone())
                    .chain(self.added.load().iter().map(|p| p.id.clone()))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl MetricsObserver {
    /// The observer of model group `group` and providers `providers`: describes the
    /// metrics to the recorder installed now and sets the in-flight gauge and each
    /// provider's breaker gauge (closed) on it.
    pub fn new<'a>(group: &str, providers: impl IntoIterator<Item = &'a str>) -> Self {
        describe();
        let g = SharedString::from(group.to_owned());
        let providers = providers
            .into_iter()
            .map(|id| ProviderHandles::new(&g, id))
            .collect();
        let in_flight = metrics::gauge!("steadfast.in_flight", GROUP => g.clone());
        in_flight.set(0.0);
        MetricsObserver {
            providers,
            added: ArcSwap::from_pointee(Vec::new()),
            adding: Mutex::new(()),
            duration: lazies(),
            requests: lazies(),
            tokens: lazies(),
            rejected: lazies(),
            in_flight,
            cost: OnceLock::new(),
            group: g,
        }
    }

    /// The handles of provider `id`, made on its first event when the router gained it at
    /// run time (its breaker gauge then starts at closed).
    fn provider(&self, id: &str) -> Option<Found<'_>> {
        if let Some(p) = self.providers.iter().find(|p| p.id == id) {
            return Some(Found::Built(p));
        }
        let added = self.added.load();
        if let Some(index) = added.iter().position(|p| p.id == id) {
            return Some(Found::Added(added, index));
        }
        drop(added);
        let _one = self.adding.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = Vec::clone(&self.added.load());
        if !next.iter().any(|p| p.id == id) {
            next.push(Arc::new(ProviderHandles::new(&self.group, id)));
            self.added.store(Arc::new(next));
        }
        let added = self.added.load();
        let index = added.iter().position(|p| p.id == id)?;
        Some(Found::Added(added, index))
    }

    fn duration(&self, i: usize) -> &Histogram {
        self.duration[i].get_or_init(|| {
            let g = self.group.clone();
            if i == 0 {
                metrics::histogram!("gen_ai.client.operation.duration", "gen_ai.operation.name" => OPERATION, GROUP => g)
            } else {
                metrics::histogram!("gen_ai.client.operation.duration", "gen_ai.operation.name" => OPERATION, GROUP => g, "error.type" => outcome_name(i))
            }
        })
    }

    fn requests(&self, i: usize) -> &Counter {
        self.requests[i].get_or_init(|| {
            metrics::counter!("steadfast.requests", GROUP => self.group.clone(), OUTCOME => outcome_name(i))
        })
    }

    fn tokens(&self, i: usize) -> &Histogram {
        self.tokens[i].get_or_init(|| {
            metrics::histogram!(
                "gen_ai.client.token.usage",
                "gen_ai.operation.name" => OPERATION,
                GROUP => self.group.clone(),
                "gen_ai.token.type" => if i == 0 { "input" } else { "output" }
            )
        })
    }

    fn rejected(&self, i: usize) -> &Counter {
        self.rejected[i].get_or_init(|| {
            metrics::counter!("steadfast.rejected", GROUP => self.group.clone(), "reason" => REFUSALS[i].as_str())
        })
    }
}

/// Describes every metric (type, unit, meaning) to the recorder installed now.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_histogram!(
        "gen_ai.client.operation.duration",
        Unit::Seconds,
        "Duration of routed calls, streams until they end"
    );
    describe_histogram!(
        "gen_ai.client.token.usage",
        "Tokens billed per answered call, over every attempt"
    );
    describe_histogram!(
        "steadfast.time_to_first_token",
        Unit::Seconds,
        "Time from the start of a streamed call to its first token"
    );
    describe_counter!(
        "steadfast.attempts",
        "Attempts on a provider, by outcome (success or error kind)"
    );
    describe_counter!("steadfast.retries", "Retries decided on a provider");
    describe_counter!(
        "steadfast.fallbacks",
        "Calls that moved on from this provider to the next"
    );
    describe_counter!("steadfast.resumes", "Interrupted streams continued here");
    describe_gauge!(
        "steadfast.breaker.state",
        "Circuit breaker state: 0 closed, 1 half-open, 2 open"
    );
    describe_counter!(
        "steadfast.breaker.transitions",
        "Circuit breaker state changes"
    );
    describe_counter!(
        "steadfast.rejected",
        "Calls or attempts refused locally, by reason"
    );
    describe_gauge!(
        "steadfast.cost.usd",
        "Cost billed, in USD (only grows; a gauge since the facade's counters are integers)"
    );
    describe_gauge!("steadfast.in_flight", "Routed calls in progress");
    describe_counter!("steadfast.requests", "Routed calls, by outcome");
}

impl Observer for MetricsObserver {
    fn on_event(&self, event: &Event<'_>) {
        match *event {
            Event::Attempt {
                provider, error, ..
            } => {
                if let Some(p) = self.provider(provider) {
                    p.attempt(outcome_index(error.map(|e| e.kind())))
                        .increment(1);
                }
            }
            Event::Retry { operation, .. } => {
                if let Some(p) = self.provider(operation) {
                    p.counter(&p.retries, "steadfast.retries").increment(1);
                }
            }
            Event::Fallback { from, .. } => {
                if let Some(p) = self.provider(from) {
                    p.counter(&p.fallbacks, "steadfast.fallbacks").increment(1);
                }
            }
            Event::Resume { provider, .. } => {
                if let Some(p) = self.provider(provider) {
                    p.counter(&p.resumes, "steadfast.resumes").increment(1);
                }
            }
            Event::BreakerTransition { breaker, from, to } => {
                if let Some(p) = self.provider(breaker) {
                    p.breaker_state.set(to.gauge());
                    p.transition(state_index(from), state_index(to))
                        .increment(1);
                }
            }
            Event::Rejected { reason, .. } => {
                let i = REFUSALS.iter().position(|&r| r == reason).unwrap_or(0);
                self.rejected(i).increment(1);
            }
            Event::FirstToken {
                provider, after, ..
            } => {
                if let Some(p) = self.provider(provider) {
                    p.time_to_first_token
                        .get_or_init(|| {
                            metrics::histogram!("steadfast.time_to_first_token", &p.labels())
                        })
                        .record(after.as_secs_f64());
                }
            }
            Event::CallStarted { .. } => self.in_flight.increment(1.0),
            Event::CallFinished {
                duration,
                error,
                provider,
                input_tokens,
                output_tokens,
                cost_usd,
                ..
            } => {
                self.in_flight.decrement(1.0);
                let i = outcome_index(error);
                self.requests(i).increment(1);
                self.duration(i).record(duration.as_secs_f64());
                if provider.is_some() {
                    self.tokens(0).record(input_tokens as f64);
                    self.tokens(1).record(output_tokens as f64);
                }
                if cost_usd > 0.0 {
                    self.cost
                        .get_or_init(
                            || metrics::gauge!("steadfast.cost.usd", GROUP => self.group.clone()),
                        )
                        .increment(cost_usd);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_indices_round_trip() {
        assert_eq!(outcome_name(outcome_index(None)), "success");
        for kind in ErrorKind::ALL {
            assert_eq!(outcome_name(outcome_index(Some(kind))), kind.as_str());
        }
        for state in STATES {
            assert_eq!(STATES[state_index(state)], state);
        }
    }
}
