//! `PollinationsImageProvider`: synchronous `GET {base}/{prompt}?width&height&model&seed`,
//! answered with the image bytes themselves.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steadfast_errors::{Provider, ProviderError, classify};
use steadfast_providers_core::http::{Caller, default_client};
use steadfast_providers_core::secret::{HeaderNames, RedactedUrl};
use steadfast_providers_core::{
    ApiKey, GeneratedImage, ImageProvider, ImageRequest, ImageResponse,
};

use crate::common::{self, Service};

/// Pollinations' current image endpoint (`gen.pollinations.ai`, keys from
/// `enter.pollinations.ai`); the prompt is appended as the last path segment.
pub const POLLINATIONS_BASE_URL: &str = "https://gen.pollinations.ai/image";
/// The older anonymous endpoint (`image.pollinations.ai/prompt/{prompt}`), still answered
/// for the free tier.
pub const POLLINATIONS_LEGACY_BASE_URL: &str = "https://image.pollinations.ai/prompt";

/// The environment variables read for the token, in order.
pub const POLLINATIONS_API_KEY_VARS: &[&str] = &["POLLINATIONS_API_TOKEN", "POLLINATIONS_API_KEY"];

/// Configuration of a [`PollinationsImageProvider`].
///
/// ```
/// use steadfast_providers_media::{PollinationsConfig, POLLINATIONS_LEGACY_BASE_URL};
///
/// let config: PollinationsConfig = serde_json::from_str(r#"{
///     "base_url": "https://image.pollinations.ai/prompt",
///     "download": false,
///     "nologo": true
/// }"#).unwrap();
/// assert_eq!(config.base_url, POLLINATIONS_LEGACY_BASE_URL);
/// assert_eq!(config.model.as_deref(), Some("flux"));
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PollinationsConfig {
    /// The instance id shown in errors. Default `pollinations`.
    pub id: String,
    /// The URL the URL-encoded prompt is appended to. Default [`POLLINATIONS_BASE_URL`];
    /// [`POLLINATIONS_LEGACY_BASE_URL`] for the older keyless endpoint.
    #[serde(serialize_with = "steadfast_providers_core::secret::serialize_url")]
    pub base_url: String,
    /// Sent as `Authorization: Bearer` when set (never in the URL). Never serialized.
    #[serde(skip_serializing)]
    pub api_key: Option<ApiKey>,
    /// The timeout of each request; the image is drawn while the request waits. Default
    /// 120 s.
    #[serde(with = "steadfast_errors::serde_duration")]
    pub timeout: Duration,
    /// The model when the request names none; `None` sends no model. Default `flux`.
    pub model: Option<String>,
    /// Fetch the image and return it as base64 (`true`), or return only the URL that draws
    /// it when fetched (`false`: no request is made at all). Default `true`.
    pub download: bool,
    /// Send `nologo=true` (registered users). Default `false`.
    pub nologo: bool,
    /// The largest image accepted, in bytes. Default 32 MiB.
    pub max_image_bytes: usize,
    /// `GET` target of [`health_check`](PollinationsImageProvider::health_check). Default
    /// `https://gen.pollinations.ai/image/models`.
    pub health_url: String,
    /// Extra headers sent with every request. Values never print and are read from
    /// files but never written back.
    #[serde(skip_serializing)]
    pub headers: BTreeMap<String, String>,
}

impl fmt::Debug for PollinationsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollinationsConfig")
            .field("id", &self.id)
            .field("base_url", &RedactedUrl(&self.base_url))
            .field("api_key", &self.api_key)
            .field("timeout", &self.timeout)
            .field("model", &self.model)
            .field("download", &self.download)
            .field("nologo", &self.nologo)
            .field("max_image_bytes", &self.max_image_bytes)
            .field("health_url", &self.health_url)
            .field("headers", &HeaderNames(&self.headers))
            .finish()
    }
}

impl Default for PollinationsConfig {
    fn default() -> Self {
        PollinationsConfig {
            id: "pollinations".to_owned(),
            base_url: POLLINATIONS_BASE_URL.to_owned(),
            api_key: None,
            timeout: Duration::from_secs(120),
            model: Some("flux".to_owned()),
            download: true,
            nologo: false,
            max_image_bytes: 32 * 1024 * 1024,
            health_url: "https://gen.pollinations.ai/image/models".to_owned(),
            headers: BTreeMap::new(),
        }
    }
}

impl PollinationsConfig {
    /// The defaults, with the token from `POLLINATIONS_API_TOKEN` (or `POLLINATIONS_API_KEY`).
    pub fn from_env() -> PollinationsConfig {
        PollinationsConfig {
            api_key: ApiKey::from_env(POLLINATIONS_API_KEY_VARS),
            ..PollinationsConfig::default()
        }
    }
}

/// Pollinations image generation: one `GET {base_url}/{url-encoded prompt}` per image, with
/// `width`/`height` (from the request's `WxH` size), `model`, `seed`, `nologo` and the
/// request's `extra` fields (`enhance`, `private`, `safe`, …) as query parameters. The
/// answer is the image itself (JPEG, usually), returned as
/// [`GeneratedImage::b64_json`] together with its URL; with `download: false` only the URL
/// is returned and nothing is fetched. For `n > 1` one request per image is made, each with
/// its own seed (the request's `extra.seed` plus the image's index, or a random one), since
/// the same URL returns the same cached image. The token, when set, travels as a bearer
/// header, never in the URL.
#[derive(Clone)]
pub struct PollinationsImageProvider {
    config: PollinationsConfig,
    client: reqwest::Client,
}

impl fmt::Debug for PollinationsImageProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        common::debug_provider(
            f,
            "PollinationsImageProvider",
            &self.config.id,
            &self.config.base_url,
            self.config.api_key.is_some(),
        )
    }
}

impl PollinationsImageProvider {
    /// A provider with its own [`default_client`].
    pub fn new(config: PollinationsConfig) -> PollinationsImageProvider {
        PollinationsImageProvider::with_client(config, default_client())
    }

    /// A provider sharing `client` with others.
    ///
    /// Build `client` with [`redirect_policy`](steadfast_providers_core::http::redirect_policy)
    /// (as [`default_client`](steadfast_providers_core::http::default_client) is): a client that
    /// follows a redirect to another origin sends the key there before the answer is refused.
    pub fn with_client(
        config: PollinationsConfig,
        client: reqwest::Client,
    ) -> PollinationsImageProvider {
        PollinationsImageProvider { config, client }
    }

    /// Its configuration.
    pub fn config(&self) -> &PollinationsConfig {
        &self.config
    }

    /// A cheap call: `GET` [`PollinationsConfig::health_url`] (the image model list).
    pub async fn health_check(&self) -> Result<(), ProviderError> {
        self.service().health_check(&self.config.health_url).await
    }

    /// The URL that draws the image for `request` (seed `seed`), without any credential.
    ///
    /// ```
    /// use steadfast_providers_core::ImageRequest;
    /// use steadfast_providers_media::{PollinationsConfig, PollinationsImageProvider};
    ///
    /// let p = PollinationsImageProvider::new(PollinationsConfig::default());
    /// let request = ImageRequest { prompt: "a red fox / at dawn?".into(), size: Some("512x256".into()), ..Default::default() };
    /// assert_eq!(
    ///     p.image_url(&request, Some(7)).unwrap(),
    ///     "https://gen.pollinations.ai/image/a%20red%20fox%20%2F%20at%20dawn%3F?width=512&height=256&model=flux&seed=7"
    /// );
    /// ```
    pub fn image_url(
        &self,
        request: &ImageRequest,
        seed: Option<u64>,
    ) -> Result<String, ProviderError> {
        let model = request.model.as_deref().or(self.config.model.as_deref());
        let caller = self.caller(model.unwrap_or(""));
        let mut url = url::Url::parse(&self.config.base_url)
            .map_err(|e| common::invalid(&caller, &format!("base_url is not a URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| common::invalid(&caller, "base_url cannot take a path"))?
            .pop_if_empty()
            .push(&request.prompt);
        let size = match request.size.as_deref() {
            Some(size) => Some(parse_size(size).ok_or_else(|| {
                common::invalid(&caller, &format!("size `{size}` is not WIDTHxHEIGHT"))
            })?),
            None => None,
        };
        {
            let mut query = url.query_pairs_mut();
            if let Some((w, h)) = size {
                query.append_pair("width", &w.to_string());
                query.append_pair("height", &h.to_string());
            }
            if let Some(m) = model {
                query.append_pair("model", m);
            }
            if let Some(s) = seed {
                query.append_pair("seed", &s.to_string());
            }
            if self.config.nologo {
                query.append_pair("nologo", "true");
            }
            for (k, v) in &request.extra {
                if k == "seed" {
                    continue;
                }
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => continue,
                    other => other.to_string(),
                };
                query.append_pair(k, &v);
            }
        }
        let mut url = String::from(url);
        if url.ends_with('?') {
            url.pop();
        }
        Ok(url)
    }

    fn service(&self) -> Service<'_> {
        Service {
            dialect: Provider::Pollinations,
            id: &self.config.id,
            base_url: &self.config.base_url,
            key: self.config.api_key.as_ref(),
            key_vars: None,
            headers: &self.config.headers,
            fixed_header: None,
            timeout: self.config.timeout,
            client: &self.client,
        }
    }

    fn caller<'a>(&'a self, model: &'a str) -> Caller<'a> {
        self.service().caller(model)
    }

    async fn fetch(
        &self,
        caller: &Caller<'_>,
        url: String,
    ) -> Result<GeneratedImage, ProviderError> {
        let service = self.service();
        let key = service.key(caller)?;
        let response = caller
            .send(service.request(reqwest::Method::GET, &url, key))
            .await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let body = caller.body(response).await?;
        if !content_type.starts_with("image/") {
            // A 200 that is not an image: an error object if it holds one, else a protocol error.
            return Err(caller.label(classify::response_with_secret(
                Provider::Pollinations,
                status,
                &headers,
                &body,
                caller.secret(),
            )));
        }
        if body.len() > self.config.max_image_bytes {
            return Err(common::protocol(caller, "image exceeds max_image_bytes"));
        }
        Ok(GeneratedImage {
            url: Some(url),
            b64_json: Some(base64::engine::general_purpose::STANDARD.encode(&body)),
            revised_prompt: None,
        })
    }
}

/// `"1024x768"` (or `1024X768`, `1024*768`) → `(1024, 768)`.
fn parse_size(size: &str) -> Option<(u32, u32)> {
    let (w, h) = size.split_once(['x', 'X', '*'])?;
    Some((w.trim().parse().ok()?, h.trim().parse().ok()?))
}

#[async_trait]
impl ImageProvider for PollinationsImageProvider {
    fn id(&self) -> &str {
        &self.config.id
    }

    fn kind(&self) -> Provider {
        Provider::Pollinations
    }

    async fn generate_image(&self, request: &ImageRequest) -> Result<ImageResponse, ProviderError> {
        let model = request.model.as_deref().or(self.config.model.as_deref());
        let caller = self.caller(model.unwrap_or(""));
        if request.prompt.trim().is_empty() {
            return Err(common::invalid(&caller, "an image request needs a prompt"));
        }
        let n = request.n.unwrap_or(1).max(1);
        let seed = request.extra.get("seed").and_then(Value::as_u64);
        let mut images = Vec::with_capacity(n as usize);
        for i in 0..u64::from(n) {
            let seed = match (seed, n) {
                (Some(s), _) => Some(s.wrapping_add(i)),
                (None, 1) => None,
                (None, _) => Some(fastrand::u64(..u64::from(u32::MAX))),
            };
            let url = self.image_url(request, seed)?;
            images.push(if self.config.download {
                self.fetch(&caller, url).await?
            } else {
                GeneratedImage {
                    url: Some(url),
                    ..GeneratedImage::default()
                }
            });
        }
        Ok(ImageResponse {
            images,
            model: model.map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_their_usual_spellings() {
        assert_eq!(parse_size("1024x768"), Some((1024, 768)));
        assert_eq!(parse_size("512X512"), Some((512, 512)));
        assert_eq!(parse_size("square"), None);
    }
}
