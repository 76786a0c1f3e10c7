//! The shipped example configs and the seed-001 chain parse, build, and behave as their
//! comments say.

use steadfast_config::{ConfigFile, Format, Steadfast};
use steadfast_providers_core::{ChatRequest, Message};

const MOCKS: &str = include_str!("../../../examples/steadfast.toml");
const PROVIDERS: &str = include_str!("../../../examples/steadfast-providers.toml");
const SEED_001: &str = include_str!("fixtures/seed-001.toml");

fn fake_keys(name: &str) -> Option<String> {
    name.ends_with("_KEY").then(|| "sk-fake".to_owned())
}

#[tokio::test(start_paused = true)]
async fn the_mock_example_answers_from_its_backup_without_keys() {
    let sf = Steadfast::build(&ConfigFile::parse(MOCKS, Format::Toml).unwrap(), &|_| None).unwrap();
    assert_eq!(sf.default_group(), "fast");
    let request = ChatRequest::new("fast", vec![Message::user("hi")]);
    let answer = sf.chat(None, &request, sf.route_options()).await.unwrap();
    assert_eq!(answer.provider, "backup");
    assert!(answer.fell_back());
    assert!(answer.value.text.starts_with("Hello from the backup"));
    assert!(answer.cost_usd > 0.0);
}

#[test]
fn the_providers_example_builds_when_its_keys_are_set() {
    let file = ConfigFile::parse(PROVIDERS, Format::Toml).unwrap();
    let sf = Steadfast::build(&file, &fake_keys).unwrap();
    let groups: Vec<&str> = sf.groups().collect();
    assert_eq!(groups, ["cheap", "local", "smart"]);
    assert_eq!(sf.video_providers().count(), 1);
    let deployments = sf.deployments();
    let gpt = deployments.iter().find(|d| d.name == "gpt-mini").unwrap();
    assert!(
        gpt.pricing.is_some() && gpt.context_window.is_some(),
        "from the catalog: {gpt:?}"
    );
    let deepseek = deployments.iter().find(|d| d.name == "deepseek").unwrap();
    assert_eq!(
        deepseek.pricing.unwrap().input_per_mtok,
        0.27,
        "the file's override wins"
    );
    let err = Steadfast::build(&file, &|_| None).unwrap_err();
    assert!(err.to_string().contains("environment variable"), "{err}");
}

#[test]
fn the_seed_001_chain_is_a_20_line_file_in_its_order() {
    assert!(SEED_001.lines().count() <= 20);
    let file = ConfigFile::parse(SEED_001, Format::Toml).unwrap();
    assert_eq!(file.router.retry.as_ref().unwrap().max_attempts, 3);
    let sf = Steadfast::build(&file, &fake_keys).unwrap();
    let router = sf.router(None).unwrap();
    let order: Vec<String> = router.stats().providers.into_iter().map(|p| p.id).collect();
    assert_eq!(order, ["deepseek", "grok-fast", "gpt-mini", "anthropic"]);
}

#[test]
fn the_full_example_in_the_docs_builds() {
    let doc = include_str!("../../../docs/config.md");
    let start = doc.find("```toml\n[router]").expect("the full example") + "```toml\n".len();
    let text = &doc[start..start + doc[start..].find("```").unwrap()];
    let file = ConfigFile::parse(text, Format::Toml).unwrap_or_else(|e| panic!("{e}"));
    let sf = Steadfast::build(&file, &fake_keys).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sf.default_group(), "smart");
    let seed = doc.find("```toml\n# Seed 001").expect("the seed-001 block") + "```toml\n".len();
    assert!(doc[seed..].starts_with(SEED_001), "docs and fixture agree");
}
