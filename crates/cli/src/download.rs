//! `--out FILE` for media: the job's result fetched from its URL into the file, streamed
//! (a video is never held in memory whole), under a timeout, without the API key (the
//! URL is the provider's CDN, another origin).

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::exit::{Failure, OTHER};

/// The longest a download may take.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// Fetches `url` into `path` (written to a temporary file beside it, then renamed, so a
/// failed download leaves no truncated file); the number of bytes written.
pub(crate) async fn download(url: &str, path: &Path) -> Result<u64, Failure> {
    let failed = |what: String| Failure::new(OTHER, format!("downloading {url}: {what}"));
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(DOWNLOAD_TIMEOUT)
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        return Err(failed(format!("HTTP {}", response.status().as_u16())));
    }
    let partial = path.with_extension("part");
    let mut file = tokio::fs::File::create(&partial).await?;
    let mut written = 0u64;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                drop(file);
                let _ = tokio::fs::remove_file(&partial).await;
                return Err(failed(e.to_string()));
            }
        };
        file.write_all(&chunk).await?;
        written += chunk.len() as u64;
    }
    file.flush().await?;
    drop(file);
    tokio::fs::rename(&partial, path).await?;
    Ok(written)
}
