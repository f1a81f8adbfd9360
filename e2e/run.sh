#!/usr/bin/env bash
# e2e/run.sh: the end-to-end scenario with a real Postfix, a real Exim, bouncewatch and a
# real Prometheus, on loopback. It ORCHESTRATES and leaves artifacts; the assertions are
# Go tests (e2e/e2e_test.go, TestEndToEnd), which run it:
#
#     go test -tags e2e -run TestEndToEnd -count=1 -v ./e2e/    # about 1.5 minutes
#     bash e2e/run.sh                # the scenario alone, as root; artifacts in $E2E_OUT
#     E2E_REUSE=1 go test -tags e2e -run TestEndToEnd ./e2e/    # the assertions again, on them
#
# It exits non-zero with a "FAIL:" line only when the orchestration fails (a package, an
# MTA, the syslog chain, bouncewatch or Prometheus did not start or become ready), never
# for what the scenario observed.
#
# What runs (all on 127.0.0.1, private ports 126xx):
#   postfix-rx  Postfix 3.7 (apt), receiver on :12625. Its access map answers
#               "451 4.3.2 System not accepting network messages" for retry.example
#               (until it is switched to OK at T+35s, then `postfix reload`) and for
#               expire.example (always), "450 4.7.1" for greylist.example (until T+35s:
#               a domain that defers with another code, which must not raise the 4.3.2
#               alert), 550 5.1.1 for unknown bounce.example users (and, after the
#               switch, for gone@retry.example); it accepts ok.example.
#   postfix-tx  Postfix 3.7, sender: logs through syslog(3) -> a private
#               systemd-journald -> rsyslogd -> $LOGD/mail.log (RFC 3339, Debian 12's
#               default file format). bouncewatch source "postfix". journald and rsyslogd
#               run in a network namespace of their own with net.unix.max_dgram_qlen = 512
#               as on a Debian 12 host (see start_syslog_stack in lib.sh: with the 10 of
#               some CI machines journald's forwarding drops lines); the journal is kept so
#               that the test checks that every line reached mail.log.
#   exim-tx     Exim 4.96 (exim4-daemon-light, unpacked), sender: writes its mainlog
#               $LOGD/exim/mainlog. bouncewatch source "exim".
#   bouncewatch `bouncewatch run` built from this repository (or E2E_BW_BIN), following
#               both logs from their start (--source.from-beginning, a state file), :12690.
#   prometheus  Debian's /usr/bin/prometheus scraping bouncewatch every 2 s and
#               evaluating alerting/bouncewatch.rules.yml every 2 s, :12691.
# Retry timers are seconds: Postfix queue_run_delay 5s, backoff 10s, queue lifetime
# 60s; Exim retry rule F,60s,10s and a queue run every 10 s.
#
# Timeline (T = first message): T+20 rename mail.log and SIGHUP rsyslogd; T+35 the
# receiver accepts retry.example; T+45 bouncewatch is stopped (SIGTERM), the Exim
# mainlog is renamed and `exim -q` runs while it is down, and bouncewatch is started
# again on its state file; T+60..80 expire.example expires in both MTAs; then the queues drain, the MTAs
# are stopped and the artifacts are saved.
#
# Artifacts in $E2E_OUT (default /tmp/bouncewatch-e2e; wiped at the start):
#   facts.env           KEY=VALUE: mode (syslog|maillog), T0, switch (epochs), the
#                       scenario's times and outcomes (queues_drained, bw1_exit, ...)
#   logs/postfix/, logs/exim/   every file of each log (mail.log.1 mail.log; mainlog.1
#                       mainlog), with logs/postfix.files, logs/exim.files: their names,
#                       oldest first; logs/postfix-rx.log; logs/journal.txt (the private
#                       journal, syslog mode)
#   metrics.txt         the final /metrics scrape (all lines read, MTAs stopped)
#   scrapes/            every /metrics scrape taken every 2 s during the run (NNNNN.prom,
#                       index.tsv: seq, epoch, HTTP status)
#   alerts.jsonl        Prometheus' /api/v1/alerts every 2 s: {"t": epoch, "alerts": [...]}
#   alerts-final.json   /api/v1/alerts at the end
#   prom/NAME.json      /api/v1/query answers at the end (prom/queries.tsv: NAME, PromQL)
#   bouncewatch         the binary that ran (the test runs `report` with it)
#   bouncewatch-1.log, bouncewatch-2.log, prometheus.log, journald.out, rules.yml (the
#                       alert rules as loaded), prometheus.yml, state/, tsdb/
#
# The syslog part runs in a private mount namespace (unshare -m) with its own /dev,
# /run/systemd, /run/log and /etc/exim4, so the host's /dev/log, journal and /etc are
# not changed (except for an empty /etc/exim4 as the mount point). Without unshare the
# sending Postfix falls back to maillog_file (facts.env: mode=maillog).
#
# Alert rules: the shipped alerting/bouncewatch.rules.yml is used as it is, except that
# a copy with every `for:` shortened to 10s is loaded (production `for: 5m` would make
# the test wait 5 minutes); the expressions and windows are unchanged, and the script
# checks that the copy differs from the shipped file only in `for:` lines.
#
# Left on the machine: the packages (postfix, rsyslog, libidn12 and their dependencies;
# prometheus, jq, curl, chromium if they were missing), /opt/bouncewatch-e2e (configs, the unpacked
# exim and its .debs), /var/spool/bouncewatch-e2e, /var/log/bouncewatch-e2e and
# /run/bouncewatch-e2e (wiped by the next run), the users Debian-exim and bwe2e, an empty
# /etc/exim4 (mount point of the private trusted_configs) and the artifacts in $E2E_OUT.
# Nothing keeps running and no mount outlives the run; /etc/postfix is never used.
#
# Knobs: E2E_OUT, E2E_RULES (the rule file, default alerting/bouncewatch.rules.yml),
# E2E_BW_CONFIG (a rules.yaml for bouncewatch), E2E_BW_BIN (a built bouncewatch instead of
# go build), E2E_NO_NS=1 (the fallback), E2E_SKIP_INSTALL=1.
set -Eeuo pipefail

NAME=e2e/run.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SELF=$E2E_DIR/run.sh

LAB=/opt/bouncewatch-e2e          # configs
SPOOL=/var/spool/bouncewatch-e2e  # queues, mailboxes
LOGD=/var/log/bouncewatch-e2e     # the MTA logs (Postfix's maillog_file must start with /var)
RUN=/run/bouncewatch-e2e          # pid files
OUT=${E2E_OUT:-/tmp/bouncewatch-e2e}
RULES_SRC=${E2E_RULES:-$REPO/alerting/bouncewatch.rules.yml}
PFTX=$LAB/postfix-tx PFRX=$LAB/postfix-rx EXTX=$LAB/exim-tx
P_PFRX=12625 P_EXTX=12628 P_BW=12690 P_PROM=12691
ALERT=BouncewatchRepeated432
BW=http://127.0.0.1:$P_BW
T_ROTATE=20 T_SWITCH=35 T_RESTART=45 T_DONE=200   # seconds after the first message
set_traps

###########################################################################
# Configuration (written from heredocs; adapted from ../shared/mta-lab/run-lab.sh)
###########################################################################
write_configs() {  # $1 = syslog|maillog: how the sending Postfix logs
	local tx_log="maillog_file ="
	[[ $1 == maillog ]] && tx_log="maillog_file = $LOGD/mail.log"
	mkdir -p "$PFTX" "$PFRX" "$EXTX"

	# ---------------- sending Postfix ----------------
	{
		postfix_tx_main_cf "the sending Postfix of bouncewatch's end-to-end test" "$tx_log"
		cat <<EOF
# retry timers in seconds, so that a whole defer/retry/expire cycle takes ~80 s
queue_run_delay = 5s
minimal_backoff_time = 10s
maximal_backoff_time = 10s
maximal_queue_lifetime = 60s
bounce_queue_lifetime = 60s
EOF
	} >"$PFTX/main.cf"
	postfix_master_cf "" >"$PFTX/master.cf"
	local d
	for d in ok.example retry.example expire.example bounce.example greylist.example; do
		printf '%-20s smtp:[127.0.0.1]:%s\n' "$d" "$P_PFRX"
	done >"$PFTX/transport"
	printf 'postmaster: %s\nsender: %s\nMAILER-DAEMON: %s\n' $MUSER $MUSER $MUSER >"$PFTX/aliases"
	postalias -c "$PFTX" "hash:$PFTX/aliases"
	postfix_bounce_cf >"$PFTX/bounce.cf"

	# ---------------- receiving Postfix ----------------
	postfix_rx_main_cf "the receiver; its access map answers 451 4.3.2" "ok.example, retry.example, expire.example, bounce.example, greylist.example" >"$PFRX/main.cf"
	postfix_master_cf "127.0.0.1:$P_PFRX inet n - n - - smtpd" >"$PFRX/master.cf"
	cat >"$PFRX/vmailbox" <<'EOF'
@ok.example           ok.example/
@retry.example        retry.example/
@expire.example       expire.example/
@greylist.example     greylist.example/
alice@bounce.example  bounce.example/alice/
EOF
	# before the switch (T+35s)
	cat >"$PFRX/rcpt_access.down" <<'EOF'
retry.example       451 4.3.2 System not accepting network messages
expire.example      451 4.3.2 System not accepting network messages
greylist.example    450 4.7.1 Greylisted, please try again later
EOF
	# after it: retry.example and greylist.example accept, gone@retry.example is unknown
	cat >"$PFRX/rcpt_access.up" <<'EOF'
gone@retry.example  550 5.1.1 User unknown
retry.example       OK
expire.example      451 4.3.2 System not accepting network messages
greylist.example    OK
EOF
	cp "$PFRX/rcpt_access.down" "$PFRX/rcpt_access"

	# ---------------- sending Exim ----------------
	cat >"$EXTX/exim.conf" <<EOF
# exim-tx: the sending Exim of bouncewatch's end-to-end test; writes its mainlog only
primary_hostname = exim-tx.lab.example
qualify_domain = exim-tx.lab.example
domainlist local_domains = exim-tx.lab.example : localhost
exim_path = $EXIM
spool_directory = $SPOOL/exim-tx
log_file_path = $LOGD/exim/%slog
pid_file_path = $RUN/exim-tx.pid
local_interfaces = 127.0.0.1
daemon_smtp_ports = $P_EXTX
never_users = root
host_lookup =
rfc1413_hosts =
rfc1413_query_timeout = 0s
tls_advertise_hosts =
keep_environment =
acl_smtp_rcpt = acl_check_rcpt
ignore_bounce_errors_after = 40s
timeout_frozen_after = 2m
queue_run_max = 2

begin acl
acl_check_rcpt:
  accept  hosts = :
  accept  hosts = 127.0.0.1

begin routers
to_postfix_rx:
  driver = manualroute
  domains = ! +local_domains
  route_list = * 127.0.0.1
  transport = smtp_postfix_rx
  # the target is a local interface
  self = send
  no_more
local_user:
  driver = accept
  domains = +local_domains
  transport = local_file

begin transports
smtp_postfix_rx:
  driver = smtp
  port = $P_PFRX
  allow_localhost
  hosts_avoid_tls = *
local_file:
  driver = appendfile
  # 4.94+ taint checks forbid \${local_part} in a file name
  file = $SPOOL/exim-tx-mail/local.mbox
  user = Debian-exim
  group = Debian-exim
  mode = 0600
  delivery_date_add
  envelope_to_add
  return_path_add

begin retry
# retry every 10 s, give up 60 s after the first failure
*   *   F,60s,10s

begin rewrite
begin authenticators
EOF
	chmod 644 "$EXTX/exim.conf"
}

###########################################################################
# Helpers for the scenario
###########################################################################
pf_send() { local from=$1 subj=$2; shift 2; mkmsg "$from" "$subj" "$@" | sendmail -C "$PFTX" -f "$from" -- "$@"; }
# exim -odi delivers in the foreground; its exit status tells about that first attempt
ex_send() { local from=$1 subj=$2; shift 2; mkmsg "$from" "$subj" "$@" | extx -odi -oi -f "$from" -- "$@" || true; }

###########################################################################
# The scenario, inside the private mount namespace
###########################################################################
body() {
	local mode=$1 # syslog | maillog
	local p
	for p in $P_PFRX $P_EXTX $P_BW $P_PROM; do
		port_free "$p" || die "port 127.0.0.1:$p is busy"
	done
	prepare_dirs
	write_configs "$mode"
	trap 'on_exit stop' EXIT
	trap 'say "interrupted"; exit 130' INT TERM HUP
	fact mode "$mode"

	if [[ $mode == syslog ]]; then
		private_dev
		start_syslog_stack journald || die "the private journald -> rsyslogd chain did not work (see $OUT/journald.out)"
		fact postfix_log "syslog(3) -> systemd-journald -> rsyslogd -> mail.log (RFC 3339)"
	else
		echo "NOTE: FALLBACK: no private mount namespace; the sending Postfix writes $LOGD/mail.log through maillog_file, not syslog"
		host_trusted_config
		fact postfix_log "FALLBACK maillog_file mail.log"
	fi

	# the shipped rules; only the for: durations are shortened (expressions as shipped)
	shorten_rules "$RULES_SRC" "$OUT/rules.yml" 10s
	grep -q "alert: $ALERT\$" "$OUT/rules.yml" || die "$RULES_SRC has no alert $ALERT"
	start_prometheus $P_PROM "127.0.0.1:$P_BW" "$OUT/rules.yml" # waited for below

	say "config check"
	postfix -c "$PFRX" check
	postfix -c "$PFTX" check
	extx -bV >/dev/null

	say "starting the receiving Postfix, the sending Postfix and the sending Exim"
	postfix -c "$PFRX" start >/dev/null 2>&1
	postfix -c "$PFTX" start >/dev/null 2>&1
	extx -bd -q10s
	wait_until 15 bash -c "ss -ltnH '( sport = :$P_PFRX )' | grep -q ." || die "postfix-rx does not listen on $P_PFRX"
	wait_until 15 test -s "$RUN/exim-tx.pid" || die "exim-tx did not start"
	postfix -c "$PFTX" status >/dev/null 2>&1 || die "postfix-tx did not start"

	local bwargs=(--source.file="postfix=$LOGD/mail.log" --source.file="exim=$LOGD/exim/mainlog"
		--state.file="$OUT/state/state" --state.interval=2s --web.listen-address="127.0.0.1:$P_BW")
	start_bouncewatch "$BW" "$OUT/bouncewatch-1.log" "${bwargs[@]}" --source.from-beginning
	wait_prometheus
	start_alert_poller
	start_scrape_poller

	###################### the mail ######################
	T0=$(date +%s.%N)
	fact T0 "$T0"
	say "T+0 inject: 11 messages into each MTA"
	local S=sender@tx.lab.example E=sender@exim-tx.lab.example f
	for f in pf_send ex_send; do
		local s=$S
		[[ $f == ex_send ]] && s=$E
		$f $s "ok" alice@ok.example
		$f $s "multi" erin@ok.example frank@ok.example gina@retry.example
		$f $s "retry" bob@retry.example
		$f $s "retry 2" oscar@retry.example paul@retry.example
		$f $s "retry 3" rita@retry.example
		$f $s "retry, then unknown" gone@retry.example
		$f $s "expire" carol@expire.example cora@expire.example
		$f $s "expire 2" cody@expire.example
		$f $s "bounce" dave@bounce.example
		$f $s "bounce 2" dina@bounce.example alice@bounce.example
		$f $s "greylist" greg@greylist.example
	done

	sleep_until $T_ROTATE
	fact rotate_postfix "$(date +%s.%N)"
	if [[ $mode == syslog ]]; then
		say "T+$(tplus) rotate $LOGD/mail.log: rename to mail.log.1, SIGHUP rsyslogd"
		mv "$LOGD/mail.log" "$LOGD/mail.log.1"
		install -m 0640 -o root -g adm /dev/null "$LOGD/mail.log"
		kill -HUP "$(cat "$RUN/rsyslogd.pid")"
	else
		say "T+$(tplus) rotate $LOGD/mail.log: rename to mail.log.1, postfix reload (postlogd reopens)"
		mv "$LOGD/mail.log" "$LOGD/mail.log.1"
		postfix -c "$PFTX" reload >/dev/null 2>&1
	fi

	sleep_until $T_SWITCH
	cp "$PFRX/rcpt_access.up" "$PFRX/rcpt_access"
	postfix -c "$PFRX" reload >/dev/null 2>&1
	fact switch "$(date +%s.%N)"
	say "T+$(tplus) the receiver accepts retry.example and greylist.example (postfix reload)"

	sleep_until $T_RESTART
	say "T+$(tplus) SIGTERM bouncewatch; rename the Exim mainlog while it is down; start it again"
	fact restart_stop "$(date +%s.%N)"
	stop_bouncewatch bw1
	mv "$LOGD/exim/mainlog" "$LOGD/exim/mainlog.1" # Exim reopens by name when the inode changes
	fact rotate_exim "$(date +%s.%N)"
	# a queue run while bouncewatch is down: expire.example's addresses wait for their
	# retry time (10 s), so Exim logs "retry time not reached" for them, first thing in the
	# new mainlog; read after the restart, those lines take the domain's latest code
	# (4.3.2), which only the checkpoint can tell bouncewatch
	extx -q || true
	sleep 3
	start_bouncewatch "$BW" "$OUT/bouncewatch-2.log" "${bwargs[@]}"
	fact restart_start "$(date +%s.%N)"

	say "waiting for retries, expiry and bounces to finish (both queues empty, until T+$T_DONE at most)"
	local drained=0
	while awk -v t="$T0" -v d=$T_DONE -v n="$(date +%s)" 'BEGIN { exit !(n < t + d) }'; do
		if (($(pf_queue) == 0 && $(ex_queue) == 0)); then
			drained=1
			break
		fi
		sleep 2
	done
	fact queues_drained $drained
	fact queues_left "postfix-tx $(pf_queue), exim-tx $(ex_queue)"
	say "T+$(tplus) queues $( ((drained)) && echo empty || echo "NOT empty: postfix-tx $(pf_queue), exim-tx $(ex_queue)")"

	# let the alert reach firing for the domains that deferred with 4.3.2 (checked by the test)
	if wait_until 90 bash -c "curl -sf --max-time 2 '$PROM/api/v1/alerts' | jq -e --arg a $ALERT '
		[.data.alerts[] | select(.labels.alertname == \$a and .state == \"firing\") | .labels.domain] | unique == [\"expire.example\", \"retry.example\"]' >/dev/null"; then
		fact alert_settled 1
	else
		fact alert_settled 0
		say "the $ALERT alerts did not settle on expire.example and retry.example (the test says what they were)"
	fi

	say "stopping the MTAs so that the logs are final"
	stop_mtas
	sleep 1 # the last lines reach rsyslogd
	local files_pf=() files_ex=()
	[[ -f $LOGD/mail.log.1 ]] && files_pf+=("$LOGD/mail.log.1")
	files_pf+=("$LOGD/mail.log")
	[[ -f $LOGD/exim/mainlog.1 ]] && files_ex+=("$LOGD/exim/mainlog.1")
	files_ex+=("$LOGD/exim/mainlog")
	local size_pf size_ex
	size_pf=$(cat "${files_pf[@]}" | wc -c) size_ex=$(cat "${files_ex[@]}" | wc -c)
	# bouncewatch has read every byte, and Prometheus has scraped that
	finish_scrapes "$size_pf" "$size_ex"
	prom_save domain-events 'bouncewatch_domain_events_total'
	prom_save_resets
	prom_save restarts 'changes(process_start_time_seconds{job="bouncewatch"}[30m])'
	fact elapsed "$(tplus)"

	###################### artifacts ######################
	mkdir -p "$OUT/logs/postfix" "$OUT/logs/exim"
	cp "${files_pf[@]}" "$OUT/logs/postfix/"
	cp "${files_ex[@]}" "$OUT/logs/exim/"
	printf '%s\n' "${files_pf[@]##*/}" >"$OUT/logs/postfix.files"
	printf '%s\n' "${files_ex[@]##*/}" >"$OUT/logs/exim.files"
	cp "$LOGD/postfix-rx.log" "$OUT/logs/"
	[[ $mode == syslog ]] && dump_journal "$OUT/logs/journal.txt"
	fact versions "Postfix $(postconf -d mail_version 2>/dev/null | sed 's/.*= //'), $(extx -bV 2>/dev/null | head -1 | sed 's/ #.*//'), $(prometheus --version 2>&1 | head -1)"
	stop_bouncewatch bw2
	chmod -R a+rX "$OUT"
	say "scenario done at T+$(tplus); artifacts in $OUT"
}

###########################################################################
main() {
	if [[ ${E2E_IN_NS:-0} == 1 ]]; then
		body "${E2E_MODE:-syslog}"
		return
	fi
	[[ $(id -u) == 0 ]] || die "run as root (installs packages, runs MTAs)"
	local start
	start=$(date +%s)
	[[ -f $RULES_SRC ]] || die "no rule file $RULES_SRC (set E2E_RULES)"
	[[ ${E2E_SKIP_INSTALL:-0} == 1 ]] || install_all
	# a leftover of an interrupted run (by pid)
	stop_all
	if [[ -e $OUT && ! -e $OUT/.bouncewatch-e2e ]]; then die "$OUT exists and is not an e2e result dir; set E2E_OUT"; fi
	rm -rf "$OUT"
	mkdir -p "$OUT/state"
	touch "$OUT/.bouncewatch-e2e"
	build_bouncewatch
	fact bw_config "${E2E_BW_CONFIG:-}"
	local rc=0
	export OUT
	if [[ ${E2E_NO_NS:-0} != 1 ]] && unshare -m --propagation private true 2>/dev/null; then
		E2E_IN_NS=1 E2E_MODE=syslog unshare -m --propagation private -- bash "$SELF" || rc=$?
	else
		echo "NOTE: E2E_NO_NS=1 or no unshare -m here: FALLBACK to maillog_file for the sending Postfix" >&2
		E2E_IN_NS=1 E2E_MODE=maillog bash "$SELF" || rc=$?
	fi
	say "wall time $(($(date +%s) - start)) s"
	((rc == 0)) || DIED=1 # the scenario has said why
	return $rc
}
main "$@"; exit $? # on one line: bash must not read on if this file changes meanwhile
