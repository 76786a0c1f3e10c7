//! `steadfast chat`: one request to a model group, whole or streamed.

use std::io::Write;

use futures_util::StreamExt;
use serde_json::json;
use steadfast_config::{AttemptMetric, CallError, Steadfast};
use steadfast_providers_core::{ChatRequest, Message, StreamEvent};
use steadfast_router::RouterError;

use crate::Ctx;
use crate::args::ChatArgs;
use crate::exit::{ALL_FAILED, Failure};

/// Runs `steadfast chat`.
pub(crate) async fn run(ctx: &Ctx, sf: &Steadfast, args: ChatArgs) -> Result<(), Failure> {
    let group = args
        .model
        .clone()
        .unwrap_or_else(|| sf.default_group().to_owned());
    let mut request = ChatRequest::new(group.clone(), vec![Message::user(args.prompt.clone())]);
    request.system.clone_from(&args.system);
    request.max_tokens = args.max_tokens;
    let mut options = sf.route_options();
    options.prefer.clone_from(&args.prefer);
    if args.no_fallback {
        options.fallback = false;
    }
    if args.stream {
        stream(ctx, sf, &group, &request, options, args.json).await
    } else {
        whole(ctx, sf, &group, &request, options, args.json).await
    }
}

async fn whole(
    ctx: &Ctx,
    sf: &Steadfast,
    group: &str,
    request: &ChatRequest,
    options: steadfast_router::RouteOptions,
    as_json: bool,
) -> Result<(), Failure> {
    let answer = match sf.chat(Some(group), request, options).await {
        Ok(a) => a,
        Err(e) => return Err(failed(ctx, e)),
    };
    ctx.metrics(answer.attempts.iter().map(AttemptMetric::from));
    let mut out = std::io::stdout().lock();
    if as_json {
        let value = json!({
            "group": group,
            "provider": answer.provider,
            "model": answer.model,
            "text": answer.value.text,
            "finish_reason": answer.value.finish_raw,
            "usage": answer.value.usage,
            "cost_usd": answer.cost_usd,
            "fell_back": answer.fell_back(),
            "attempts": answer.attempts.iter().map(AttemptMetric::from).collect::<Vec<_>>(),
        });
        writeln!(out, "{value}")?;
    } else {
        writeln!(out, "{}", answer.value.text)?;
    }
    Ok(())
}

async fn stream(
    ctx: &Ctx,
    sf: &Steadfast,
    group: &str,
    request: &ChatRequest,
    options: steadfast_router::RouteOptions,
    as_json: bool,
) -> Result<(), Failure> {
    let mut answer = match sf.chat_stream(Some(group), request, options).await {
        Ok(a) => a,
        Err(e) => return Err(failed(ctx, e)),
    };
    let mut out = std::io::stdout().lock();
    let mut broke = None;
    while let Some(event) = answer.value.next().await {
        match event {
            Ok(StreamEvent::TextDelta { text }) => {
                if as_json {
                    writeln!(out, "{}", json!({ "delta": text }))?;
                } else {
                    write!(out, "{text}")?;
                }
                out.flush()?;
            }
            Ok(_) => {}
            Err(e) => {
                broke = Some(e);
                break;
            }
        }
    }
    let attempts = answer.value.inner().attempts();
    ctx.metrics(attempts.iter().map(AttemptMetric::from));
    if as_json {
        let value = json!({
            "group": group,
            "provider": answer.value.inner().provider(),
            "model": answer.value.inner().model(),
            "usage": answer.value.usage(),
            "cost_usd": answer.value.cost_usd(),
            "fell_back": answer.fell_back(),
            "complete": broke.is_none(),
            "error": broke.as_ref().map(ToString::to_string),
        });
        writeln!(out, "{value}")?;
    } else {
        writeln!(out)?;
    }
    match broke {
        None => Ok(()),
        Some(e) => Err(Failure::new(
            ALL_FAILED,
            format!("the stream ended incomplete: {e}"),
        )),
    }
}

/// The failure of a call, with its attempts logged when asked.
fn failed(ctx: &Ctx, e: CallError) -> Failure {
    if let CallError::Failed {
        source: RouterError::Failed(f),
        ..
    } = &e
    {
        ctx.metrics(f.attempts.iter().map(AttemptMetric::from));
    }
    Failure::from(e)
}
