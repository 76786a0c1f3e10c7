//! `cargo xtask codegen`, model catalog part: `crates/catalog/data/*.toml` become the
//! catalog's `generated.rs` and `docs/models.md`, after every row is validated.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use steadfast_errors::Provider;

use crate::codegen::{Output, rustfmt};

const DATA: &str = "crates/catalog/data";
const RUST_OUT: &str = "crates/catalog/src/generated.rs";
const DOC_OUT: &str = "docs/models.md";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderFile {
    provider: String,
    title: String,
    pricing_page: String,
    #[serde(default)]
    local: bool,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    model: Vec<Row>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    name: String,
    #[serde(default)]
    input: Option<f64>,
    #[serde(default)]
    output: Option<f64>,
    #[serde(default)]
    cache_read: Option<f64>,
    #[serde(default)]
    cache_write: Option<f64>,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    unit_usd: Option<f64>,
    #[serde(default)]
    context_window: Option<u32>,
    #[serde(default)]
    max_output: Option<u32>,
    #[serde(default)]
    tools: Option<bool>,
    #[serde(default)]
    vision: Option<bool>,
    #[serde(default)]
    streaming: Option<bool>,
    #[serde(default)]
    prefill: Option<bool>,
    source: String,
    checked: String,
    #[serde(default)]
    note: Option<String>,
}

/// A provider's file, checked, in `Provider::ALL` order.
#[derive(Debug)]
struct Checked {
    provider: Provider,
    file: ProviderFile,
}

fn price(at: &str, what: &str, v: Option<f64>) -> Result<(), String> {
    match v {
        Some(p) if !p.is_finite() || p < 0.0 => {
            Err(format!("{at}: {what} must be a finite price >= 0, not {p}"))
        }
        _ => Ok(()),
    }
}

fn check_date(at: &str, date: &str) -> Result<(), String> {
    let bad = || format!("{at}: checked must be YYYY-MM-DD, not `{date}`");
    let parts: Vec<&str> = date.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad());
    };
    let all_digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(all_digits(y, 4) && all_digits(m, 2) && all_digits(d, 2)) {
        return Err(bad());
    }
    let (m, d): (u8, u8) = (m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    Ok(())
}

fn check_id(at: &str, id: &str) -> Result<(), String> {
    if id.is_empty() || id.chars().any(char::is_whitespace) {
        return Err(format!(
            "{at}: a model id must be non-empty without spaces, not `{id}`"
        ));
    }
    Ok(())
}

/// Every rule a row must keep; `at` names it in errors.
fn check_row(at: &str, local: bool, row: &Row) -> Result<(), String> {
    check_id(at, &row.id)?;
    for alias in &row.aliases {
        check_id(at, alias)?;
    }
    if row.name.trim().is_empty() {
        return Err(format!("{at}: name is empty"));
    }
    for (what, v) in [
        ("input", row.input),
        ("output", row.output),
        ("cache_read", row.cache_read),
        ("cache_write", row.cache_write),
        ("unit_usd", row.unit_usd),
    ] {
        price(at, what, v)?;
    }
    let tokens = match (row.input, row.output) {
        (Some(_), Some(_)) => true,
        (None, None) => false,
        _ => return Err(format!("{at}: input and output prices go together")),
    };
    if !tokens && (row.cache_read.is_some() || row.cache_write.is_some()) {
        return Err(format!("{at}: cache prices need input and output prices"));
    }
    let unit = match (&row.unit, row.unit_usd) {
        (Some(u), Some(_)) if !u.trim().is_empty() => true,
        (None, None) => false,
        _ => return Err(format!("{at}: unit and unit_usd go together")),
    };
    if tokens == unit {
        return Err(format!(
            "{at}: a row has either token prices (input, output) or a unit price (unit, unit_usd)"
        ));
    }
    if local && (row.input.unwrap_or(0.0) != 0.0 || row.output.unwrap_or(0.0) != 0.0) {
        return Err(format!("{at}: a local provider's rows cost 0"));
    }
    if row.context_window == Some(0) || row.max_output == Some(0) {
        return Err(format!(
            "{at}: a token limit of 0 means unknown: leave it out"
        ));
    }
    if !row.source.starts_with("https://") || row.source.contains(char::is_whitespace) {
        return Err(format!(
            "{at}: source must be an https URL, not `{}`",
            row.source
        ));
    }
    check_date(at, &row.checked)
}

fn check_file(stem: &str, file: &ProviderFile) -> Result<Provider, String> {
    if file.provider != stem {
        return Err(format!(
            "{stem}.toml: provider `{}` does not match the file name",
            file.provider
        ));
    }
    let provider: Provider = stem
        .parse()
        .map_err(|_| format!("{DATA}/{stem}.toml names no known provider"))?;
    if !file.pricing_page.starts_with("https://") {
        return Err(format!("{stem}.toml: pricing_page must be an https URL"));
    }
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (i, row) in file.model.iter().enumerate() {
        let at = format!("{stem}.toml model {} (`{}`)", i + 1, row.id);
        check_row(&at, file.local, row)?;
        for name in std::iter::once(&row.id).chain(&row.aliases) {
            if let Some(other) = seen.insert(name, &row.id) {
                return Err(format!("{at}: `{name}` already names `{other}`"));
            }
        }
    }
    Ok(provider)
}

fn load(root: &Path) -> Result<Vec<Checked>, String> {
    let dir = root.join(DATA);
    let mut files = BTreeMap::new();
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file: ProviderFile =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let provider = check_file(stem, &file)?;
        files.insert(provider, file);
    }
    Provider::ALL
        .iter()
        .map(|&p| {
            files
                .remove(&p)
                .map(|file| Checked { provider: p, file })
                .ok_or_else(|| format!("missing {DATA}/{}.toml", p.as_str()))
        })
        .collect()
}

fn variant(p: Provider) -> &'static str {
    match p {
        Provider::OpenAi => "OpenAi",
        Provider::Anthropic => "Anthropic",
        Provider::OpenRouter => "OpenRouter",
        Provider::Ollama => "Ollama",
        Provider::LlamaCpp => "LlamaCpp",
        Provider::Xai => "Xai",
        Provider::DeepSeek => "DeepSeek",
        Provider::Gemini => "Gemini",
        Provider::Runway => "Runway",
        Provider::Pollinations => "Pollinations",
        _ => unreachable!("a provider without a data file is refused by `load`"),
    }
}

fn opt<T: std::fmt::Debug>(v: Option<T>) -> String {
    v.map_or_else(|| "None".to_owned(), |v| format!("Some({v:?})"))
}

fn rust_row(out: &mut String, provider: Provider, row: &Row) {
    let aliases: Vec<String> = row.aliases.iter().map(|a| format!("{a:?}")).collect();
    let pricing = match (row.input, row.output) {
        (Some(i), Some(o)) => format!(
            "Some(Pricing {{ input_per_mtok: {i:?}, output_per_mtok: {o:?}, cache_read_per_mtok: {}, cache_write_per_mtok: {} }})",
            opt(row.cache_read),
            opt(row.cache_write)
        ),
        _ => "None".to_owned(),
    };
    let unit = match (&row.unit, row.unit_usd) {
        (Some(u), Some(usd)) => {
            format!("Some(crate::model::UnitPrice {{ unit: {u:?}, usd_per_unit: {usd:?} }})")
        }
        _ => "None".to_owned(),
    };
    let _ = writeln!(
        out,
        "    Model {{ provider: Provider::{}, id: {:?}, aliases: &[{}], name: {:?}, pricing: {pricing}, \
         unit_price: {unit}, context_window: {}, max_output_tokens: {}, \
         capabilities: ModelCapabilities {{ tools: {}, vision: {}, streaming: {}, prefill: {} }}, \
         source: {:?}, checked: {:?}, note: {} }},",
        variant(provider),
        row.id,
        aliases.join(", "),
        row.name,
        opt(row.context_window),
        opt(row.max_output),
        opt(row.tools),
        opt(row.vision),
        opt(row.streaming),
        opt(row.prefill),
        row.source,
        row.checked,
        opt(row.note.as_deref()),
    );
}

fn render_rust(files: &[Checked]) -> Result<String, String> {
    let mut out = String::from(
        "//! Generated by `cargo xtask codegen` from `crates/catalog/data/*.toml`, do not edit.\n\n\
         use steadfast_errors::Provider;\n\
         use steadfast_providers_core::Pricing;\n\n\
         use crate::model::{Model, ModelCapabilities, ProviderEntry};\n\n\
         /// Every provider's entry, in `Provider::ALL` order.\n\
         pub(crate) static PROVIDERS: &[ProviderEntry] = &[\n",
    );
    for c in files {
        let _ = writeln!(
            out,
            "    ProviderEntry {{ provider: Provider::{}, title: {:?}, pricing_page: {:?}, local: {}, note: {} }},",
            variant(c.provider),
            c.file.title,
            c.file.pricing_page,
            c.file.local,
            opt(c.file.note.as_deref()),
        );
    }
    out.push_str(
        "];\n\n/// Every row, grouped by provider in `Provider::ALL` order, each file's rows in order.\n\
         pub(crate) static MODELS: &[Model] = &[\n",
    );
    for c in files {
        for row in &c.file.model {
            rust_row(&mut out, c.provider, row);
        }
    }
    out.push_str("];\n");
    rustfmt(&out)
}

fn usd(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_owned(), |p| format!("${p}"))
}

fn tokens(v: Option<u32>) -> String {
    v.map_or_else(|| "—".to_owned(), |n| n.to_string())
}

fn flag(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "—",
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

fn render_doc(files: &[Checked]) -> String {
    let rows: usize = files.iter().map(|c| c.file.model.len()).sum();
    let mut out = String::from(
        "<!-- Generated by `cargo xtask codegen` from crates/catalog/data/*.toml, do not edit. -->\n\n\
         # Model catalog\n\n\
         The models `steadfast-catalog` knows, with the prices and limits the router uses by default\n\
         for cost and for its context-window pre-check (a configured `pricing` and the provider's\n\
         own prices come first). Prices are USD per million tokens; \"cached input\" is the price of\n\
         input read from the provider's cache, \"cache write\" the price of writing it (billed by\n\
         Anthropic only). A dash is unknown: the source does not state it, and nothing is guessed.\n\
         Lookup is by exact id or a declared alias. A model that is not listed costs 0 with one\n\
         warning, except on local providers, where every model costs 0. Edit the data in\n\
         `crates/catalog/data/` (its README says where the numbers come from), then run\n\
         `cargo xtask codegen`.\n\n",
    );
    let _ = writeln!(
        out,
        "{rows} models from {} providers.",
        files.iter().filter(|c| !c.file.model.is_empty()).count()
    );
    for c in files {
        let f = &c.file;
        let _ = write!(
            out,
            "\n## {} (`{}`)\n\nPricing page: <{}>.",
            f.title,
            c.provider.as_str(),
            f.pricing_page
        );
        if f.local {
            out.push_str(" **Local**: every model costs 0.");
        }
        if let Some(note) = &f.note {
            let _ = write!(out, " {note}");
        }
        out.push('\n');
        if f.model.is_empty() {
            continue;
        }
        out.push_str(
            "\n| model | aliases | input | cached input | cache write | output | context | max output | tools | vision | streaming | prefill | source | checked |\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for r in &f.model {
            let aliases = if r.aliases.is_empty() {
                "—".to_owned()
            } else {
                r.aliases
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let (input, output) = match (&r.unit, r.unit_usd) {
                (Some(unit), Some(p)) => (format!("${p} / {unit}"), "—".to_owned()),
                _ => (usd(r.input), usd(r.output)),
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | [source]({}) | {} |",
                r.id,
                aliases,
                input,
                usd(r.cache_read),
                usd(r.cache_write),
                output,
                tokens(r.context_window),
                tokens(r.max_output),
                flag(r.tools),
                flag(r.vision),
                flag(r.streaming),
                flag(r.prefill),
                r.source,
                r.checked,
            );
        }
        let notes: Vec<&Row> = f.model.iter().filter(|r| r.note.is_some()).collect();
        if !notes.is_empty() {
            out.push('\n');
            for r in notes {
                let _ = writeln!(
                    out,
                    "- `{}`: {}",
                    r.id,
                    cell(r.note.as_deref().unwrap_or(""))
                );
            }
        }
    }
    out
}

/// Generates the catalog's outputs from the data under `root`.
pub(crate) fn generate(root: &Path) -> Result<Vec<Output>, String> {
    let files = load(root)?;
    Ok(vec![
        Output {
            path: PathBuf::from(RUST_OUT),
            contents: render_rust(&files)?,
        },
        Output {
            path: PathBuf::from(DOC_OUT),
            contents: render_doc(&files),
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_catalog_is_fresh() {
        let root = crate::workspace_root();
        let outputs = generate(&root).unwrap();
        let stale = crate::codegen::stale(&root, &outputs);
        assert!(
            stale.is_empty(),
            "stale generated files {stale:?}: run `cargo xtask codegen` and commit the result"
        );
    }

    fn row(extra: &str) -> Result<Provider, String> {
        let text = format!(
            "provider = \"openai\"\ntitle = \"t\"\npricing_page = \"https://x\"\n[[model]]\nid = \"m\"\nname = \"M\"\nsource = \"https://s\"\nchecked = \"2026-12-03\"\n{extra}"
        );
        let file: ProviderFile = toml::from_str(&text).map_err(|e| e.to_string())?;
        check_file("openai", &file)
    }

    #[test]
    fn a_good_row_passes_and_bad_rows_are_refused_with_a_reason() {
        assert_eq!(row("input = 1.0\noutput = 2.0\n"), Ok(Provider::OpenAi));
        let refused = |extra: &str, why: &str| {
            let err = row(extra).unwrap_err();
            assert!(err.contains(why), "{extra:?}: {err}");
        };
        refused("", "either token prices");
        refused("input = 1.0\n", "go together");
        refused("input = -1.0\noutput = 2.0\n", "finite price");
        refused(
            "input = 1.0\noutput = 2.0\nunit = \"second\"\nunit_usd = 0.1\n",
            "either token prices",
        );
        refused(
            "cache_read = 0.1\nunit = \"second\"\nunit_usd = 0.1\n",
            "cache prices need",
        );
        refused(
            "input = 1.0\noutput = 2.0\ncontext_window = 0\n",
            "leave it out",
        );
        refused(
            "input = 1.0\noutput = 2.0\naliases = [\"m\"]\n",
            "already names",
        );
        refused("input = 1.0\noutput = 2.0\nguess = true\n", "unknown field");
    }

    #[test]
    fn dates_sources_and_file_names_are_checked() {
        assert!(check_date("x", "2026-12-03").is_ok());
        for bad in [
            "2026-13-01",
            "2026-1-01",
            "26-12-03",
            "2026-12-3",
            "yesterday",
            "",
        ] {
            assert!(check_date("x", bad).is_err(), "{bad}");
        }
        let file: ProviderFile = toml::from_str(
            "provider = \"openai\"\ntitle = \"t\"\npricing_page = \"https://x\"\n[[model]]\nid = \"m\"\nname = \"M\"\ninput = 1.0\noutput = 1.0\nsource = \"http://plain\"\nchecked = \"2026-12-03\"\n",
        )
        .unwrap();
        assert!(check_file("openai", &file).unwrap_err().contains("https"));
        assert!(
            check_file("anthropic", &file)
                .unwrap_err()
                .contains("file name")
        );
    }
}
