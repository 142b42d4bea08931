"""The official `openai` Python client against a real `chorus api`.

Run by crates/chorus-cli/tests/api_cli.rs with CHORUS_API_URL (the base URL,
`http://…/v1`), CHORUS_API_KEY and CHORUS_API_SPECIALIST (a specialist that
runs on the server's device). The server runs with `--slots 1`. Exits 0 when
every check passes, prints one JSON line of figures at the end.
"""

import json
import os
import sys
import time

import openai

URL = os.environ["CHORUS_API_URL"]
KEY = os.environ["CHORUS_API_KEY"]
SPECIALIST = os.environ["CHORUS_API_SPECIALIST"]

# No automatic retries: a 429 or 503 must be seen, not hidden.
client = openai.OpenAI(base_url=URL, api_key=KEY, max_retries=0, timeout=300)
figures = {"openai_version": openai.__version__}


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print(f"ok: {what}", flush=True)


def ask(messages, **options):
    return client.chat.completions.create(model=SPECIALIST, messages=messages, **options)


# --- models ---------------------------------------------------------------
ids = [model.id for model in client.models.list()]
check("chorus" in ids and SPECIALIST in ids, f"models list chorus and {SPECIALIST} ({len(ids)} models)")
check(client.models.retrieve(SPECIALIST).id == SPECIALIST, "a model is retrieved by id")

# --- non-streamed ---------------------------------------------------------
first = ask([{"role": "user", "content": "Name one colour."}], max_tokens=24, temperature=0)
choice = first.choices[0]
check(first.object == "chat.completion" and first.model == SPECIALIST, "a completion object for the model asked")
check(bool(choice.message.content.strip()) and choice.message.role == "assistant", "non-streamed text")
check(choice.finish_reason in ("stop", "length"), f"finish reason {choice.finish_reason}")
usage = first.usage
check(usage.prompt_tokens > 0 and usage.completion_tokens > 0, f"usage {usage.prompt_tokens}+{usage.completion_tokens}")
check(usage.total_tokens == usage.prompt_tokens + usage.completion_tokens, "total_tokens adds up")

# --- streamed, with usage --------------------------------------------------
started = time.monotonic()
stream = ask([{"role": "user", "content": "Say hello."}], max_tokens=24, stream=True,
             stream_options={"include_usage": True})
text, finish, final_usage, chunks, first_token = "", None, None, 0, None
for chunk in stream:
    chunks += 1
    if chunk.usage is not None:
        final_usage = chunk.usage
    for part in chunk.choices:
        if part.delta.content:
            first_token = first_token or time.monotonic() - started
            text += part.delta.content
        finish = part.finish_reason or finish
figures["stream_first_token_ms"] = round((first_token or 0) * 1000, 1)
check(bool(text.strip()) and chunks >= 3, f"streamed text in {chunks} chunks")
check(finish in ("stop", "length"), f"stream finish reason {finish}")
check(final_usage is not None and final_usage.completion_tokens > 0, "include_usage gives a final usage chunk")

# --- a two-turn conversation -----------------------------------------------
turn1 = [{"role": "user", "content": "My name is Ada. Say hi to me."}]
one = ask(turn1, max_tokens=32, temperature=0)
turn2 = turn1 + [{"role": "assistant", "content": one.choices[0].message.content},
                 {"role": "user", "content": "What is my name?"}]
two = ask(turn2, max_tokens=32, temperature=0)
check(bool(two.choices[0].message.content.strip()), "the second turn is answered")
check(two.usage.prompt_tokens >= one.usage.prompt_tokens + one.usage.completion_tokens,
      f"the second turn's prompt holds the first ({one.usage.prompt_tokens}+{one.usage.completion_tokens} "
      f"-> {two.usage.prompt_tokens} tokens)")
figures["second_turn_answer"] = two.choices[0].message.content
plain = ask([{"role": "user", "content": "Hi"}], max_tokens=8, temperature=0)
own_system = ask([{"role": "system", "content": "Pirate."}, {"role": "user", "content": "Hi"}],
                 max_tokens=8, temperature=0)
check(own_system.usage.prompt_tokens < plain.usage.prompt_tokens,
      f"a request's system message replaces the specialist's ({plain.usage.prompt_tokens} -> "
      f"{own_system.usage.prompt_tokens} prompt tokens)")

# --- json_schema ------------------------------------------------------------
schema = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 24}, "age": {"type": "integer", "minimum": 0, "maximum": 150}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
answer = ask([{"role": "user", "content": "Invent a person: give a name and an age as JSON."}], max_tokens=96,
             temperature=0, response_format={"type": "json_schema",
                                             "json_schema": {"name": "person", "schema": schema, "strict": True}})
person = json.loads(answer.choices[0].message.content)
check(set(person) == {"name", "age"} and isinstance(person["name"], str) and isinstance(person["age"], int),
      f"json_schema answer parses and matches: {person}")
anything = ask([{"role": "user", "content": "A JSON object about a cat."}], max_tokens=96, temperature=0,
               response_format={"type": "json_object"})
try:
    parsed = json.loads(anything.choices[0].message.content)
    check(isinstance(parsed, dict), "json_object answer is an object")
except json.JSONDecodeError:
    check(anything.choices[0].finish_reason == "length", "json_object answer cut only by max_tokens")

# --- stop and max_tokens --------------------------------------------------
stopped = ask([{"role": "user", "content": "Write a long sentence about the sea."}], stop=[" "], max_tokens=64,
              temperature=0)
check(" " not in stopped.choices[0].message.content and stopped.choices[0].finish_reason == "stop",
      f"stop honoured: {stopped.choices[0].message.content!r}")
capped = ask([{"role": "user", "content": "Write a long story about the sea."}], max_completion_tokens=5,
             temperature=0)
check(capped.choices[0].finish_reason == "length" and capped.usage.completion_tokens == 5,
      f"max_completion_tokens honoured: {capped.usage.completion_tokens} tokens, finish length")
capped = ask([{"role": "user", "content": "Write a long story about the sea."}], max_tokens=3, temperature=0)
check(capped.choices[0].finish_reason == "length" and capped.usage.completion_tokens == 3, "max_tokens honoured")
seeded = [ask([{"role": "user", "content": "Invent a word."}], max_tokens=8, temperature=1.0, seed=42)
          .choices[0].message.content for _ in range(2)]
check(seeded[0] == seeded[1], "the same seed gives the same answer")

# --- errors ---------------------------------------------------------------
try:
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    check(False, "unknown model refused")
except openai.NotFoundError as error:
    check(error.status_code == 404 and error.code == "model_not_found", "unknown model -> 404 NotFoundError")
try:
    ask([{"role": "user", "content": "Hi"}], temperature=3)
    check(False, "temperature 3 refused")
except openai.BadRequestError as error:
    check(error.status_code == 400 and error.param == "temperature", "temperature 3 -> 400 BadRequestError")
try:
    ask([{"role": "user", "content": "Hi"}], n=2)
    check(False, "n=2 refused")
except openai.BadRequestError:
    check(True, "n=2 -> 400 BadRequestError")
for wrong in ("wrong-key", ""):
    stranger = openai.OpenAI(base_url=URL, api_key=wrong or "x", max_retries=0,
                             default_headers={} if wrong else {"Authorization": ""})
    try:
        stranger.models.list()
        check(False, "a wrong or missing key refused")
    except openai.AuthenticationError as error:
        check(error.status_code == 401, f"{'wrong' if wrong else 'no'} key -> 401 AuthenticationError")

# --- the conductor ----------------------------------------------------------
conducted = client.chat.completions.create(model="chorus", messages=[{"role": "user", "content": "What is Rust?"}])
extension = conducted.model_extra.get("chorus") or {}
check(bool(conducted.choices[0].message.content.strip()), "chorus answers through the conductor")
check(str(extension.get("query_id", "")).startswith("q") and any(e.get("event") == "analysis" for e in extension["events"]),
      "the chorus extension carries the query id and the conductor's events")
# A second turn: the messages before the last user message are the
# conversation; the follow-up is read with them, on this device.
first_answer = conducted.choices[0].message.content
follow_up = client.chat.completions.create(model="chorus", messages=[
    {"role": "user", "content": "What is Rust?"},
    {"role": "assistant", "content": first_answer},
    {"role": "user", "content": "Tell me more about it."}])
contexts = [e for e in (follow_up.model_extra.get("chorus") or {}).get("events", []) if e.get("event") == "context"]
check(len(contexts) == 1 and contexts[0]["follow_up"] and contexts[0]["turns"] == 1 and contexts[0]["carried"] == 1,
      f"a two-turn chorus conversation reads the follow-up with the first turn: {contexts}")
check(bool(follow_up.choices[0].message.content.strip()), "the follow-up is answered")
events = []
for chunk in client.chat.completions.create(model="chorus", stream=True,
                                             messages=[{"role": "user", "content": "What is Python?"}]):
    if (chunk.model_extra or {}).get("chorus"):
        events.append(chunk.model_extra["chorus"]["event"])
check(events[0] == "query" and "analysis" in events and events[-1] == "done", f"streamed chorus events {events}")

# --- a client that leaves mid-stream frees its slot -----------------------
long = ask([{"role": "user", "content": "Write a very long story about a dragon."}], max_tokens=400,
           temperature=0.7, stream=True)
seen = 0
for chunk in long:
    seen += 1
    if seen == 4:
        break
try:
    ask([{"role": "user", "content": "Hi"}], max_tokens=2)
    check(False, "the one slot is taken")
except openai.RateLimitError as error:
    check(error.status_code == 429, "while a stream runs, the one slot is taken -> 429 RateLimitError")
long.close()
left = time.monotonic()
while True:
    try:
        ask([{"role": "user", "content": "Hi"}], max_tokens=2)
        break
    except openai.RateLimitError:
        if time.monotonic() - left > 5:
            raise
        time.sleep(0.05)
figures["slot_freed_ms"] = round((time.monotonic() - left) * 1000, 1)
check(True, f"after the client left, the next request ran ({figures['slot_freed_ms']} ms later)")

print(json.dumps({"event": "figures", **figures}), flush=True)
