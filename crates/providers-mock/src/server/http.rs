//! A minimal HTTP/1.1 server side, written by hand so that faults can be exact: reading a
//! request (`content-length` or chunked body, keep-alive), and writing heads, chunks and
//! whole bodies byte for byte.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest request head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// One parsed request.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) target: String,
    /// Header names in lowercase, in order.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// Whether the client wants the connection kept open after the response.
    pub(crate) keep_alive: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query string.
    pub(crate) fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Reads requests from one connection, keeping bytes that arrive early for the next one.
#[derive(Debug)]
pub(crate) struct Reader {
    buf: Vec<u8>,
    max_body: usize,
}

impl Reader {
    pub(crate) fn new(max_body: usize) -> Reader {
        Reader {
            buf: Vec::with_capacity(8 * 1024),
            max_body,
        }
    }

    /// Reads more bytes; `false` at end of input.
    async fn fill<R: AsyncRead + Unpin>(&mut self, sock: &mut R) -> io::Result<bool> {
        let mut chunk = [0u8; 8 * 1024];
        let n = sock.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// Waits until `buf` holds `needle` at or after `from`; its position.
    async fn find<R: AsyncRead + Unpin>(
        &mut self,
        sock: &mut R,
        from: usize,
        needle: &[u8],
        limit: usize,
    ) -> io::Result<usize> {
        loop {
            if let Some(at) = self.buf[from.min(self.buf.len())..]
                .windows(needle.len())
                .position(|w| w == needle)
            {
                return Ok(from + at);
            }
            if self.buf.len() > limit {
                return Err(invalid("request head or chunk line too large"));
            }
            if !self.fill(sock).await? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Waits until `buf` holds at least `n` bytes.
    async fn need<R: AsyncRead + Unpin>(&mut self, sock: &mut R, n: usize) -> io::Result<()> {
        while self.buf.len() < n {
            if !self.fill(sock).await? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(())
    }

    /// The next request; `None` when the client closed the connection between requests.
    pub(crate) async fn next<R: AsyncRead + Unpin>(
        &mut self,
        sock: &mut R,
    ) -> io::Result<Option<Request>> {
        while self.buf.is_empty() {
            if !self.fill(sock).await? {
                return Ok(None);
            }
        }
        let head_end = self.find(sock, 0, b"\r\n\r\n", MAX_HEAD).await?;
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| invalid("request head is not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let mut parts = lines.next().unwrap_or("").split(' ');
        let (Some(method), Some(target), Some(version)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("bad request line"));
        };
        let mut headers = Vec::new();
        for line in lines {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| invalid("bad header line"))?;
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        let mut request = Request {
            method: method.to_owned(),
            target: target.to_owned(),
            headers,
            body: Vec::new(),
            keep_alive: false,
        };
        let connection = request
            .header("connection")
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        request.keep_alive = if version == "HTTP/1.0" {
            connection.contains("keep-alive")
        } else {
            !connection.contains("close")
        };
        let chunked = request
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let length = request
            .header("content-length")
            .map(|v| {
                v.parse::<usize>()
                    .map_err(|_| invalid("bad content-length"))
            })
            .transpose()?;
        self.buf.drain(..head_end + 4);

        if chunked {
            request.body = self.chunked_body(sock).await?;
        } else if let Some(length) = length {
            if length > self.max_body {
                return Err(invalid("request body too large"));
            }
            self.need(sock, length).await?;
            request.body = self.buf.drain(..length).collect();
        }
        Ok(Some(request))
    }

    async fn chunked_body<R: AsyncRead + Unpin>(&mut self, sock: &mut R) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line_end = self.find(sock, 0, b"\r\n", 1024).await?;
            let line = std::str::from_utf8(&self.buf[..line_end])
                .map_err(|_| invalid("bad chunk size"))?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size =
                usize::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk size"))?;
            self.buf.drain(..line_end + 2);
            if size == 0 {
                // Trailers, then the blank line.
                loop {
                    let end = self.find(sock, 0, b"\r\n", MAX_HEAD).await?;
                    self.buf.drain(..end + 2);
                    if end == 0 {
                        return Ok(body);
                    }
                }
            }
            if body.len() + size > self.max_body {
                return Err(invalid("request body too large"));
            }
            self.need(sock, size + 2).await?;
            body.extend_from_slice(&self.buf[..size]);
            self.buf.drain(..size + 2);
        }
    }
}

/// The reason phrase of a status.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        529 => "Site Overloaded",
        _ => "Status",
    }
}

/// A response head.
pub(crate) fn head(status: u16, headers: &[(String, String)]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// `data` framed as one HTTP chunk.
pub(crate) fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// The last chunk of a chunked body.
pub(crate) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Writes everything and flushes.
pub(crate) async fn send<W: AsyncWrite + Unpin>(sock: &mut W, bytes: &[u8]) -> io::Result<()> {
    sock.write_all(bytes).await?;
    sock.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_pipelined_requests_with_both_body_framings() {
        let wire: &[u8] = b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloPOST /a?b=1 HTTP/1.1\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        let mut sock = wire;
        let mut reader = Reader::new(1024);
        let first = reader.next(&mut sock).await.unwrap().unwrap();
        assert_eq!(
            (first.method.as_str(), first.path()),
            ("POST", "/v1/messages")
        );
        assert_eq!(first.body, b"hello");
        assert!(first.keep_alive);
        assert_eq!(first.header("host"), Some("x"));
        let second = reader.next(&mut sock).await.unwrap().unwrap();
        assert_eq!(second.path(), "/a");
        assert_eq!(second.body, b"abcde");
        assert!(!second.keep_alive);
        assert!(reader.next(&mut sock).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn refuses_an_oversized_body_and_a_cut_head() {
        let mut sock: &[u8] = b"POST / HTTP/1.1\r\ncontent-length: 99999\r\n\r\n";
        let err = Reader::new(1024).next(&mut sock).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let mut sock: &[u8] = b"POST / HTTP/1.1\r\nhost";
        let err = Reader::new(1024).next(&mut sock).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
