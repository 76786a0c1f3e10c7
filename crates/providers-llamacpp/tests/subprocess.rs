//! Integration tests: the llama.cpp provider driving fake binaries (shell scripts), never a
//! real model.
#![cfg(unix)]

use std::error::Error as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use steadfast_errors::{ErrorKind, Provider};
use steadfast_providers_core::{
    ChatProvider, ChatRequest, ContentPart, FinishReason, Message, Role, StreamEvent, Tool,
};
use steadfast_providers_llamacpp::{
    FormatFn, LlamaCppConfig, LlamaCppProvider, PromptFormatter, PromptTemplate, StderrTail,
};
use steadfast_test_kit::{LogCapture, assert_hidden, drain, shown};

const ID: &str = "llama-local";
const MODEL: &str = "qwen2.5-0.5b";

/// Mimics `llama-completion`: records its arguments and prompt, writes logs and the perf
/// report to stderr, the answer and the end-of-text trailer to stdout.
const REPLY: &str = r#"#!/bin/sh
dir="$(dirname "$0")"
if [ "$1" = "--version" ]; then
  echo "version: 4242 (fake0001)" >&2
  echo "built with cc for x86_64-linux-gnu" >&2
  exit 0
fi
printf '%s\n' "$@" > "$dir/args.txt"
while [ $# -gt 0 ]; do
  if [ "$1" = "-f" ]; then cp "$2" "$dir/prompt.txt"; fi
  shift
done
echo "llama_model_loader: loaded meta data with 30 key-value pairs" >&2
printf 'Hello from the fake model!'
printf ' [end of text]\n\n\n'
echo "llama_perf_context_print: prompt eval time =      12.34 ms /    26 tokens (    0.47 ms per token,  2106.97 tokens per second)" >&2
echo "llama_perf_context_print:        eval time =      45.67 ms /     6 runs   (    7.61 ms per token,   131.38 tokens per second)" >&2
"#;

/// Prints slowly, splitting 世 (e4 b8 96) across two writes.
const SLOW: &str = r#"#!/bin/sh
dir="$(dirname "$0")"
printf 'Hel'
sleep 0.3
printf 'lo, \344\270'
sleep 0.3
printf '\226\347\225\214!'
sleep 0.3
printf ' [end of text]\n\n\n'
touch "$dir/finished"
"#;

/// Never finishes.
const SLEEPER: &str = r#"#!/bin/sh
echo $$ > "$(dirname "$0")/pid"
exec sleep 1000
"#;

/// Says something, then never finishes.
const CHATTY: &str = r#"#!/bin/sh
echo $$ > "$(dirname "$0")/pid"
printf 'one two STOP three'
exec sleep 1000
"#;

/// Writes forever.
const FLOOD: &str = r#"#!/bin/sh
echo $$ > "$(dirname "$0")/pid"
exec yes 'lorem ipsum dolor sit amet'
"#;

/// Loads of log lines, then a load failure and exit 1.
const CRASH: &str = r#"#!/bin/sh
i=0
while [ $i -lt 60 ]; do
  echo "llama_model_loader: - kv $i: general.noise str = padding-line-$i-xxxxxxxxxxxxxxxxxxxxxxxx" >&2
  i=$((i+1))
done
echo "llama_model_load: error loading model: tensor 'blk.0.attn_q.weight' data is not within the file bounds" >&2
echo "main: error: unable to load model" >&2
exit 1
"#;

/// A test's own directory of scripts and files, removed at the end.
struct Sandbox {
    dir: PathBuf,
}

impl Sandbox {
    fn new(name: &str) -> Sandbox {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "steadfast-llamacpp-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Sandbox { dir }
    }

    /// An executable script. It is written by `install`, never opened for writing by this
    /// (multi-threaded, forking) process, so running it cannot fail with ETXTBSY.
    fn script(&self, name: &str, body: &str) -> PathBuf {
        let staging = self.dir.join(format!("{name}.txt"));
        std::fs::write(&staging, body).unwrap();
        let path = self.dir.join(name);
        let status = std::process::Command::new("install")
            .arg("-m")
            .arg("755")
            .arg(&staging)
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
        path
    }

    fn model(&self) -> PathBuf {
        let path = self.dir.join("model.gguf");
        std::fs::write(&path, b"GGUF\x03\x00\x00\x00").unwrap();
        path
    }

    fn file(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.join(name)).ok()
    }

    fn config(&self, script: &str, body: &str) -> LlamaCppConfig {
        LlamaCppConfig {
            id: ID.to_owned(),
            binary: self.script(script, body),
            model_path: self.model(),
            ..LlamaCppConfig::default()
        }
    }

    /// The pid the script wrote (waiting briefly for it).
    async fn pid(&self) -> u32 {
        for _ in 0..250 {
            if let Some(pid) = self.file("pid").and_then(|p| p.trim().parse().ok()) {
                return pid;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the script wrote no pid");
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether a process exists at all: running, or a zombie not yet reaped.
fn exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits up to 5 s for a process to be gone (killed *and* reaped).
async fn gone(pid: u32) -> bool {
    for _ in 0..250 {
        if !exists(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

fn request() -> ChatRequest {
    ChatRequest::new(MODEL, vec![Message::user("Say hello.")])
}

#[tokio::test]
async fn chat_runs_the_binary_with_the_rendered_prompt_and_returns_its_answer() {
    let sandbox = Sandbox::new("reply");
    let mut config = sandbox.config("llama-completion", REPLY);
    config.args = vec!["-ngl".into(), "0".into()];
    let model_path = config.model_path.clone();
    let llama = LlamaCppProvider::new(config);

    let mut req = request().with_system("Be kind.").with_max_tokens(32);
    req.temperature = Some(0.2);
    req.extra.insert("seed".into(), serde_json::json!(42));
    let answer = llama.chat(&req).await.unwrap();

    assert_eq!(answer.text, "Hello from the fake model!");
    assert_eq!(answer.finish_reason, Some(FinishReason::Stop));
    assert_eq!(answer.finish_raw.as_deref(), Some("eos"));
    let usage = answer.usage.unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (26, 6));
    assert_eq!(answer.model.as_deref(), Some(MODEL));

    let args: Vec<String> = sandbox
        .file("args.txt")
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let prompt_path = args[3].clone();
    assert_eq!(
        args,
        [
            "-m",
            model_path.to_str().unwrap(),
            "-f",
            prompt_path.as_str(),
            "-no-cnv",
            "--no-display-prompt",
            "--no-escape",
            "-n",
            "32",
            "--temp",
            "0.2",
            "--seed",
            "42",
            "-ngl",
            "0",
        ]
    );
    // The prompt file held the ChatML conversation (plus the newline the binary drops),
    // and is gone once the run is over.
    assert_eq!(
        sandbox.file("prompt.txt").unwrap(),
        "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nSay hello.<|im_end|>\n<|im_start|>assistant\n\n"
    );
    assert!(
        !Path::new(&prompt_path).exists(),
        "the prompt file was left behind"
    );
    assert_eq!(llama.cost(MODEL, &usage), Some(0.0));
    assert_eq!(llama.kind(), Provider::LlamaCpp);
}

#[tokio::test]
async fn a_stream_delivers_text_as_it_is_written_and_joins_split_characters() {
    let sandbox = Sandbox::new("slow");
    let llama = LlamaCppProvider::new(sandbox.config("llama-completion", SLOW));
    let mut stream = llama.chat_stream(&request()).await.unwrap();

    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        StreamEvent::Start {
            id: None,
            model: Some(MODEL.into())
        }
    );
    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        StreamEvent::TextDelta { text: "Hel".into() }
    );
    assert!(
        sandbox.file("finished").is_none(),
        "the first text must arrive while the process still runs"
    );

    let (state, events) = drain(stream).await;
    assert!(state.error().is_none(), "{:?}", state.error());
    let rest: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(format!("Hel{rest}"), "Hello, 世界!");
    assert!(!rest.contains('\u{FFFD}'));
    assert_eq!(
        &events[events.len() - 2..],
        [
            StreamEvent::Finish {
                reason: FinishReason::Stop,
                raw: "eos".into()
            },
            StreamEvent::Done
        ]
    );
}

#[tokio::test]
async fn a_run_past_its_timeout_is_killed_and_reaped() {
    let sandbox = Sandbox::new("sleeper");
    let llama = LlamaCppProvider::new(sandbox.config("llama-completion", SLEEPER));
    let started = Instant::now();
    let err = llama
        .chat(&request().with_timeout(Duration::from_millis(300)))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(err.message().contains("killed"), "{err}");
    assert_eq!((err.provider(), err.model()), (ID, Some(MODEL)));
    // Killed and waited for before the error was sent: no process, not even a zombie.
    let pid = sandbox.pid().await;
    assert!(!exists(pid), "process {pid} still exists after the timeout");

    // The streamed call ends the same way.
    let sandbox = Sandbox::new("sleeper-stream");
    let mut config = sandbox.config("llama-completion", SLEEPER);
    config.timeout = Duration::from_millis(300);
    let (state, _) = drain(
        LlamaCppProvider::new(config)
            .chat_stream(&request())
            .await
            .unwrap(),
    )
    .await;
    let err = state.error().unwrap();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.provider(), ID);
    assert!(!exists(sandbox.pid().await));
}

#[tokio::test]
async fn a_stop_sequence_ends_the_answer_and_the_process() {
    let sandbox = Sandbox::new("stop");
    let llama = LlamaCppProvider::new(sandbox.config("llama-completion", CHATTY));
    let mut req = request();
    req.stop = vec!["STOP".into()];
    let started = Instant::now();
    let answer = llama.chat(&req).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(answer.text, "one two ");
    assert_eq!(answer.finish_reason, Some(FinishReason::Stop));
    assert_eq!(answer.finish_raw.as_deref(), Some("stop"));
    assert!(!exists(sandbox.pid().await));
}

#[tokio::test]
async fn dropping_a_stream_kills_the_process() {
    let sandbox = Sandbox::new("drop");
    let llama = LlamaCppProvider::new(sandbox.config("llama-completion", CHATTY));
    let mut stream = llama.chat_stream(&request()).await.unwrap();
    assert!(matches!(
        stream.next().await,
        Some(Ok(StreamEvent::Start { .. }))
    ));
    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        StreamEvent::TextDelta {
            text: "one two STOP three".into()
        }
    );
    let pid = sandbox.pid().await;
    assert!(exists(pid));
    drop(stream);
    assert!(gone(pid).await, "process {pid} survived its dropped stream");
}

#[tokio::test]
async fn the_idle_timer_of_the_stream_ends_a_silent_run() {
    let sandbox = Sandbox::new("idle");
    let mut config = sandbox.config("llama-completion", CHATTY);
    config.stream.idle = Some(Duration::from_millis(300));
    let llama = LlamaCppProvider::new(config);
    let mut stream = llama.chat_stream(&request()).await.unwrap();
    let mut text = String::new();
    let err = loop {
        match stream.next().await.expect("an error before the end") {
            Ok(StreamEvent::TextDelta { text: t }) => text.push_str(&t),
            Ok(_) => {}
            Err(err) => break err,
        }
    };
    assert_eq!(text, "one two STOP three");
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.message().contains("idle"), "{err}");
    assert_eq!((err.provider(), err.model()), (ID, Some(MODEL)));
    assert!(stream.next().await.is_none());
    let pid = sandbox.pid().await;
    drop(stream);
    assert!(gone(pid).await);
}

#[tokio::test]
async fn output_past_the_limit_is_a_protocol_error_and_the_process_is_killed() {
    let sandbox = Sandbox::new("flood");
    let mut config = sandbox.config("llama-completion", FLOOD);
    config.max_output_bytes = 64 * 1024;
    let llama = LlamaCppProvider::new(config);

    let (state, _) = drain(llama.chat_stream(&request()).await.unwrap()).await;
    let err = state.error().expect("the overflow error");
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err:?}");
    assert!(err.message().contains("max_output_bytes"));
    assert!(state.text().len() <= 64 * 1024);
    assert!(state.text().starts_with("lorem ipsum dolor sit amet\n"));
    assert!(!exists(sandbox.pid().await));

    let err = llama.chat(&request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert_eq!((err.provider(), err.model()), (ID, Some(MODEL)));
}

#[tokio::test]
async fn a_failed_exit_carries_the_end_of_stderr() {
    let sandbox = Sandbox::new("crash");
    let llama = LlamaCppProvider::new(sandbox.config("llama-completion", CRASH));
    let err = llama.chat(&request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server, "{err:?}");
    assert!(err.is_retryable());
    assert_eq!((err.provider(), err.model()), (ID, Some(MODEL)));
    let message = err.message();
    assert!(
        message.starts_with("llama-completion failed (exit status 1): …"),
        "{message}"
    );
    assert!(
        message.ends_with("main: error: unable to load model"),
        "{message}"
    );
    assert!(
        !message.contains("padding-line-0-"),
        "the head of stderr is not the news"
    );

    let tail = err
        .source()
        .and_then(|s| s.downcast_ref::<StderrTail>())
        .expect("the stderr tail as source");
    assert!(
        tail.text().len() <= 2048 && tail.text().len() > 1900,
        "{}",
        tail.text().len()
    );
    assert!(tail.text().ends_with("main: error: unable to load model"));
    assert!(format!("{err:?}").contains("data is not within the file bounds"));

    let (state, _) = drain(llama.chat_stream(&request()).await.unwrap()).await;
    assert_eq!(state.error().unwrap().kind(), ErrorKind::Server);
}

#[tokio::test]
async fn failed_exits_are_classified_by_what_stderr_says() {
    let cases = [
        (
            "gguf_init_from_file: failed to open GGUF file '/models/x.gguf' (No such file or directory)",
            ErrorKind::NotFound,
        ),
        (
            "main: prompt is too long (9000 tokens, max 4092)",
            ErrorKind::ContextLength,
        ),
        (
            "error: invalid argument: --bogus",
            ErrorKind::InvalidRequest,
        ),
        ("Segmentation fault", ErrorKind::Server),
    ];
    for (line, kind) in cases {
        let sandbox = Sandbox::new("classify");
        let body = format!("#!/bin/sh\necho \"{line}\" >&2\nexit 1\n");
        let llama = LlamaCppProvider::new(sandbox.config("llama-completion", &body));
        let err = llama.chat(&request()).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{line}: {err}");
        assert!(
            err.message().contains(line.split(" (").next().unwrap()),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_missing_binary_or_model_is_not_found_and_says_which() {
    let sandbox = Sandbox::new("missing");
    let llama = LlamaCppProvider::new(LlamaCppConfig {
        id: ID.into(),
        binary: sandbox.dir.join("llama-nowhere"),
        model_path: sandbox.model(),
        ..LlamaCppConfig::default()
    });
    let err = llama.chat(&request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.message().contains("llama-nowhere"), "{err}");
    assert!(err.message().contains("LLAMA_CPP_BIN"), "{err}");
    assert_eq!(err.provider(), ID);
    assert_eq!(
        llama.health_check().await.unwrap_err().kind(),
        ErrorKind::NotFound
    );

    let on_path = LlamaCppProvider::new(LlamaCppConfig {
        binary: "steadfast-no-such-llama-binary".into(),
        ..LlamaCppConfig::default()
    });
    let err = match on_path.chat_stream(&request()).await {
        Err(err) => err,
        Ok(_) => panic!("a stream from a missing binary"),
    };
    assert_eq!(err.kind(), ErrorKind::NotFound);

    let mut config = sandbox.config("llama-completion", REPLY);
    config.model_path = sandbox.dir.join("gone.gguf");
    let llama = LlamaCppProvider::new(config);
    let err = llama.chat(&request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.message().contains("gone.gguf"), "{err}");
    assert!(err.message().contains("LLAMA_CPP_MODEL"), "{err}");
    assert!(sandbox.file("args.txt").is_none(), "nothing was started");
    assert_eq!(
        llama.health_check().await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn tools_and_images_are_refused_as_missing_features() {
    let sandbox = Sandbox::new("features");
    let llama = LlamaCppProvider::new(sandbox.config("llama-completion", REPLY));
    assert!(!llama.capabilities().tools && !llama.capabilities().vision);
    let tools = request().with_tool(Tool {
        name: "f".into(),
        description: String::new(),
        parameters: serde_json::json!({"type": "object"}),
    });
    let err = llama.chat(&tools).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.message().contains("tools"));

    let image = ChatRequest::new(
        MODEL,
        vec![Message {
            role: Role::User,
            content: vec![ContentPart::Image {
                url: "data:image/png;base64,AAAA".into(),
            }],
            tool_calls: vec![],
            tool_call_id: None,
        }],
    );
    let err = llama.chat(&image).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    // `not_found` lets a fallback chain move on: the next provider may have the feature.
    assert!(err.kind().may_fall_back());
}

#[tokio::test]
async fn health_check_runs_version_and_checks_the_model() {
    let sandbox = Sandbox::new("health");
    let llama = LlamaCppProvider::new(sandbox.config("llama-completion", REPLY));
    llama.health_check().await.unwrap();
    assert!(
        sandbox.file("args.txt").is_none(),
        "--version only, no generation"
    );

    let crash = LlamaCppProvider::new(sandbox.config("crash", CRASH));
    let err = crash.health_check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.provider(), ID);

    let mut config = sandbox.config("sleeper", SLEEPER);
    config.health_timeout = Duration::from_millis(300);
    let err = LlamaCppProvider::new(config)
        .health_check()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(!exists(sandbox.pid().await));
}

#[tokio::test]
async fn continuation_renders_an_open_assistant_turn() {
    let sandbox = Sandbox::new("resume");
    let llama = LlamaCppProvider::new(sandbox.config("llama-completion", REPLY));
    assert!(llama.capabilities().prefill);
    let next = llama.continuation(&request(), "Hello fr").unwrap();
    llama.chat(&next).await.unwrap();
    assert_eq!(
        sandbox.file("prompt.txt").unwrap(),
        "<|im_start|>user\nSay hello.<|im_end|>\n<|im_start|>assistant\nHello fr\n"
    );
}

#[tokio::test]
async fn templates_and_custom_formatters_shape_the_prompt() {
    let sandbox = Sandbox::new("template");
    let mut config = sandbox.config("llama-completion", REPLY);
    config.template = PromptTemplate::Llama3;
    LlamaCppProvider::new(config)
        .chat(&request())
        .await
        .unwrap();
    assert_eq!(
        sandbox.file("prompt.txt").unwrap(),
        "<|start_header_id|>user<|end_header_id|>\n\nSay hello.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n\n"
    );

    #[derive(Debug)]
    struct Shouty;
    impl PromptFormatter for Shouty {
        fn render(&self, request: &ChatRequest) -> String {
            format!(
                "SAY: {}\n",
                request.messages[0].joined_text().to_uppercase()
            )
        }
        fn stop_sequences(&self) -> Vec<String> {
            vec![" the".into()]
        }
    }
    let mut config = sandbox.config("llama-completion", REPLY);
    config.formatter = Some(Arc::new(Shouty));
    let answer = LlamaCppProvider::new(config)
        .chat(&request())
        .await
        .unwrap();
    assert_eq!(sandbox.file("prompt.txt").unwrap(), "SAY: SAY HELLO.\n\n");
    assert_eq!(answer.text, "Hello from");
    assert_eq!(answer.finish_raw.as_deref(), Some("stop"));

    let mut config = sandbox.config("llama-completion", REPLY);
    config.formatter = Some(Arc::new(FormatFn(|_: &ChatRequest| "raw".to_owned())));
    LlamaCppProvider::new(config)
        .chat(&request())
        .await
        .unwrap();
    assert_eq!(sandbox.file("prompt.txt").unwrap(), "raw\n");
}

#[tokio::test]
async fn an_answer_without_the_end_marker_ends_by_length_or_exit() {
    let sandbox = Sandbox::new("limit");
    let body = "#!/bin/sh\nprintf 'cut short\\n\\n'\n";
    let llama = LlamaCppProvider::new(sandbox.config("llama-completion", body));
    let answer = llama.chat(&request().with_max_tokens(2)).await.unwrap();
    assert_eq!(answer.text, "cut short");
    assert_eq!(answer.finish_reason, Some(FinishReason::Length));
    let answer = llama.chat(&request()).await.unwrap();
    assert_eq!(answer.finish_raw.as_deref(), Some("exit"));
    assert_eq!(answer.usage, None);
}

#[tokio::test]
async fn logs_name_the_run_but_never_the_prompt() {
    let logs = LogCapture::new();
    let _guard = logs.set_default();

    let sandbox = Sandbox::new("logs");
    let llama = LlamaCppProvider::new(sandbox.config("llama-completion", CRASH));
    let secret = ChatRequest::new(MODEL, vec![Message::user("my PIN is 8675309-private")]);
    let err = llama.chat(&secret).await.unwrap_err();
    assert_hidden("the error", &shown(&err), &["8675309"]);

    let logs = logs.text();
    assert!(logs.contains("llama.cpp run"), "{logs}");
    assert!(logs.contains(ID), "{logs}");
    assert_hidden("the logs", &logs, &["8675309"]);
}
