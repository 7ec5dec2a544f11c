#!/usr/bin/env bash
# Measures furl against the floor of its architecture, in one run on this
# machine (e2e/bench_floor_test.go, e2e/bench_load_test.go): the minimal
# relay (e2e/internal/relay: a payload-2.0 event handed to the same
# aws-lambda-go bootstrap over a minimal Runtime API, the result mapped
# back) and a plain net/http server, with the same function and the same Go
# load generator. The relay runs as a process of its own (relayd), as furl
# does; the buffered benchmarks also measure it inside the benchmark's own
# process, beside its load generator (relay-inproc), which spares it the
# wake-ups across processes that furl cannot avoid. Each benchmark
# alternates its targets round by round
# (7 rounds) and reports medians; furl/relay is the median of the rounds'
# ratios. Then AWS's Runtime Interface Emulator against furl's Invoke API
# on the same bootstrap, with the relay's Invoke in the same rounds
# (relay/RIE is as far above the emulator as a gateway of this architecture
# can get), and the load figures. The raw `go test` output
# comes first, each run after the command that made it; the table last.
#
#   scripts/bench.sh
#   REQUESTS=3000 STREAMS=3 scripts/bench.sh
#
# To compare two builds of furl, FURL_BENCH_FURL names the one measured as
# furl and FURL_BENCH_FURL_B adds another to the same rounds of the
# buffered benchmarks (furl-b; furl/furl-b is their paired ratio):
#
#   FURL_BENCH_FURL=/tmp/furl-old FURL_BENCH_FURL_B=/tmp/furl-new \
#     go test ./e2e -run XXX -bench '^BenchmarkFloor(URL|Invoke)$' -benchtime 3000x
#
# AWS's emulator is built from its source outside this repository and
# named by FURL_BENCH_RIE; without it that part is skipped. For example,
# with its source in /tmp/rie/src (a checkout of
# github.com/aws/aws-lambda-runtime-interface-emulator):
#
#   (cd /tmp/rie/src && CGO_ENABLED=0 go build -o /tmp/rie/aws-lambda-rie ./cmd/aws-lambda-rie)
#   FURL_BENCH_RIE=/tmp/rie/aws-lambda-rie scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

requests=${REQUESTS:-2000}   # requests per target per round (buffered, Invoke, RIE)
streams=${STREAMS:-2}        # 64 MiB transfers per target per round
firstbyte=${FIRSTBYTE:-300}  # first-byte requests per target per round

out=$(mktemp)
trap 'rm -f "$out"' EXIT
# A benchmark that fails is named at the end, and the table still shows
# what the others measured ("-" where a figure is missing).
failed=()
run() {
  local cmd=(go test ./e2e -run XXX -count 1 -timeout 60m -bench "$1" -benchtime "$2")
  echo "\$ ${3:-}${cmd[*]}" | tee -a "$out"
  "${cmd[@]}" 2>&1 | tee -a "$out" || failed+=("$1")
}
run '^BenchmarkFloorURL$' "${requests}x"
run '^BenchmarkFloorInvoke$' "${requests}x"
run '^BenchmarkFloorStreamThroughput$' "${streams}x"
run '^BenchmarkFloorInvokeStreamThroughput$' "${streams}x"
run '^BenchmarkFloorStreamFirstByte$' "${firstbyte}x"
run '^BenchmarkFloorInvokeStreamFirstByte$' "${firstbyte}x"
if [[ -n ${FURL_BENCH_RIE:-} ]]; then
  export FURL_BENCH_RIE
  run '^BenchmarkFloorRIE$' "${requests}x" "FURL_BENCH_RIE=$FURL_BENCH_RIE "
else
  echo "FURL_BENCH_RIE is not set: skipping the comparison with AWS's Runtime Interface Emulator" | tee -a "$out"
fi
run '^BenchmarkFloorLoad$' 1x

# A benchmark line is: name, iterations, then value-unit pairs.
echo
echo "furl at the architecture's floor ($(go version | cut -d' ' -f3), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)); medians of 7 alternating rounds"
awk '
  /^Benchmark/ {
    name = $1; sub(/^BenchmarkFloor/, "", name); sub(/-[0-9]+$/, "", name); sub(/concurrency=/, "c", name)
    for (i = 3; i < NF; i += 2) m[name "|" $(i+1)] = $i
  }
  function v(k) { return (k in m) ? m[k] : "-" }
  function rq(n, t) { return sprintf("%s req/s, p50 %s ms", v(n "|" t "-req/s"), v(n "|" t "-p50-ms")) }
  function cpu(n, t, gw) { return sprintf("%s + %s functions (%s)", v(n "|" t "-" gw "-cpu-us/req"), v(n "|" t "-functions-cpu-us/req"), v(n "|" t "-machine-cpu-us/req")) }
  END {
    printf "\n%-22s | %-34s | %-34s\n", "", "concurrency 1", "concurrency 8"
    for (k = 0; k < 2; k++) {
      door = k == 0 ? "URL" : "Invoke"
      label = k == 0 ? "function URL" : "Invoke API"
      printf "%-22s | %-34s | %-34s\n", "furl " label, rq(door "/c1", "furl"), rq(door "/c8", "furl")
      printf "%-22s | %-34s | %-34s\n", "relay " label, rq(door "/c1", "relay"), rq(door "/c8", "relay")
      printf "%-22s | %-34s | %-34s\n", "relay, in-process", rq(door "/c1", "relay-inproc"), rq(door "/c8", "relay-inproc")
      printf "%-22s | %-34s | %-34s\n", "plain Go server", rq(door "/c1", "plain"), rq(door "/c8", "plain")
      printf "%-22s | %-34s | %-34s\n", "furl / relay", v(door "/c1|furl/relay"), v(door "/c8|furl/relay")
      printf "%-22s | %-34s | %-34s\n", "furl / in-process", v(door "/c1|furl/relay-inproc"), v(door "/c8|furl/relay-inproc")
      printf "%-22s | %-34s | %-34s\n", "CPU us/req furl", cpu(door "/c1", "furl", "furl"), cpu(door "/c8", "furl", "furl")
      printf "%-22s | %-34s | %-34s\n", "CPU us/req relay", cpu(door "/c1", "relay", "relayd"), cpu(door "/c8", "relay", "relayd")
    }
    print "(CPU us/req: the gateway process, its functions, the whole machine)"
    printf "\nstreaming 64 MiB (lambdaurl): furl %s MiB/s, relay %s MiB/s, plain %s MiB/s, furl/relay %s\n", \
      v("StreamThroughput|furl-MiB/s"), v("StreamThroughput|relay-MiB/s"), v("StreamThroughput|plain-MiB/s"), v("StreamThroughput|furl/relay")
    printf "InvokeWithResponseStream 64 MiB: furl %s MiB/s, relay %s MiB/s, furl/relay %s\n", \
      v("InvokeStreamThroughput|furl-MiB/s"), v("InvokeStreamThroughput|relay-MiB/s"), v("InvokeStreamThroughput|furl/relay")
    printf "URL first byte p50: furl %s ms, relay %s ms, plain %s ms, furl - relay %s ms\n", \
      v("StreamFirstByte|furl-p50-ttfb-ms"), v("StreamFirstByte|relay-p50-ttfb-ms"), v("StreamFirstByte|plain-p50-ttfb-ms"), v("StreamFirstByte|furl-relay-ms")
    printf "InvokeWithResponseStream first byte p50: furl %s ms, relay %s ms, furl - relay %s ms\n", \
      v("InvokeStreamFirstByte|furl-p50-ttfb-ms"), v("InvokeStreamFirstByte|relay-p50-ttfb-ms"), v("InvokeStreamFirstByte|furl-relay-ms")
    if (("RIE/c1|furl/rie") in m) {
      for (c = 1; c <= 8; c += 7)
        printf "Invoke API c=%d: furl %s (errors %s), RIE %s (errors %s), relay %s; furl/RIE %s, relay/RIE %s\n", c, \
          rq("RIE/c" c, "furl"), v("RIE/c" c "|furl-errors"), rq("RIE/c" c, "rie"), v("RIE/c" c "|rie-errors"), \
          rq("RIE/c" c, "relay"), v("RIE/c" c "|furl/rie"), v("RIE/c" c "|relay/rie")
    } else print "RIE: not measured (FURL_BENCH_RIE unset)"
    printf "\nload: %s of 500 streams open at once, %s stream errors; 20 000 buffered in a row: %s errors (%s req/s)\n", \
      v("Load|streams-open"), v("Load|stream-errors"), v("Load|buffered-errors"), v("Load|buffered-req/s")
    printf "goroutines %s before, %s after; open fds %s before, %s after; environments %s before, %s after\n", \
      v("Load|goroutines-before"), v("Load|goroutines-after"), v("Load|fds-before"), v("Load|fds-after"), \
      v("Load|environments-before"), v("Load|environments-after")
    printf "furl RSS %s MiB idle (500 environments warm), %s MiB with 500 streams open: %s KiB per open stream\n", \
      v("Load|rss-idle-MiB"), v("Load|rss-open-MiB"), v("Load|KiB/stream")
  }
' "$out"
if ((${#failed[@]} > 0)); then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
