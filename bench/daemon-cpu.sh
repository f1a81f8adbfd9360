#!/usr/bin/env bash
# bench/daemon-cpu.sh: CPU and memory of `bouncewatch run` following a live
# Postfix log written at RATE lines/s (default 10,000) for SECONDS (default 30).
# From the repository root: bench/daemon-cpu.sh [RATE] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-10000}
SECS=${2:-30}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/bouncewatch" ./cmd/bouncewatch
go build -o "$tmp/loggen" ./cmd/bouncewatch-loggen
: > "$tmp/mail.log"
"$tmp/bouncewatch" run --source.file=mail="$tmp/mail.log" --state.file="$tmp/state.json" \
	--web.listen-address=127.0.0.1:0 --log.level=warn &
pid=$!
sleep 1
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
c0=$(cpu)
"$tmp/loggen" -lines=$((RATE * SECS)) -rate="$RATE" >> "$tmp/mail.log"
sleep 1
c1=$(cpu)
lines=$(wc -l < "$tmp/mail.log")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
awk -v c=$((c1 - c0)) -v t="$ticks" -v s="$SECS" -v l="$lines" -v h="$hwm" -v r="$RATE" 'BEGIN {
	printf "%d lines at %d lines/s for %d s: %.2f CPU s, %.1f%% of one core, peak RSS %.1f MiB\n", l, r, s, c/t, 100*c/t/(s+1), h/1024 }'
