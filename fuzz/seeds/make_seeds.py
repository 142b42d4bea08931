#!/usr/bin/env python3
"""Writes the hand-made seeds of every fuzz target into fuzz/corpus/<target>/
(files named seed-*; the rest of each corpus is what `cargo fuzz cmin` kept
of the long runs, see RELIABILITY.md). Deterministic: run it again and the
seeds are byte for byte the same.

    python3 fuzz/seeds/make_seeds.py [MODEL.gguf]

MODEL.gguf (default: models/SmolLM2-135M-Instruct.Q4_1.gguf, the embedded
model scripts/setup.sh fetches) gives the GGUF seed derived from a real
header: its metadata with the vocabulary cut to 64 tokens and its tensors'
shapes cut to one block each, the data zeroed. Without the model that seed
is left as it is.
"""
import json
import struct
import sys
from pathlib import Path

FUZZ = Path(__file__).resolve().parent.parent
CORPUS = FUZZ / "corpus"


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (folder / f"seed-{name}").write_bytes(data)


def frame(body):
    if isinstance(body, (dict, list)):
        body = json.dumps(body, separators=(",", ":"))
    if isinstance(body, str):
        body = body.encode()
    return struct.pack(">I", len(body)) + body


# --- task_request -----------------------------------------------------------
REQUEST = {
    "version": 2,
    "specialist": "software.python",
    "messages": [
        {"role": "system", "content": "You write Python."},
        {"role": "user", "content": "Reverse a list."},
    ],
    "sampling": {"temperature": 0.7, "top_k": 40, "top_p": 0.9, "min_p": 0.05,
                 "repeat_penalty": 1.1, "max_tokens": 256, "seed": 42},
    "deadline_ms": 30000,
    "nonce": "0123456789abcdef0123456789abcdef",
}
RECEIPT = {
    "executor": "12D3KooWexecutor", "requester": "12D3KooWrequester",
    "request_hash": "ab" * 32, "result_hash": "cd" * 32, "tokens": 3,
    "public_key": "08011220" + "11" * 32, "signature": "ee" * 64,
}


def task_request():
    write("task_request", "valid", frame(REQUEST))
    write("task_request", "old-version", frame({**REQUEST, "version": 1, "nonce": ""}))
    write("task_request", "unknown-field", frame({**REQUEST, "extra": [1, 2, {"x": None}]}))
    write("task_request", "no-user", frame({**REQUEST, "messages": [{"role": "system", "content": ""}]}))
    write("task_request", "too-large", struct.pack(">I", 1 << 20) + b"{}")
    write("task_request", "cut", frame(REQUEST)[:40])
    write("task_request", "token", frame({"frame": "token", "text": "héllo \u2028"}))
    write("task_request", "waiting", frame({"frame": "waiting"}))
    write("task_request", "error", frame({"frame": "error", "error": {"code": "busy", "message": "full"}}))
    write("task_request", "done", frame({"frame": "done", "summary": {"prompt_tokens": 0, "tokens": 3,
           "first_token_ms": 5, "total_ms": 9}, "receipt": RECEIPT}))


# --- receipt ------------------------------------------------------------------
def receipt():
    write("receipt", "json", b"\x00" + json.dumps(RECEIPT).encode())
    write("receipt", "json-upper", b"\x00" + json.dumps({**RECEIPT, "signature": "EE" * 64}).encode())
    for mode in range(1, 8):
        write("receipt", f"field-{mode}", bytes([mode]) + b"request bytes{}|result text")


# --- status_placement ---------------------------------------------------------
STATUS = {"version": 2, "specialists": ["software.python", "general.assistant"], "free_slots": 2,
          "total_slots": 2, "waiting": 0, "tokens_per_s": 1e9, "device_class": "desktop",
          "serving": True, "max_tokens": 512}


def status_placement():
    fast = json.dumps(STATUS).encode()
    slow = json.dumps({**STATUS, "tokens_per_s": 3.5, "device_class": "phone"}).encode()
    other = json.dumps({**STATUS, "version": 3}).encode()
    write("status_placement", "strangers", b"\x00" + b"\x00".join([b"\x00" + fast, b"\x08" + slow]))
    write("status_placement", "measured", b"\x03" + b"\x00".join([b"\x07" + fast, b"\x0f" + slow, b"\x10" + other]))
    write("status_placement", "unknown-fields", b"\x02\x01" + json.dumps({**STATUS, "new": {"a": 1}}).encode())


# --- gguf_inspect ---------------------------------------------------------------
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
PACK = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<?",
        U64: "<Q", I64: "<q", F64: "<d"}


def gstr(text):
    data = text if isinstance(text, bytes) else text.encode()
    return struct.pack("<Q", len(data)) + data


def gvalue(kind, value):
    if kind == STR:
        return gstr(value)
    if kind == ARR:
        element, items = value
        return struct.pack("<IQ", element, len(items)) + b"".join(gvalue(element, item) for item in items)
    return struct.pack(PACK[kind], value)


def align(value, alignment=32):
    return (value + alignment - 1) // alignment * alignment


# ggml type -> (block elements, block bytes), the few the seeds use.
LAYOUT = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 8: (32, 34), 12: (256, 144), 14: (256, 210)}


def gguf(kvs, tensors, alignment=32, version=3):
    """kvs: [(key, kind, value)]; tensors: [(name, dims, ggml type)]."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for key, kind, value in kvs:
        out += gstr(key) + struct.pack("<I", kind) + gvalue(kind, value)
    offset, sizes = 0, []
    for name, dims, ggml_type in tensors:
        block, block_bytes = LAYOUT[ggml_type]
        elements = 1
        for dim in dims:
            elements *= dim
        size = elements // block * block_bytes
        out += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", ggml_type, offset)
        sizes.append((offset, size))
        offset = align(offset + size, alignment)
    out += b"\x00" * (align(len(out), alignment) - len(out))
    last_offset, last_size = sizes[-1]
    return out + b"\x00" * (last_offset + last_size)


def vocabulary(count, spm):
    """count tokens: three special ones, then (SPM, which spells any text
    byte by byte) the 256 byte tokens, then plain ones."""
    tokens = ["<unk>", "<s>", "</s>"] + ([f"<0x{b:02X}>" for b in range(256)] if spm else ["<0x0A>"])
    types = [2, 3, 3] + [6] * (len(tokens) - 3)
    tokens += [f"t{i}" for i in range(count - len(tokens))]
    types += [1] * (count - len(types))
    return [
        ("tokenizer.ggml.tokens", ARR, (STR, tokens)),
        ("tokenizer.ggml.scores", ARR, (F32, [0.0] * count)),
        ("tokenizer.ggml.token_type", ARR, (I32, types)),
        ("tokenizer.ggml.bos_token_id", U32, 1),
        ("tokenizer.ggml.eos_token_id", U32, 2),
    ]


def tiny_llama(tokenizer="llama", embd=32, vocab=None):
    """A whole one-block llama model with consistent shapes, F32 weights."""
    kvs = [
        ("general.architecture", STR, "llama"),
        ("general.name", STR, "tiny"),
        ("llama.context_length", U32, 64),
        ("llama.embedding_length", U32, embd),
        ("llama.block_count", U32, 1),
        ("llama.feed_forward_length", U32, embd),
        ("llama.attention.head_count", U32, 1),
        ("llama.attention.head_count_kv", U32, 1),
        ("llama.rope.dimension_count", U32, embd),
        ("llama.attention.layer_norm_rms_epsilon", F32, 1e-5),
        ("tokenizer.ggml.model", STR, tokenizer),
    ]
    vocab = vocab or (264 if tokenizer == "llama" else 64)
    kvs += vocabulary(vocab, tokenizer == "llama")
    if tokenizer == "gpt2":
        kvs.append(("tokenizer.ggml.merges", ARR, (STR, ["t 0", "t 1"])))
    tensors = [("token_embd.weight", [embd, vocab], 0), ("output_norm.weight", [embd], 0)]
    for part in ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_down", "ffn_up"]:
        tensors.append((f"blk.0.{part}.weight", [embd, embd], 0))
    tensors += [("blk.0.attn_norm.weight", [embd], 0), ("blk.0.ffn_norm.weight", [embd], 0)]
    return gguf(kvs, tensors)


def minimal_no_vocab():
    kvs = [
        ("general.architecture", STR, "llama"),
        ("llama.context_length", U32, 2048),
        ("llama.embedding_length", U32, 8),
        ("llama.block_count", U32, 1),
        ("tokenizer.ggml.model", STR, "none"),
    ]
    return gguf(kvs, [("token_embd.weight", [8, 2], 0)])


def read_real_header(path):
    """The real model's metadata [(key, kind, value)] and tensors [(name, dims, type)]."""
    data = path.read_bytes()[: 8 << 20]
    at = 8

    def take(fmt):
        nonlocal at
        size = struct.calcsize(fmt)
        value = struct.unpack_from(fmt, data, at)[0]
        at += size
        return value

    def string():
        nonlocal at
        length = take("<Q")
        raw = data[at: at + length]
        at += length
        return raw

    def value(kind):
        if kind == STR:
            return string()
        if kind == ARR:
            element = take("<I")
            return (element, [value(element) for _ in range(take("<Q"))])
        return take(PACK[kind])

    tensor_count, kv_count = take("<Q"), take("<Q")
    kvs = []
    for _ in range(kv_count):
        key = string().decode()
        kind = take("<I")
        kvs.append((key, kind, value(kind)))
    tensors = []
    for _ in range(tensor_count):
        name = string().decode()
        dims = [take("<Q") for _ in range(take("<I"))]
        ggml_type = take("<I")
        take("<Q")
        tensors.append((name, dims, ggml_type))
    return kvs, tensors


def from_real(path):
    """The real header, vocabulary cut to 64 tokens and merges to 16, every
    tensor one block long: small, but every key and tensor name real."""
    kvs, tensors = read_real_header(path)
    cut = []
    for key, kind, value in kvs:
        if kind == ARR and key.startswith("tokenizer.ggml.") and len(value[1]) > 64:
            value = (value[0], value[1][: 16 if key.endswith("merges") else 64])
        cut.append((key, kind, value))
    small = [(name, [LAYOUT[t][0] if LAYOUT[t][0] > 1 else 32] + [1] * (len(dims) - 1), t)
             for name, dims, t in tensors]
    return gguf(cut, small)


def gguf_inspect(model):
    write("gguf_inspect", "tiny-llama", tiny_llama("llama"))
    write("gguf_inspect", "tiny-gpt2", tiny_llama("gpt2"))
    write("gguf_inspect", "no-vocab", minimal_no_vocab())
    write("gguf_inspect", "not-gguf", b"GGML\x03\x00\x00\x00")
    if model.exists():
        write("gguf_inspect", "smollm2-cut", from_real(model))
        write("gguf_inspect", "smollm2-first-4k", model.read_bytes()[:4096])


# --- plan_repair ----------------------------------------------------------------
def plan_repair():
    plan = {"subtasks": [
        {"specialist": "software.python", "task": "Write the parser.", "depends_on": []},
        {"specialist": "writing.editor", "task": "Document it.", "depends_on": [1]},
        {"specialist": "unknown.one", "task": "software.python tests", "depends_on": [3, 2, 0]},
        {"specialist": "writing.editor", "task": "  document IT.  ", "depends_on": [4]},
    ]}
    head = b"\x04\x02software.python,writing.editor\n"
    write("plan_repair", "repairs", head + json.dumps(plan).encode())
    write("plan_repair", "good", head + json.dumps({"subtasks": plan["subtasks"][:2]}).encode())
    write("plan_repair", "empty", b"\x03\x01a.b\n{\"subtasks\":[]}")
    write("plan_repair", "not-json", head + b"{\"subtasks\": [{\"specialist\": ")


# --- catalog --------------------------------------------------------------------
def catalog():
    full = json.loads((FUZZ.parent / "models" / "catalog.json").read_text())
    bases = full["base_models"][:1]
    ids = {base["id"] for base in bases}
    specialists = [s for s in full["specialists"] if s["base_model"] in ids]
    keep = [s for s in specialists if s["id"] == "general.assistant"]
    keep += [s for s in specialists if s["id"] != "general.assistant"][:3]
    small = {"version": full["version"], "base_models": bases, "specialists": keep}
    text = json.dumps(small, ensure_ascii=False, indent=1).encode()
    write("catalog", "small", text + b"\x00write a python function and translate it\x00developer")
    broken = {**small, "specialists": keep[1:]}
    write("catalog", "no-fallback", json.dumps(broken).encode() + b"\x00hello\x00")


# --- settings -------------------------------------------------------------------
SETTINGS = {
    "privacy": "network", "serve": True, "max_slots": 40, "threads": 0,
    "only_when_idle": False, "only_when_charging": True,
    "bootstrap_peers": [" /ip4/127.0.0.1/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA ", ""],
    "data_dir": " /home/me/.chorus ", "onboarded": True,
    "profile": {"profession": "developer", "skills": ["rust"], "languages": ["en"], "interests": [],
                "storage_budget_bytes": 1000000000, "memory_bytes": None},
    "private_names": ["  Ada   Lovelace ", "ada lovelace", ""],
    "keep_sensitive_on_device": True, "history_days": 30, "requester_identity": "day",
}


def settings():
    write("settings", "full", json.dumps(SETTINGS))
    minimal = {k: v for k, v in SETTINGS.items()
               if k not in ("private_names", "keep_sensitive_on_device", "history_days", "requester_identity")}
    write("settings", "older", json.dumps({**minimal, "profile": None, "bootstrap_peers": []}))
    write("settings", "bad-peer", json.dumps({**SETTINGS, "bootstrap_peers": ["/ip4/1.2.3.4/tcp/1"]}))


# --- stop_matcher ---------------------------------------------------------------
def stop_matcher():
    write("stop_matcher", "simple", b"</s>\x00hello </\x00s> more")
    write("stop_matcher", "overlap", b"ab\x01b\x01\n\n\x00xa\x00b\n\x00\nc")
    write("stop_matcher", "utf8", "<|end|>".encode() + b"\x00" + "🦀".encode()[:2] + b"\x00" + "🦀".encode()[2:]
          + b"<|e\x00\xffnd|>")
    write("stop_matcher", "no-stops", b"\x00anything\x00at all")


# --- admission_queue ------------------------------------------------------------
def admission_queue():
    ops = bytearray()
    for ticket in range(8):  # requests from four requesters
        ops += bytes([0, ticket, ticket % 4, (ticket * 37) % 256, 50, 0])
    ops += bytes([2, 0, 2, 1, 3, 0x80 | 5, 3, 0x08, 4, 0, 9, 1, 200, 10, 0, 3, 0x01, 2])
    write("admission_queue", "mixed", bytes(ops))
    hog = bytearray()
    for ticket in range(10):
        hog += bytes([0, ticket, 0, 10, 10, 0])
    hog += bytes([0, 12, 3, 0, 10, 0, 0, 13, 2, 0, 10, 0])
    write("admission_queue", "hog", bytes(hog))


def main():
    model = Path(sys.argv[1]) if len(sys.argv) > 1 else FUZZ.parent / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    task_request()
    receipt()
    status_placement()
    gguf_inspect(model)
    plan_repair()
    catalog()
    settings()
    stop_matcher()
    admission_queue()


if __name__ == "__main__":
    main()
