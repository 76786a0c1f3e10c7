//! `steadfast video`: a video job on the config's video deployments, with live progress on
//! stderr (one updating line on a terminal, plain lines otherwise).

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use serde_json::json;
use steadfast_config::{AttemptMetric, MediaError, Steadfast};
use steadfast_providers_core::{JobProgress, ProgressFn, VideoRequest};

use crate::Ctx;
use crate::args::VideoArgs;
use crate::download::download;
use crate::exit::{ALL_FAILED, Failure, OTHER, USAGE};

/// One progress report as text.
fn describe(p: &JobProgress) -> String {
    let status = format!("{:?}", p.status).to_lowercase();
    let percent = p
        .progress
        .map(|f| format!(" {:.0}%", f * 100.0))
        .unwrap_or_default();
    format!(
        "video job {}: {status}{percent} ({:.1}s)",
        p.job_id,
        p.elapsed.as_secs_f64()
    )
}

/// Runs `steadfast video`.
pub(crate) async fn run(ctx: &Ctx, sf: &Steadfast, args: VideoArgs) -> Result<(), Failure> {
    let request = VideoRequest {
        prompt: args.prompt.clone(),
        duration_secs: args.duration,
        ..VideoRequest::default()
    };
    let progress: Option<ProgressFn> = (!ctx.quiet).then(|| {
        let live = std::io::stderr().is_terminal();
        let report: ProgressFn = Arc::new(move |p: &JobProgress| {
            let mut err = std::io::stderr().lock();
            let _ = if live {
                write!(err, "\r\x1b[2K{}", describe(p))
            } else {
                writeln!(err, "{}", describe(p))
            };
            let _ = err.flush();
        });
        report
    });
    let result = sf
        .generate_video(
            &request,
            args.prefer.as_deref(),
            !args.no_fallback,
            progress,
        )
        .await;
    if !ctx.quiet && std::io::stderr().is_terminal() {
        let _ = writeln!(std::io::stderr());
    }
    let generated = match result {
        Ok(g) => g,
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
    ctx.metrics(generated.attempts.iter().map(AttemptMetric::from));
    let video = &generated.value;
    if let Some(path) = &args.out {
        let url = video
            .urls
            .first()
            .ok_or_else(|| Failure::new(OTHER, "the job finished without a video URL"))?;
        download(url, path).await?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let attempts: Vec<_> = generated
            .attempts
            .iter()
            .map(|a| serde_json::to_value(AttemptMetric::from(a)).unwrap_or_default())
            .collect();
        let value = json!({
            "provider": generated.provider,
            "job_id": video.job_id,
            "model": video.model,
            "urls": video.urls,
            "cost_usd": generated.cost_usd,
            "attempts": attempts,
            "saved": args.out,
        });
        writeln!(out, "{value}")?;
    } else if args.out.is_none() {
        writeln!(out, "{}", video.urls.join("\n"))?;
    }
    Ok(())
}
