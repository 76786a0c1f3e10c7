//! A config from the environment alone: one deployment for every provider whose key
//! variable is set, in a documented order.

use crate::error::ConfigError;
use crate::file::{ConfigFile, Deployment, Kind};
use crate::steadfast::Steadfast;

/// The providers [`Steadfast::from_env`] looks for, in the order they are tried: the
/// deployment name (also its kind), the variables of which one must be set, and the model
/// asked for unless `STEADFAST_<NAME>_MODEL` names another (`STEADFAST_OPENAI_MODEL`).
pub const ENV_ORDER: &[(Kind, &[&str], &str)] = &[
    (Kind::OpenAi, &["OPENAI_API_KEY"], "gpt-4o-mini"),
    (Kind::Anthropic, &["ANTHROPIC_API_KEY"], "claude-haiku-4-5"),
    (
        Kind::Gemini,
        &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
        "gemini-2.5-flash",
    ),
    (Kind::DeepSeek, &["DEEPSEEK_API_KEY"], "deepseek-chat"),
    (Kind::Xai, &["XAI_API_KEY", "GROK_API_KEY"], "grok-3-mini"),
    (Kind::OpenRouter, &["OPENROUTER_API_KEY"], "openrouter/auto"),
    (
        Kind::Pollinations,
        &["POLLINATIONS_API_TOKEN", "POLLINATIONS_API_KEY"],
        "openai",
    ),
    (Kind::Ollama, &["OLLAMA_HOST"], "llama3.2"),
];

/// The config [`Steadfast::from_env`] builds, read through `lookup`.
pub fn env_config(lookup: &dyn Fn(&str) -> Option<String>) -> ConfigFile {
    let set = |v: &&str| lookup(v).is_some_and(|x| !x.trim().is_empty());
    let mut file = ConfigFile::default();
    for (priority, (kind, vars, model)) in ENV_ORDER.iter().enumerate() {
        if !vars.iter().any(set) {
            continue;
        }
        let name = kind.as_str();
        let model_var = format!("STEADFAST_{}_MODEL", name.to_ascii_uppercase());
        let model = lookup(&model_var)
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| (*model).to_owned());
        let deployment = Deployment {
            model: Some(model),
            priority: i32::try_from(priority).unwrap_or(i32::MAX),
            ..Deployment::of_kind(*kind)
        };
        file.deployments.insert(name.to_owned(), deployment);
    }
    file
}

impl Steadfast {
    /// One deployment for every provider whose key variable is set, in the order of
    /// [`ENV_ORDER`] (the first is the primary), all in the group `default`.
    ///
    /// ```
    /// use steadfast_config::{Steadfast, env_config};
    ///
    /// let env = |name: &str| match name {
    ///     "DEEPSEEK_API_KEY" | "ANTHROPIC_API_KEY" => Some("k".to_owned()),
    ///     _ => None,
    /// };
    /// let sf = Steadfast::build(&env_config(&env), &env).unwrap();
    /// let names: Vec<String> = sf.deployments().into_iter().map(|d| d.name).collect();
    /// assert_eq!(names, ["anthropic", "deepseek"]);
    /// ```
    pub fn from_env() -> Result<Steadfast, ConfigError> {
        let lookup = |name: &str| std::env::var(name).ok();
        let file = env_config(&lookup);
        if file.deployments.is_empty() {
            let vars: Vec<&str> = ENV_ORDER
                .iter()
                .flat_map(|(_, v, _)| v.iter().copied())
                .collect();
            return Err(ConfigError::invalid(
                "environment",
                format!("no provider key is set (looked for {})", vars.join(", ")),
            ));
        }
        Steadfast::build(&file, &lookup)
    }
}
