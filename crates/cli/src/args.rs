//! The command line, as clap types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Reliable calls to AI model providers: retries, circuit breakers, fallback, resumable
/// streams — configured in one file.
#[derive(Debug, Parser)]
#[command(name = "steadfast", version, about, after_help = crate::exit::EXIT_CODES_HELP)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// The config file (TOML, or JSON by extension). Default: $STEADFAST_CONFIG, else
    /// ./steadfast.toml when it exists, else every provider whose key variable is set.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Print one JSON record per provider attempt to stderr.
    #[arg(long, global = true)]
    pub(crate) log_metrics: bool,
    /// More log output on stderr (-v warnings, -vv info, -vvv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// No log output; errors are one line.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Ask a model group; the answer streams to stdout as it arrives with --stream.
    Chat(ChatArgs),
    /// Generate a video with a video deployment (runway, xai-video), showing progress.
    Video(VideoArgs),
    /// Generate an image with an image deployment (openai-image, xai-image, pollinations-image).
    Image(ImageArgs),
    /// Probe every deployment once and show health, breaker and error rate.
    Status(JsonFlag),
    /// List the deployments' models with prices and context windows.
    Models(JsonFlag),
    /// Serve the config's groups as an OpenAI-compatible HTTP gateway (POST /v1/chat/completions).
    Serve(ServeArgs),
    /// Config file commands.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `steadfast chat`.
#[derive(Debug, Args)]
pub(crate) struct ChatArgs {
    /// The prompt.
    pub(crate) prompt: String,
    /// The model group to ask. Default: the config's default group.
    #[arg(long, short = 'm', value_name = "GROUP")]
    pub(crate) model: Option<String>,
    /// Try this deployment first.
    #[arg(long, value_name = "DEPLOYMENT")]
    pub(crate) prefer: Option<String>,
    /// Call one deployment only (with its retries): no fallback.
    #[arg(long)]
    pub(crate) no_fallback: bool,
    /// Stream the answer as it arrives.
    #[arg(long)]
    pub(crate) stream: bool,
    /// A system prompt.
    #[arg(long, value_name = "TEXT")]
    pub(crate) system: Option<String>,
    /// The most tokens to generate.
    #[arg(long, value_name = "N")]
    pub(crate) max_tokens: Option<u32>,
    /// Print JSON: one object, or with --stream one line per chunk and a summary line.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `steadfast video`.
#[derive(Debug, Args)]
pub(crate) struct VideoArgs {
    /// The prompt.
    pub(crate) prompt: String,
    /// Length in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) duration: Option<u32>,
    /// Use this video deployment first.
    #[arg(long, value_name = "DEPLOYMENT")]
    pub(crate) prefer: Option<String>,
    /// Try only the first (or preferred) video deployment.
    #[arg(long)]
    pub(crate) no_fallback: bool,
    /// Download the video into this file (its URL is still printed with --json).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `steadfast image`.
#[derive(Debug, Args)]
pub(crate) struct ImageArgs {
    /// The prompt.
    pub(crate) prompt: String,
    /// The size, e.g. 1024x1024.
    #[arg(long)]
    pub(crate) size: Option<String>,
    /// Use this image deployment first.
    #[arg(long, value_name = "DEPLOYMENT")]
    pub(crate) prefer: Option<String>,
    /// Try only the first (or preferred) image deployment.
    #[arg(long)]
    pub(crate) no_fallback: bool,
    /// Write the first image to this file: its bytes as the provider sent them inline, or
    /// downloaded from its URL.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `steadfast serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on. Default: `[gateway] listen`, else 127.0.0.1:4000.
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<String>,
    /// Allow a non-loopback address although no gateway key is configured.
    #[arg(long)]
    pub(crate) allow_unauthenticated_remote: bool,
}

/// A `--json` flag alone.
#[derive(Debug, Args)]
pub(crate) struct JsonFlag {
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `steadfast config …`.
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Parse and build a config file, reporting the first error with its line and field.
    Check {
        /// The file.
        file: PathBuf,
    },
}
