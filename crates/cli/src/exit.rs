//! Exit codes, and how a failure maps to one.

use std::process::ExitCode;

/// The answer was given.
pub(crate) const OK: u8 = 0;
/// Anything else went wrong (writing the output, a video job).
pub(crate) const OTHER: u8 = 1;
/// The command line was wrong (clap's own code), or it named a group that does not exist.
pub(crate) const USAGE: u8 = 2;
/// Every provider tried failed, or the router refused the call.
pub(crate) const ALL_FAILED: u8 = 3;
/// The config could not be read, parsed or built.
pub(crate) const CONFIG: u8 = 4;

/// The exit codes, as `--help` shows them.
pub(crate) const EXIT_CODES_HELP: &str = "Exit codes: 0 ok, 1 other error, 2 usage (or unknown group), \
3 all providers failed, 4 config error.";

/// A command's failure: the exit code and the message for stderr.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<steadfast_config::ConfigError> for Failure {
    fn from(e: steadfast_config::ConfigError) -> Failure {
        Failure::new(CONFIG, format!("config error: {e}"))
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::new(OTHER, format!("output error: {e}"))
    }
}

impl From<steadfast_config::CallError> for Failure {
    fn from(e: steadfast_config::CallError) -> Failure {
        match e {
            steadfast_config::CallError::UnknownGroup(_) => Failure::new(USAGE, e.to_string()),
            _ => Failure::new(ALL_FAILED, e.to_string()),
        }
    }
}

/// The process exit code of `code`.
pub(crate) fn code(code: u8) -> ExitCode {
    ExitCode::from(code)
}
