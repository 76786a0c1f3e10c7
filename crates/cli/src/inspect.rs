//! `steadfast status`, `steadfast models` and `steadfast config check`: what a config holds
//! and how its deployments are doing.

use std::io::Write;
use std::path::Path;

use serde_json::json;
use steadfast_config::Steadfast;

use crate::exit::Failure;

/// `steadfast status`: one probe round, then a line (or a JSON object) per deployment.
pub(crate) async fn status(sf: &Steadfast, as_json: bool) -> Result<(), Failure> {
    let rows = sf.status().await;
    let mut out = std::io::stdout().lock();
    if as_json {
        writeln!(out, "{}", json!({ "deployments": rows }))?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<16} {:<18} {:<9} {:<9} {:<9} {:>7} {:>10}  check",
        "DEPLOYMENT", "KIND", "ENABLED", "HEALTH", "BREAKER", "ERRORS", "LATENCY"
    )?;
    for r in &rows {
        let value = serde_json::to_value(r).unwrap_or_default();
        let name = |field: &str| value[field].as_str().unwrap_or("?").to_owned();
        writeln!(
            out,
            "{:<16} {:<18} {:<9} {:<9} {:<9} {:>6.1}% {:>8.1}ms  {}",
            r.name,
            r.kind.as_str(),
            r.enabled,
            name("health"),
            name("breaker"),
            r.error_rate * 100.0,
            r.check_latency_ms,
            r.check_error.as_deref().unwrap_or("ok"),
        )?;
    }
    Ok(())
}

/// `steadfast models`: the deployments' models with prices and context windows.
pub(crate) fn models(sf: &Steadfast, as_json: bool) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    if as_json {
        writeln!(out, "{}", json!({ "models": sf.deployments() }))?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<16} {:<18} {:<28} {:>10} {:>9} {:>9}  groups",
        "DEPLOYMENT", "KIND", "MODEL", "CONTEXT", "IN $/M", "OUT $/M"
    )?;
    for d in sf.deployments() {
        let price = |p: Option<f64>| p.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
        writeln!(
            out,
            "{:<16} {:<18} {:<28} {:>10} {:>9} {:>9}  {}",
            d.name,
            d.kind.as_str(),
            d.model,
            d.context_window
                .map_or_else(|| "-".to_owned(), |c| c.to_string()),
            price(d.pricing.map(|p| p.input_per_mtok)),
            price(d.pricing.map(|p| p.output_per_mtok)),
            d.groups.join(","),
        )?;
    }
    Ok(())
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
