//! Writing a response: whole bodies, and answers with a body fault applied (cut, ended
//! early, malformed, dripped, broken by an in-band error, stalled).

use std::io;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::Fault;
use super::http;
use super::wire::Layout;

pub(super) fn connection_header(keep_alive: bool) -> (String, String) {
    let value = if keep_alive { "keep-alive" } else { "close" };
    ("connection".to_owned(), value.to_owned())
}

/// Writes a whole JSON response with a `content-length`.
pub(super) async fn respond_whole(
    sock: &mut TcpStream,
    status: u16,
    extra: &[(String, String)],
    body: &str,
    keep_alive: bool,
) -> io::Result<()> {
    let mut headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("content-length".to_owned(), body.len().to_string()),
        connection_header(keep_alive),
    ];
    headers.extend_from_slice(extra);
    let mut bytes = http::head(status, &headers);
    bytes.extend_from_slice(body.as_bytes());
    http::send(sock, &bytes).await
}

/// How a written answer ends.
enum End {
    /// The body is complete (its last chunk, or all of its length, was written).
    Complete,
    /// These bytes (half an event), then the connection is closed.
    Cut(String),
    /// Nothing more; the connection is held open until the client leaves.
    Stall,
}

/// Writes an answer with `fault` applied to its body; whether the connection stays open.
pub(super) async fn emit(
    sock: &mut TcpStream,
    layout: &Layout,
    fault: &Fault,
    id_header: (String, String),
    keep_alive: bool,
) -> io::Result<bool> {
    let units: Vec<&str> = layout
        .preamble
        .iter()
        .chain(&layout.content)
        .chain(&layout.epilogue)
        .map(String::as_str)
        .collect();
    let first = layout.preamble.len();
    let content_end = first + layout.content.len();
    // Faults that cut never reach the terminator (the last unit).
    let before_end = |n: usize| (first + n).min(units.len().saturating_sub(1));
    let mut drip = None;
    let (written, end): (Vec<&str>, End) = match fault {
        Fault::CutAfter { chunks } if !units.is_empty() => {
            let at = before_end(*chunks);
            let unit = units[at];
            let mut half = unit.len() / 2;
            while !unit.is_char_boundary(half) {
                half -= 1;
            }
            (units[..at].to_vec(), End::Cut(unit[..half].to_owned()))
        }
        Fault::EndAfter { chunks } => (units[..before_end(*chunks)].to_vec(), End::Complete),
        Fault::Malformed { after } => {
            let mut w = units[..(first + after).min(content_end)].to_vec();
            w.push(&layout.malformed);
            (w, End::Complete)
        }
        Fault::InBandError { after } if layout.streamed => {
            let mut w = units[..(first + after).min(content_end)].to_vec();
            w.push(&layout.in_band_error);
            (w, End::Complete)
        }
        Fault::InBandError { .. } => (vec![layout.in_band_error.as_str()], End::Complete),
        Fault::Stall { after } => (units[..before_end(*after)].to_vec(), End::Stall),
        Fault::SlowDrip { per_chunk } => {
            drip = Some(*per_chunk);
            (units.clone(), End::Complete)
        }
        _ => (units.clone(), End::Complete),
    };
    let keep_alive = keep_alive && matches!(end, End::Complete);

    let mut headers = if layout.streamed {
        vec![
            ("content-type".to_owned(), layout.content_type.to_owned()),
            ("cache-control".to_owned(), "no-cache".to_owned()),
            ("transfer-encoding".to_owned(), "chunked".to_owned()),
        ]
    } else {
        // A cut or stalled body promises all of its length and delivers less.
        let length: usize = match end {
            End::Complete => written.iter().map(|u| u.len()).sum(),
            End::Cut(_) | End::Stall => units.iter().map(|u| u.len()).sum(),
        };
        vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("content-length".to_owned(), length.to_string()),
        ]
    };
    headers.push(connection_header(keep_alive));
    headers.push(id_header);

    let frame = |data: &str| {
        if layout.streamed {
            http::chunk(data.as_bytes())
        } else {
            data.as_bytes().to_vec()
        }
    };
    let mut pending = http::head(200, &headers);
    for (i, unit) in written.iter().enumerate() {
        if let Some(every) = drip
            && i >= first
        {
            http::send(sock, &pending).await?;
            pending.clear();
            tokio::time::sleep(every).await;
        }
        pending.extend_from_slice(&frame(unit));
        // One write per event, as a streaming server flushes them.
        if layout.streamed {
            http::send(sock, &pending).await?;
            pending.clear();
        }
    }
    match end {
        End::Complete => {
            if layout.streamed {
                pending.extend_from_slice(http::LAST_CHUNK);
            }
            http::send(sock, &pending).await?;
            Ok(keep_alive)
        }
        End::Cut(partial) => {
            if !partial.is_empty() {
                pending.extend_from_slice(&frame(&partial));
            }
            http::send(sock, &pending).await?;
            Ok(false)
        }
        End::Stall => {
            http::send(sock, &pending).await?;
            // Say nothing; return when the client hangs up.
            let mut scratch = [0u8; 1024];
            while sock.read(&mut scratch).await.unwrap_or(0) > 0 {}
            Ok(false)
        }
    }
}
