//! Secrets written in a config file (extra header values, a key in a base URL) never print
//! in Debug and are never written back out.

use steadfast_config::{ConfigFile, Format};

const FILE: &str = r#"
[deployments.gateway]
kind = "openai-compatible"
model = "m"
base_url = "https://user:hunter2-pass@llm.internal/v1?key=quokka-Mango-7731"
headers = { "x-gateway-token" = "zebra-Lime-secret-42" }

[groups.fast]
deployments = ["gateway"]
"#;

const SECRETS: [&str; 3] = ["hunter2-pass", "quokka-Mango-7731", "zebra-Lime-secret-42"];

#[test]
fn header_values_and_url_secrets_never_print() {
    let file = ConfigFile::parse(FILE, Format::Toml).unwrap();
    let shown = format!("{file:?} {file:#?}");
    for secret in SECRETS {
        assert!(!shown.contains(secret), "{secret} shown in {shown}");
    }
    assert!(
        shown.contains("x-gateway-token"),
        "header names are shown: {shown}"
    );
    assert!(shown.contains("llm.internal"), "the host is shown: {shown}");
}

#[test]
fn header_values_and_url_secrets_are_never_written_back() {
    let file = ConfigFile::parse(FILE, Format::Toml).unwrap();
    let json = serde_json::to_string(&file).unwrap();
    let toml = toml::to_string(&file).unwrap();
    for secret in SECRETS {
        assert!(!json.contains(secret), "{secret} in {json}");
        assert!(!toml.contains(secret), "{secret} in {toml}");
    }
}
