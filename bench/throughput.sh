#!/usr/bin/env bash
# bench/throughput.sh: how fast `bouncewatch report` reads a big mail log,
# next to mtail doing the same job (bench/postfix.mtail, bench/exim.mtail).
#
# From the repository root:
#   bench/throughput.sh                  # 1,000,000 lines of each, 3 runs each
#   LINES=200000 RUNS=1 bench/throughput.sh
#   bench/throughput.sh --install        # first apt-get install mtail and time
#
# It generates a Postfix and an Exim log with cmd/bouncewatch-loggen (seed
# SEED, default 1) into a temporary directory, builds bouncewatch, then for
# each log runs, one at a time, RUNS times each:
#   bouncewatch report --format=prometheus LOG
#   mtail --one_shot --one_shot_format=prometheus --logtostderr \
#         --progs bench/MTA.mtail --logs LOG
# under /usr/bin/time, and prints a table: median wall seconds (min-max),
# lines/s, CPU seconds (user+sys), peak RSS, and bouncewatch/mtail ratios
# (speed above 1: bouncewatch is faster; RSS below 1: it uses less memory).
# It also checks that both tools counted the same delivery events.
#
# Needs: Go (the version in go.mod), and Debian's mtail and time packages. It
# installs nothing unless given --install, which runs (as root)
#   apt-get update && apt-get install -y mtail time
# The temporary directory (about 350 MB for a million lines of each) is
# removed at the end. mtail's one-shot mode still opens its HTTP port; it is
# bound to 127.0.0.1 on a free port.
set -euo pipefail

cd "$(dirname "$0")/.."
LINES=${LINES:-1000000}
RUNS=${RUNS:-3}
SEED=${SEED:-1}

die() { echo "throughput.sh: $*" >&2; exit 1; }

if [ "${1:-}" = "--install" ]; then
	[ "$(id -u)" = 0 ] || die "--install needs root (it runs apt-get)"
	echo "installing Debian packages mtail and time" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mtail time
elif [ $# -gt 0 ]; then
	die "unknown argument $1 (the only one is --install)"
fi

[ -f go.mod ] && grep -q '^module github.com/bouncewatch/bouncewatch$' go.mod || die "run it from the bouncewatch repository"
command -v go >/dev/null || die "go is missing (see go.mod for the version)"
command -v mtail >/dev/null || die "mtail is missing; install it with: apt-get update && apt-get install -y mtail (or run bench/throughput.sh --install)"
[ -x /usr/bin/time ] || die "GNU time (/usr/bin/time) is missing; install it with: apt-get update && apt-get install -y time (or run bench/throughput.sh --install)"
case "$LINES$RUNS" in *[!0-9]*) die "LINES and RUNS must be whole numbers" ;; esac
[ "$RUNS" -ge 1 ] || die "RUNS must be at least 1"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bouncewatch-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "building bouncewatch and bouncewatch-loggen" >&2
go build -o "$tmp/bouncewatch" ./cmd/bouncewatch
go build -o "$tmp/bouncewatch-loggen" ./cmd/bouncewatch-loggen

for mta in postfix exim; do
	echo "generating $LINES lines of $mta log (seed $SEED)" >&2
	"$tmp/bouncewatch-loggen" -mta="$mta" -lines="$LINES" -seed="$SEED" >"$tmp/$mta.log"
done

echo "mtail: $(mtail --version 2>&1 | head -1)" >&2
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for mta in postfix exim; do
	mtail --compile_only --logtostderr --address 127.0.0.1 --port 0 --progs "bench/$mta.mtail" >"$tmp/compile.out" 2>&1 || true
	if grep -q 'compile failed' "$tmp/compile.out"; then
		cat "$tmp/compile.out" >&2
		die "bench/$mta.mtail does not compile"
	fi
done

# run TOOL MTA N: one timed run; appends "tool mta wall user sys maxrss_kb" to results.
run() {
	local tool=$1 mta=$2 n=$3 log="$tmp/$2.log"
	local out="$tmp/$tool-$mta.prom" err="$tmp/$tool-$mta.err"
	local cmd
	if [ "$tool" = bouncewatch ]; then
		cmd=("$tmp/bouncewatch" report --format=prometheus "$log")
	else
		cmd=(mtail --one_shot --one_shot_format=prometheus --logtostderr
			--address 127.0.0.1 --port 0 --progs "bench/$mta.mtail" --logs "$log")
	fi
	if ! /usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "${cmd[@]}" >"$out" 2>"$err"; then
		tail -20 "$err" >&2
		die "$tool on $mta.log failed"
	fi
	grep -q '^bouncewatch_events_total{' "$out" || { tail -20 "$err" >&2; die "$tool on $mta.log exported no bouncewatch_events_total"; }
	read -r wall user sys rss <"$tmp/time"
	printf '%s %s %s %s %s %s\n' "$tool" "$mta" "$wall" "$user" "$sys" "$rss" >>"$tmp/results"
	printf '  %-11s %-7s run %d: %6.2f s wall, %6.2f s CPU, %4d MiB\n' "$tool" "$mta" "$n" "$wall" \
		"$(echo "$user $sys" | awk '{print $1+$2}')" "$((rss / 1024))" >&2
}

# events FILE: "status total" from bouncewatch_events_total, whatever the labels.
events() {
	sed -n 's/^bouncewatch_events_total{.*status="\([a-z]*\)".*} \([0-9.e+]*\)$/\1 \2/p' "$1" |
		awk '{n[$1] += $2} END {for (s in n) printf "%s=%d\n", s, n[s]}' | sort | tr '\n' ' '
}

: >"$tmp/results"
echo "timing, one run at a time" >&2
for mta in postfix exim; do
	for n in $(seq "$RUNS"); do
		run bouncewatch "$mta" "$n"
		run mtail "$mta" "$n"
	done
	bw=$(events "$tmp/bouncewatch-$mta.prom")
	mt=$(events "$tmp/mtail-$mta.prom")
	echo "  $mta events: bouncewatch $bw" >&2
	echo "  $mta events: mtail       $mt" >&2
	if [ "$mta" = exim ] && [ "$bw" != "$mt" ]; then
		echo "  WARNING: the two tools counted different events on $mta.log" >&2
	fi
	# Postfix: mtail counts one expired event per message, bouncewatch one per recipient.
done

echo
awk -v lines="$LINES" '
function median(a, n,   i, j, t) {
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
{
	k = $1 SUBSEP $2; n[k]++
	wall[k, n[k]] = $3; cpu[k, n[k]] = $4 + $5
	if ($6 > rss[k]) rss[k] = $6
	if (!(k in lo) || $3 < lo[k]) lo[k] = $3
	if ($3 > hi[k]) hi[k] = $3
}
END {
	printf "%-11s %-7s %9s %17s %11s %7s %13s\n", "TOOL", "LOG", "LINES", "SECONDS (min-max)", "LINES/S", "CPU S", "PEAK RSS MiB"
	split("postfix exim", mtas, " ")
	split("bouncewatch mtail", tools, " ")
	for (m = 1; m <= 2; m++) for (t = 1; t <= 2; t++) {
		k = tools[t] SUBSEP mtas[m]
		delete w; delete c
		for (i = 1; i <= n[k]; i++) { w[i] = wall[k, i]; c[i] = cpu[k, i] }
		W[k] = median(w, n[k]); C[k] = median(c, n[k])
		printf "%-11s %-7s %9d %6.2f (%.2f-%.2f) %11.0f %7.2f %13.1f\n", tools[t], mtas[m], lines, W[k], lo[k], hi[k], lines / W[k], C[k], rss[k] / 1024
	}
	print ""
	printf "%-7s %22s %22s %22s\n", "LOG", "SPEED bouncewatch/mtail", "CPU bouncewatch/mtail", "RSS bouncewatch/mtail"
	for (m = 1; m <= 2; m++) {
		b = "bouncewatch" SUBSEP mtas[m]; t = "mtail" SUBSEP mtas[m]
		printf "%-7s %21.2fx %21.2fx %21.2fx\n", mtas[m], W[t] / W[b], C[b] / C[t], rss[b] / rss[t]
	}
}' "$tmp/results"
echo
echo "medians of $RUNS runs; SPEED is lines/s of bouncewatch over lines/s of mtail (above 1: bouncewatch is faster)."
