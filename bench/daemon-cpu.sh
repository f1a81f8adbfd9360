#!/usr/bin/env bash
# bench/daemon-cpu.sh: CPU and memory of `bouncewatch run` as installed
# (shipped defaults: a 2 s poll, each scrape reading the log to its end
# first, a checkpoint every 10 s), following a live log written at RATE
# lines/s (default 10,000) for SECONDS (default 60), with a scrape of
# /metrics every 15 s as Prometheus makes it (asking for gzip, as Prometheus
# does by default); and, when Debian's mtail is installed, mtail following
# the same log the same way (bench/MTA.mtail, its default 250 ms poll), for
# comparison.
#
# From the repository root:
#   bench/daemon-cpu.sh                 # Postfix, 10,000 lines/s, 60 s
#   bench/daemon-cpu.sh 10000 60 exim
#   NO_MTAIL=1 bench/daemon-cpu.sh      # bouncewatch only
#   RUNS=5 NO_MTAIL=1 bench/daemon-cpu.sh 10000 60 exim   # five runs, and their median
#
# Each follower starts on an empty log and is measured twice: idle for
# IDLE seconds (default 20: its cost when the MTA is quiet, the polls and
# timers alone), then from the first line written to one second after the
# last, so the second figure includes the polls, the checkpoints and the
# scrapes. CPU is user + system time from /proc/PID/stat. It prints the CPU
# seconds, the share of one core, the peak RSS, and the follower's own count
# of lines to show none was missed. The log is written by
# cmd/bouncewatch-loggen at the given rate. RUNS (default 1) repeats each
# follower's measure, each from an empty log and state, and prints the
# median share: one run on a shared or virtual machine can be a fifth off.
# Needs Go (the version in go.mod) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-10000}
SECS=${2:-60}
MTA=${3:-postfix}
IDLE=${IDLE:-20}
RUNS=${RUNS:-1}
command -v curl >/dev/null || { echo "daemon-cpu.sh: curl is missing (apt-get install -y curl)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bouncewatch-daemon-cpu.XXXXXX")
# A follower is stopped and waited for before its directory goes.
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/bin/bouncewatch" ./cmd/bouncewatch
go build -o "$tmp/bin/loggen" ./cmd/bouncewatch-loggen
ticks=$(getconf CLK_TCK)

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo $((19467 + RANDOM % 1000))
}

# measure NAME PORT COUNT_METRIC_REGEXP CMD...: runs CMD (which follows
# $tmp/NAME/mail.log and serves /metrics on PORT) and prints its figures.
measure() {
	local name=$1 port=$2 count=$3
	shift 3
	local dir="$tmp/$name"
	rm -rf "$dir" # a run starts from nothing: no log, no checkpoint
	mkdir -p "$dir"
	: >"$dir/mail.log"
	"$@" >"$dir/out" 2>&1 &
	local pid=$!
	for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/metrics" 2>/dev/null && break; sleep 0.1; done
	curl -fs -o /dev/null "http://127.0.0.1:$port/metrics" || { echo "daemon-cpu.sh: $name did not start:" >&2; cat "$dir/out" >&2; exit 1; }
	cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
	local c0 c1 c2 t0 t1 t2
	c0=$(cpu)
	t0=$(date +%s.%N)
	sleep "$IDLE"
	c1=$(cpu)
	t1=$(date +%s.%N)
	# Prometheus's part: a scrape every 15 s while the log is written.
	(while sleep 15; do curl -fs -H 'Accept-Encoding: gzip' -o /dev/null "http://127.0.0.1:$port/metrics" || true; done) &
	local scraper=$!
	"$tmp/bin/loggen" -mta="$MTA" -lines=$((RATE * SECS)) -rate="$RATE" >>"$dir/mail.log"
	sleep 1
	c2=$(cpu)
	t2=$(date +%s.%N)
	kill "$scraper" 2>/dev/null || true
	local lines counted hwm
	lines=$(wc -l <"$dir/mail.log")
	counted=$(curl -fs "http://127.0.0.1:$port/metrics" | awk -v re="$count" '$0 ~ re {n += $2} END {printf "%d", n}')
	hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	awk -v n="$name" -v ci=$((c1 - c0)) -v c=$((c2 - c1)) -v t="$ticks" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v l="$lines" \
		-v cl="$counted" -v h="$hwm" -v r="$RATE" -v m="$MTA" 'BEGIN {
		printf "%s, %s: idle %.2f%% of one core; %d lines at %d lines/s over %.1f s (it counted %d): %.2f CPU s, %.2f%% of one core, peak RSS %.1f MiB\n",
			n, m, 100*ci/t/(t1-t0), l, r, t2-t1, cl, c/t, 100*c/t/(t2-t1), h/1024 }'
}

# runs NAME COUNT_METRIC_REGEXP CMD...: measure, RUNS times (CMD's @PORT@
# stands for a free port), then the median share of one core.
runs() {
	local name=$1 count=$2
	shift 2
	local r port
	for r in $(seq "$RUNS"); do
		port=$(free_port)
		measure "$name" "$port" "$count" "${@//@PORT@/$port}"
	done | tee "$tmp/$name.runs"
	[ "$RUNS" -gt 1 ] || return 0
	sed -n 's/.*, \([0-9.]*\)% of one core, peak.*/\1/p' "$tmp/$name.runs" | sort -n |
		awk -v n="$name" -v m="$MTA" '{v[NR] = $1} END {
			printf "%s, %s: median of %d runs %.2f%% of one core (%.2f to %.2f%%)\n", n, m, NR,
				NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[1], v[NR] }'
}

runs bouncewatch '^bouncewatch_log_lines_total[{]' \
	"$tmp/bin/bouncewatch" run --source.file=mail="$tmp/bouncewatch/mail.log" --state.file="$tmp/bouncewatch/state" \
	--web.listen-address=127.0.0.1:@PORT@ --log.level=warn
if [ -z "${NO_MTAIL:-}" ] && command -v mtail >/dev/null; then
	runs mtail '^mtail_lines_total ' \
		mtail --logtostderr --address 127.0.0.1 --port @PORT@ --progs "bench/$MTA.mtail" --logs "$tmp/mtail/mail.log"
fi
