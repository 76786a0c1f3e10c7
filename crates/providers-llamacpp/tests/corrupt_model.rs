//! A model file llama.cpp cannot load (corrupt, truncated, not GGUF) fails the same way on
//! every try, so it is classified as a permanent failure of this provider, never retried.
#![cfg(unix)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use futures_util::StreamExt;
use steadfast_errors::ErrorKind;
use steadfast_providers_core::{ChatProvider, ChatRequest, Message};
use steadfast_providers_llamacpp::{LlamaCppConfig, LlamaCppProvider};

/// What llama.cpp prints for a file that is not GGUF at all.
const BAD_MAGIC: &str = r#"#!/bin/sh
echo "llama_model_loader: loading model from /models/x.gguf" >&2
echo "gguf_init_from_file_impl: invalid magic characters: 'PK', expected 'GGUF'" >&2
echo "llama_model_load: error loading model: llama_model_loader: failed to load model from /models/x.gguf" >&2
echo "llama_model_load_from_file_impl: failed to load model" >&2
echo "main: error: unable to load model" >&2
exit 1
"#;

/// A truncated file: the header reads, the tensors do not.
const TRUNCATED: &str = r#"#!/bin/sh
echo "llama_model_load: error loading model: tensor 'blk.0.attn_q.weight' data is not within the file bounds, model is corrupted or incomplete" >&2
echo "main: error: unable to load model" >&2
exit 1
"#;

/// The GGUF header itself is unreadable.
const BAD_HEADER: &str = r#"#!/bin/sh
echo "gguf_init_from_file_impl: failed to read key-value pairs" >&2
echo "llama_model_load: error loading model: llama_model_loader: failed to load model from /models/x.gguf" >&2
exit 1
"#;

/// Loading ran out of GPU memory: another try may find it free, so this stays retryable.
const OUT_OF_MEMORY: &str = r#"#!/bin/sh
echo "ggml_backend_cuda_buffer_type_alloc_buffer: allocating 8192.00 MiB on device 0: cudaMalloc failed: out of memory" >&2
echo "llama_model_load: error loading model: unable to allocate CUDA0 buffer" >&2
echo "main: error: unable to load model" >&2
exit 1
"#;

struct Sandbox {
    dir: PathBuf,
}

impl Sandbox {
    fn new(name: &str) -> Sandbox {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "steadfast-llamacpp-corrupt-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Sandbox { dir }
    }

    /// A provider running `body` as its binary (installed, never opened for writing here).
    fn provider(&self, body: &str) -> LlamaCppProvider {
        let staging = self.dir.join("llama-completion.txt");
        std::fs::write(&staging, body).unwrap();
        let binary = self.dir.join("llama-completion");
        let status = std::process::Command::new("install")
            .args(["-m", "755"])
            .arg(&staging)
            .arg(&binary)
            .status()
            .unwrap();
        assert!(status.success());
        let model_path = self.dir.join("model.gguf");
        std::fs::write(&model_path, b"PK\x03\x04 not a gguf").unwrap();
        LlamaCppProvider::new(LlamaCppConfig {
            id: "llama-local".to_owned(),
            binary,
            model_path,
            ..LlamaCppConfig::default()
        })
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn request() -> ChatRequest {
    ChatRequest::new("qwen2.5-0.5b", vec![Message::user("Say hello.")])
}

#[tokio::test]
async fn a_model_that_cannot_be_loaded_is_permanent_in_chat_and_stream() {
    for (name, script) in [
        ("magic", BAD_MAGIC),
        ("truncated", TRUNCATED),
        ("header", BAD_HEADER),
    ] {
        let sandbox = Sandbox::new(name);
        let llama = sandbox.provider(script);
        let err = llama.chat(&request()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{name}: {err}");
        assert!(
            !err.is_retryable(),
            "{name}: every retry would fail the same way"
        );
        assert!(
            err.kind().may_fall_back(),
            "{name}: another provider may have a good model"
        );
        assert!(err.message().contains("load"), "{name}: {err}");

        let mut stream = llama.chat_stream(&request()).await.unwrap();
        let mut stream_err = None;
        while let Some(item) = stream.next().await {
            if let Err(e) = item {
                stream_err = Some(e);
            }
        }
        let stream_err = stream_err.expect("the stream ends with the load error");
        assert_eq!(
            stream_err.kind(),
            ErrorKind::NotFound,
            "{name}: {stream_err}"
        );
        assert!(!stream_err.is_retryable());
    }
}

#[tokio::test]
async fn running_out_of_memory_while_loading_stays_retryable() {
    let sandbox = Sandbox::new("oom");
    let err = sandbox
        .provider(OUT_OF_MEMORY)
        .chat(&request())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server, "{err}");
    assert!(err.is_retryable());
}
