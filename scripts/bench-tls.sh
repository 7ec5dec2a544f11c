#!/usr/bin/env bash
# Measures furl over HTTPS (--listen-tls) against its plain listener, in
# one run on this machine (e2e/bench_tls_test.go): streaming throughput,
# first-byte time, TLS handshake cost and certificate issuance, and memory
# for 200 concurrent streams on one h2 connection. Each benchmark runs its
# variants in turn, round by round, and reports medians; this prints them
# as a table after the raw `go test` output.
#
#   scripts/bench-tls.sh            # the default rounds
#   ROUNDS_THROUGHPUT=20 scripts/bench-tls.sh
set -euo pipefail
cd "$(dirname "$0")/.."

throughput=${ROUNDS_THROUGHPUT:-10} # rounds of 64 MiB per variant
firstbyte=${ROUNDS_FIRSTBYTE:-300}  # requests per variant
handshake=${ROUNDS_HANDSHAKE:-100}  # connections (and new names) per kind
fanout=${ROUNDS_FANOUT:-2}          # fresh furls, two rounds of 200 streams each

out=$(mktemp)
trap 'rm -f "$out"' EXIT
run() {
  local cmd=(go test ./e2e -run XXX -count 1 -timeout 30m -bench "$1" -benchtime "$2")
  echo "\$ ${cmd[*]}" | tee -a "$out"
  "${cmd[@]}" 2>&1 | tee -a "$out"
}
run '^BenchmarkTLSStreamThroughput$' "${throughput}x"
run '^BenchmarkTLSStreamFirstByte$' "${firstbyte}x"
run '^BenchmarkTLSHandshake$' "${handshake}x"
run '^BenchmarkTLSConcurrentStreams$' "${fanout}x"

# A benchmark line is: name, iterations, then value-unit pairs.
echo
echo "furl TLS benchmarks ($(go version | cut -d' ' -f3), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)); medians"
awk '
  /^Benchmark/ {
    name = $1; sub(/^BenchmarkTLS/, "", name); sub(/-[0-9]+$/, "", name)
    for (i = 3; i < NF; i += 2) printf "%-28s %-34s %12s\n", name, $(i+1), $i
  }
' "$out"
