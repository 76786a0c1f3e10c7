//! Benchmarks for `cargo xtask bench`: every subject is measured next to its raw baseline in
//! the same run, and reported as nanoseconds per call and as a ratio to the baseline.
//!
//! Timing is the median of several samples of many iterations each, after a warm-up; the
//! numbers are for reading, never for asserting (see STYLE.md).
#![allow(clippy::print_stdout)]

use std::future::Future;
use std::hint::black_box;
use std::time::Instant;

mod gateway;
mod inprocess;
mod loopback;
mod outofprocess;
mod shared;
mod streams;

use steadfast_circuit::{CircuitBreaker, Config as BreakerConfig};
use steadfast_errors::ErrorKind;
use steadfast_retry::{RetryConfig, RetryPolicy};

struct Settings {
    iterations: u64,
    samples: usize,
}

/// Median nanoseconds per iteration of `body`, which runs `n` iterations per call.
fn measure(settings: &Settings, mut body: impl FnMut(u64)) -> f64 {
    body(settings.iterations / 10 + 1); // warm-up
    let mut samples: Vec<f64> = (0..settings.samples)
        .map(|_| {
            let start = Instant::now();
            body(settings.iterations);
            start.elapsed().as_nanos() as f64 / settings.iterations as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn block_on<F: Future>(rt: &tokio::runtime::Runtime, f: F) -> F::Output {
    rt.block_on(f)
}

struct Row {
    subject: &'static str,
    ns: f64,
    baseline: &'static str,
    baseline_ns: f64,
}

/// Whether section `name` runs: all do, unless `--only NAME[,NAME…]` names some.
fn wanted(name: &str) -> bool {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--only") {
        Some(i) => args
            .get(i + 1)
            .is_some_and(|list| list.split(',').any(|s| s == name)),
        None => true,
    }
}

fn main() {
    if outofprocess::child() {
        return;
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let settings = if quick {
        Settings {
            iterations: 20_000,
            samples: 3,
        }
    } else {
        Settings {
            iterations: 1_000_000,
            samples: 9,
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");

    // One call per section; `--only a,b` runs some of them.
    let micro_rows = wanted("micro").then(|| micro(&settings, &rt));
    let stream_rows = wanted("streams").then(|| streams::run(quick, &rt));
    let loopback_rows = wanted("loopback").then(|| loopback::run(quick));
    let inprocess_rows = wanted("inprocess").then(|| inprocess::run(quick));
    let memory = wanted("memory").then(|| inprocess::memory(quick));
    let outofprocess = wanted("outofprocess").then(|| outofprocess::run(quick));
    // LiteLLM's proxy runs beside the gateway when its venv exists or `--litellm` asks.
    let litellm = std::env::args().any(|a| a == "--litellm");
    let gateway = wanted("gateway").then(|| gateway::run(quick, litellm));

    if let Some(rows) = &micro_rows {
        print_micro(&settings, quick, rows);
    }
    if let Some(rows) = &stream_rows {
        streams::print(rows);
        println!();
    }
    if let Some(rows) = &loopback_rows {
        loopback::print(rows);
        println!();
    }
    if let Some(rows) = &inprocess_rows {
        inprocess::print(rows);
    }
    if let Some(memory) = &memory {
        inprocess::print_memory(memory);
    }
    if let Some(report) = &outofprocess {
        println!();
        outofprocess::print(report);
    }
    if let Some(report) = &gateway {
        println!();
        gateway::print(report);
    }
    if wanted("shared") {
        shared::run(quick);
    }
}

/// The retry and circuit micro-benchmarks, each next to a bare baseline.
fn micro(settings: &Settings, rt: &tokio::runtime::Runtime) -> Vec<Row> {
    let mut rows = Vec::new();

    // The raw baseline: an immediately-ready future, awaited.
    let bare = measure(settings, |n| {
        block_on(rt, async {
            for i in 0..n {
                let r: Result<u64, ErrorKind> = async { Ok(black_box(i)) }.await;
                black_box(r.is_ok());
            }
        })
    });

    let budgeted = RetryPolicy::new(RetryConfig::default());
    let retry_ns = measure(settings, |n| {
        block_on(rt, async {
            for i in 0..n {
                let o = budgeted
                    .run(|_| async move { Ok::<u64, ErrorKind>(black_box(i)) })
                    .await;
                black_box(o.result.is_ok());
            }
        })
    });
    rows.push(Row {
        subject: "retry: policy.run(ready future), budget on",
        ns: retry_ns,
        baseline: "bare ready future",
        baseline_ns: bare,
    });

    let unbudgeted = RetryPolicy::new(RetryConfig::default()).without_budget();
    let retry_nb_ns = measure(settings, |n| {
        block_on(rt, async {
            for i in 0..n {
                let o = unbudgeted
                    .run(|_| async move { Ok::<u64, ErrorKind>(black_box(i)) })
                    .await;
                black_box(o.result.is_ok());
            }
        })
    });
    rows.push(Row {
        subject: "retry: policy.run(ready future), no budget",
        ns: retry_nb_ns,
        baseline: "bare ready future",
        baseline_ns: bare,
    });

    let breaker = CircuitBreaker::new(BreakerConfig::default());
    let permit_ns = measure(settings, |n| {
        for _ in 0..n {
            let permit = breaker.try_acquire().expect("closed");
            permit.success();
        }
    });
    let nothing = measure(settings, |n| {
        for i in 0..n {
            black_box(i);
        }
    });
    rows.push(Row {
        subject: "circuit: try_acquire + success (closed)",
        ns: permit_ns,
        baseline: "empty loop",
        baseline_ns: nothing,
    });

    let call_ns = measure(settings, |n| {
        block_on(rt, async {
            for i in 0..n {
                let r = breaker
                    .call(|| async move { Ok::<u64, ErrorKind>(black_box(i)) })
                    .await;
                black_box(r.is_ok());
            }
        })
    });
    rows.push(Row {
        subject: "circuit: breaker.call(ready future) (closed)",
        ns: call_ns,
        baseline: "bare ready future",
        baseline_ns: bare,
    });

    rows
}

fn print_micro(settings: &Settings, quick: bool, rows: &[Row]) {
    println!(
        "steadfast bench ({} iterations x {} samples, median; {})",
        settings.iterations,
        settings.samples,
        if quick { "quick" } else { "full" }
    );
    println!(
        "{:<46} {:>10} {:>10} {:>10} {:>8}  baseline",
        "subject", "ns/call", "base ns", "overhead", "ratio"
    );
    for r in rows {
        println!(
            "{:<46} {:>10.1} {:>10.1} {:>10.1} {:>7.2}x  {}",
            r.subject,
            r.ns,
            r.baseline_ns,
            r.ns - r.baseline_ns,
            r.ns / r.baseline_ns.max(0.01),
            r.baseline
        );
    }
    println!();
}
