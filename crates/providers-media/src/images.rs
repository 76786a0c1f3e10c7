//! `OpenAiImageProvider`: `POST {base}/images/generations` on OpenAI and every compatible
//! server, and the request/response handling xAI's image endpoint shares with it.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use steadfast_errors::{Provider, ProviderError, classify};
use steadfast_providers_core::http::default_client;
use steadfast_providers_core::secret::{HeaderNames, RedactedUrl};
use steadfast_providers_core::{
    ApiKey, GeneratedImage, ImageProvider, ImageRequest, ImageResponse,
};

use crate::common::{self, Service};

/// OpenAI's API base.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// The environment variables read for the key, in order.
pub const OPENAI_API_KEY_VARS: &[&str] = &["OPENAI_API_KEY"];

/// How the server should return images (`response_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ImageFormat {
    /// A URL to fetch the image from (OpenAI's expire after an hour).
    Url,
    /// The image inline, base64.
    B64Json,
}

impl ImageFormat {
    fn as_str(self) -> &'static str {
        match self {
            ImageFormat::Url => "url",
            ImageFormat::B64Json => "b64_json",
        }
    }
}

/// Configuration of an [`OpenAiImageProvider`].
///
/// ```
/// use steadfast_providers_media::{ImageFormat, OpenAiImageConfig};
///
/// let config: OpenAiImageConfig = serde_json::from_str(r#"{
///     "id": "local-sd",
///     "base_url": "http://127.0.0.1:8080/v1",
///     "model": "sdxl",
///     "response_format": "b64_json"
/// }"#).unwrap();
/// assert_eq!(config.response_format, Some(ImageFormat::B64Json));
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiImageConfig {
    /// The instance id shown in errors. Default `openai`.
    pub id: String,
    /// The API base, up to and including `/v1`. Default [`OPENAI_BASE_URL`].
    #[serde(serialize_with = "steadfast_providers_core::secret::serialize_url")]
    pub base_url: String,
    /// Sent as `Authorization: Bearer` when set (local servers may need none). Never
    /// serialized.
    #[serde(skip_serializing)]
    pub api_key: Option<ApiKey>,
    /// The error dialect of the server. Default [`Provider::OpenAi`].
    pub dialect: Provider,
    /// The timeout of the request; image generation is slow. Default 120 s.
    #[serde(with = "steadfast_errors::serde_duration")]
    pub timeout: Duration,
    /// The model when the request names none; `None` sends no model. Default `gpt-image-1`.
    pub model: Option<String>,
    /// `response_format` to ask for; `None` leaves it to the server. Never sent for
    /// `gpt-image-*` models, which reject it and always answer base64. Default none.
    pub response_format: Option<ImageFormat>,
    /// Extra headers sent with every request. Values never print and are read from
    /// files but never written back.
    #[serde(skip_serializing)]
    pub headers: BTreeMap<String, String>,
}

impl fmt::Debug for OpenAiImageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiImageConfig")
            .field("id", &self.id)
            .field("base_url", &RedactedUrl(&self.base_url))
            .field("api_key", &self.api_key)
            .field("dialect", &self.dialect)
            .field("timeout", &self.timeout)
            .field("model", &self.model)
            .field("response_format", &self.response_format)
            .field("headers", &HeaderNames(&self.headers))
            .finish()
    }
}

impl Default for OpenAiImageConfig {
    fn default() -> Self {
        OpenAiImageConfig {
            id: "openai".to_owned(),
            base_url: OPENAI_BASE_URL.to_owned(),
            api_key: None,
            dialect: Provider::OpenAi,
            timeout: Duration::from_secs(120),
            model: Some("gpt-image-1".to_owned()),
            response_format: None,
            headers: BTreeMap::new(),
        }
    }
}

impl OpenAiImageConfig {
    /// The defaults, with the key from `OPENAI_API_KEY`.
    pub fn from_env() -> OpenAiImageConfig {
        OpenAiImageConfig {
            api_key: ApiKey::from_env(OPENAI_API_KEY_VARS),
            ..OpenAiImageConfig::default()
        }
    }
}

/// Image generation on any OpenAI-compatible `POST {base}/images/generations`: `model`,
/// `prompt`, `size`, `n`, `response_format` and the request's `extra` fields in the body;
/// `data[].url | b64_json | revised_prompt` in the answer.
#[derive(Clone)]
pub struct OpenAiImageProvider {
    config: OpenAiImageConfig,
    client: reqwest::Client,
}

impl fmt::Debug for OpenAiImageProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        common::debug_provider(
            f,
            "OpenAiImageProvider",
            &self.config.id,
            &self.config.base_url,
            self.config.api_key.is_some(),
        )
    }
}

impl OpenAiImageProvider {
    /// A provider with its own [`default_client`].
    pub fn new(config: OpenAiImageConfig) -> OpenAiImageProvider {
        OpenAiImageProvider::with_client(config, default_client())
    }

    /// A provider sharing `client` with others.
    ///
    /// Build `client` with [`redirect_policy`](steadfast_providers_core::http::redirect_policy)
    /// (as [`default_client`](steadfast_providers_core::http::default_client) is): a client that
    /// follows a redirect to another origin sends the key there before the answer is refused.
    pub fn with_client(config: OpenAiImageConfig, client: reqwest::Client) -> OpenAiImageProvider {
        OpenAiImageProvider { config, client }
    }

    /// Its configuration.
    pub fn config(&self) -> &OpenAiImageConfig {
        &self.config
    }

    /// A cheap authenticated call: `GET {base}/models`.
    pub async fn health_check(&self) -> Result<(), ProviderError> {
        let service = self.endpoint().service;
        service.health_check(&service.url("/models")).await
    }

    fn endpoint(&self) -> Endpoint<'_> {
        Endpoint {
            service: Service {
                dialect: self.config.dialect,
                id: &self.config.id,
                base_url: &self.config.base_url,
                key: self.config.api_key.as_ref(),
                key_vars: None,
                headers: &self.config.headers,
                fixed_header: None,
                timeout: self.config.timeout,
                client: &self.client,
            },
            path: "/images/generations",
            model: self.config.model.as_deref(),
            response_format: self.config.response_format,
            send_size: true,
        }
    }
}

#[async_trait]
impl ImageProvider for OpenAiImageProvider {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn kind(&self) -> Provider {
        self.config.dialect
    }

    async fn generate_image(&self, request: &ImageRequest) -> Result<ImageResponse, ProviderError> {
        self.endpoint().generate(request).await
    }
}

/// One OpenAI-style images endpoint, as the OpenAI and xAI providers configure it.
#[derive(Debug)]
pub(crate) struct Endpoint<'a> {
    pub(crate) service: Service<'a>,
    pub(crate) path: &'a str,
    pub(crate) model: Option<&'a str>,
    pub(crate) response_format: Option<ImageFormat>,
    /// xAI's image API does not take `size`.
    pub(crate) send_size: bool,
}

#[derive(Debug, Deserialize)]
struct ImagesBody {
    #[serde(default)]
    data: Vec<ImageData>,
    #[serde(default)]
    model: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ImageData {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    b64_json: Option<String>,
    #[serde(default)]
    revised_prompt: Option<String>,
}

impl Endpoint<'_> {
    pub(crate) fn body(&self, request: &ImageRequest, model: Option<&str>) -> Map<String, Value> {
        let mut body = Map::new();
        common::put(&mut body, "model", model);
        body.insert("prompt".into(), request.prompt.as_str().into());
        common::put(&mut body, "n", request.n);
        if self.send_size {
            common::put(&mut body, "size", request.size.as_deref());
        } else if request.size.is_some() {
            tracing::debug!(
                provider = self.service.id,
                "size is not accepted by this API; not sent"
            );
        }
        let gpt_image = model.is_some_and(|m| m.starts_with("gpt-image"));
        if !gpt_image {
            common::put(
                &mut body,
                "response_format",
                self.response_format.map(ImageFormat::as_str),
            );
        }
        common::merge(&mut body, &request.extra);
        body
    }

    pub(crate) async fn generate(
        &self,
        request: &ImageRequest,
    ) -> Result<ImageResponse, ProviderError> {
        let model = request.model.as_deref().or(self.model);
        let service = &self.service;
        let caller = service.caller(model.unwrap_or(""));
        let key = service.key(&caller)?;
        if request.prompt.trim().is_empty() {
            return Err(common::invalid(&caller, "an image request needs a prompt"));
        }
        let body = self.body(request, model);
        let http = service
            .request(Method::POST, &service.url(self.path), key)
            .json(&body);
        let response = caller.send(http).await?;
        let (parsed, raw) = common::json::<ImagesBody>(&caller, response).await?;
        if let Some(err) =
            classify::in_band_value_with_secret(service.dialect, &raw, caller.secret())
        {
            return Err(caller.label(err));
        }
        let images: Vec<GeneratedImage> = parsed
            .data
            .into_iter()
            .filter(|d| d.url.is_some() || d.b64_json.is_some())
            .map(|d| GeneratedImage {
                url: d.url,
                b64_json: d.b64_json.map(strip_data_url),
                revised_prompt: d.revised_prompt,
            })
            .collect();
        if images.is_empty() {
            return Err(common::protocol(&caller, "the response holds no image"));
        }
        Ok(ImageResponse {
            images,
            model: parsed.model.or_else(|| model.map(str::to_owned)),
        })
    }
}

/// xAI has been seen answering `b64_json` as a whole data URL (`data:image/png;base64,…`);
/// keep only the base64 payload.
fn strip_data_url(b64: String) -> String {
    match b64
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(";base64,"))
    {
        Some((_, payload)) => payload.to_owned(),
        None => b64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls_are_reduced_to_their_payload() {
        assert_eq!(
            strip_data_url("data:image/png;base64,iVBORw0".into()),
            "iVBORw0"
        );
        assert_eq!(strip_data_url("iVBORw0".into()), "iVBORw0");
    }

    #[test]
    fn gpt_image_models_never_get_a_response_format() {
        let headers = BTreeMap::new();
        let client = reqwest::Client::new();
        let endpoint = Endpoint {
            service: Service {
                dialect: Provider::OpenAi,
                id: "openai",
                base_url: OPENAI_BASE_URL,
                key: None,
                key_vars: None,
                headers: &headers,
                fixed_header: None,
                timeout: Duration::from_secs(1),
                client: &client,
            },
            path: "/images/generations",
            model: None,
            response_format: Some(ImageFormat::Url),
            send_size: true,
        };
        let request = ImageRequest {
            prompt: "a fox".into(),
            ..ImageRequest::default()
        };
        assert!(
            !endpoint
                .body(&request, Some("gpt-image-1"))
                .contains_key("response_format")
        );
        assert_eq!(
            endpoint.body(&request, Some("dall-e-3"))["response_format"],
            "url"
        );
    }
}
