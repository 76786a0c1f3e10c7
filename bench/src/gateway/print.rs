//! The gateway section's tables: the immediate upstream's (latency at c=1 and c=64,
//! throughput, streams, CPU per call) and the delayed upstream's at c=64, with the targets.

use std::time::Duration;

use super::{CONCURRENCY, DELAY_MS, Report, Row, Subject, TARGET_ADDED_P99_C1, TARGET_THROUGHPUT};

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

pub(crate) fn print(report: &Report) {
    let Report::Done {
        pinning,
        rows,
        litellm_note,
        litellm_version,
        calls: (c1, c64, streams, delayed_calls),
    } = report
    else {
        if let Report::Skipped(why) = report {
            println!("gateway benchmark skipped: {why}");
        }
        return;
    };
    let Some(direct) = rows.iter().find(|r| r.subject == Subject::Direct) else {
        return;
    };
    println!(
        "gateway, out of process ({pinning}; per subject {c1} calls at c=1, {c64} at \
         c={CONCURRENCY}, {streams} streams of 16 chunks)"
    );
    println!(
        "{:<34} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>7} {:>8} {:>8} {:>9} {:>8}",
        "subject",
        "c1 p50",
        "c1 p99",
        "+p50",
        "+p99",
        "c64 p50",
        "c64 p99",
        "calls/s",
        "vs dir",
        "first",
        "last",
        "self-rep",
        "CPU/call"
    );
    for r in rows {
        let name = label(r, litellm_version.as_deref());
        println!(
            "{:<34} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>9.1} {:>9.1} {:>9.0} {:>6.1}% {:>8.1} {:>8.1} {:>9} {:>8}",
            name,
            us(r.c1_p50),
            us(r.c1_p99),
            us(r.c1_p50) - us(direct.c1_p50),
            us(r.c1_p99) - us(direct.c1_p99),
            us(r.c64_p50),
            us(r.c64_p99),
            r.per_sec,
            100.0 * r.per_sec / direct.per_sec,
            us(r.first),
            us(r.last),
            r.self_reported
                .map_or("-".to_owned(), |d| format!("{:.1}", us(d))),
            r.cpu_per_call
                .map_or("-".to_owned(), |d| format!("{:.1}", us(d))),
        );
    }
    println!(
        "(microseconds; +p50/+p99: minus direct at c=1; self-rep: the proxy's own overhead header, median at c=1;\n CPU/call: the answering process's CPU time per call at c=64 — the upstream's for direct)"
    );
    if let Some(gw) = rows.iter().find(|r| r.subject == Subject::Steadfast) {
        let added = gw.c1_p99.saturating_sub(direct.c1_p99);
        let share = gw.per_sec / direct.per_sec;
        let verdict = |ok: bool| if ok { "met" } else { "missed" };
        println!(
            "targets: added p99 at c=1 {:.0} us (<= {} us: {}); throughput at c={CONCURRENCY} {:.1} % of direct (>= {:.0} %: {})",
            us(added),
            TARGET_ADDED_P99_C1.as_micros(),
            verdict(added <= TARGET_ADDED_P99_C1),
            100.0 * share,
            100.0 * TARGET_THROUGHPUT,
            verdict(share >= TARGET_THROUGHPUT),
        );
        if let Some(bare) = rows.iter().find(|r| r.subject == Subject::Bare) {
            println!(
                "over the bare proxy (a second hop and nothing else): steadfast adds p50 {:+.1} us, \
                 p99 {:+.1} us at c=1; its throughput at c={CONCURRENCY} is {:.1} % of the bare proxy's",
                us(gw.c1_p50) - us(bare.c1_p50),
                us(gw.c1_p99) - us(bare.c1_p99),
                100.0 * gw.per_sec / bare.per_sec,
            );
        }
        if let Some(lite) = rows.iter().find(|r| r.subject == Subject::LiteLlm) {
            let added = |r: &Row, p: fn(&Row) -> Duration, d: Duration| us(p(r)) - us(d);
            let (lite_p50, gw_p50) = (
                added(lite, |r| r.c1_p50, direct.c1_p50),
                added(gw, |r| r.c1_p50, direct.c1_p50),
            );
            let (lite_p99, gw_p99) = (
                added(lite, |r| r.c1_p99, direct.c1_p99),
                added(gw, |r| r.c1_p99, direct.c1_p99),
            );
            println!(
                "LiteLLM / steadfast: added p50 {:.1}x, added p99 {:.1}x, throughput {:.2}x",
                lite_p50 / gw_p50.max(1.0),
                lite_p99 / gw_p99.max(1.0),
                lite.per_sec / gw.per_sec,
            );
        }
    }
    print_delayed(rows, direct, litellm_version.as_deref(), *delayed_calls);
    if let Some(note) = litellm_note {
        println!("LiteLLM proxy: no row ({note})");
    }
}

/// A row's subject as printed: LiteLLM's with its version when known.
fn label(r: &Row, litellm_version: Option<&str>) -> String {
    match (r.subject, litellm_version) {
        (Subject::LiteLlm, Some(v)) => format!("LiteLLM {v} proxy -> upstream"),
        _ => r.subject.name().to_owned(),
    }
}

/// The c=64 figures against the delayed upstream.
fn print_delayed(rows: &[Row], direct: &Row, litellm_version: Option<&str>, calls: usize) {
    println!(
        "gateway, c={CONCURRENCY} with a {DELAY_MS} ms upstream (fake-upstream --delay-ms \
         {DELAY_MS}, as a model's latency; per subject {calls} calls, in the same rounds)"
    );
    println!(
        "{:<34} {:>9} {:>9} {:>8} {:>8} {:>9} {:>7} {:>8}",
        "subject", "c64 p50", "c64 p99", "+p50", "+p99", "calls/s", "vs dir", "CPU/call"
    );
    for r in rows {
        println!(
            "{:<34} {:>9.1} {:>9.1} {:>8.1} {:>8.1} {:>9.0} {:>6.1}% {:>8}",
            label(r, litellm_version),
            us(r.delayed_p50),
            us(r.delayed_p99),
            us(r.delayed_p50) - us(direct.delayed_p50),
            us(r.delayed_p99) - us(direct.delayed_p99),
            r.delayed_per_sec,
            100.0 * r.delayed_per_sec / direct.delayed_per_sec,
            r.delayed_cpu_per_call
                .map_or("-".to_owned(), |d| format!("{:.1}", us(d))),
        );
    }
    if let Some(gw) = rows.iter().find(|r| r.subject == Subject::Steadfast) {
        let share = gw.delayed_per_sec / direct.delayed_per_sec;
        println!(
            "(microseconds; +p50/+p99: minus direct at c={CONCURRENCY}) steadfast's throughput \
             with the {DELAY_MS} ms upstream: {:.1} % of direct (>= {:.0} %: {})",
            100.0 * share,
            100.0 * TARGET_THROUGHPUT,
            if share >= TARGET_THROUGHPUT {
                "met"
            } else {
                "missed"
            },
        );
    }
}
