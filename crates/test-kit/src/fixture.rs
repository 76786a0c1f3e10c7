//! The wire fixtures of `tests/conformance/` at the workspace root, as wiremock responses.
//!
//! A fixture is a JSON file `{"name", "response": {"status", "headers", "body"}, "expect"}`;
//! the shared folder's `conformance/README.md` describes the format.

use std::path::{Path, PathBuf};

use serde_json::Value;
use wiremock::ResponseTemplate;

/// One recorded (or documented) provider response and what steadfast must make of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Fixture {
    /// The fixture's `name`, or its path when it has none.
    pub name: String,
    /// The HTTP status.
    pub status: u16,
    /// The response headers, in file order.
    pub headers: Vec<(String, String)>,
    /// The body, byte for byte as recorded.
    pub body: String,
    /// The `expect` object (`error`, `response` or `stream`), `null` when absent.
    pub expect: Value,
}

/// The `tests/conformance` folder at the workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance")
}

/// Loads `tests/conformance/<rel>`.
///
/// # Panics
///
/// When the file cannot be read or is not a fixture (no `response.status`).
pub fn fixture(rel: &str) -> Fixture {
    let path = root().join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    let value: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("fixture {}: not JSON: {e}", path.display()));
    Fixture::from_value(rel, &value)
}

/// Every fixture (`*.json`) of `tests/conformance/<dir>`, sorted by file name.
///
/// # Panics
///
/// When the folder cannot be read or one of its fixtures cannot be loaded.
pub fn fixtures(dir: &str) -> Vec<Fixture> {
    let path = root().join(dir);
    let entries =
        std::fs::read_dir(&path).unwrap_or_else(|e| panic!("fixtures {}: {e}", path.display()));
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| fixture(&format!("{dir}/{n}")))
        .collect()
}

impl Fixture {
    /// Reads a fixture from its JSON value; `rel` names it when the value has no `name`.
    ///
    /// # Panics
    ///
    /// When `response.status` is missing or not a status code.
    pub fn from_value(rel: &str, value: &Value) -> Fixture {
        let response = &value["response"];
        let status = response["status"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or_else(|| panic!("fixture {rel}: no response.status"));
        let headers = response["headers"]
            .as_object()
            .map(|h| {
                h.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Fixture {
            name: value["name"].as_str().unwrap_or(rel).to_owned(),
            status,
            headers,
            body: response["body"].as_str().unwrap_or_default().to_owned(),
            expect: value["expect"].clone(),
        }
    }

    /// The response as wiremock serves it: status, headers and the body bytes as recorded.
    pub fn template(&self) -> ResponseTemplate {
        crate::http::respond(self.status, &self.headers, &self.body)
    }

    /// The fixture with its body cut to the first `len` bytes.
    ///
    /// # Panics
    ///
    /// When `len` is past the end of the body or inside a UTF-8 character.
    pub fn cut(&self, len: usize) -> Fixture {
        Fixture {
            body: self.body[..len].to_owned(),
            ..self.clone()
        }
    }

    /// The expected error kind (`expect.error.kind`), as `ErrorKind` displays it.
    ///
    /// # Panics
    ///
    /// When the fixture expects no error.
    pub fn expected_kind(&self) -> &str {
        self.expect["error"]["kind"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: expects no error kind", self.name))
    }

    /// The expected retry hint of an error fixture, in milliseconds.
    pub fn expected_retry_ms(&self) -> Option<u64> {
        self.expect["error"]["retry_after_ms"].as_u64()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_fixture_value_is_read_field_by_field() {
        let f = Fixture::from_value(
            "errors/x/01.json",
            &json!({
                "name": "rate limited",
                "response": {"status": 429, "headers": {"retry-after": "2", "x-odd": 7}, "body": "{}"},
                "expect": {"error": {"kind": "rate_limited", "retry_after_ms": 2000}}
            }),
        );
        assert_eq!(f.name, "rate limited");
        assert_eq!(f.status, 429);
        assert_eq!(
            f.headers,
            [
                ("retry-after".to_owned(), "2".to_owned()),
                ("x-odd".to_owned(), String::new())
            ]
        );
        assert_eq!(f.body, "{}");
        assert_eq!(f.expected_kind(), "rate_limited");
        assert_eq!(f.expected_retry_ms(), Some(2000));
    }

    #[test]
    fn missing_parts_default_and_the_path_names_the_fixture() {
        let f = Fixture::from_value("streams/x/02.json", &json!({"response": {"status": 200}}));
        assert_eq!(f.name, "streams/x/02.json");
        assert!(f.headers.is_empty() && f.body.is_empty());
        assert_eq!(f.expect, Value::Null);
        assert_eq!(f.expected_retry_ms(), None);
    }

    #[test]
    #[should_panic(expected = "fixture bad.json: no response.status")]
    fn a_value_without_a_status_is_refused() {
        Fixture::from_value("bad.json", &json!({"response": {"status": 70000}}));
    }

    #[test]
    fn cut_keeps_a_prefix_of_the_body() {
        let f = Fixture::from_value("a", &json!({"response": {"status": 200, "body": "abcdef"}}));
        assert_eq!(f.cut(3).body, "abc");
        assert_eq!(f.cut(3).status, 200);
    }

    #[test]
    fn the_workspace_fixtures_load_sorted() {
        let all = fixtures("errors/anthropic");
        assert!(!all.is_empty());
        assert!(all.windows(2).all(|w| w[0].name != w[1].name));
        assert!(all.iter().all(|f| f.status >= 400));
        let one = fixture("errors/anthropic/08_overloaded_529.json");
        assert_eq!(one.status, 529);
    }
}
