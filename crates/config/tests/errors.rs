//! Every class of config error: where it points and what it never says.

use steadfast_config::{ConfigError, ConfigFile, Format, Steadfast};

fn env(name: &str) -> Option<String> {
    match name {
        "SET_KEY" => Some("sk-set-value-123".to_owned()),
        _ => None,
    }
}

fn build(text: &str) -> Result<Steadfast, ConfigError> {
    Steadfast::build(&ConfigFile::parse(text, Format::sniff(text))?, &env)
}

fn parse_err(text: &str) -> (usize, usize, Option<String>, String) {
    match build(text).unwrap_err() {
        ConfigError::Parse {
            line,
            column,
            field,
            message,
            ..
        } => (line, column, field, message),
        other => panic!("expected a parse error, got {other}"),
    }
}

fn invalid(text: &str) -> (String, String) {
    match build(text).unwrap_err() {
        ConfigError::Invalid { field, message } => (field, message),
        other => panic!("expected an invalid-field error, got {other}"),
    }
}

#[test]
fn a_syntax_error_names_its_line() {
    let (line, _, _, message) = parse_err("[deployments.a]\nkind = \"mock\"\nmodel = \n");
    assert_eq!(line, 3, "{message}");
}

#[test]
fn an_unknown_field_names_its_line_and_path() {
    let text = "[router]\nfallback = true\n\n[deployments.a]\nkind = \"mock\"\npriorty = 1\n";
    let (line, column, field, message) = parse_err(text);
    assert_eq!((line, column), (6, 1));
    assert_eq!(field.as_deref(), Some("deployments.a.priorty"));
    assert!(message.contains("unknown field `priorty`"), "{message}");
    let (line, _, field, _) = parse_err("[router]\nfalback = false\n");
    assert_eq!((line, field.as_deref()), (2, Some("router.falback")));
    let (_, _, field, message) = parse_err("[groupz.fast]\ndeployments = []\n");
    assert!(message.contains("unknown field `groupz`"), "{message}");
    assert_eq!(field.as_deref(), Some("groupz.fast"));
}

#[test]
fn an_unknown_kind_or_wrong_type_is_a_parse_error() {
    let (line, _, field, message) = parse_err("[deployments.a]\nkind = \"openia\"\n");
    assert_eq!((line, field.as_deref()), (2, Some("deployments.a.kind")));
    assert!(message.contains("openia"), "{message}");
    let (line, _, _, _) = parse_err("[deployments.a]\nkind = \"mock\"\nrpm = \"many\"\n");
    assert_eq!(line, 3);
    let (line, _, _, message) = parse_err("[deployments.a]\nmodel = \"m\"\n");
    assert_eq!(line, 1);
    assert!(message.contains("missing field `kind`"), "{message}");
}

#[test]
fn json_errors_name_their_line_too() {
    let text = "{\n  \"deployments\": {\n    \"a\": {\"kind\": \"mock\", \"colour\": 1}\n  }\n}";
    let (line, _, _, message) = parse_err(text);
    assert_eq!(line, 3);
    assert!(message.contains("unknown field `colour`"), "{message}");
    assert!(!message.contains(" at line "), "{message}");
}

#[test]
fn a_literal_key_is_refused_without_being_repeated() {
    let text = "[deployments.a]\nkind = \"openai\"\nmodel = \"m\"\napi_key = \"sk-live-abcdef\"\n";
    let err = build(text).unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("sk-live-abcdef"), "{shown}");
    let ConfigError::Parse { line, field, .. } = err else {
        panic!("{err}")
    };
    assert_eq!((line, field.as_deref()), (4, Some("deployments.a.api_key")));
}

#[test]
fn a_missing_env_var_names_the_variable_and_the_deployment() {
    let text = "[deployments.main]\nkind = \"anthropic\"\nmodel = \"m\"\napi_key = \"env:NOT_SET_ANYWHERE\"\n";
    let err = build(text).unwrap_err();
    assert!(
        matches!(&err, ConfigError::MissingEnv { deployment, var } if deployment == "main" && var == "NOT_SET_ANYWHERE")
    );
    let text = text.replace("NOT_SET_ANYWHERE", "SET_KEY");
    let sf = build(&text).unwrap();
    assert!(!format!("{sf:?}").contains("sk-set-value-123"));
}

#[test]
fn a_field_of_another_kind_is_refused() {
    let (field, message) =
        invalid("[deployments.a]\nkind = \"openai\"\nmodel = \"m\"\nscript = [{ text = \"x\" }]\n");
    assert_eq!(field, "deployments.a.script");
    assert!(message.contains("mock"), "{message}");
    let (field, _) =
        invalid("[deployments.a]\nkind = \"mock\"\nbase_url = \"http://127.0.0.1:1\"\n");
    assert_eq!(field, "deployments.a.base_url");
    let (field, _) =
        invalid("[deployments.a]\nkind = \"openai\"\nmodel = \"m\"\nazure_deployment = \"d\"\n");
    assert_eq!(field, "deployments.a.azure_deployment");
}

#[test]
fn required_fields_are_named() {
    let (field, _) = invalid("[deployments.a]\nkind = \"openai\"\n");
    assert_eq!(field, "deployments.a.model");
    let (field, _) = invalid("[deployments.a]\nkind = \"openai-compatible\"\nmodel = \"m\"\n");
    assert_eq!(field, "deployments.a.base_url");
    let (field, _) = invalid("[deployments.a]\nkind = \"azure\"\nmodel = \"m\"\n");
    assert_eq!(field, "deployments.a.base_url");
    let (field, _) = invalid(
        "[deployments.a]\nkind = \"openai\"\nmodel = \"m\"\nbase_url = \"api.example.com\"\n",
    );
    assert_eq!(field, "deployments.a.base_url");
    let (field, _) = invalid(
        "[deployments.a]\nkind = \"openai-compatible\"\nmodel = \"m\"\nbase_url = \"http://127.0.0.1:1\"\nauth_scheme = \"Token\"\n",
    );
    assert_eq!(field, "deployments.a.auth_scheme");
}

#[test]
fn groups_must_name_what_exists() {
    let mock = "[deployments.a]\nkind = \"mock\"\n";
    let (field, message) = invalid(&format!("{mock}[groups.g]\ndeployments = [\"b\"]\n"));
    assert_eq!(field, "groups.g.deployments");
    assert!(message.contains("`b`"), "{message}");
    let (field, _) = invalid(&format!("{mock}[groups.g]\ndeployments = []\n"));
    assert_eq!(field, "groups.g.deployments");
    let (field, _) = invalid(&format!("{mock}[groups.g]\ndeployments = [\"a\", \"a\"]\n"));
    assert_eq!(field, "groups.g.deployments");
    let (field, message) = invalid(&format!(
        "{mock}[groups.g]\ndeployments = [\"a\"]\nfallbacks = [\"h\"]\n"
    ));
    assert_eq!(
        (field.as_str(), message.as_str()),
        ("groups.g.fallbacks", "no group named `h`")
    );
    let (field, _) = invalid(&format!(
        "{mock}[groups.g]\ndeployments = [\"a\"]\ncontext_window_fallbacks = [\"g\"]\n"
    ));
    assert_eq!(field, "groups.g.context_window_fallbacks");
    let (field, _) = invalid(&format!("[router]\ndefault_group = \"x\"\n{mock}"));
    assert_eq!(field, "router.default_group");
    let (_, message) =
        invalid("[deployments.v]\nkind = \"runway\"\n[groups.g]\ndeployments = [\"v\"]\n");
    assert!(message.contains("does not answer chat"), "{message}");
}

#[test]
fn a_file_error_names_the_file() {
    let dir = std::env::temp_dir().join(format!("steadfast-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, "[deployments.a]\nkind = \"mock\"\nweight = -1\n").unwrap();
    let err = Steadfast::from_path(&path).unwrap_err();
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("{}: line 3", path.display())),
        "{shown}"
    );
    let missing = Steadfast::from_path(dir.join("absent.toml")).unwrap_err();
    assert!(matches!(missing, ConfigError::Io { .. }));
    std::fs::remove_dir_all(&dir).unwrap();
}
