"""The real anthropic-sdk-python against a steadfast gateway's /v1/messages: one case per run.

    python test_anthropic_sdk.py CASE[,CASE…] BASE_URL KEY EXPECTED_TEXT [TOOL_ARGS]

Run by crates/gateway/tests/sdk.rs, which starts the gateway and its upstreams and sets
up the faults each case needs. Exits non-zero (an AssertionError) when a case fails; several cases separated by commas
run in order in one process (the SDK takes seconds to import).
"""

import json
import sys

import anthropic

CASE, BASE_URL, KEY, EXPECTED = sys.argv[1:5]
TOOL_ARGS = sys.argv[5] if len(sys.argv) > 5 else None
MESSAGES = [{"role": "user", "content": "count"}]
TOOLS = [{"name": "count", "input_schema": {"type": "object"}}]


def client(key=KEY):
    return anthropic.Anthropic(base_url=BASE_URL, api_key=key, max_retries=0, timeout=60)


def create(**kwargs):
    return client().messages.create(model="chat", max_tokens=256, messages=MESSAGES, **kwargs)


def text_of(message):
    return "".join(b.text for b in message.content if b.type == "text")


def whole():
    message = create()
    assert message.type == "message", message
    assert message.role == "assistant", message
    assert message.id.startswith("msg_"), message
    assert text_of(message) == EXPECTED, message
    assert message.stop_reason == "end_turn", message
    assert message.usage.output_tokens > 0, message
    return message


def streamed():
    with client().messages.stream(model="chat", max_tokens=256, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == EXPECTED, repr(text)
    assert text_of(final) == EXPECTED, final
    assert final.stop_reason == "end_turn", final
    assert final.usage.output_tokens > 0, final


def raw_events():
    names = [event.type for event in create(stream=True)]
    assert names[0] == "message_start", names
    assert names[-2:] == ["message_delta", "message_stop"], names
    assert "content_block_delta" in names, names


def tools():
    with client().messages.stream(
        model="chat", max_tokens=256, messages=MESSAGES, tools=TOOLS
    ) as stream:
        final = stream.get_final_message()
    calls = [b for b in final.content if b.type == "tool_use"]
    assert len(calls) == 1, final
    assert calls[0].name == "count", calls
    assert calls[0].input == json.loads(TOOL_ARGS), calls
    assert final.stop_reason == "tool_use", final


def x_api_key():
    # Older SDKs and many agent tools send the key as `x-api-key`.
    keyed = anthropic.Anthropic(
        base_url=BASE_URL, api_key=None, default_headers={"x-api-key": KEY}, max_retries=0
    )
    message = keyed.messages.create(model="chat", max_tokens=256, messages=MESSAGES)
    assert text_of(message) == EXPECTED, message


def stream_error():
    text = ""
    try:
        with client().messages.stream(model="chat", max_tokens=256, messages=MESSAGES) as stream:
            for chunk in stream.text_stream:
                text += chunk
    except anthropic.APIStatusError as e:
        assert e.body["error"]["type"] in ("api_error", "overloaded_error"), e.body
        assert "could not be finished" in e.body["error"]["message"], e.body
        assert EXPECTED.startswith(text), repr(text)
        return
    raise AssertionError("the stream ended cleanly after a truncated answer: %r" % text)


def all_down():
    for stream in (False, True):
        try:
            if stream:
                with client().messages.stream(model="chat", max_tokens=256, messages=MESSAGES) as s:
                    s.get_final_message()
            else:
                create()
        except anthropic.RateLimitError as e:
            raise AssertionError("a provider outage is not a local rate limit: %s" % e)
        except anthropic.InternalServerError as e:
            assert e.status_code == 503, e.status_code
            assert e.body["type"] == "error", e.body
            assert e.body["error"]["type"] == "overloaded_error", e.body
            attempts = e.body["error"]["attempts"]
            assert [a["provider"] for a in attempts] == ["primary", "secondary"], attempts
            called = [a for a in attempts if a["outcome"] == "failed"]
            assert called and all(a["status"] == 503 for a in called), attempts
            continue
        raise AssertionError("no error with every provider down")


def rate_limited():
    whole()
    whole()
    try:
        create()
    except anthropic.RateLimitError as e:
        assert e.status_code == 429
        assert e.body["error"]["type"] == "rate_limit_error", e.body
        assert int(e.response.headers["retry-after"]) >= 1
        return
    raise AssertionError("the local limit did not refuse")


def wrong_key():
    try:
        client("not-the-key").messages.create(model="chat", max_tokens=256, messages=MESSAGES)
    except anthropic.AuthenticationError as e:
        assert e.status_code == 401
        assert e.body["error"]["type"] == "authentication_error", e.body
        return
    raise AssertionError("a wrong gateway key was let in")


def unknown_model():
    try:
        client().messages.create(model="no-such-group", max_tokens=256, messages=MESSAGES)
    except anthropic.NotFoundError as e:
        assert e.status_code == 404
        return
    raise AssertionError("an unknown group was answered")


def no_max_tokens():
    try:
        client().post(
            "/v1/messages",
            cast_to=object,
            body={"model": "chat", "messages": MESSAGES},
        )
    except anthropic.BadRequestError as e:
        assert e.body["error"]["type"] == "invalid_request_error", e.body
        assert "max_tokens" in e.body["error"]["message"], e.body
        return
    raise AssertionError("a request without max_tokens was answered")


CASES = {
    "whole": whole,
    "stream": streamed,
    "raw_events": raw_events,
    "tools": tools,
    "x_api_key": x_api_key,
    "fail_before": lambda: (whole(), streamed()),
    "fail_after": streamed,
    "stream_error": stream_error,
    "all_down": all_down,
    "rate_limited": rate_limited,
    "wrong_key": wrong_key,
    "unknown_model": unknown_model,
    "no_max_tokens": no_max_tokens,
}

for name in CASE.split(","):
    CASES[name]()
    print("ok", name)
