//! Reading a [`ConfigFile`] from TOML or JSON text, with errors that point at the line and
//! field without quoting the file.

use std::path::Path;

use crate::error::ConfigError;
use crate::file::ConfigFile;

/// The syntax of a config text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// TOML, the primary format.
    Toml,
    /// JSON, the same fields.
    Json,
}

impl Format {
    /// The format of a file by its extension: `.json` is JSON, anything else TOML.
    pub fn of_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("json") => Format::Json,
            _ => Format::Toml,
        }
    }

    /// The format of a text: JSON when it starts with `{`, else TOML.
    pub fn sniff(text: &str) -> Format {
        if text.trim_start().starts_with('{') {
            Format::Json
        } else {
            Format::Toml
        }
    }
}

impl ConfigFile {
    /// Parses `text` as `format`. Unknown fields are errors.
    ///
    /// ```
    /// use steadfast_config::{ConfigError, ConfigFile, Format};
    ///
    /// let err = ConfigFile::parse("[deployments.a]\nkind = \"mock\"\nprio = 1\n", Format::Toml)
    ///     .unwrap_err();
    /// let ConfigError::Parse { line, field, .. } = &err else { panic!("{err}") };
    /// assert_eq!((*line, field.as_deref()), (3, Some("deployments.a.prio")));
    /// assert!(err.to_string().contains("unknown field `prio`"));
    /// ```
    pub fn parse(text: &str, format: Format) -> Result<ConfigFile, ConfigError> {
        match format {
            Format::Toml => toml::from_str(text).map_err(|e| toml_error(text, &e)),
            Format::Json => serde_json::from_str(text).map_err(|e| json_error(&e)),
        }
    }

    /// Reads and parses the file at `path` (format by extension, see [`Format::of_path`]).
    pub fn read(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        ConfigFile::parse(&text, Format::of_path(path)).map_err(|e| e.in_file(path.to_owned()))
    }
}

fn toml_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let start = e.span().map_or(0, |s| s.start).min(text.len());
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    ConfigError::Parse {
        path: None,
        line,
        column,
        field: toml_field(text, line_start),
        message: e.message().trim().to_owned(),
    }
}

/// The dotted path of the key on the line starting at `line_start`: the last table header
/// above it, then the key before `=` (or the header itself, on a header line).
fn toml_field(text: &str, line_start: usize) -> Option<String> {
    let header_of = |l: &str| {
        let l = l.trim();
        l.starts_with('[').then(|| {
            l.trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_owned()
        })
    };
    let line = text[line_start..].lines().next().unwrap_or("");
    if let Some(h) = header_of(line) {
        return Some(h);
    }
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_owned())
        .filter(|k| !k.is_empty())?;
    let header = text[..line_start].lines().rev().find_map(header_of);
    Some(match header {
        Some(h) if !h.is_empty() => format!("{h}.{key}"),
        _ => key,
    })
}

fn json_error(e: &serde_json::Error) -> ConfigError {
    let text = e.to_string();
    // serde_json appends " at line L column C"; the numbers are kept apart.
    let message = match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    };
    ConfigError::Parse {
        path: None,
        line: e.line(),
        column: e.column(),
        field: None,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_follow_headers_and_keys() {
        let text = "[router]\nfallback = true\n\n[deployments.a]\nkind = \"mock\"\n";
        let second_line = text.find("fallback").unwrap();
        assert_eq!(
            toml_field(text, second_line).as_deref(),
            Some("router.fallback")
        );
        let header = text.find("[deployments").unwrap();
        assert_eq!(toml_field(text, header).as_deref(), Some("deployments.a"));
        assert_eq!(toml_field("x = 1\n", 0).as_deref(), Some("x"));
    }

    #[test]
    fn formats_are_told_apart() {
        assert_eq!(Format::sniff("  {\"groups\": {}}"), Format::Json);
        assert_eq!(Format::sniff("[groups]"), Format::Toml);
        assert_eq!(Format::of_path(Path::new("a.JSON")), Format::Json);
        assert_eq!(Format::of_path(Path::new("a.toml")), Format::Toml);
    }
}
