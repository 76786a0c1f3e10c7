//! `steadfast image`: images from the config's image deployments.

use std::io::Write;

use base64::Engine;
use serde_json::json;
use steadfast_config::{ImageError, Steadfast};
use steadfast_providers_core::ImageRequest;

use crate::args::ImageArgs;
use crate::exit::{ALL_FAILED, Failure, OTHER, USAGE};

/// Runs `steadfast image`.
pub(crate) async fn run(sf: &Steadfast, args: ImageArgs) -> Result<(), Failure> {
    let request = ImageRequest {
        prompt: args.prompt.clone(),
        size: args.size.clone(),
        ..ImageRequest::default()
    };
    let (provider, response) = match sf
        .generate_image(&request, args.prefer.as_deref(), !args.no_fallback)
        .await
    {
        Ok(r) => r,
        Err(e @ ImageError::UnknownProvider(_)) => return Err(Failure::new(USAGE, e.to_string())),
        Err(e) => return Err(Failure::new(ALL_FAILED, e.to_string())),
    };
    if let Some(path) = &args.out {
        let first = response
            .images
            .first()
            .ok_or_else(|| Failure::new(OTHER, "the provider returned no image"))?;
        let bytes = match (&first.b64_json, &first.url) {
            (Some(b64), _) => base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| Failure::new(OTHER, format!("the image data is not base64: {e}")))?,
            (None, Some(url)) => format!("{url}\n").into_bytes(),
            (None, None) => return Err(Failure::new(OTHER, "the image has neither data nor URL")),
        };
        std::fs::write(path, bytes)?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let images: Vec<_> = response
            .images
            .iter()
            .map(|i| json!({"url": i.url, "inline": i.b64_json.is_some(), "revised_prompt": i.revised_prompt}))
            .collect();
        writeln!(
            out,
            "{}",
            json!({"provider": provider, "model": response.model, "images": images})
        )?;
    } else if args.out.is_none() {
        for image in &response.images {
            match &image.url {
                Some(url) => writeln!(out, "{url}")?,
                None => writeln!(out, "(inline image: use --out FILE to save it)")?,
            }
        }
    }
    Ok(())
}
