//! `steadfast image`: images from the config's image deployments.

use std::io::Write;

use base64::Engine;
use serde_json::json;
use steadfast_config::{AttemptMetric, MediaError, Steadfast};
use steadfast_providers_core::ImageRequest;

use crate::Ctx;
use crate::args::ImageArgs;
use crate::download::download;
use crate::exit::{ALL_FAILED, Failure, OTHER, USAGE};

/// Runs `steadfast image`.
pub(crate) async fn run(ctx: &Ctx, sf: &Steadfast, args: ImageArgs) -> Result<(), Failure> {
    let request = ImageRequest {
        prompt: args.prompt.clone(),
        size: args.size.clone(),
        ..ImageRequest::default()
    };
    let routed = match sf
        .generate_image(&request, args.prefer.as_deref(), !args.no_fallback)
        .await
    {
        Ok(r) => r,
        Err(e @ MediaError::UnknownProvider { .. }) => {
            return Err(Failure::new(USAGE, e.to_string()));
        }
        Err(e) => {
            if let MediaError::Failed { attempts, .. } = &e {
                ctx.metrics(attempts.iter().map(AttemptMetric::from));
            }
            return Err(Failure::new(ALL_FAILED, e.to_string()));
        }
    };
    ctx.metrics(routed.attempts.iter().map(AttemptMetric::from));
    let (provider, response) = (&routed.provider, &routed.value);
    if let Some(path) = &args.out {
        let first = response
            .images
            .first()
            .ok_or_else(|| Failure::new(OTHER, "the provider returned no image"))?;
        match (&first.b64_json, &first.url) {
            (Some(b64), _) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|e| {
                        Failure::new(OTHER, format!("the image data is not base64: {e}"))
                    })?;
                std::fs::write(path, bytes)?;
            }
            (None, Some(url)) => {
                download(url, path).await?;
            }
            (None, None) => return Err(Failure::new(OTHER, "the image has neither data nor URL")),
        }
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
            json!({"provider": provider, "model": response.model, "images": images, "cost_usd": routed.cost_usd})
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
