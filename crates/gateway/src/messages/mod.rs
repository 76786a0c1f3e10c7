//! The Anthropic Messages wire format (`POST /v1/messages`): the request read into
//! steadfast's [`ChatRequest`](steadfast_providers_core::ChatRequest), the answer and its
//! stream events written back.
//!
//! The route is the chat completions route in another dialect: the same router, fallback,
//! resume, headers and limits; only the translation differs.

pub mod request;
pub mod response;
pub(crate) mod stream;
