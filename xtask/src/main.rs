//! steadfast's automation, run as `cargo xtask <command>`.
//!
//! - `codegen [--check]` — turn `crates/errors/tables/*.toml` into `generated.rs` and
//!   `docs/error-mapping.md`, and `crates/catalog/data/*.toml` into the catalog's
//!   `generated.rs` and `docs/models.md`; `--check` fails if any is stale.
//! - `conformance [--fixtures DIR]… [--verbose]` — run wire-format fixtures (default:
//!   `tests/conformance`) and end with `N passed, M failed`.
//! - `bench [--quick]` — build `steadfast-bench` in release mode and run it: each subject
//!   next to its raw baseline, measured in the same run.
//! - `inject-failures [--quick] [--seed N] [--json]` — the failure-injection suite: real
//!   providers behind the real router against fault-injecting loopback servers in four wire
//!   formats; exits non-zero below target (`--help` explains the options).
//! - `real-llamacpp` — the llama.cpp-server preset against a real `llama-server` with a tiny
//!   random-weight model, both cached under `~/.cache/steadfast/llama`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod codegen;
mod codegen_models;
mod conformance;
mod inject;
mod llamacpp;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  codegen [--check]                         regenerate the error tables and the model catalog (or check they are fresh)
  conformance [--fixtures DIR]... [--verbose]  run wire-format fixtures (default: tests/conformance)
  bench [--quick] [--only S,…] [--litellm]  benchmarks against raw baselines, in release mode
  inject-failures [--quick] [--seed N] [--json]  the failure-injection suite on local fault servers
  real-llamacpp                             the llama.cpp-server preset against a real llama-server
                                            (built once and cached under ~/.cache/steadfast/llama)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("codegen") => codegen_cmd(&args[1..]),
        Some("conformance") => conformance_cmd(&args[1..]),
        Some("bench") => bench_cmd(&args[1..]),
        Some("inject-failures") => inject_cmd(&args[1..]),
        Some("real-llamacpp") => match args[1..] {
            [] => llamacpp::run(),
            _ => Err(format!("real-llamacpp takes no arguments\n\n{USAGE}")),
        },
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(true)
        }
        _ => Err(format!("unknown or missing command\n\n{USAGE}")),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn codegen_cmd(args: &[String]) -> Result<bool, String> {
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => return Err(format!("codegen takes only --check\n\n{USAGE}")),
    };
    let mut outputs = codegen::generate(&workspace_root())?;
    outputs.extend(codegen_models::generate(&workspace_root())?);
    if check {
        let stale = codegen::stale(&workspace_root(), &outputs);
        for path in &stale {
            eprintln!("stale: {} (run `cargo xtask codegen`)", path.display());
        }
        if stale.is_empty() {
            println!("codegen: generated files are fresh");
        }
        Ok(stale.is_empty())
    } else {
        for out in &outputs {
            let path = workspace_root().join(&out.path);
            std::fs::write(&path, &out.contents)
                .map_err(|e| format!("writing {}: {e}", path.display()))?;
            println!("wrote {}", out.path.display());
        }
        Ok(true)
    }
}

fn conformance_cmd(args: &[String]) -> Result<bool, String> {
    let mut dirs = Vec::new();
    let mut verbose = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--fixtures" => {
                let dir = it.next().ok_or("--fixtures needs a directory")?;
                dirs.push(PathBuf::from(dir));
            }
            "--verbose" | "-v" => verbose = true,
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }
    if dirs.is_empty() {
        dirs.push(workspace_root().join("tests/conformance"));
    }
    let mut summary = conformance::Summary::default();
    for dir in &dirs {
        if !dir.is_dir() {
            return Err(format!("{} is not a directory", dir.display()));
        }
        summary.merge(conformance::run_dir(dir));
    }
    for line in summary.lines(verbose) {
        println!("{line}");
    }
    println!("{}", summary.closing_line());
    Ok(summary.failed == 0)
}

const INJECT_USAGE: &str = "usage: cargo xtask inject-failures [--quick] [--seed N] [--json]

  --quick    120 calls per scenario instead of 500
  --seed N   which requests get faults (default 1); the same seed reproduces a run
  --json     print the report as JSON (targets, measurements, missed targets) instead of a table";

fn inject_cmd(args: &[String]) -> Result<bool, String> {
    let mut options = inject::Options {
        quick: false,
        seed: 1,
        json: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--json" => options.json = true,
            "--seed" => {
                let n = it.next().ok_or("--seed needs a number")?;
                options.seed = n
                    .parse()
                    .map_err(|_| format!("--seed takes a whole number, not `{n}`"))?;
            }
            "-h" | "--help" => {
                println!("{INJECT_USAGE}");
                return Ok(true);
            }
            other => return Err(format!("unknown argument `{other}`\n\n{INJECT_USAGE}")),
        }
    }
    inject::run(options)
}

fn bench_cmd(args: &[String]) -> Result<bool, String> {
    // `--only a,b` (sections: micro, streams, loopback, inprocess, memory, outofprocess,
    // gateway, shared); `--litellm` adds LiteLLM's proxy to the gateway section.
    let mut rest = args.iter();
    while let Some(a) = rest.next() {
        match a.as_str() {
            "--quick" | "--litellm" => {}
            "--only" if rest.next().is_some() => {}
            bad => return Err(format!("unknown argument `{bad}`\n\n{USAGE}")),
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Every binary of the bench crate: the out-of-process section starts `fake-upstream`
    // from beside the benchmark.
    let built = std::process::Command::new(&cargo)
        .current_dir(workspace_root())
        .args([
            "build",
            "--quiet",
            "--release",
            "--package",
            "steadfast-bench",
            "--bins",
        ])
        .status()
        .map_err(|e| format!("building the benchmarks: {e}"))?;
    if !built.success() {
        return Ok(false);
    }
    let status = std::process::Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "run",
            "--quiet",
            "--release",
            "--package",
            "steadfast-bench",
            "--bin",
            "steadfast-bench",
            "--",
        ])
        .args(args)
        .status()
        .map_err(|e| format!("running the benchmarks: {e}"))?;
    Ok(status.success())
}

/// The workspace root: the parent of this crate's manifest directory.
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}
