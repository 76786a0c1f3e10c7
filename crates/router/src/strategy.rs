//! `Strategy`: the order in which a call tries the eligible providers, and the built-in
//! strategies behind [`StrategyKind`].
//!
//! A strategy sees only the [`Candidate`]s — the providers that may take this request now —
//! in priority order, and returns the order to try them in. The first is the provider the
//! strategy chose; the rest are the fallbacks. Every built-in returns every candidate, so
//! that a failure can still fall back anywhere; a custom strategy may return fewer, and the
//! ones it leaves out are not tried.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use steadfast_circuit::State;
use steadfast_fallback::Health;
use steadfast_providers_core::{ChatRequest, Pricing};

use crate::stats::lock;

/// One provider that may take the request, as a [`Strategy`] sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The provider's id.
    pub id: String,
    /// Its configured priority (lower goes first).
    pub priority: i32,
    /// Its configured weight.
    pub weight: u32,
    /// Calls in flight on it now.
    pub in_flight: u32,
    /// Its average attempt latency (EWMA), or `None` before its first attempt.
    pub latency: Option<Duration>,
    /// Successful attempts over all attempts; 1.0 before its first attempt.
    pub success_rate: f64,
    /// Its prices for the model it would be asked for, when known.
    pub pricing: Option<Pricing>,
    /// Its health, as the fallback chain judges it.
    pub health: Health,
    /// Its circuit breaker's state.
    pub breaker: State,
}

impl Candidate {
    /// Whether the provider looks fit: healthy and its breaker not open.
    pub fn is_healthy(&self) -> bool {
        self.health == Health::Healthy && self.breaker != State::Open
    }
}

/// What a strategy may know about the request being routed.
#[derive(Debug, Clone, Copy)]
pub struct RouteContext<'a> {
    /// The request.
    pub request: &'a ChatRequest,
    /// The prompt's estimated size in tokens: its characters / 4.
    pub prompt_tokens: u64,
    /// The request's estimated size in tokens: prompt plus `max_tokens` (see
    /// [`estimate_tokens`](crate::estimate_tokens)).
    pub estimated_tokens: u64,
    /// The request's tags.
    pub tags: &'a [String],
    /// The request's affinity key.
    pub affinity_key: Option<&'a str>,
}

/// Chooses the order in which a call tries its candidates.
///
/// `candidates` are in priority order (lower [`Candidate::priority`] first, ties in the
/// order providers were added); the result holds indices into it. Indices out of range and
/// repeats are ignored; candidates left out are not tried. An empty result means the
/// priority order.
///
/// ```
/// use steadfast_router::{Candidate, RouteContext, Strategy};
///
/// /// Cheapest by a house rule: providers whose id starts with "local" first.
/// #[derive(Debug)]
/// struct LocalFirst;
///
/// impl Strategy for LocalFirst {
///     fn order(&self, candidates: &[Candidate], _: &RouteContext<'_>) -> Vec<usize> {
///         let mut order: Vec<usize> = (0..candidates.len()).collect();
///         order.sort_by_key(|&i| !candidates[i].id.starts_with("local"));
///         order
///     }
/// }
/// ```
pub trait Strategy: Send + Sync + fmt::Debug {
    /// The order to try `candidates` in, as indices into it.
    fn order(&self, candidates: &[Candidate], ctx: &RouteContext<'_>) -> Vec<usize>;

    /// The name stats report it under; a built-in answers its config name
    /// (`"round_robin"`), a strategy of your own `"custom"` unless it says otherwise.
    fn name(&self) -> &str {
        "custom"
    }
}

/// The built-in strategies, by name (for config files).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StrategyKind {
    /// [`Priority`]: primary first, back to it as soon as it is eligible again.
    #[default]
    Priority,
    /// [`RoundRobin`]: each call starts one provider further.
    RoundRobin,
    /// [`WeightedRoundRobin`]: shares of first places by weight.
    WeightedRoundRobin,
    /// [`RandomHealthy`]: a random healthy provider first. Spelled `"random_healthy"` in
    /// files; `"random"` is accepted too.
    #[serde(alias = "random")]
    RandomHealthy,
    /// [`LeastBusy`]: fewest calls in flight first.
    LeastBusy,
    /// [`LowestLatency`]: lowest average latency first.
    LowestLatency,
    /// [`BestPerformance`]: best latency for its success rate first.
    BestPerformance,
    /// [`Cheapest`]: lowest estimated cost first.
    Cheapest,
    /// [`PowerOfTwo`]: the less busy of two random providers first.
    PowerOfTwo,
}

impl StrategyKind {
    /// The strategy; `seed` makes the random ones reproducible.
    pub fn build(self, seed: Option<u64>) -> Arc<dyn Strategy> {
        match self {
            StrategyKind::Priority => Arc::new(Priority),
            StrategyKind::RoundRobin => Arc::new(RoundRobin::default()),
            StrategyKind::WeightedRoundRobin => Arc::new(WeightedRoundRobin::default()),
            StrategyKind::RandomHealthy => Arc::new(RandomHealthy::new(seed)),
            StrategyKind::LeastBusy => Arc::new(LeastBusy),
            StrategyKind::LowestLatency => Arc::new(LowestLatency),
            StrategyKind::BestPerformance => Arc::new(BestPerformance),
            StrategyKind::Cheapest => Arc::new(Cheapest),
            StrategyKind::PowerOfTwo => Arc::new(PowerOfTwo::new(seed)),
        }
    }
}

fn rng(seed: Option<u64>) -> Mutex<fastrand::Rng> {
    Mutex::new(seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed))
}

/// Indices sorted by `key`, ties in priority order.
fn sorted_by<K: PartialOrd>(candidates: &[Candidate], key: impl Fn(&Candidate) -> K) -> Vec<usize> {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&a, &b| {
        key(&candidates[a])
            .partial_cmp(&key(&candidates[b]))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    order
}

/// `first`, then the rest in priority order.
fn first_then_rest(first: usize, n: usize) -> Vec<usize> {
    std::iter::once(first)
        .chain((0..n).filter(|&i| i != first))
        .collect()
}

/// Primary first: the candidates in priority order. Since a provider that failed is only
/// left out while it is ineligible (disabled, limited, its breaker open), calls return to
/// the primary as soon as it is eligible again — its breaker's half-open probe included.
#[derive(Debug, Clone, Copy, Default)]
pub struct Priority;

impl Strategy for Priority {
    fn name(&self) -> &str {
        "priority"
    }

    fn order(&self, candidates: &[Candidate], _: &RouteContext<'_>) -> Vec<usize> {
        (0..candidates.len()).collect()
    }
}

/// Each call starts one candidate further than the last, the rest following in rotation.
#[derive(Debug, Default)]
pub struct RoundRobin {
    next: AtomicUsize,
}

impl Strategy for RoundRobin {
    fn name(&self) -> &str {
        "round_robin"
    }

    fn order(&self, candidates: &[Candidate], _: &RouteContext<'_>) -> Vec<usize> {
        let n = candidates.len();
        if n == 0 {
            return Vec::new();
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        (0..n).map(|i| (start + i) % n).collect()
    }
}

/// Smooth weighted round robin (as in nginx): over any run of calls each candidate goes
/// first in proportion to its weight, interleaved rather than in bursts; the rest follow
/// in priority order. With weights 2 and 1: a, b, a, a, b, a, …
#[derive(Debug, Default)]
pub struct WeightedRoundRobin {
    current: Mutex<HashMap<String, i64>>,
}

impl Strategy for WeightedRoundRobin {
    fn name(&self) -> &str {
        "weighted_round_robin"
    }

    fn order(&self, candidates: &[Candidate], _: &RouteContext<'_>) -> Vec<usize> {
        let total: i64 = candidates.iter().map(|c| i64::from(c.weight)).sum();
        if total == 0 {
            return (0..candidates.len()).collect();
        }
        let mut current = lock(&self.current);
        let mut best: Option<(usize, i64)> = None;
        for (i, c) in candidates.iter().enumerate() {
            let w = current.entry(c.id.clone()).or_insert(0);
            *w += i64::from(c.weight);
            if c.weight > 0 && best.is_none_or(|(_, b)| *w > b) {
                best = Some((i, *w));
            }
        }
        let Some((first, _)) = best else {
            return (0..candidates.len()).collect();
        };
        if let Some(w) = current.get_mut(&candidates[first].id) {
            *w -= total;
        }
        first_then_rest(first, candidates.len())
    }
}

/// The healthy candidates ([`Candidate::is_healthy`]) in random order, then the others in
/// priority order.
#[derive(Debug)]
pub struct RandomHealthy {
    rng: Mutex<fastrand::Rng>,
}

impl RandomHealthy {
    /// Random from `seed`, or from entropy without one.
    pub fn new(seed: Option<u64>) -> RandomHealthy {
        RandomHealthy { rng: rng(seed) }
    }
}

impl Strategy for RandomHealthy {
    fn name(&self) -> &str {
        "random_healthy"
    }

    fn order(&self, candidates: &[Candidate], _: &RouteContext<'_>) -> Vec<usize> {
        let (mut healthy, rest): (Vec<usize>, Vec<usize>) =
            (0..candidates.len()).partition(|&i| candidates[i].is_healthy());
        lock(&self.rng).shuffle(&mut healthy);
        healthy.extend(rest);
        healthy
    }
}

/// Fewest calls in flight first (ties in priority order).
#[derive(Debug, Clone, Copy, Default)]
pub struct LeastBusy;

impl Strategy for LeastBusy {
    fn name(&self) -> &str {
        "least_busy"
    }

    fn order(&self, candidates: &[Candidate], _: &RouteContext<'_>) -> Vec<usize> {
        sorted_by(candidates, |c| c.in_flight)
    }
}

/// Lowest average latency (EWMA) first. A provider without a sample yet goes first, so
/// that every provider gets measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct LowestLatency;

impl Strategy for LowestLatency {
    fn name(&self) -> &str {
        "lowest_latency"
    }

    fn order(&self, candidates: &[Candidate], _: &RouteContext<'_>) -> Vec<usize> {
        sorted_by(candidates, |c| c.latency.unwrap_or(Duration::ZERO))
    }
}

/// Best latency for its reliability first: the score is the average latency divided by the
/// success rate (floored at 1 %), lower is better, so a provider twice as fast that fails
/// half the time ties with a reliable one. Without a sample the latency counts as zero.
#[derive(Debug, Clone, Copy, Default)]
pub struct BestPerformance;

impl Strategy for BestPerformance {
    fn name(&self) -> &str {
        "best_performance"
    }

    fn order(&self, candidates: &[Candidate], _: &RouteContext<'_>) -> Vec<usize> {
        sorted_by(candidates, |c| {
            c.latency.unwrap_or(Duration::ZERO).as_secs_f64() / c.success_rate.max(0.01)
        })
    }
}

/// Lowest estimated cost of this request first: the prompt's estimated tokens at the input
/// price plus `max_tokens` (or, when unset, as many tokens as the prompt) at the output
/// price. Providers without known prices go last.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cheapest;

impl Strategy for Cheapest {
    fn name(&self) -> &str {
        "cheapest"
    }

    fn order(&self, candidates: &[Candidate], ctx: &RouteContext<'_>) -> Vec<usize> {
        let input = ctx.prompt_tokens as f64;
        let output = ctx.request.max_tokens.map_or(input, f64::from);
        sorted_by(candidates, |c| {
            c.pricing.map_or(f64::INFINITY, |p| {
                input * p.input_per_mtok + output * p.output_per_mtok
            })
        })
    }
}

/// Power of two choices: of two candidates picked at random, the one with fewer calls in
/// flight goes first (ties: the higher priority); the rest follow least busy first.
#[derive(Debug)]
pub struct PowerOfTwo {
    rng: Mutex<fastrand::Rng>,
}

impl PowerOfTwo {
    /// Random from `seed`, or from entropy without one.
    pub fn new(seed: Option<u64>) -> PowerOfTwo {
        PowerOfTwo { rng: rng(seed) }
    }
}

impl Strategy for PowerOfTwo {
    fn name(&self) -> &str {
        "power_of_two"
    }

    fn order(&self, candidates: &[Candidate], _: &RouteContext<'_>) -> Vec<usize> {
        let n = candidates.len();
        if n < 2 {
            return (0..n).collect();
        }
        let (a, b) = {
            let mut rng = lock(&self.rng);
            let a = rng.usize(0..n);
            let b = rng.usize(0..n - 1);
            (a, if b >= a { b + 1 } else { b })
        };
        let (lo, hi) = (a.min(b), a.max(b));
        let first = if candidates[hi].in_flight < candidates[lo].in_flight {
            hi
        } else {
            lo
        };
        let mut order = vec![first];
        order.extend(
            sorted_by(candidates, |c| c.in_flight)
                .into_iter()
                .filter(|&i| i != first),
        );
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: &str) -> Candidate {
        Candidate {
            id: id.into(),
            priority: 0,
            weight: 1,
            in_flight: 0,
            latency: None,
            success_rate: 1.0,
            pricing: None,
            health: Health::Healthy,
            breaker: State::Closed,
        }
    }

    fn ctx(request: &ChatRequest) -> RouteContext<'_> {
        RouteContext {
            request,
            prompt_tokens: 100,
            estimated_tokens: 100,
            tags: &[],
            affinity_key: None,
        }
    }

    fn three() -> Vec<Candidate> {
        vec![cand("a"), cand("b"), cand("c")]
    }

    #[test]
    fn priority_and_round_robin() {
        let r = ChatRequest::default();
        assert_eq!(Priority.order(&three(), &ctx(&r)), [0, 1, 2]);
        let rr = RoundRobin::default();
        let firsts: Vec<usize> = (0..4).map(|_| rr.order(&three(), &ctx(&r))[0]).collect();
        assert_eq!(firsts, [0, 1, 2, 0]);
        assert_eq!(rr.order(&three(), &ctx(&r)), [1, 2, 0]);
        assert!(rr.order(&[], &ctx(&r)).is_empty());
    }

    #[test]
    fn weighted_round_robin_is_smooth() {
        let r = ChatRequest::default();
        let mut c = vec![cand("a"), cand("b")];
        c[0].weight = 2;
        let w = WeightedRoundRobin::default();
        let firsts: Vec<usize> = (0..6).map(|_| w.order(&c, &ctx(&r))[0]).collect();
        assert_eq!(firsts, [0, 1, 0, 0, 1, 0]);
        c[1].weight = 0;
        assert!((0..3).all(|_| w.order(&c, &ctx(&r)) == [0, 1]));
    }

    #[test]
    fn random_is_seeded_and_healthy_first() {
        let r = ChatRequest::default();
        let mut c = three();
        c[0].breaker = State::Open;
        let orders = |seed| {
            let s = RandomHealthy::new(Some(seed));
            (0..8).map(|_| s.order(&c, &ctx(&r))).collect::<Vec<_>>()
        };
        let run = orders(7);
        assert_eq!(run, orders(7), "the same seed gives the same orders");
        assert!(run.iter().all(|o| o[2] == 0), "the open breaker goes last");
        assert!(run.iter().any(|o| o[0] == 1) && run.iter().any(|o| o[0] == 2));
    }

    #[test]
    fn least_busy_latency_performance_cheapest() {
        let r = ChatRequest::default().with_max_tokens(100);
        let mut c = three();
        c[0].in_flight = 3;
        c[1].in_flight = 1;
        c[2].in_flight = 1;
        assert_eq!(LeastBusy.order(&c, &ctx(&r)), [1, 2, 0]);

        c[0].latency = Some(Duration::from_millis(100));
        c[1].latency = Some(Duration::from_millis(300));
        assert_eq!(
            LowestLatency.order(&c, &ctx(&r)),
            [2, 0, 1],
            "unmeasured first"
        );
        c[2].latency = Some(Duration::from_millis(150));
        assert_eq!(LowestLatency.order(&c, &ctx(&r)), [0, 2, 1]);

        c[0].success_rate = 0.25; // 100 ms / 0.25 = 400 ms
        assert_eq!(BestPerformance.order(&c, &ctx(&r)), [2, 1, 0]);

        c[0].pricing = Some(Pricing::per_million(3.0, 15.0));
        c[1].pricing = Some(Pricing::per_million(0.14, 0.28));
        assert_eq!(Cheapest.order(&c, &ctx(&r)), [1, 0, 2], "unpriced last");
    }

    #[test]
    fn power_of_two_takes_the_less_busy_of_two() {
        let r = ChatRequest::default();
        let mut c = three();
        c[0].in_flight = 5;
        c[1].in_flight = 2;
        c[2].in_flight = 9;
        let p = PowerOfTwo::new(Some(42));
        for _ in 0..20 {
            let o = p.order(&c, &ctx(&r));
            assert_ne!(o[0], 2, "the busiest never wins a pair");
            assert_eq!(o.len(), 3);
        }
        let seq = |seed| {
            let p = PowerOfTwo::new(Some(seed));
            (0..10).map(|_| p.order(&c, &ctx(&r))).collect::<Vec<_>>()
        };
        assert_eq!(seq(1), seq(1));
        assert_eq!(PowerOfTwo::new(None).order(&c[..1], &ctx(&r)), [0]);
    }

    #[test]
    fn kinds_parse_and_build() {
        let k: StrategyKind = serde_json::from_str("\"power_of_two\"").unwrap();
        assert_eq!(k, StrategyKind::PowerOfTwo);
        for spelling in ["\"random\"", "\"random_healthy\""] {
            let k: StrategyKind = serde_json::from_str(spelling).unwrap();
            assert_eq!(k, StrategyKind::RandomHealthy, "{spelling}");
        }
        let json = serde_json::to_string(&StrategyKind::RandomHealthy).unwrap();
        assert_eq!(json, "\"random_healthy\"");
        let r = ChatRequest::default();
        for kind in [
            StrategyKind::Priority,
            StrategyKind::RoundRobin,
            StrategyKind::WeightedRoundRobin,
            StrategyKind::RandomHealthy,
            StrategyKind::LeastBusy,
            StrategyKind::LowestLatency,
            StrategyKind::BestPerformance,
            StrategyKind::Cheapest,
            StrategyKind::PowerOfTwo,
        ] {
            let mut o = kind.build(Some(3)).order(&three(), &ctx(&r));
            o.sort_unstable();
            assert_eq!(o, [0, 1, 2], "{kind:?} orders every candidate");
        }
    }
}
