"""The real openai-python SDK against a steadfast gateway: one case per run.

    python test_sdk.py CASE BASE_URL KEY EXPECTED_TEXT [TOOL_ARGS]

Run by crates/gateway/tests/sdk.rs, which starts the gateway and its upstreams and sets
up the faults each case needs. Exits non-zero (an AssertionError) when a case fails.
"""

import sys

import openai

CASE, BASE_URL, KEY, EXPECTED = sys.argv[1:5]
TOOL_ARGS = sys.argv[5] if len(sys.argv) > 5 else None
MESSAGES = [{"role": "user", "content": "count"}]


def client(key=KEY):
    return openai.OpenAI(base_url=BASE_URL, api_key=key, max_retries=0, timeout=60)


def whole():
    answer = client().chat.completions.create(model="chat", messages=MESSAGES)
    assert answer.object == "chat.completion", answer
    assert answer.choices[0].message.content == EXPECTED, answer
    assert answer.choices[0].finish_reason == "stop", answer
    assert answer.usage.completion_tokens > 0, answer
    return answer


def streamed():
    text = ""
    usage = None
    chunks = client().chat.completions.create(
        model="chat",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in chunks:
        assert chunk.object == "chat.completion.chunk", chunk
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
    assert text == EXPECTED, repr(text)
    assert usage is not None and usage.total_tokens > 0, usage


def tools():
    calls = {}
    finish = None
    chunks = client().chat.completions.create(
        model="chat",
        messages=MESSAGES,
        stream=True,
        tools=[{"type": "function", "function": {"name": "count", "parameters": {"type": "object"}}}],
    )
    for chunk in chunks:
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for call in choice.delta.tool_calls or []:
                entry = calls.setdefault(call.index, {"name": "", "arguments": ""})
                if call.function.name:
                    entry["name"] = call.function.name
                entry["arguments"] += call.function.arguments or ""
    assert calls[0]["name"] == "count", calls
    assert calls[0]["arguments"] == TOOL_ARGS, calls
    assert finish == "tool_calls", finish


def stream_error():
    text = ""
    try:
        for chunk in client().chat.completions.create(model="chat", messages=MESSAGES, stream=True):
            for choice in chunk.choices:
                text += choice.delta.content or ""
    except openai.APIError as e:
        assert not isinstance(e, openai.APIStatusError), e
        assert "could not be finished" in e.message, e.message
        assert EXPECTED.startswith(text), repr(text)
        return
    raise AssertionError("the stream ended cleanly after a truncated answer: %r" % text)


def all_down():
    for stream in (False, True):
        try:
            client().chat.completions.create(model="chat", messages=MESSAGES, stream=stream)
        except openai.RateLimitError as e:
            raise AssertionError("a provider outage is not a local rate limit: %s" % e)
        except openai.APIStatusError as e:
            assert e.status_code == 503, e.status_code
            attempts = e.body["attempts"]
            assert [a["provider"] for a in attempts] == ["primary", "secondary"], attempts
            called = [a for a in attempts if a["outcome"] == "failed"]
            assert called and all(a["status"] == 503 for a in called), attempts
            continue
        raise AssertionError("no error with every provider down")


def rate_limited():
    whole()
    whole()
    try:
        client().chat.completions.create(model="chat", messages=MESSAGES)
    except openai.RateLimitError as e:
        assert e.status_code == 429
        assert int(e.response.headers["retry-after"]) >= 1
        return
    raise AssertionError("the local limit did not refuse")


def wrong_key():
    try:
        client("not-the-key").chat.completions.create(model="chat", messages=MESSAGES)
    except openai.AuthenticationError as e:
        assert e.status_code == 401
        return
    raise AssertionError("a wrong gateway key was let in")


def unknown_model():
    try:
        client().chat.completions.create(model="no-such-group", messages=MESSAGES)
    except openai.NotFoundError as e:
        assert e.status_code == 404
        return
    raise AssertionError("an unknown group was answered")


def models():
    ids = [m.id for m in client().models.list()]
    assert ids == ["chat"], ids


CASES = {
    "whole": whole,
    "stream": streamed,
    "tools": tools,
    "fail_before": lambda: (whole(), streamed()),
    "fail_after": streamed,
    "stream_error": stream_error,
    "all_down": all_down,
    "rate_limited": rate_limited,
    "wrong_key": wrong_key,
    "unknown_model": unknown_model,
    "models": models,
}

CASES[CASE]()
print("ok", CASE)
