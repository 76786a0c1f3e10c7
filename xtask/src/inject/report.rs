//! What one scenario measured, the targets it is held to (derived from the configured retry
//! budget, breaker and resume limits, not fixed numbers), and the printed table.

use std::time::Duration;

use serde::Serialize;

use super::scenario::{Plan, Promise, Scenario};
use super::setup::{MAX_ATTEMPTS, MAX_RESUMES, OPEN_FOR, budget};

/// The least completion rate where a healthy path exists.
pub(crate) const COMPLETION: f64 = 0.999;
/// How fast a call must fail when nothing can answer (p99).
pub(crate) const FAIL_FAST: Duration = Duration::from_secs(1);

/// What one scenario measured.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Report {
    pub(crate) name: String,
    /// `primary>fallback` wire formats.
    pub(crate) formats: String,
    pub(crate) promise: &'static str,
    pub(crate) calls: u64,
    pub(crate) completed: u64,
    pub(crate) lost: u64,
    pub(crate) duplicated: u64,
    pub(crate) garbled: u64,
    /// Answers that join two different attempts (divergent continuations).
    pub(crate) joined: u64,
    /// Answers whose `continuation_exact` flag disagrees with the text: a joined answer the
    /// stream called exact, or an exact one it called joined.
    pub(crate) misflagged: u64,
    /// Tool calls delivered; extra whole copies; calls with other arguments (spliced or cut);
    /// complete answers without exactly one whole call.
    pub(crate) tool_calls: u64,
    pub(crate) tool_duplicated: u64,
    pub(crate) tool_spliced: u64,
    pub(crate) tool_missing: u64,
    /// Answers that ended with a typed error after a delivered tool call (not resumed).
    pub(crate) explicitly_incomplete: u64,
    /// Calls that failed with an error that names its kind.
    pub(crate) typed_failures: u64,
    /// Faults that took effect on the primary's and the fallback's server.
    pub(crate) fired_primary: u64,
    pub(crate) fired_fallback: u64,
    /// The least number of fired faults that proves each server's plan ran.
    pub(crate) fired_needed_primary: u64,
    pub(crate) fired_needed_fallback: u64,
    /// Primary attempts that failed to connect (the refused scenario's faults, seen by the
    /// client).
    pub(crate) refused_attempts: u64,
    /// Continuations opened, over every call.
    pub(crate) resumes: u64,
    /// Continuation requests the servers answered (in the scenario's continuation mode).
    pub(crate) continuations_served: u64,
    /// Attempts skipped because a breaker was open.
    pub(crate) breaker_skips: u64,
    /// Flapping primary: the longest wait from its recovery to the first answer it served.
    pub(crate) return_ms: Option<u64>,
    /// Output tokens the router billed, and the servers reported for answers sent whole.
    pub(crate) billed_output: u64,
    pub(crate) reported_output: u64,
    pub(crate) billed_input: u64,
    pub(crate) reported_input: u64,
    /// The most output tokens the router may bill without billing one twice: what the
    /// servers reported, plus what every answer that reported nothing could fairly be billed.
    pub(crate) billed_output_bound: u64,
    /// The fewest output tokens the router may bill: one per 4 characters of the text it
    /// delivered (rounded up per call).
    pub(crate) billed_output_floor: u64,
    /// Whether billed must equal reported (no fault leaves part of an answer).
    pub(crate) usage_exact: bool,
    pub(crate) attempts: u64,
    pub(crate) server_requests: u64,
    /// The most server requests the configuration allows (see [`bound`]).
    pub(crate) request_bound: u64,
    pub(crate) p50_ms: u64,
    pub(crate) p99_ms: u64,
    pub(crate) failovers: u64,
    pub(crate) router_overhead_p99_us: f64,
    /// The targets missed; empty when it passed.
    pub(crate) missed: Vec<String>,
    /// A few failures, for the reader.
    pub(crate) examples: Vec<String>,
    #[serde(skip)]
    pub(crate) latencies: Vec<Duration>,
}

/// The most server requests a scenario may cause: per provider one first attempt per call
/// plus the retries its budget allows (`retry_percent` of calls, plus `min_per_sec` for every
/// second the budget window spans, never more than `max_attempts - 1` per call), plus one
/// request per provider for every continuation opened. A broken budget or a retry loop
/// exceeds it; resumes are counted as they happened, and bounded by `max_resumes` per call.
pub(crate) fn bound(calls: u64, resumes: u64, elapsed: Duration) -> u64 {
    let b = budget();
    let window_secs = (elapsed + b.ttl).as_secs_f64().ceil() as u64;
    let by_budget =
        (b.retry_percent * calls as f64).ceil() as u64 + u64::from(b.min_per_sec) * window_secs;
    let retries = by_budget.min(calls * u64::from(MAX_ATTEMPTS - 1));
    let providers = 2;
    providers * (calls + retries) + providers * resumes
}

impl Report {
    pub(crate) fn completion(&self) -> f64 {
        self.completed as f64 / self.calls.max(1) as f64
    }

    pub(crate) fn amplification(&self) -> f64 {
        self.server_requests as f64 / self.calls.max(1) as f64
    }

    pub(crate) fn percentile(&self, p: f64) -> Duration {
        let mut l = self.latencies.clone();
        l.sort();
        if l.is_empty() {
            return Duration::ZERO;
        }
        l[((l.len() - 1) as f64 * p).round() as usize]
    }

    /// The targets this scenario missed.
    pub(crate) fn check(&mut self, s: &Scenario) {
        let mut missed = Vec::new();
        match s.promise {
            Promise::ExactlyOnce | Promise::Joined | Promise::WholeToolCalls => {
                let settled = if s.promise == Promise::WholeToolCalls {
                    (self.completed + self.explicitly_incomplete) as f64 / self.calls.max(1) as f64
                } else {
                    self.completion()
                };
                if settled < COMPLETION {
                    missed.push(format!(
                        "completion {:.2}% < {:.1}%",
                        settled * 100.0,
                        COMPLETION * 100.0
                    ));
                }
                if self.lost > 0 || self.duplicated > 0 || self.garbled > 0 {
                    missed.push(format!(
                        "tokens lost {}, duplicated {}, garbled {}",
                        self.lost, self.duplicated, self.garbled
                    ));
                }
                if s.promise == Promise::Joined && self.joined == 0 {
                    missed.push("no answer joined a divergent continuation".into());
                }
                if self.tool_duplicated > 0 || self.tool_spliced > 0 || self.tool_missing > 0 {
                    missed.push(format!(
                        "tool calls duplicated {}, spliced {}, answers without one whole call {}",
                        self.tool_duplicated, self.tool_spliced, self.tool_missing
                    ));
                }
                if s.tools && self.tool_calls == 0 {
                    missed.push("no tool call was delivered".into());
                }
                if self.misflagged > 0 {
                    missed.push(format!(
                        "{} answers whose continuation_exact flag disagrees with the text",
                        self.misflagged
                    ));
                }
            }
            Promise::FailsFast => {
                if self.completed > 0 {
                    missed.push(format!("{} calls answered with nobody up", self.completed));
                }
                if self.typed_failures < self.calls {
                    missed.push(format!(
                        "{} failures without a typed error",
                        self.calls - self.typed_failures
                    ));
                }
                if self.percentile(0.99) > FAIL_FAST {
                    missed.push(format!(
                        "p99 {}ms > {}ms",
                        self.percentile(0.99).as_millis(),
                        FAIL_FAST.as_millis()
                    ));
                }
            }
        }
        if self.fired_primary < self.fired_needed_primary {
            missed.push(format!(
                "primary faults fired {} < {}",
                self.fired_primary, self.fired_needed_primary
            ));
        }
        if self.fired_fallback < self.fired_needed_fallback {
            missed.push(format!(
                "fallback faults fired {} < {}",
                self.fired_fallback, self.fired_needed_fallback
            ));
        }
        if matches!(s.primary_plan, Plan::Refused) && self.refused_attempts == 0 {
            missed.push("no connection was refused".into());
        }
        if s.expect_resumes && self.resumes == 0 {
            missed.push("no stream was resumed".into());
        }
        if s.continuation != Default::default() && self.continuations_served == 0 {
            missed.push(format!("no {:?} continuation was served", s.continuation));
        }
        if let Plan::Flapping { .. } = s.primary_plan {
            if self.breaker_skips == 0 {
                missed.push("the primary's breaker never tripped".into());
            }
            match self.return_ms {
                None => missed.push("traffic never returned to the primary".into()),
                Some(ms) if ms > 2 * OPEN_FOR.as_millis() as u64 => missed.push(format!(
                    "return to the primary took {ms}ms > {}ms",
                    2 * OPEN_FOR.as_millis()
                )),
                Some(_) => {}
            }
        }
        if self.usage_exact
            && (self.billed_output, self.billed_input)
                != (self.reported_output, self.reported_input)
        {
            missed.push(format!(
                "billed {}+{} tokens != reported {}+{} (input+output)",
                self.billed_input, self.billed_output, self.reported_input, self.reported_output
            ));
        }
        if !self.usage_exact {
            if self.billed_output > self.billed_output_bound {
                missed.push(format!(
                    "billed {} output tokens > {} the servers reported or could be billed for",
                    self.billed_output, self.billed_output_bound
                ));
            }
            if self.billed_output < self.billed_output_floor {
                missed.push(format!(
                    "billed {} output tokens < {}, one per 4 characters delivered",
                    self.billed_output, self.billed_output_floor
                ));
            }
        }
        if self.server_requests > self.request_bound {
            missed.push(format!(
                "server requests {} > bound {} (retry budget, {MAX_RESUMES} resumes)",
                self.server_requests, self.request_bound
            ));
        }
        self.p50_ms = self.percentile(0.5).as_millis() as u64;
        self.p99_ms = self.percentile(0.99).as_millis() as u64;
        self.missed = missed;
    }
}

/// The table header and its column explanations.
pub(crate) fn header() -> String {
    format!(
        "{:<42} {:<17} {:>5} {:>5} {:>8} {:>4} {:>4} {:>9} {:>7} {:>6} {:>11} {:>16} {:>6} {:>6} {:>6}  result",
        "scenario",
        "formats",
        "calls",
        "done",
        "rate",
        "lost",
        "dup",
        "fired",
        "resumes",
        "att/c",
        "ampl/bound",
        "billed",
        "p50ms",
        "p99ms",
        "fover",
    )
}

pub(crate) fn row(r: &Report) -> String {
    let fired = format!("{}/{}", r.fired_primary, r.fired_fallback);
    let ampl = format!(
        "{:.2}/{:.2}",
        r.amplification(),
        r.request_bound as f64 / r.calls.max(1) as f64
    );
    let result = if r.missed.is_empty() { "ok" } else { "MISSED" };
    format!(
        "{:<42} {:<17} {:>5} {:>5} {:>7.2}% {:>4} {:>4} {:>9} {:>7} {:>6.2} {:>11} {:>16} {:>6} {:>6} {:>6}  {result}",
        r.name,
        r.formats,
        r.calls,
        r.completed,
        r.completion() * 100.0,
        r.lost,
        r.duplicated,
        fired,
        r.resumes,
        r.attempts as f64 / r.calls.max(1) as f64,
        ampl,
        if r.usage_exact {
            format!("{}={}", r.billed_output, r.reported_output)
        } else {
            format!(
                "{}<={}<={}",
                r.billed_output_floor, r.billed_output, r.billed_output_bound
            )
        },
        r.p50_ms,
        r.p99_ms,
        r.failovers,
    )
}

/// What the columns mean and which targets apply, printed under the table.
pub(crate) fn legend() -> Vec<String> {
    vec![
        "columns:".into(),
        "  formats     primary>fallback wire formats (each a real provider crate over a loopback fault server)".into(),
        "  done, rate  answers complete as promised: 'once' = byte for byte t0..t23, every token exactly once;".into(),
        "              'joined' (continuation restarts differently) = every token index once, in order, clean seams,
              and the stream's continuation_exact() false exactly for the answers that joined two attempts;".into(),
        "              'fails' (nobody up) = no answer, every call a typed error;".into(),
        "              'tools' = text once and its tool call once, whole; or explicitly incomplete (typed error after".into(),
        "              a delivered call, which is never resumed) - rate counts complete answers only".into(),
        "  lost, dup   token indices never delivered / extra copies delivered, over every call (complete or not);".into(),
        "              with a tool offered, a complete answer also needs its one tool call, whole (never spliced, never twice)".into(),
        "  fired       faults that took effect on the primary/fallback server (refused: connections the client saw refused)".into(),
        "  resumes     continuations opened over all calls (cut scenarios must resume)".into(),
        "  att/c       provider attempts per call, as the router recorded them".into(),
        "  ampl/bound  server requests per call / the most the retry budget, attempts and resumes allow".into(),
        "  billed      output tokens the router billed. 'b=r' where no fault leaves part of an answer or races a".into(),
        "              client timer: b must equal r, what the servers reported for answers sent whole (input too).".into(),
        "              'f<=b<=m' elsewhere, where cut parts are billed by an estimate (1 token per 4 characters):".into(),
        "              f = 1 token per 4 characters delivered to callers; m = r + for every answer that reported".into(),
        "              nothing, its own count or 1 token per 4 characters it held - billing past m bills a token twice".into(),
        "  p50ms p99ms call latency; fover = calls the router counted as failovers".into(),
        format!(
            "targets: rate >= {:.1}% and lost = dup = 0 (once, joined); fired >= a quarter of the planned share of the requests each server got;",
            COMPLETION * 100.0
        ),
        format!(
            "         ampl <= bound; flapping: breaker trips and traffic returns within {}ms; fails: p99 <= {}ms",
            2 * OPEN_FOR.as_millis(),
            FAIL_FAST.as_millis()
        ),
    ]
}
