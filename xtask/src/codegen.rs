//! `cargo xtask codegen`: the error tables are data; this turns them into Rust and Markdown.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;
use steadfast_errors::{ErrorKind, Provider};

const TABLES: &str = "crates/errors/tables";
const RUST_OUT: &str = "crates/errors/src/generated.rs";
const DOC_OUT: &str = "docs/error-mapping.md";

/// One generated file.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) path: PathBuf,
    pub(crate) contents: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    provider: String,
    title: String,
    docs: String,
    #[serde(default)]
    inherits: Vec<String>,
    #[serde(default)]
    rule: Vec<RuleSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    #[serde(default)]
    status: Option<StatusSpec>,
    #[serde(default)]
    code: Option<OneOrMany>,
    #[serde(default)]
    message: Option<OneOrMany>,
    kind: String,
    #[serde(default)]
    retryable: Option<bool>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn items(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StatusSpec {
    One(u16),
    Text(String),
    Many(Vec<StatusItem>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StatusItem {
    Num(u16),
    Text(String),
}

/// A validated rule, ready to print.
#[derive(Debug, Clone)]
struct Rule {
    ranges: Option<Vec<(u16, u16)>>,
    codes: Vec<String>,
    messages: Vec<String>,
    kind: ErrorKind,
    retryable: Option<bool>,
    note: Option<String>,
}

fn parse_range(text: &str) -> Result<(u16, u16), String> {
    let t = text.trim();
    if let Some(class) = t.strip_suffix("xx") {
        let d: u16 = class
            .parse()
            .map_err(|_| format!("bad status class `{t}`"))?;
        if !(1..=5).contains(&d) {
            return Err(format!("bad status class `{t}`"));
        }
        return Ok((d * 100, d * 100 + 99));
    }
    let (lo, hi) = t
        .split_once('-')
        .ok_or_else(|| format!("bad status `{t}`"))?;
    let lo: u16 = lo.trim().parse().map_err(|_| format!("bad status `{t}`"))?;
    let hi: u16 = hi.trim().parse().map_err(|_| format!("bad status `{t}`"))?;
    if lo > hi || !(100..=599).contains(&lo) || !(100..=599).contains(&hi) {
        return Err(format!("bad status range `{t}`"));
    }
    Ok((lo, hi))
}

fn ranges(spec: &StatusSpec) -> Result<Vec<(u16, u16)>, String> {
    let check = |s: u16| {
        if (100..=599).contains(&s) {
            Ok((s, s))
        } else {
            Err(format!("status {s} is not an HTTP status"))
        }
    };
    match spec {
        StatusSpec::One(s) => Ok(vec![check(*s)?]),
        StatusSpec::Text(t) => Ok(vec![parse_range(t)?]),
        StatusSpec::Many(items) => items
            .iter()
            .map(|i| match i {
                StatusItem::Num(s) => check(*s),
                StatusItem::Text(t) => parse_range(t),
            })
            .collect(),
    }
}

fn load(root: &Path) -> Result<BTreeMap<String, TableFile>, String> {
    let dir = root.join(TABLES);
    let mut tables = BTreeMap::new();
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let table: TableFile =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if table.provider != stem {
            return Err(format!(
                "{}: provider `{}` does not match the file name",
                path.display(),
                table.provider
            ));
        }
        tables.insert(table.provider.clone(), table);
    }
    for p in Provider::ALL {
        if !tables.contains_key(p.as_str()) {
            return Err(format!("missing table {TABLES}/{}.toml", p.as_str()));
        }
    }
    if !tables.contains_key("default") {
        return Err(format!("missing table {TABLES}/default.toml"));
    }
    for name in tables.keys() {
        if name != "default" && name.parse::<Provider>().is_err() {
            return Err(format!("{TABLES}/{name}.toml names no known provider"));
        }
    }
    Ok(tables)
}

fn validate(table: &TableFile) -> Result<Vec<Rule>, String> {
    table
        .rule
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let at = format!("{}.toml rule {}", table.provider, i + 1);
            let kind: ErrorKind = r.kind.parse().map_err(|e| format!("{at}: {e}"))?;
            let codes = r.code.as_ref().map(OneOrMany::items).unwrap_or_default();
            let messages: Vec<String> = r
                .message
                .as_ref()
                .map(OneOrMany::items)
                .unwrap_or_default()
                .into_iter()
                .map(|m| m.to_lowercase())
                .collect();
            if codes.iter().chain(&messages).any(|s| s.trim().is_empty()) {
                return Err(format!("{at}: empty code or message pattern"));
            }
            let ranges = r
                .status
                .as_ref()
                .map(ranges)
                .transpose()
                .map_err(|e| format!("{at}: {e}"))?;
            if ranges.is_none() && codes.is_empty() && messages.is_empty() {
                return Err(format!("{at}: a rule needs a status, a code or a message"));
            }
            Ok(Rule {
                ranges,
                codes,
                messages,
                kind,
                retryable: r.retryable,
                note: r.note.clone(),
            })
        })
        .collect()
}

/// The tables whose rules apply to `name`, in order: its own, then those it inherits
/// (depth first).
fn chain(
    name: &str,
    tables: &BTreeMap<String, TableFile>,
    seen: &mut Vec<String>,
) -> Result<Vec<String>, String> {
    if seen.iter().any(|s| s == name) {
        return Err(format!("inheritance cycle through `{name}`"));
    }
    seen.push(name.to_owned());
    let table = tables
        .get(name)
        .ok_or_else(|| format!("`{}` inherits unknown table `{name}`", seen[0]))?;
    if name == "default" && seen.len() > 1 {
        return Err("tables must not inherit `default`: it always applies last".to_owned());
    }
    let mut names = vec![name.to_owned()];
    for parent in &table.inherits {
        for n in chain(parent, tables, seen)? {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    seen.pop();
    Ok(names)
}

fn const_name(provider: &str) -> String {
    provider.to_ascii_uppercase()
}

fn variant(kind: ErrorKind) -> String {
    kind.as_str()
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn provider_variant(p: Provider) -> &'static str {
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
        _ => unreachable!("a provider without a table is refused by `load`"),
    }
}

fn rust_rule(out: &mut String, r: &Rule) {
    let status = match &r.ranges {
        None => "StatusMatch::Any".to_owned(),
        Some(rs) => {
            let items: Vec<String> = rs.iter().map(|(a, b)| format!("({a}, {b})")).collect();
            format!("StatusMatch::In(&[{}])", items.join(", "))
        }
    };
    let list = |v: &[String]| {
        let items: Vec<String> = v.iter().map(|s| format!("{s:?}")).collect();
        format!("&[{}]", items.join(", "))
    };
    let retryable = match r.retryable {
        None => "None".to_owned(),
        Some(b) => format!("Some({b})"),
    };
    let _ = writeln!(
        out,
        "    Rule {{ status: {status}, codes: {}, messages: {}, kind: ErrorKind::{}, retryable: {retryable} }},",
        list(&r.codes),
        list(&r.messages),
        variant(r.kind),
    );
}

fn render_rust(
    own: &BTreeMap<String, Vec<Rule>>,
    chains: &BTreeMap<String, Vec<String>>,
) -> Result<String, String> {
    let mut out = String::new();
    out.push_str(
        "//! Generated by `cargo xtask codegen` from `crates/errors/tables/*.toml`, do not edit.\n\n\
         use crate::kind::ErrorKind;\n\
         use crate::provider::Provider;\n\
         use crate::table::{Rule, StatusMatch};\n\n",
    );
    for (name, rules) in own {
        let _ = writeln!(out, "/// The rules of `{name}.toml`.");
        let vis = if name == "default" { "pub(crate) " } else { "" };
        let _ = writeln!(out, "{vis}const {}: &[Rule] = &[", const_name(name));
        for r in rules {
            rust_rule(&mut out, r);
        }
        out.push_str("];\n\n");
    }
    out.push_str(
        "/// The tables that apply to one provider, in order: its own, then those it inherits\n\
         /// (the default rules always apply last and are not listed).\n\
         pub(crate) fn rules(provider: Provider) -> &'static [&'static [Rule]] {\n    match provider {\n",
    );
    for p in Provider::ALL {
        let names: Vec<String> = chains[p.as_str()].iter().map(|n| const_name(n)).collect();
        let _ = writeln!(
            out,
            "        Provider::{} => &[{}],",
            provider_variant(p),
            names.join(", ")
        );
    }
    out.push_str("    }\n}\n");
    rustfmt(&out)
}

/// `src` formatted by rustfmt (edition 2024), as every generated Rust file is.
pub(crate) fn rustfmt(src: &str) -> Result<String, String> {
    let mut child = Command::new(std::env::var("RUSTFMT").unwrap_or_else(|_| "rustfmt".into()))
        .args(["--edition", "2024", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running rustfmt: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("rustfmt stdin")?
        .write_all(src.as_bytes())
        .map_err(|e| format!("writing to rustfmt: {e}"))?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("rustfmt: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "rustfmt failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn render_doc(tables: &BTreeMap<String, TableFile>, own: &BTreeMap<String, Vec<Rule>>) -> String {
    let mut out = String::new();
    out.push_str(
        "<!-- Generated by `cargo xtask codegen` from crates/errors/tables/*.toml, do not edit. -->\n\n\
         # Error mapping\n\n\
         How steadfast turns each provider's failures into an `ErrorKind`. For one response the\n\
         provider's rules are tried in order, then the rules of the tables it inherits, then the\n\
         default rules; the first rule whose every condition holds wins, and nothing matching\n\
         gives `unknown`. A `code` matches the body's error code, type (Gemini `status`) or a\n\
         detail (Gemini ErrorInfo reason or quota id, OpenRouter moderation marker or limit\n\
         source), case-insensitively; `*` ends a prefix. A `message` is a case-insensitive\n\
         substring of the message or details. An `x-should-retry` response header overrides the\n\
         retry column. Edit the tables in `crates/errors/tables/`, then run `cargo xtask codegen`.\n\n\
         ## Kinds\n\n\
         | kind | retry same provider | fall back | counts against health | owner | category5 | category7 |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for k in ErrorKind::ALL {
        let _ = writeln!(
            out,
            "| `{}` | {:?} | {:?} | {} | {} | {} | {} |",
            k,
            k.retry_rule(),
            k.fallback_rule(),
            yes_no(k.counts_against_health()),
            k.owner(),
            k.category5(),
            k.category7()
        );
    }
    let order: Vec<&str> = Provider::ALL
        .iter()
        .map(|p| p.as_str())
        .chain(["default"])
        .collect();
    for name in order {
        let table = &tables[name];
        let _ = write!(
            out,
            "\n## {} (`{}`)\n\nReference: <{}>",
            table.title, name, table.docs
        );
        if !table.inherits.is_empty() {
            let names: Vec<String> = table.inherits.iter().map(|i| format!("`{i}`")).collect();
            let _ = write!(out, ". Then the rules of {}", names.join(", "));
        }
        out.push_str(".\n\n| # | status | code / type | message contains | kind | retryable | why |\n|---|---|---|---|---|---|---|\n");
        for (i, r) in own[name].iter().enumerate() {
            let status = match &r.ranges {
                None => "any".to_owned(),
                Some(rs) => rs
                    .iter()
                    .map(|(a, b)| {
                        if a == b {
                            a.to_string()
                        } else {
                            format!("{a}–{b}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let cell = |v: &[String]| {
                if v.is_empty() {
                    "—".to_owned()
                } else {
                    v.iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            };
            let retry = match r.retryable {
                Some(b) => format!("**{}** (rule)", yes_no(b)),
                None => yes_no(r.kind.is_retryable()).to_owned(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | `{}` | {} | {} |",
                i + 1,
                status,
                cell(&r.codes),
                cell(&r.messages).replace('|', "\\|"),
                r.kind,
                retry,
                r.note.as_deref().unwrap_or("").replace('|', "\\|")
            );
        }
    }
    out
}

/// Generates every output from the tables under `root`.
pub(crate) fn generate(root: &Path) -> Result<Vec<Output>, String> {
    let tables = load(root)?;
    let mut chains = BTreeMap::new();
    let mut own = BTreeMap::new();
    for name in tables.keys() {
        chains.insert(name.clone(), chain(name, &tables, &mut Vec::new())?);
        own.insert(name.clone(), validate(&tables[name])?);
    }
    Ok(vec![
        Output {
            path: PathBuf::from(RUST_OUT),
            contents: render_rust(&own, &chains)?,
        },
        Output {
            path: PathBuf::from(DOC_OUT),
            contents: render_doc(&tables, &own),
        },
    ])
}

/// The outputs whose file on disk differs from what would be generated.
pub(crate) fn stale(root: &Path, outputs: &[Output]) -> Vec<PathBuf> {
    outputs
        .iter()
        .filter(|o| {
            std::fs::read_to_string(root.join(&o.path)).ok().as_deref() != Some(&o.contents)
        })
        .map(|o| o.path.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_files_are_fresh() {
        let root = crate::workspace_root();
        let outputs = generate(&root).unwrap();
        let stale = stale(&root, &outputs);
        assert!(
            stale.is_empty(),
            "stale generated files {stale:?}: run `cargo xtask codegen` and commit the result"
        );
    }

    #[test]
    fn status_specs_parse_and_refuse_nonsense() {
        assert_eq!(parse_range("5xx"), Ok((500, 599)));
        assert_eq!(parse_range("500-504"), Ok((500, 504)));
        assert!(parse_range("6xx").is_err());
        assert!(parse_range("504-500").is_err());
        assert!(parse_range("abc").is_err());
        assert_eq!(variant(ErrorKind::StreamInterrupted), "StreamInterrupted");
    }

    #[test]
    fn a_table_with_a_bad_kind_is_refused() {
        let t: TableFile = toml::from_str(
            "provider = \"openai\"\ntitle = \"x\"\ndocs = \"y\"\n[[rule]]\nstatus = 400\nkind = \"teapot\"\n",
        )
        .unwrap();
        assert!(validate(&t).unwrap_err().contains("unknown error kind"));
        let t: TableFile = toml::from_str(
            "provider = \"openai\"\ntitle = \"x\"\ndocs = \"y\"\n[[rule]]\nkind = \"server\"\n",
        )
        .unwrap();
        assert!(validate(&t).unwrap_err().contains("needs a status"));
    }
}
