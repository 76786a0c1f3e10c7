//! A provider's own key never shows, whatever shape it has and wherever it is echoed.
//!
//! Random secrets (not shaped like any known key, so the pattern rules cannot help) are
//! planted in random fields of error responses, in-band stream errors and hand-built errors,
//! at random offsets (so that some straddle the fields' bounds); no run of
//! `MIN_SECRET_FRAGMENT` characters of the secret may survive in Display, Debug or any
//! accessor.

use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use serde_json::json;
use steadfast_errors::redact::MIN_SECRET_FRAGMENT;
use steadfast_errors::{ErrorKind, Provider, ProviderError, classify};

/// Every text an error exposes.
fn texts(e: &ProviderError) -> Vec<String> {
    let mut all = vec![
        e.to_string(),
        format!("{e:?}"),
        e.message().to_owned(),
        e.provider().to_owned(),
    ];
    all.extend(
        [
            e.model(),
            e.code(),
            e.error_type(),
            e.request_id(),
            e.provider_code(),
        ]
        .into_iter()
        .flatten()
        .map(str::to_owned),
    );
    if let Some(source) = std::error::Error::source(e) {
        all.push(source.to_string());
    }
    all
}

fn assert_no_fragment(e: &ProviderError, secret: &str) -> Result<(), TestCaseError> {
    for text in texts(e) {
        for piece in secret.as_bytes().windows(MIN_SECRET_FRAGMENT) {
            let piece = std::str::from_utf8(piece).unwrap();
            prop_assert!(
                !text.contains(piece),
                "`{piece}` of the secret survives in {text:?}"
            );
        }
    }
    Ok(())
}

/// Secrets shaped like nothing in particular, so only knowing them can remove them.
fn secret() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{8,64}".prop_filter("not the marker itself", |s| !s.contains("REDACTED"))
}

/// Up to a little over the message bound, so that the secret sometimes straddles it.
fn padding() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ]{0,40}",
        (990usize..1030).prop_map(|n| "p".repeat(n)),
        (100usize..140).prop_map(|n| "c".repeat(n)),
    ]
}

/// Where in a field the secret goes: whole, or only a piece of it.
fn planted(secret: &str, pad: &str, cut: usize, whole: bool) -> String {
    let piece = if whole {
        secret
    } else {
        let start = cut % (secret.len() - MIN_SECRET_FRAGMENT + 1);
        &secret[start..]
    };
    format!("{pad}{piece} tail")
}

proptest! {
    #[test]
    fn a_known_secret_never_survives_classification(
        secret in secret(),
        pad in padding(),
        field in 0usize..5,
        cut in any::<usize>(),
        whole in any::<bool>(),
        provider in 0usize..Provider::ALL.len(),
        status in prop_oneof![Just(400u16), Just(401), Just(429), Just(503), Just(200)],
    ) {
        let provider = Provider::ALL[provider];
        let value = planted(&secret, &pad, cut, whole);
        let mut error = json!({"message": "failed", "type": "invalid_request_error", "code": "bad"});
        let mut headers = HeaderMap::new();
        match field {
            0 => error["message"] = json!(value),
            1 => error["code"] = json!(value),
            2 => error["type"] = json!(value),
            3 => error["request_id"] = json!(value),
            _ => {
                headers.insert("x-request-id", HeaderValue::from_str(&value).unwrap());
            }
        }
        let body = serde_json::to_vec(&json!({ "error": error, "request_id": error["request_id"].clone() })).unwrap();
        let e = classify::response_with_secret(provider, status, &headers, &body, &secret);
        assert_no_fragment(&e, &secret)?;
        if let Some(e) = classify::in_band_with_secret(provider, &body, &secret) {
            assert_no_fragment(&e, &secret)?;
        }
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if let Some(e) = classify::in_band_value_with_secret(provider, &value, &secret) {
            assert_no_fragment(&e, &secret)?;
        }
        // The same error classified without the secret, scrubbed afterwards.
        let later = classify::response(provider, status, &headers, &body).redact_secret(&secret);
        assert_no_fragment(&later, &secret)?;
    }

    #[test]
    fn redact_secret_scrubs_every_field_of_a_hand_built_error(
        secret in secret(),
        pad in padding(),
        field in 0usize..7,
        cut in any::<usize>(),
        whole in any::<bool>(),
    ) {
        let value = planted(&secret, &pad, cut, whole);
        let mut e = ProviderError::new(ErrorKind::Auth, "openai", "denied")
            .with_status(401)
            .with_model("gpt-x");
        e = match field {
            0 => e.with_code(&value),
            1 => e.with_error_type(&value),
            2 => e.with_request_id(&value),
            3 => e.with_model(value),
            4 => e.with_provider(value),
            5 => e.with_source(std::io::Error::other(value)),
            _ => ProviderError::new(ErrorKind::Auth, "openai", &value),
        };
        assert_no_fragment(&e.redact_secret(&secret), &secret)?;
    }
}

#[test]
fn the_examples_from_the_report() {
    let key = "quokka-Mango-7731-zebra-Lime";
    let body = format!(
        r#"{{"error":{{"code":401,"message":"invalid key {}","type":"{key}"}}}}"#,
        &key[..15]
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-request-id",
        HeaderValue::from_static("quokka-Mango-7731-zebra-Lime"),
    );
    let e = classify::response_with_secret(Provider::LlamaCpp, 401, &headers, body.as_bytes(), key);
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert_eq!(
        e.to_string(),
        "llamacpp: auth (401 [REDACTED]): invalid key [REDACTED]"
    );
    assert_eq!(e.request_id(), Some("[REDACTED]"));
    let stream = br#"{"error":{"message":"key quokka-Mango-7731-zebra-Lime refused","type":"authentication_error"}}"#;
    let e = classify::in_band_with_secret(Provider::LlamaCpp, stream, key).unwrap();
    assert_eq!(e.message(), "key [REDACTED] refused");
    assert!(e.first_byte_received());
}
