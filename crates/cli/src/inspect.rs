//! `steadfast status`, `steadfast models` and `steadfast config check`: what a config holds
//! and how its deployments are doing.

use std::io::Write;
use std::path::Path;

use serde_json::json;
use steadfast_config::{Kind, Steadfast};
use steadfast_errors::Provider;

use crate::exit::Failure;

/// `steadfast status`: one probe round, then a line (or a JSON object) per chat
/// deployment, then one per media (image and video) deployment with its counters.
pub(crate) async fn status(sf: &Steadfast, as_json: bool) -> Result<(), Failure> {
    let rows = sf.status().await;
    let media = sf.media_status();
    let mut out = std::io::stdout().lock();
    if as_json {
        writeln!(out, "{}", json!({ "deployments": rows, "media": media }))?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<16} {:<18} {:<9} {:<9} {:<9} {:>7} {:>7} {:>6} {:>10}  check",
        "DEPLOYMENT",
        "KIND",
        "ENABLED",
        "HEALTH",
        "BREAKER",
        "ERRORS",
        "ERR 1M",
        "FAILS",
        "LATENCY"
    )?;
    for r in &rows {
        let value = serde_json::to_value(r).unwrap_or_default();
        let name = |field: &str| value[field].as_str().unwrap_or("?").to_owned();
        writeln!(
            out,
            "{:<16} {:<18} {:<9} {:<9} {:<9} {:>6.1}% {:>6.1}% {:>6} {:>8.1}ms  {}",
            r.name,
            r.kind.map_or("code", Kind::as_str),
            r.enabled,
            name("health"),
            name("breaker"),
            r.error_rate * 100.0,
            r.error_rate_1m * 100.0,
            r.consecutive_failures,
            r.check_latency_ms,
            r.check_error.as_deref().unwrap_or("ok"),
        )?;
    }
    if media.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\n{:<16} {:<18} {:<6} {:<9} {:<9} {:>7} {:>7} {:>7} {:>10}",
        "MEDIA", "KIND", "MAKES", "ENABLED", "BREAKER", "CALLS", "FAILS", "ERRORS", "COST"
    )?;
    for m in &media {
        let breaker = serde_json::to_value(m.breaker).unwrap_or_default();
        writeln!(
            out,
            "{:<16} {:<18} {:<6} {:<9} {:<9} {:>7} {:>7} {:>6.1}% {:>9.4}$",
            m.name,
            m.kind.as_str(),
            m.media.as_str(),
            m.enabled,
            breaker.as_str().unwrap_or("?"),
            m.calls,
            m.failures,
            m.error_rate * 100.0,
            m.cost_usd,
        )?;
    }
    Ok(())
}

/// `steadfast models`: the model catalog with prices and context windows (and which
/// deployments use each row), then the config's deployments (none without a config).
pub(crate) fn models(sf: Option<&Steadfast>, as_json: bool) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    let catalog = steadfast_catalog::models();
    let deployments = sf.map(Steadfast::deployments).unwrap_or_default();
    let deployed = |m: &steadfast_catalog::Model| -> Vec<&str> {
        deployments
            .iter()
            .filter(|d| {
                m.answers_to(&d.model) && d.kind.and_then(kind_provider) == Some(m.provider)
            })
            .map(|d| d.name.as_str())
            .collect()
    };
    if as_json {
        let rows: Vec<_> = catalog
            .iter()
            .map(|m| json!({ "model": m, "deployments": deployed(m) }))
            .collect();
        writeln!(out, "{}", json!({ "catalog": rows, "models": deployments }))?;
        return Ok(());
    }
    let price = |p: Option<f64>| p.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
    let window = |c: Option<u32>| c.map_or_else(|| "-".to_owned(), |c| c.to_string());
    writeln!(
        out,
        "{:<13} {:<36} {:>10} {:>9} {:>9}  deployed as",
        "PROVIDER", "CATALOG MODEL", "CONTEXT", "IN $/M", "OUT $/M"
    )?;
    for m in catalog {
        writeln!(
            out,
            "{:<13} {:<36} {:>10} {:>9} {:>9}  {}",
            m.provider.as_str(),
            m.id,
            window(m.context_window),
            price(m.pricing.map(|p| p.input_per_mtok)),
            price(m.pricing.map(|p| p.output_per_mtok)),
            deployed(m).join(","),
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:<16} {:<18} {:<28} {:>10} {:>9} {:>9}  groups",
        "DEPLOYMENT", "KIND", "MODEL", "CONTEXT", "IN $/M", "OUT $/M"
    )?;
    for d in deployments {
        writeln!(
            out,
            "{:<16} {:<18} {:<28} {:>10} {:>9} {:>9}  {}",
            d.name,
            d.kind.map_or("code", Kind::as_str),
            d.model,
            window(d.context_window),
            price(d.pricing.map(|p| p.input_per_mtok)),
            price(d.pricing.map(|p| p.output_per_mtok)),
            d.groups.join(","),
        )?;
    }
    Ok(())
}

/// The catalog's provider for a deployment kind, where the kind has one.
fn kind_provider(kind: Kind) -> Option<Provider> {
    Some(match kind {
        Kind::OpenAi | Kind::OpenAiImage | Kind::Azure => Provider::OpenAi,
        Kind::Anthropic => Provider::Anthropic,
        Kind::Gemini => Provider::Gemini,
        Kind::Ollama => Provider::Ollama,
        Kind::LlamaCppServer | Kind::LlamaCppCli => Provider::LlamaCpp,
        Kind::OpenRouter => Provider::OpenRouter,
        Kind::Xai | Kind::XaiVideo | Kind::XaiImage => Provider::Xai,
        Kind::DeepSeek => Provider::DeepSeek,
        Kind::Pollinations | Kind::PollinationsImage => Provider::Pollinations,
        Kind::Runway => Provider::Runway,
        _ => return None,
    })
}

/// `steadfast config check FILE`: parse and build, without calling anyone.
pub(crate) fn check(file: &Path) -> Result<(), Failure> {
    let sf = Steadfast::from_path(file)?;
    let groups: Vec<&str> = sf.groups().collect();
    writeln!(
        std::io::stdout().lock(),
        "{}: ok — {} deployments, groups: {} (default: {})",
        file.display(),
        sf.deployments().len(),
        groups.join(", "),
        sf.default_group()
    )?;
    Ok(())
}
