#!/usr/bin/env bash
# Engine speed against llama.cpp's own llama-bench and llama-batched-bench, in
# the same run, on the same GGUF and thread count; prints a Markdown table for
# BENCHMARKS.md and the raw JSON of both sides.
#
#   scripts/bench.sh [THREADS] [MODEL]      (defaults: 2, the embedded model)
#
# Run it on an idle machine: with as many threads as cores, any other busy
# process makes both sides collapse.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
THREADS="${1:-2}"
MODEL="${2:-$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
PROMPT=128 GEN=64 REPS=5
scripts/setup.sh
cargo build --release --quiet -p chorus-cli
CHORUS="$CARGO_TARGET_DIR/release/chorus"

# This machine is shared and noisy: alternate the two sides for ROUNDS rounds
# and report the median and the best round of each.
ROUNDS="${ROUNDS:-3}"
refs=() ours=()
for round in $(seq "$ROUNDS"); do
    echo "[bench] round $round/$ROUNDS: llama.cpp llama-bench and llama-batched-bench (reference), $THREADS threads" >&2
    refs+=("$(scripts/llama-bench-reference.sh -m "$MODEL" -t "$THREADS" -p "$PROMPT" -n "$GEN" -r "$REPS" -B 4)")
    echo "[bench] round $round/$ROUNDS: chorus bench, $THREADS threads" >&2
    ours+=("$("$CHORUS" bench --json --model "$MODEL" --threads "$THREADS" \
        --prompt-tokens "$PROMPT" --gen-tokens "$GEN" --repetitions "$REPS")")
done

python3 - "$(printf '%s\n' "${refs[@]}")" "$(printf '%s\n' "${ours[@]}")" <<'PY'
import json, platform, statistics, sys
refs = [json.loads(line) for line in sys.argv[1].splitlines() if line.strip()]
ours = [json.loads(line) for line in sys.argv[2].splitlines() if line.strip()]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
med = lambda xs: statistics.median(xs)
def pair(get_ours, get_ref):
    o = [get_ours(x) for x in ours]; r = [get_ref(x) for x in refs]
    return med(o), max(o), med(r), max(r)
o, r = ours[0], refs[0]
print(f"machine: {cpu}, {len(open('/proc/cpuinfo').read().split('processor')) - 1} logical cores, {platform.platform()}")
print(f"model: {o['model']}; threads: {o['threads']}; {len(ours)} alternating rounds, each {o['repetitions']} repetitions")
print(f"llama.cpp reference: llama-bench from llama-cpp-python {r.get('llama_cpp_python_version')} "
      f"(llama.cpp {r.get('llama_cpp_build')}, ggml {r.get('ggml_version')})")
print()
print("| figure | chorus-engine median (best) | llama.cpp median (best) | ratio median (best) |")
print("|---|---|---|---|")
for name, key in ((f"prompt pp{o['prompt_tokens']} (tokens/s)", "prompt_tokens_per_s"), (f"generation tg{o['gen_tokens']} (tokens/s)", "gen_tokens_per_s")):
    om, ob, rm, rb = pair(lambda x: x[key], lambda x: x[key])
    print(f"| {name} | {om:.1f} ({ob:.1f}) | {rm:.1f} ({rb:.1f}) | {om / rm:.2f}x ({ob / rb:.2f}x) |")
dg = [x["gen_tokens_per_s"] for x in ours]; do_ = [x["decode_only_tokens_per_s"] for x in ours]; dr = [x["gen_vs_decode_only"] for x in ours]
print(f"| generation tg{o['gen_tokens']}: engine vs llama.cpp's bare loop on the same context, in turns (tokens/s) | {med(dg):.1f} ({max(dg):.1f}) | bare {med(do_):.1f} ({max(do_):.1f}) | {med(dr):.2f}x ({max(dr):.2f}x) |")
gc = [x["grammar"]["constrained_tokens_per_s"] for x in ours]; gu = [x["grammar"]["unconstrained_tokens_per_s"] for x in ours]
gr = [x["grammar"]["ratio"] for x in ours]
print(f"| JSON-constrained vs free generation (tokens/s) | {med(gc):.1f} ({max(gc):.1f}) | free {med(gu):.1f} ({max(gu):.1f}) | {med(gr):.2f}x ({max(gr):.2f}x) |")
bb = [x["batch"]["batched_ms"] for x in ours]; bs = [x["batch"]["sequential_ms"] for x in ours]; sp = [x["batch"]["speedup"] for x in ours]
b = o["batch"]
print(f"| {b['sequences']} x {b['tokens_per_sequence']} tokens batched vs sequential (ms) | {med(bb):.0f} ({min(bb):.0f}) | sequential {med(bs):.0f} ({min(bs):.0f}) | {med(sp):.2f}x ({max(sp):.2f}x) faster |")
lb = [x["batched"]["speedup"] for x in refs if x.get("batched")]
if lb:
    rb = refs[0]["batched"]
    print(f"| batching gain, {rb['sequences']} sequences: chorus-engine vs llama-batched-bench ({rb['sequences']} x pp{rb['prompt_tokens']} + tg{rb['gen_tokens']}, no sampling) | {med(sp):.2f}x ({max(sp):.2f}x) | {med(lb):.2f}x ({max(lb):.2f}x) | {med(sp) / med(lb):.2f}x ({max(sp) / max(lb):.2f}x) |")
cf = [x["conductor"]["conductor_first_token_ms"] for x in ours]; ef = [x["conductor"]["engine_first_token_ms"] for x in ours]; cr = [x["conductor"]["ratio"] for x in ours]
print(f"| time to first token, simple query: conductor vs bare engine (ms) | {med(cf):.0f} ({min(cf):.0f}) | engine {med(ef):.0f} ({min(ef):.0f}) | {med(cr):.2f}x ({min(cr):.2f}x) |")
lm = [x["load_ms"] for x in ours]; tt = [x["time_to_first_token_ms"] for x in ours]; rss = [x["peak_rss_bytes"] / 1048576 for x in ours]
print(f"| model load (ms) | {med(lm):.0f} ({min(lm):.0f}) | | |")
print(f"| time to first token, pp{o['prompt_tokens']} (ms) | {med(tt):.0f} ({min(tt):.0f}) | | |")
print(f"| peak RSS (MiB) | {med(rss):.1f} (max {max(rss):.1f}) | | |")
print()
for x in refs: print("raw reference:", json.dumps(x))
for x in ours: print("raw chorus:   ", json.dumps(x))
PY
