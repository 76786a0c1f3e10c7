//! `steadfast video`: a video job on the config's video deployments, with live progress on
//! stderr (one updating line on a terminal, plain lines otherwise).

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use serde_json::json;
use steadfast_config::Steadfast;
use steadfast_providers_core::{JobProgress, ProgressFn, VideoRequest};
use steadfast_providers_media::fallback::VideoFallbackError;

use crate::Ctx;
use crate::args::VideoArgs;
use crate::exit::{ALL_FAILED, Failure, USAGE};

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
        Err(e @ VideoFallbackError::UnknownProvider(_)) => {
            return Err(Failure::new(USAGE, e.to_string()));
        }
        Err(e) => return Err(Failure::new(ALL_FAILED, e.to_string())),
    };
    let urls = generated.video.urls.join("\n");
    if let Some(path) = &args.out {
        std::fs::write(path, format!("{urls}\n"))?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let failed: Vec<_> = generated
            .failed
            .iter()
            .map(|f| json!({"provider": f.provider, "kind": f.kind.as_str(), "status": f.status, "attempts": f.attempts}))
            .collect();
        let value = json!({
            "provider": generated.provider,
            "job_id": generated.video.job_id,
            "model": generated.video.model,
            "urls": generated.video.urls,
            "failed": failed,
        });
        writeln!(out, "{value}")?;
    } else if args.out.is_none() {
        writeln!(out, "{urls}")?;
    }
    Ok(())
}
