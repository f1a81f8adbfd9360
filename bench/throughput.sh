#!/usr/bin/env bash
# bench/throughput.sh: how fast `bouncewatch report` reads a big mail log,
# on two cores and on one, next to mtail doing the same job
# (bench/postfix.mtail, bench/exim.mtail), and whether it stays as fast on a
# log ten times as long.
#
# From the repository root:
#   bench/throughput.sh                  # 1,000,000 lines of each, 3 runs each, and 10,000,000
#   LINES=200000 RUNS=1 BIG=0 bench/throughput.sh
#   bench/throughput.sh --install        # first apt-get install mtail and time
#
# It generates a Postfix and an Exim log with cmd/bouncewatch-loggen (seed
# SEED, default 1) into a temporary directory, builds bouncewatch, then for
# each log runs, one at a time and interleaved, RUNS times each:
#   bouncewatch report --format=prometheus LOG                 (2 cores)
#   taskset -c 0 bouncewatch report --format=prometheus LOG    (1 core)
#   mtail --one_shot --one_shot_format=prometheus --logtostderr \
#         --progs bench/MTA.mtail --logs LOG
#   bouncewatch report ... LOG.gz, on two cores and on one: the same log
#         compressed with gzip -6, as rotated logs are (the second core
#         decompresses while the first parses; mtail cannot read it)
# under /usr/bin/time, and prints a table: median wall seconds (min-max),
# lines/s, CPU seconds (user+sys), peak RSS, and bouncewatch/mtail ratios
# (speed above 1: bouncewatch is faster; RSS below 1: it uses less memory).
# It checks that both tools counted the same delivery events.
#
# Then, unless BIG=0, it generates BIG lines (default 10,000,000) of each log
# and times bouncewatch (2 cores) once on each: the same lines/s and the
# same peak RSS as on LINES lines show that the work is linear in the log and
# that nothing is kept per line. (mtail is not run on them: it would take
# many minutes.)
#
# Needs: Go (the version in go.mod), Debian's mtail and time packages, and
# taskset (util-linux). It installs nothing unless given --install, which
# runs (as root) apt-get update && apt-get install -y mtail time
# The temporary directory (about 350 MB for a million lines of each, 3.5 GB
# for ten million) is removed at the end. mtail's one-shot mode still opens
# its HTTP port; it is bound to 127.0.0.1 on a free port.
set -euo pipefail

cd "$(dirname "$0")/.."
LINES=${LINES:-1000000}
RUNS=${RUNS:-3}
SEED=${SEED:-1}
BIG=${BIG:-10000000}

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
command -v taskset >/dev/null || die "taskset is missing; install it with: apt-get update && apt-get install -y util-linux"
case "$LINES$RUNS$BIG" in *[!0-9]*) die "LINES, RUNS and BIG must be whole numbers" ;; esac
[ "$RUNS" -ge 1 ] || die "RUNS must be at least 1"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bouncewatch-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "building bouncewatch and bouncewatch-loggen" >&2
go build -o "$tmp/bouncewatch" ./cmd/bouncewatch
go build -o "$tmp/bouncewatch-loggen" ./cmd/bouncewatch-loggen

for mta in postfix exim; do
	echo "generating $LINES lines of $mta log (seed $SEED)" >&2
	"$tmp/bouncewatch-loggen" -mta="$mta" -lines="$LINES" -seed="$SEED" >"$tmp/$mta.log"
	gzip -6 -c "$tmp/$mta.log" >"$tmp/$mta.log.gz" # as logrotate's compress leaves it
done

echo "mtail: $(mtail --version 2>&1 | head -1)" >&2
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for mta in postfix exim; do
	mtail --compile_only --logtostderr --address 127.0.0.1 --port 0 --progs "bench/$mta.mtail" >"$tmp/compile.out" 2>&1 || true
	if grep -q 'compile failed' "$tmp/compile.out"; then
		cat "$tmp/compile.out" >&2
		die "bench/$mta.mtail does not compile"
	fi
done

# run TOOL MTA N LOG LINES: one timed run; appends
# "tool mta lines wall user sys maxrss_kb" to results.
run() {
	local tool=$1 mta=$2 n=$3 log=$4 lines=$5
	local out="$tmp/$tool-$mta.prom" err="$tmp/$tool-$mta.err"
	local cmd
	case "$tool" in
	bouncewatch) cmd=("$tmp/bouncewatch" report --format=prometheus "$log") ;;
	bouncewatch-1core) cmd=(taskset -c 0 "$tmp/bouncewatch" report --format=prometheus "$log") ;;
	bouncewatch-gz) cmd=("$tmp/bouncewatch" report --format=prometheus "$log.gz") ;;
	bouncewatch-gz-1core) cmd=(taskset -c 0 "$tmp/bouncewatch" report --format=prometheus "$log.gz") ;;
	mtail) cmd=(mtail --one_shot --one_shot_format=prometheus --logtostderr
		--address 127.0.0.1 --port 0 --progs "bench/$mta.mtail" --logs "$log") ;;
	esac
	if ! /usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "${cmd[@]}" >"$out" 2>"$err"; then
		tail -20 "$err" >&2
		die "$tool on $log failed"
	fi
	grep -q '^bouncewatch_events_total{' "$out" || { tail -20 "$err" >&2; die "$tool on $log exported no bouncewatch_events_total"; }
	read -r wall user sys rss <"$tmp/time"
	printf '%s %s %s %s %s %s %s\n' "$tool" "$mta" "$lines" "$wall" "$user" "$sys" "$rss" >>"$tmp/results"
	printf '  %-17s %-7s %9d lines run %d: %6.2f s wall, %6.2f s CPU, %4d MiB\n' "$tool" "$mta" "$lines" "$n" "$wall" \
		"$(echo "$user $sys" | awk '{print $1+$2}')" "$((rss / 1024))" >&2
}

# events FILE: "status code total" from bouncewatch_events_total, sorted.
events() {
	sed -n 's/^bouncewatch_events_total{\(.*\)} \([0-9.e+]*\)$/\1 \2/p' "$1" |
		sed -n 's/.*code="\([^"]*\)".*status="\([a-z]*\)".* \([0-9.e+]*\)$/\2 \1 \3/p' | sort
}

: >"$tmp/results"
echo "timing, one run at a time, interleaved" >&2
for mta in postfix exim; do
	for n in $(seq "$RUNS"); do
		run bouncewatch "$mta" "$n" "$tmp/$mta.log" "$LINES"
		run bouncewatch-1core "$mta" "$n" "$tmp/$mta.log" "$LINES"
		run mtail "$mta" "$n" "$tmp/$mta.log" "$LINES"
		run bouncewatch-gz "$mta" "$n" "$tmp/$mta.log" "$LINES"
		run bouncewatch-gz-1core "$mta" "$n" "$tmp/$mta.log" "$LINES"
	done
	if [ "$mta" = exim ]; then
		# Same events, status by code: the two programs did the same job.
		if ! diff <(events "$tmp/bouncewatch-$mta.prom") <(events "$tmp/mtail-$mta.prom") >"$tmp/diff"; then
			cat "$tmp/diff" >&2
			echo "  WARNING: the two tools counted different events on exim.log" >&2
		else
			echo "  exim: both counted the same events by status and code" >&2
		fi
	else
		# Postfix: mtail counts one expired event per message, bouncewatch one
		# per recipient (mtail cannot walk a queue id's recipients).
		if ! diff <(events "$tmp/bouncewatch-$mta.prom" | grep -v '^expired') <(events "$tmp/mtail-$mta.prom" | grep -v '^expired') >"$tmp/diff"; then
			cat "$tmp/diff" >&2
			echo "  WARNING: the two tools counted different events on postfix.log" >&2
		else
			echo "  postfix: both counted the same events by status and code (expiries aside: mtail counts messages)" >&2
		fi
	fi
done

if [ "$BIG" -gt 0 ]; then
	for mta in postfix exim; do
		echo "generating $BIG lines of $mta log (seed $SEED)" >&2
		"$tmp/bouncewatch-loggen" -mta="$mta" -lines="$BIG" -seed="$SEED" >"$tmp/$mta-big.log"
		run bouncewatch "$mta" 1 "$tmp/$mta-big.log" "$BIG"
		rm -f "$tmp/$mta-big.log"
	done
fi

echo
awk '
function median(a, n,   i, j, t) {
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
{
	k = $1 SUBSEP $2 SUBSEP $3; n[k]++; L[k] = $3
	wall[k, n[k]] = $4; cpu[k, n[k]] = $5 + $6
	if ($7 > rss[k]) rss[k] = $7
	if (!(k in lo) || $4 < lo[k]) lo[k] = $4
	if ($4 > hi[k]) hi[k] = $4
	if (!(k in seen)) { seen[k] = 1; order[++nk] = k }
}
END {
	printf "%-20s %-7s %10s %17s %11s %7s %13s\n", "TOOL", "LOG", "LINES", "SECONDS (min-max)", "LINES/S", "CPU S", "PEAK RSS MiB"
	for (m = 1; m <= 2; m++) for (i = 1; i <= nk; i++) {
		k = order[i]; split(k, f, SUBSEP)
		if (f[2] != (m == 1 ? "postfix" : "exim")) continue
		delete w; delete c
		for (j = 1; j <= n[k]; j++) { w[j] = wall[k, j]; c[j] = cpu[k, j] }
		W[k] = median(w, n[k]); C[k] = median(c, n[k])
		printf "%-20s %-7s %10d %6.2f (%.2f-%.2f) %11.0f %7.2f %13.1f\n", f[1], f[2], f[3], W[k], lo[k], hi[k], f[3] / W[k], C[k], rss[k] / 1024
	}
	print ""
	printf "%-7s %-20s %22s %22s %22s\n", "LOG", "BOUNCEWATCH", "SPEED bouncewatch/mtail", "CPU bouncewatch/mtail", "RSS bouncewatch/mtail"
	for (m = 1; m <= 2; m++) {
		mta = m == 1 ? "postfix" : "exim"
		for (i = 1; i <= nk; i++) {
			k = order[i]; split(k, f, SUBSEP)
			if (f[2] != mta || f[1] == "mtail") continue
			t = "mtail" SUBSEP mta SUBSEP f[3]
			if (!(t in W)) continue
			printf "%-7s %-20s %21.2fx %21.2fx %21.2fx\n", mta, f[1], W[t] / W[k], C[k] / C[t], rss[k] / rss[t]
		}
	}
	big = 0
	for (i = 1; i <= nk; i++) { k = order[i]; split(k, f, SUBSEP); if (f[1] == "bouncewatch" && f[3] > big) big = f[3] }
	print ""
	printf "%-7s %28s %28s\n", "LOG", "LINES/S small -> big", "PEAK RSS MiB small -> big"
	for (m = 1; m <= 2; m++) {
		mta = m == 1 ? "postfix" : "exim"
		for (i = 1; i <= nk; i++) {
			k = order[i]; split(k, f, SUBSEP)
			if (f[1] != "bouncewatch" || f[2] != mta || f[3] == big) continue
			b = "bouncewatch" SUBSEP mta SUBSEP big
			if (!(b in W)) continue
			printf "%-7s %12.0f -> %12.0f %13.1f -> %12.1f   (%d and %d lines)\n", mta, f[3] / W[k], big / W[b], rss[k] / 1024, rss[b] / 1024, f[3], big
		}
	}
}' "$tmp/results"
echo
echo "medians of $RUNS runs; SPEED is lines/s of bouncewatch over lines/s of mtail (above 1: bouncewatch is faster)."
echo "bouncewatch uses two cores (one reads and decompresses, one parses); bouncewatch-1core is pinned to one with taskset."
