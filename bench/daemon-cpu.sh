#!/usr/bin/env bash
# bench/daemon-cpu.sh: CPU and memory of `bouncewatch run` as installed
# (shipped defaults: 250 ms poll, a checkpoint every 10 s), following a live
# log written at RATE lines/s (default 10,000) for SECONDS (default 60), with
# a scrape of /metrics every 15 s as Prometheus would.
#
# From the repository root:
#   bench/daemon-cpu.sh                 # Postfix, 10,000 lines/s, 60 s
#   bench/daemon-cpu.sh 10000 60 exim
#
# The log is written by cmd/bouncewatch-loggen at the given rate. CPU is
# read from /proc/PID/stat (user + system) from the first line written to
# one second after the last, so it includes the polls, the checkpoints and
# the scrapes. It prints the CPU seconds, the share of one core, the peak
# RSS, and the daemon's own count of lines to show none was missed.
# Needs Go (the version in go.mod) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-10000}
SECS=${2:-60}
MTA=${3:-postfix}
command -v curl >/dev/null || { echo "daemon-cpu.sh: curl is missing (apt-get install -y curl)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bouncewatch-daemon-cpu.XXXXXX")
# The daemon is stopped and waited for before its state directory goes.
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/bouncewatch" ./cmd/bouncewatch
go build -o "$tmp/loggen" ./cmd/bouncewatch-loggen
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 19467)
: >"$tmp/mail.log"
"$tmp/bouncewatch" run --source.file=mail="$tmp/mail.log" --state.file="$tmp/state" \
	--web.listen-address=127.0.0.1:"$port" --log.level=warn &
pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$port/-/ready" >/dev/null || { echo "daemon-cpu.sh: bouncewatch did not become ready" >&2; exit 1; }
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
# Prometheus's part: a scrape every 15 s while the log is written.
(while sleep 15; do curl -fs -o /dev/null "http://127.0.0.1:$port/metrics" || true; done) &
c0=$(cpu)
t0=$(date +%s.%N)
"$tmp/loggen" -mta="$MTA" -lines=$((RATE * SECS)) -rate="$RATE" >>"$tmp/mail.log"
sleep 1
c1=$(cpu)
t1=$(date +%s.%N)
lines=$(wc -l <"$tmp/mail.log")
read_lines=$(curl -fs "http://127.0.0.1:$port/metrics" | awk '/^bouncewatch_log_lines_total\{/ {n += $2} END {printf "%d", n}')
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
awk -v c=$((c1 - c0)) -v t="$ticks" -v t0="$t0" -v t1="$t1" -v l="$lines" -v rl="$read_lines" -v h="$hwm" -v r="$RATE" -v m="$MTA" 'BEGIN {
	wall = t1 - t0
	printf "%s: %d lines at %d lines/s over %.1f s (the daemon counted %d): %.2f CPU s, %.2f%% of one core, peak RSS %.1f MiB\n",
		m, l, r, wall, rl, c/t, 100*c/t/wall, h/1024 }'
