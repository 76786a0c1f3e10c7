//! What the benchmark's helper processes share: they end with their parent, read their
//! flags the same way, and announce their address on one line.

use std::io::{Read, Write};

/// Exits this process when its standard input closes: the parent holds it, so a helper
/// never outlives the benchmark that started it.
pub(crate) fn exit_with_stdin() {
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
        std::process::exit(0);
    });
}

/// The value after `flag` on the command line, parsed; `None` when absent or unreadable.
pub(crate) fn arg<T: std::str::FromStr>(flag: &str) -> Option<T> {
    std::env::args()
        .skip_while(|a| a != flag)
        .nth(1)
        .and_then(|v| v.parse().ok())
}

/// Prints `listening on ADDR`, the line the benchmark waits for.
pub(crate) fn announce(addr: std::net::SocketAddr) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening on {addr}");
    let _ = out.flush();
}
