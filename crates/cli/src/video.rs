//! `steadfast video`: a video job on the config's video deployments, with live progress.

use crate::Ctx;
use crate::args::VideoArgs;
use crate::exit::{Failure, OTHER};
use steadfast_config::Steadfast;

/// Runs `steadfast video`.
pub(crate) async fn run(_ctx: &Ctx, _sf: &Steadfast, _args: VideoArgs) -> Result<(), Failure> {
    Err(Failure::new(OTHER, "video is not available yet"))
}
