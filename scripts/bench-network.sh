#!/usr/bin/env bash
# What the network adds to a sub-task, on real nodes running the embedded
# model over real TCP loopback sockets (rust-libp2p: Noise, Yamux); prints
# the Markdown tables of BENCHMARKS.md ("Network dispatch") and the raw JSON.
#
#   scripts/bench-network.sh [REQUESTS] [ROUNDS] [MODEL]
#       (defaults: 1000 requests per dispatch variant, a tenth as many over
#        first connections; 10 rounds of the k-peers figure; the embedded model)
#
# Every serving node runs one inference thread: two of them share the two
# cores of these machines in the k-peers figure. Run it on an idle machine;
# the load average before and after is printed with the figures.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
REQUESTS="${1:-1000}"
ROUNDS="${2:-10}"
MODEL="${3:-$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
scripts/setup.sh
cargo build --release --quiet -p chorus-cli
CHORUS="$CARGO_TARGET_DIR/release/chorus"

echo "[bench-network] $REQUESTS requests per variant, $ROUNDS rounds; load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
REPORT="$(RUST_LOG="${RUST_LOG:-warn,chorus_bench::network=info}" "$CHORUS" bench --network --json \
    --model "$MODEL" --requests "$REQUESTS" --rounds "$ROUNDS")"

python3 - "$REPORT" <<'PY'
import json, platform, sys
r = json.loads(sys.argv[1])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
d, p = r["dispatch"], r["parallel"]
print(f"machine: {cpu}, {r['cores']} logical cores, {platform.platform()}")
print(f"load average (1/5/15 min): {r['load_before']} before, {r['load_after']} after; bench took {r['elapsed_s']:.0f} s")
print(f"model: {r['model']}; transport: {r['transport']}")
print(f"request: {d['prompt']!r} to {d['specialist']}, no system message, at most {d['max_tokens']} tokens")
print()
print("| variant | requests | requester first token p50 / p99 (ms) | executor first token p50 / p99 (ms) | **overhead** p50 / p99 / max (ms) |")
print("|---|---|---|---|---|")
names = {
    "warm": "real node, open connection (executor: protocol `first_token_ms`, whole ms)",
    "warm_precise": "node's serving stack, open connection (executor: in-process clock, µs)",
    "no_inference": "node's serving stack, executor answers at once",
    "first_connection": "real node, first connection (dial + task; executor: whole ms)",
}
for key, name in names.items():
    v = d[key]
    q, e, o = v["requester_first_token"], v["executor_first_token"], v["overhead"]
    print(f"| {name} | {v['requests']} | {q['p50_ms']:.2f} / {q['p99_ms']:.2f} | {e['p50_ms']:.2f} / {e['p99_ms']:.2f} "
          f"| **{o['p50_ms']:.2f} / {o['p99_ms']:.2f}** / {o['max_ms']:.2f} |")
for key, name in (("first_connection_dial", "dial alone (TCP + Noise + Yamux, first connection)"),
                  ("status_round_trip", "status probe round trip (bare request-response)")):
    s = d[key]
    print(f"| {name} | {s['samples']} | {s['p50_ms']:.2f} / {s['p99_ms']:.2f} (max {s['max_ms']:.2f}) | | |")
print()
print(f"k = {p['peers']} sub-tasks on {p['peers']} peers, {p['threads_per_peer']} inference thread each, "
      f"at most {p['max_tokens']} tokens each, median of {p['rounds']} rounds:")
print()
print("| | wall time (ms) | ratio |")
print("|---|---|---|")
print(f"| slowest sub-task alone on its peer | {p['slowest_alone_ms']:.0f} | |")
print(f"| all at once, one per peer | {p['parallel_ms']:.0f} | **{p['parallel_vs_slowest']:.2f}x** the slowest alone "
      f"(the process got {p['parallel_cpu_cores']:.2f} cores meanwhile) |")
print(f"| one after another on one peer | {p['sequential_ms']:.0f} | {p['speedup_vs_one_device']:.2f}x slower than at once |")
print(f"| what the network added to \"all at once\" (wall time minus the slowest executor's own time) | {p['parallel_network_ms']:.0f} | |")
if p["full_core_rounds"]:
    full = [x for x in p["per_round"] if x["parallel_cpu_cores"] >= 0.9 * p["peers"]]
    slow = sorted(max(x["alone_ms"]) for x in full); both = sorted(x["parallel_ms"] for x in full)
    seq = sorted(x["sequential_ms"] for x in full)
    mid = lambda xs: xs[(len(xs) - 1) // 2]
    print(f"| *only the {p['full_core_rounds']} rounds in which the process got {p['peers']} cores:* slowest alone / at once / one after another "
          f"| {mid(slow):.0f} / {mid(both):.0f} / {mid(seq):.0f} | **{p['full_core_parallel_vs_slowest']:.2f}x** the slowest alone; "
          f"{p['full_core_speedup_vs_one_device']:.2f}x faster than one device |")
print()
for i, x in enumerate(p["per_round"]):
    print(f"round {i}: alone {[round(a) for a in x['alone_ms']]} ms (executors {[round(a) for a in x['alone_executor_ms']]}), at once {x['parallel_ms']:.0f} ms "
          f"(executors {[round(a) for a in x['parallel_executor_ms']]} ms, {x['parallel_cpu_cores']:.2f} cores), "
          f"one after another {x['sequential_ms']:.0f} ms ({x['sequential_cpu_cores']:.2f} cores), tokens {x['tokens']}")
print()
print("raw:", json.dumps(r))
PY
