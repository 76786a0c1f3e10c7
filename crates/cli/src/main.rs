//! `steadfast`: the command line over a steadfast config — chat, video, status, models and
//! config checks. Every behaviour here is a library call (`steadfast-config`); this binary
//! parses arguments, prints, and picks the exit code.

mod args;
mod chat;
mod download;
mod exit;
mod image;
mod inspect;
mod serve;
mod video;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use steadfast_config::{AttemptMetric, Steadfast};
use tracing_subscriber::filter::LevelFilter;

use crate::args::{Cli, Command, ConfigCommand, Global};
use crate::exit::Failure;

/// mimalloc rather than the system allocator: a gateway call makes about 130 small
/// allocations (hyper, reqwest, serde, the router), and glibc's malloc and free were a sixth
/// of its instructions (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What every command needs from the global options.
#[derive(Debug)]
pub(crate) struct Ctx {
    log_metrics: bool,
    /// `-q`: no progress display.
    pub(crate) quiet: bool,
}

impl Ctx {
    /// Prints one JSON line per attempt on stderr, when `--log-metrics` asked for it.
    pub(crate) fn metrics(&self, records: impl Iterator<Item = AttemptMetric>) {
        if !self.log_metrics {
            return;
        }
        let mut err = std::io::stderr().lock();
        for r in records {
            if let Ok(line) = serde_json::to_string(&r) {
                let _ = writeln!(err, "{line}");
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return exit::code(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    init_logs(&cli.global);
    let runtime = match if matches!(cli.command, Command::Serve(_)) {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    }
    .enable_all()
    .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "steadfast: cannot start the runtime: {e}"
            );
            return exit::code(exit::OTHER);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => exit::code(exit::OK),
        Err(f) => {
            let _ = writeln!(std::io::stderr(), "steadfast: {}", f.message);
            exit::code(f.code)
        }
    }
}

fn init_logs(global: &Global) {
    let level = if global.quiet {
        LevelFilter::OFF
    } else {
        match global.verbose {
            0 => LevelFilter::ERROR,
            1 => LevelFilter::WARN,
            2 => LevelFilter::INFO,
            _ => LevelFilter::DEBUG,
        }
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .init();
}

/// The config: `--config`, else `$STEADFAST_CONFIG`, else `./steadfast.toml` when it
/// exists, else the environment's keys.
fn load(global: &Global) -> Result<Steadfast, Failure> {
    Ok(match config_path(global) {
        Some(p) => Steadfast::from_path(p)?,
        None => Steadfast::from_env()?,
    })
}

/// Where the config comes from, when a file is named or found.
fn config_path(global: &Global) -> Option<std::path::PathBuf> {
    let from_env_var = std::env::var_os("STEADFAST_CONFIG").filter(|v| !v.is_empty());
    global
        .config
        .clone()
        .or_else(|| from_env_var.map(Into::into))
        .or_else(|| {
            Path::new("steadfast.toml")
                .exists()
                .then(|| "steadfast.toml".into())
        })
}

/// The config for commands that are useful without one (`models`): a named or found file
/// must load; with neither, the environment's keys are used when set, else none.
fn load_if_any(global: &Global) -> Result<Option<Steadfast>, Failure> {
    match config_path(global) {
        Some(p) => Ok(Some(Steadfast::from_path(p)?)),
        None => Ok(Steadfast::from_env().ok()),
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let ctx = Ctx {
        log_metrics: cli.global.log_metrics,
        quiet: cli.global.quiet,
    };
    match cli.command {
        Command::Config(ConfigCommand::Check { file }) => inspect::check(&file),
        Command::Chat(args) => chat::run(&ctx, &load(&cli.global)?, args).await,
        Command::Video(args) => video::run(&ctx, &load(&cli.global)?, args).await,
        Command::Image(args) => image::run(&ctx, &load(&cli.global)?, args).await,
        Command::Status(flag) => inspect::status(&load(&cli.global)?, flag.json).await,
        Command::Serve(args) => {
            serve::run(
                load(&cli.global)?,
                config_path(&cli.global).as_deref(),
                args,
            )
            .await
        }
        Command::Models(flag) => inspect::models(load_if_any(&cli.global)?.as_ref(), flag.json),
    }
}
