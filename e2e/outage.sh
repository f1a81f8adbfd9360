#!/usr/bin/env bash
# e2e/outage.sh OUTDIR: a real receiver OUTAGE, as a real Postfix and a real Exim live it,
# followed LIVE by `bouncewatch run` and a real Prometheus that evaluates the shipped
# alert rules. It ORCHESTRATES and leaves artifacts; the assertions are Go tests
# (e2e/outage_test.go, TestOutage), which run it:
#
#     go test -tags e2e -run TestOutage -count=1 -v ./e2e/   # about 3 minutes
#     bash e2e/outage.sh OUTDIR                              # the scenario alone, as root
#
# It exits non-zero with a "FAIL:" line only when the orchestration fails (a package, an
# MTA, the receiver's 421 greeting, the syslog chain, bouncewatch or Prometheus did not
# start or become ready), never for what the scenario observed.
#
# It writes into OUTDIR (created if missing; only these files are replaced):
#   postfix-tx.log   the sending Postfix (syslog(3) -> a private rsyslogd on /dev/log,
#                    RSYSLOG_FileFormat = Debian 12's /var/log/mail.log format; without a
#                    private mount namespace: FALLBACK maillog_file); bouncewatch source
#                    "postfix"
#   exim-mainlog     the sending Exim's mainlog; bouncewatch source "exim"
#   postfix-rx.log   the receiving Postfix (maillog_file)
#   timeline.txt     what this script did when, in seconds from T0 (the first message)
#   versions.txt     the software that wrote the logs
#   submitted.txt    what was submitted: SUBMITTED <src> <domain> <recipients>,
#                    OUTAGEMSGS <src> <messages to outage.example or dead.example>,
#                    PROBES postfix <sendmail -bv probes>
#   outage-count.txt e2e/outage-count.awk over postfix-tx.log and exim-mainlog
#   exim-paniclog    only if Exim wrote one
#   facts.env        KEY=VALUE: mode, T0, switch (epochs), bouncewatch's start offsets
#                    (bw_start_bytes_postfix/exim: it starts at the end of each file),
#                    queues_drained, outage_greeting_after_switch, bw_exit, ...
#   metrics.txt      the final /metrics scrape (MTAs stopped, every line read)
#   scrapes/         every /metrics scrape taken every 2 s (NNNNN.prom; index.tsv: seq,
#                    epoch, HTTP status)
#   mid/             mid-outage (T+50: outage.example down and deferring), taken back to
#                    back at a moment when no line was read in between (mid_snapshot):
#                    metrics.txt, status.json (GET /api/v1/status), index.html (GET /),
#                    metrics-after.txt (/metrics again), each with .status (the HTTP
#                    status) and .headers; quiet (1: no line read between the two
#                    /metrics), tries; status-page.png is left there by TestOutage
#   alerts.jsonl     Prometheus' /api/v1/alerts every 2 s: {"t": epoch, "alerts": [...]}
#   alerts-final.json, prom/NAME.json (/api/v1/query answers; prom/queries.tsv)
#   bouncewatch (the binary that ran), bouncewatch.log, prometheus.log, prometheus.yml,
#   rules.yml (the alert rules as loaded), state/, tsdb/
#
# bouncewatch runs as shipped: the built-in rules, a first start without state (so from
# the end of each log: nothing but the syslog chain check is there yet), default
# --state.interval; only --web.listen-address and --state.file are set. It is launched
# by start_bouncewatch in lib.sh.
# Prometheus (Debian's /usr/bin/prometheus) scrapes it every 2 s and evaluates
# alerting/bouncewatch.rules.yml every 2 s (a copy with only for: shortened to 10s,
# checked to differ in for: lines only).
#
# Everything is real, on 127.0.0.1, private ports 127xx; no fake SMTP responder:
#   postfix-rx  Postfix 3.7 (apt), the receiver, with three smtpd listeners:
#     :12725  ok.example (accepts) and ratelimit.example (RCPT answers exactly
#             "452 4.3.2 Connection rate limit exceeded" until T+40, then OK: a milter,
#             e2e/ratemilter, :12729, because Postfix's own restrictions would prefix
#             the text with "<address>: Recipient address rejected: ")
#     :12726  outage.example: the GREETING is "421 4.3.2 ... System not accepting network
#             messages" until T+60 (access map switched to OK, `postfix reload`)
#     :12727  dead.example: the same 421 greeting, forever
#   postfix-tx  Postfix 3.7, the sender (transport_maps route each domain to its port)
#   exim-tx     Exim 4.96 (exim4-daemon-light, `apt-get download` + `dpkg-deb -x`,
#               because postfix and exim4 conflict in apt), the sender; manualroute
#               routers and one smtp transport per port; daemon with a queue run every 10 s
#   bouncewatch :12790, prometheus :12791; the only helper written for the test is the
#   milter (the standard milter protocol, Postfix decides and logs as usual)
#
# How the 421 comes at the greeting (finding): Postfix smtpd evaluates
# smtpd_client_restrictions when the client connects, and sends the result INSTEAD of the
# 220 banner, only with smtpd_delay_reject=no (smtpd.c: `if (var_smtpd_delay_reject == 0
# && (state->access_denied = smtpd_check_client(state)) != 0) smtpd_chat_reply(...
# access_denied) else smtpd_chat_reply("220 %s", banner)`). With the default
# smtpd_delay_reject=yes the same access map acts only at RCPT TO. So each outage listener
# has `-o smtpd_delay_reject=no -o smtpd_client_restrictions=check_client_access,cidr:MAP`
# and MAP says `127.0.0.1/32 421 4.3.2 System not accepting network messages`. An access
# map action always gets Postfix's "<client>: Client host rejected:" prefix, so the banner
# really is "421 4.3.2 <localhost[127.0.0.1]>: Client host rejected: System not accepting
# network messages" (the receiver logs "NOQUEUE: reject: CONNECT from ..."). No postscreen
# needed. The senders log it as a greeting failure: Postfix "host 127.0.0.1[127.0.0.1]
# refused to talk to me: 421 4.3.2 ...", Exim "SMTP error from remote mail server after
# initial connection: 421 4.3.2 ...". The script checks the banner itself before T0.
#
# Timers (seconds, so that the whole outage fits in ~3 minutes):
#   Postfix  queue_run_delay 5s, backoff 10s..20s, maximal_queue_lifetime and
#            bounce_queue_lifetime 110s (everything for outage.example is delivered
#            before it is 110 s old; dead.example expires)
#   Exim     retry rules: dead.example F,2m,15s; everything else F,10m,15s; queue run
#            every 10 s plus explicit `exim -q` runs (timeline)
#
# Timeline (T0 = first message; exact times in timeline.txt):
#   T+0      burst: 12 messages to outage.example (1-5 recipients), 5 to dead.example,
#            1 to ok+outage+dead, 3 to ok.example, 5 to ratelimit.example (10 recipients:
#            BouncewatchRateLimited's threshold), in each MTA
#            (Exim: alternately -odi and -odq, then `exim -q`)
#   T+5..45  every 5 s, 3 more messages to the outage domains per MTA, submitted while
#            the destinations are already down: Postfix logs "delivery temporarily
#            suspended" for them, Exim "retry time not reached for any host";
#            Exim: -odi / -odq mixed, `exim -q` every other round, and at T+10 and T+30
#            one message with -odqs: queued on purpose, which bouncewatch must skip. NB:
#            Exim 4.96 logs it as "== addr R=... T=... defer (0): SMTP delivery explicitly
#            queued", not as older Exims' "defer (-1): domain matches queue_smtp_domains,
#            or -odqs set"
#   T+20     2 more ok.example and 1 ratelimit.example message per MTA; Postfix
#            `sendmail -bv` probes (status=deliverable / undeliverable)
#   T+40     ratelimit.example is accepted (the milter's flag file removed)
#   T+50     mid-outage artifacts (mid/)
#   T+60     outage.example recovers (access map + postfix reload)
#   T+60..   everything for outage.example is delivered; dead.example expires
#            (Postfix "status=expired, returned to sender" from T+~120; Exim at T+~130:
#            the first attempt after the host's 2-minute cutoff marks its retry record
#            expired and that address gets "** addr: retry timeout exceeded"; every other
#            dead.example address then meets an expired host whose retry time has not
#            come and, with the smtp transport's default delay_after_cutoff, fails at
#            once with "** addr R=to_dead T=smtp_dead: all hosts for 'dead.example' have
#            been failing for a long time (and retry time not reached)"); ends when both
#            queues are empty (T+~165; T+240 at most)
#
# Runs in a private mount namespace (unshare -m) with its own /dev and /etc/exim4 (see
# lib.sh); the host's /dev/log and /etc are not changed (except for an empty /etc/exim4
# as the mount point). rsyslogd owns the private /dev/log itself (no journald in front of
# it: syslog(3) blocks rather than drops), in a network namespace of its own with
# net.unix.max_dgram_qlen 512 as on a Debian 12 host. Everything it starts is stopped by pid.
#
# Left on the machine: the packages (postfix, rsyslog, prometheus, jq, curl, chromium,
# libidn12 and their dependencies), /opt/bouncewatch-outage (configs), /opt/bouncewatch-e2e/exim (the
# unpacked exim and its .debs), /var/spool/bouncewatch-outage, /var/log/bouncewatch-outage,
# /run/bouncewatch-outage (wiped by the next run), the users Debian-exim and bwe2e, an
# empty /etc/exim4.
#
# Knobs: E2E_NO_NS=1 (no namespace: maillog_file fallback), E2E_SKIP_INSTALL=1 (also
# OUTAGE_SKIP_INSTALL=1), E2E_BW_BIN, E2E_BW_CONFIG (see lib.sh).
set -Eeuo pipefail

NAME=e2e/outage.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SELF=$E2E_DIR/outage.sh
AWKF=$E2E_DIR/outage-count.awk AWKW=$E2E_DIR/logwords.awk

LAB=/opt/bouncewatch-outage          # configs
SPOOL=/var/spool/bouncewatch-outage  # queues, mailboxes
LOGD=/var/log/bouncewatch-outage     # the MTA logs (maillog_file must start with /var)
RUN=/run/bouncewatch-outage          # pid files
PFTX=$LAB/postfix-tx PFRX=$LAB/postfix-rx EXTX=$LAB/exim-tx
P_RX=12725 P_OUTAGE=12726 P_DEAD=12727 P_EXTX=12728 P_MILTER=12729 P_BW=12790 P_PROM=12791
BW=http://127.0.0.1:$P_BW
ALERT=BouncewatchRepeated432
RATE_REPLY="452 4.3.2 Connection rate limit exceeded" # ratelimit.example's answer at RCPT until T+40
T_RATE_OK=40 T_MID=50 T_SWITCH=60 T_DONE=240  # seconds after T0
ROUNDS=9                                      # stream rounds, every 5 s from T+5
# what this script writes into OUTDIR (and replaces)
PRODUCTS=(postfix-tx.log exim-mainlog postfix-rx.log timeline.txt versions.txt submitted.txt
	outage-count.txt exim-paniclog facts.env metrics.txt scrapes mid alerts.jsonl alerts-final.json
	prom bouncewatch bouncewatch.log prometheus.log prometheus.yml rules.yml state tsdb ratemilter
	ratemilter.log)
set_traps

###########################################################################
# Configuration
###########################################################################
write_configs() {  # $1 = syslog|maillog: how the sending Postfix logs
	local tx_log="maillog_file ="
	[[ $1 == maillog ]] && tx_log="maillog_file = $LOGD/mail.log"
	mkdir -p "$PFTX" "$PFRX" "$EXTX"

	# ---------------- sending Postfix ----------------
	{
		postfix_tx_main_cf "the sending Postfix of bouncewatch's outage scenario" "$tx_log"
		cat <<EOF
# retry timers in seconds: the whole outage fits in ~3 minutes. A destination whose
# greeting fails is throttled (marked dead) by qmgr once enough deliveries to it failed;
# it stays dead for minimal_backoff_time, and meanwhile every message for it is deferred
# with "delivery temporarily suspended: <the last reason>" by postfix-tx/error.
queue_run_delay = 5s
minimal_backoff_time = 10s
maximal_backoff_time = 20s
maximal_queue_lifetime = 110s
bounce_queue_lifetime = 110s
EOF
	} >"$PFTX/main.cf"
	postfix_master_cf "" >"$PFTX/master.cf"
	cat >"$PFTX/transport" <<EOF
ok.example          smtp:[127.0.0.1]:$P_RX
ratelimit.example   smtp:[127.0.0.1]:$P_RX
outage.example      smtp:[127.0.0.1]:$P_OUTAGE
dead.example        smtp:[127.0.0.1]:$P_DEAD
EOF
	printf 'postmaster: %s\nsender: %s\nMAILER-DAEMON: %s\nroot: %s\n' $MUSER $MUSER $MUSER $MUSER >"$PFTX/aliases"
	postalias -c "$PFTX" "hash:$PFTX/aliases"
	postfix_bounce_cf >"$PFTX/bounce.cf"

	# ---------------- receiving Postfix ----------------
	postfix_rx_main_cf "the receiver. :$P_RX answers \"$RATE_REPLY\" at RCPT for ratelimit.example until T+$T_RATE_OK (its milter); :$P_OUTAGE and :$P_DEAD answer 421 4.3.2 at the greeting (see master.cf)" \
		"ok.example, ratelimit.example, outage.example, dead.example" >"$PFRX/main.cf"
	# The outage listeners: smtpd_delay_reject=no makes smtpd evaluate
	# smtpd_client_restrictions at connect time and send their reply instead of the
	# 220 banner (with the default "yes" they would act only at RCPT TO).
	# :$P_RX has the rate limit: e2e/ratemilter answers RCPT TO for ratelimit.example with
	# exactly "$RATE_REPLY" while $PFRX/ratelimit.down exists. A milter's
	# reply goes to the client as it is; an access map's would read "452 4.3.2 <address>:
	# Recipient address rejected: Connection rate limit exceeded". If the milter does not
	# answer, milter_default_action (tempfail) defers everything at :$P_RX: the tests see it.
	postfix_master_cf "127.0.0.1:$P_RX inet n - n - - smtpd
  -o smtpd_milters=inet:127.0.0.1:$P_MILTER
127.0.0.1:$P_OUTAGE inet n - n - - smtpd
  -o syslog_name=postfix-rx/outage
  -o smtpd_delay_reject=no
  -o smtpd_client_restrictions=check_client_access,cidr:$PFRX/outage_client.cidr
127.0.0.1:$P_DEAD inet n - n - - smtpd
  -o syslog_name=postfix-rx/dead
  -o smtpd_delay_reject=no
  -o smtpd_client_restrictions=check_client_access,cidr:$PFRX/dead_client.cidr" >"$PFRX/master.cf"
	cat >"$PFRX/vmailbox" <<'EOF'
@ok.example          ok.example/
@ratelimit.example   ratelimit.example/
@outage.example      outage.example/
@dead.example        dead.example/
EOF
	printf '127.0.0.1/32    421 4.3.2 System not accepting network messages\n' >"$PFRX/outage_client.cidr.down"
	printf '127.0.0.1/32    OK\n' >"$PFRX/outage_client.cidr.up"
	cp "$PFRX/outage_client.cidr.down" "$PFRX/outage_client.cidr"
	printf '127.0.0.1/32    421 4.3.2 System not accepting network messages\n' >"$PFRX/dead_client.cidr"
	printf 'nobody@ok.example   550 5.1.1 User unknown\n' >"$PFRX/rcpt_access"
	: >"$PFRX/ratelimit.down" # removed at T+$T_RATE_OK: ratelimit.example is accepted

	# ---------------- sending Exim ----------------
	cat >"$EXTX/exim.conf" <<EOF
# exim-tx: the sending Exim of bouncewatch's outage scenario; writes its mainlog only
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
# the target is a local interface: self = send here, allow_localhost on the transports
to_outage:
  driver = manualroute
  domains = outage.example
  route_list = * 127.0.0.1
  transport = smtp_outage
  self = send
  no_more
to_dead:
  driver = manualroute
  domains = dead.example
  route_list = * 127.0.0.1
  transport = smtp_dead
  self = send
  no_more
to_rx:
  driver = manualroute
  domains = ! +local_domains
  route_list = * 127.0.0.1
  transport = smtp_rx
  self = send
  no_more
local_user:
  driver = accept
  domains = +local_domains
  transport = local_file

begin transports
smtp_rx:
  driver = smtp
  port = $P_RX
  allow_localhost
  hosts_avoid_tls = *
smtp_outage:
  driver = smtp
  port = $P_OUTAGE
  allow_localhost
  hosts_avoid_tls = *
smtp_dead:
  driver = smtp
  port = $P_DEAD
  allow_localhost
  hosts_avoid_tls = *
local_file:
  driver = appendfile
  file = $SPOOL/exim-tx-mail/local.mbox
  user = Debian-exim
  group = Debian-exim
  mode = 0600
  delivery_date_add
  envelope_to_add
  return_path_add

begin retry
# A greeting failure is a host error: the retry record is the host's
# (T:127.0.0.1:127.0.0.1:<port>), the rule is found by host name or domain, first match.
# dead.example: retry every 15 s, give up 2 minutes after the host's first failure;
# after that, with the smtp transport's default delay_after_cutoff, an address whose
# host is past the cutoff and not yet due fails at once ("all hosts ... have been failing
# for a long time (and retry time not reached)").
dead.example   *   F,2m,15s
*              *   F,10m,15s

begin rewrite
begin authenticators
EOF
	chmod 644 "$EXTX/exim.conf"

}

###########################################################################
# Helpers for the scenario
###########################################################################
###########################################################################
PF_FROM=sender@tx.lab.example EX_FROM=sender@exim-tx.lab.example
rcpts() {  # tag n domain: tag-1@domain ... tag-n@domain
	local j
	for ((j = 1; j <= $2; j++)); do echo "$1-$j@$3"; done
}
# what was submitted, per MTA: messages, messages to the outage domains, recipients per domain
NPF=0 NEX=0 NPF_OUT=0 NEX_OUT=0 NPROBE=0
declare -A XPF XEX
tally() {  # postfix|exim rcpt...
	local src=$1 r d out=0
	shift
	for r in "$@"; do
		d=${r#*@}
		if [[ $src == postfix ]]; then XPF[$d]=$((${XPF[$d]:-0} + 1)); else XEX[$d]=$((${XEX[$d]:-0} + 1)); fi
		[[ $d == outage.example || $d == dead.example ]] && out=1
	done
	if [[ $src == postfix ]]; then
		NPF=$((NPF + 1)) NPF_OUT=$((NPF_OUT + out))
	else
		NEX=$((NEX + 1)) NEX_OUT=$((NEX_OUT + out))
	fi
}
pf_send() {  # subject rcpt...
	local subj=$1
	shift
	mkmsg $PF_FROM "$subj" "$@" | sendmail -C "$PFTX" -f $PF_FROM -- "$@"
	tally postfix "$@"
}
ex_send() {  # odi|odq|odqs subject rcpt...: -odi delivers in the foreground
	local mode=$1 subj=$2
	shift 2
	mkmsg $EX_FROM "$subj" "$@" | extx "-$mode" -oi -f $EX_FROM -- "$@" || true
	tally exim "$@"
}
TL=$LOGD/timeline.txt
mark() {  # a timeline entry, seconds from T0
	local t
	t=$(awk -v a="$(date +%s.%N)" -v b="$T0" 'BEGIN { printf "%6.1f", a - b }')
	echo "T+$t  $*" >>"$TL"
	say "T+$t $*"
}
banner() {  # port: the first line the server sends (a plain TCP client, then QUIT)
	local line=""
	exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
	IFS= read -r -t 5 line <&3 || true
	printf 'QUIT\r\n' >&3 2>/dev/null || true
	sleep 0.2
	exec 3<&- 3>&-
	printf '%s' "${line%$'\r'}"
}
smtp_reply() {  # the last line of the server's next reply on fd 3 (a multi-line one: NNN-...)
	local line
	while IFS= read -r -t 5 line <&3; do
		line=${line%$'\r'}
		[[ ${line:3:1} == - ]] || { printf '%s' "$line"; return 0; }
	done
	return 1
}
rcpt_reply() {  # port address: the server's reply to RCPT TO:<address> (a plain SMTP client:
	local reply # greeting, EHLO, MAIL FROM, RCPT TO, QUIT; nothing is sent)
	exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
	smtp_reply >/dev/null || true
	printf 'EHLO probe.lab.example\r\n' >&3 && smtp_reply >/dev/null || true
	printf 'MAIL FROM:<probe@lab.example>\r\n' >&3 && smtp_reply >/dev/null || true
	printf 'RCPT TO:<%s>\r\n' "$2" >&3 && reply=$(smtp_reply) || reply="(no reply)"
	printf 'QUIT\r\n' >&3 2>/dev/null && smtp_reply >/dev/null || true
	exec 3<&- 3>&-
	printf '%s' "$reply"
}

# mid_snapshot: GET /metrics, /api/v1/status, / and /metrics again, back to back, into
# $OUT/mid/ (metrics.txt, status.json, index.html, metrics-after.txt); again, 0.3 s later,
# until no line was read in between (bouncewatch_log_bytes_total of every source the same
# in both /metrics), at most 20 times, so that the three answers show one state of the
# daemon. mid/quiet says whether it was (1) or not (0), mid/tries after how many tries.
mid_snapshot() {
	local try before after
	mkdir -p "$OUT/mid"
	for ((try = 1; try <= 20; try++)); do
		fact mid "$(date +%s.%N)"
		http_save "$BW/metrics" "$OUT/mid/metrics.txt"
		http_save "$BW/api/v1/status" "$OUT/mid/status.json"
		http_save "$BW/" "$OUT/mid/index.html"
		http_save "$BW/metrics" "$OUT/mid/metrics-after.txt"
		before=$(grep '^bouncewatch_log_bytes_total{' "$OUT/mid/metrics.txt" || true)
		after=$(grep '^bouncewatch_log_bytes_total{' "$OUT/mid/metrics-after.txt" || true)
		echo "$try" >"$OUT/mid/tries"
		if [[ -n $before && $before == "$after" ]]; then
			echo 1 >"$OUT/mid/quiet"
			return 0
		fi
		sleep 0.3
	done
	echo 0 >"$OUT/mid/quiet"
}

###########################################################################
# The scenario, inside the private mount namespace
###########################################################################
body() {
	local mode=$1 # syslog | maillog
	local p
	for p in $P_RX $P_OUTAGE $P_DEAD $P_EXTX $P_MILTER $P_BW $P_PROM; do
		port_free "$p" || die "port 127.0.0.1:$p is busy"
	done
	prepare_dirs
	write_configs "$mode"
	trap 'on_exit stop' EXIT
	trap 'say "interrupted"; exit 130' INT TERM HUP
	fact mode "$mode"

	if [[ $mode == syslog ]]; then
		private_dev
		start_syslog_stack direct || die "the private rsyslogd on /dev/log did not work"
	else
		echo "NOTE: FALLBACK: no private mount namespace; the sending Postfix writes $LOGD/mail.log through maillog_file, not syslog"
		host_trusted_config
	fi

	# bouncewatch as shipped, from the start of the scenario (a first start: from the end
	# of each log, which holds only the syslog chain check so far)
	fact bw_start_bytes_postfix "$(stat -c %s "$LOGD/mail.log")"
	fact bw_start_bytes_exim "$(stat -c %s "$LOGD/exim/mainlog")"
	start_bouncewatch "$BW" "$OUT/bouncewatch.log" \
		--source.file="postfix=$LOGD/mail.log" --source.file="exim=$LOGD/exim/mainlog" \
		--state.file="$OUT/state/state" --web.listen-address="127.0.0.1:$P_BW"
	shorten_rules "$REPO/alerting/bouncewatch.rules.yml" "$OUT/rules.yml" 10s
	grep -q "alert: $ALERT\$" "$OUT/rules.yml" || die "the shipped rules have no alert $ALERT"
	start_prometheus $P_PROM "127.0.0.1:$P_BW" "$OUT/rules.yml" # waited for below

	say "config check"
	postfix -c "$PFRX" check
	postfix -c "$PFTX" check
	extx -bV >/dev/null

	say "starting the receiver's rate-limit milter, the receiving Postfix, the sending Postfix and the sending Exim"
	"$OUT/ratemilter" -listen "127.0.0.1:$P_MILTER" -domain ratelimit.example -reply "$RATE_REPLY" \
		-while "$PFRX/ratelimit.down" >"$LOGD/ratemilter.log" 2>&1 &
	echo $! >"$RUN/ratemilter.pid"
	wait_until 15 bash -c "ss -ltnH '( sport = :$P_MILTER )' | grep -q ." || die "the rate-limit milter does not listen on $P_MILTER: $(tail -3 "$LOGD/ratemilter.log")"
	postfix -c "$PFRX" start >/dev/null 2>&1
	postfix -c "$PFTX" start >/dev/null 2>&1
	extx -bd -q10s
	for p in $P_RX $P_OUTAGE $P_DEAD; do
		wait_until 15 bash -c "ss -ltnH '( sport = :$p )' | grep -q ." || die "postfix-rx does not listen on $p"
	done
	wait_until 15 test -s "$RUN/exim-tx.pid" || die "exim-tx did not start"
	postfix -c "$PFTX" status >/dev/null 2>&1 || die "postfix-tx did not start"
	wait_prometheus
	start_alert_poller
	start_scrape_poller

	# the greetings, seen by a plain TCP client before anything is sent
	local b
	{
		echo "# bouncewatch outage scenario (e2e/outage.sh); times are seconds from T0, the first message"
		echo "# sender logs: postfix-tx.log ($([[ $mode == syslog ]] && echo "syslog(3) -> rsyslogd, RSYSLOG_FileFormat" || echo "FALLBACK maillog_file")), exim-mainlog; receiver: postfix-rx.log"
	} >"$TL"
	for p in $P_RX $P_OUTAGE $P_DEAD; do
		b=$(banner $p) || die "cannot connect to 127.0.0.1:$p"
		echo "setup: greeting of 127.0.0.1:$p (plain TCP client, then QUIT): $b" >>"$TL"
		say "greeting of :$p: $b"
	done
	grep -q "^setup: greeting of 127.0.0.1:$P_RX .*: 220 " "$TL" || die "the receiver's :$P_RX does not greet with 220"
	for p in $P_OUTAGE $P_DEAD; do
		grep -q "^setup: greeting of 127.0.0.1:$p .*: 421 4\.3\.2 .*System not accepting network messages" "$TL" ||
			die "the receiver's :$p does not greet with 421 4.3.2 (smtpd_delay_reject=no + smtpd_client_restrictions)"
	done
	# the rate limit, seen by a plain SMTP client: exactly $RATE_REPLY at RCPT for
	# ratelimit.example (the milter), 250 for ok.example
	b=$(rcpt_reply $P_RX setup-probe@ratelimit.example) || die "cannot connect to 127.0.0.1:$P_RX"
	echo "setup: RCPT TO:<setup-probe@ratelimit.example> at 127.0.0.1:$P_RX (plain SMTP client, no mail sent): $b" >>"$TL"
	say "RCPT TO ratelimit.example at :$P_RX: $b"
	[[ $b == "$RATE_REPLY" ]] || die "the receiver's :$P_RX answers RCPT TO:<setup-probe@ratelimit.example> with '$b', not exactly '$RATE_REPLY' (e2e/ratemilter: $(tail -3 "$LOGD/ratemilter.log"))"
	b=$(rcpt_reply $P_RX setup-probe@ok.example) || die "cannot connect to 127.0.0.1:$P_RX"
	echo "setup: RCPT TO:<setup-probe@ok.example> at 127.0.0.1:$P_RX (plain SMTP client, no mail sent): $b" >>"$TL"
	[[ $b == 250\ * ]] || die "the receiver's :$P_RX answers RCPT TO:<setup-probe@ok.example> with '$b', not 250"

	###################### the mail ######################
	local i r c mode_ex
	T0=$(date +%s.%N)
	fact T0 "$T0"
	echo "T0 = $(date -d "@${T0%.*}" '+%Y-%m-%d %H:%M:%S %Z') (epoch $T0)" >>"$TL"
	mark "burst: per MTA 12 messages to outage.example (1-5 recipients), 5 to dead.example, 1 to ok+outage+dead, 3 to ok.example, 5 to ratelimit.example (10 recipients)"
	local oc=(1 3 1 4 1 5 1 2 1 3 1 1) dc=(1 3 1 2 1) kc=(1 2 1) lc=(1 3 1 2 3)
	for i in "${!oc[@]}"; do pf_send "outage burst $i" $(rcpts "b$i" "${oc[$i]}" outage.example); done
	for i in "${!dc[@]}"; do pf_send "dead burst $i" $(rcpts "b$i" "${dc[$i]}" dead.example); done
	pf_send "mixed" mix-1@ok.example mix-2@outage.example mix-3@dead.example
	for i in "${!kc[@]}"; do pf_send "ok $i" $(rcpts "b$i" "${kc[$i]}" ok.example); done
	for i in "${!lc[@]}"; do pf_send "ratelimit $i" $(rcpts "b$i" "${lc[$i]}" ratelimit.example); done
	mark "postfix: $NPF messages submitted (sendmail)"
	for i in "${!oc[@]}"; do
		mode_ex=odi; ((i % 2)) && mode_ex=odq
		ex_send $mode_ex "outage burst $i" $(rcpts "b$i" "${oc[$i]}" outage.example)
	done
	for i in "${!dc[@]}"; do
		mode_ex=odi; ((i % 2)) && mode_ex=odq
		ex_send $mode_ex "dead burst $i" $(rcpts "b$i" "${dc[$i]}" dead.example)
	done
	ex_send odi "mixed" mix-1@ok.example mix-2@outage.example mix-3@dead.example
	for i in "${!kc[@]}"; do ex_send odi "ok $i" $(rcpts "b$i" "${kc[$i]}" ok.example); done
	for i in "${!lc[@]}"; do ex_send odi "ratelimit $i" $(rcpts "b$i" "${lc[$i]}" ratelimit.example); done
	mark "exim: $NEX messages submitted (even-numbered outage/dead bursts -odi, odd -odq; the rest -odi)"
	extx -q
	mark "exim -q (queue run: the -odq messages meet hosts that wait for their retry time)"

	for ((r = 1; r <= ROUNDS; r++)); do
		sleep_until $((5 * r))
		c=1; ((r % 2)) && c=3
		pf_send "outage stream $r a" $(rcpts "s${r}a" $c outage.example)
		pf_send "outage stream $r b" "s${r}b-1@outage.example"
		pf_send "dead stream $r" $(rcpts "s${r}c" $((r % 2 ? 2 : 1)) dead.example)
		ex_send odi "outage stream $r a" $(rcpts "s${r}a" $c outage.example)
		ex_send odq "outage stream $r b" "s${r}b-1@outage.example"
		mode_ex=odq; ((r % 2)) || mode_ex=odi
		ex_send $mode_ex "dead stream $r" $(rcpts "s${r}c" $((r % 2 ? 2 : 1)) dead.example)
		mark "stream round $r: per MTA 3 messages (outage.example $c+1 recipients, dead.example $((r % 2 ? 2 : 1))); exim: outage a -odi, b -odq, dead -$mode_ex"
		if ((r == 2 || r == 6)); then
			ex_send odqs "outage odqs $r" "q${r}-1@outage.example"
			mark "exim -odqs: 1 message to q${r}-1@outage.example (queued on purpose; Exim 4.96 logs '== ... defer (0): SMTP delivery explicitly queued', older Exim 'defer (-1): domain matches queue_smtp_domains, or -odqs set'; bouncewatch must skip that line)"
		fi
		if ((r == 4)); then
			pf_send "ok late" late-1@ok.example late-2@ok.example
			pf_send "ok late 2" late-3@ok.example
			pf_send "ratelimit late" late-1@ratelimit.example
			ex_send odi "ok late" late-1@ok.example late-2@ok.example
			ex_send odi "ok late 2" late-3@ok.example
			ex_send odi "ratelimit late" late-1@ratelimit.example
			mark "per MTA 2 more messages to ok.example and 1 to ratelimit.example"
			sendmail -C "$PFTX" -f $PF_FROM -bv probe@ok.example </dev/null || true
			sendmail -C "$PFTX" -f $PF_FROM -bv nobody@ok.example </dev/null || true
			NPROBE=2
			mark "postfix: sendmail -bv probe@ok.example, nobody@ok.example (address verification: status=deliverable / undeliverable)"
		fi
		if ((r % 2)); then
			extx -q
			mark "exim -q (queue run)"
		fi
		if ((5 * r == T_RATE_OK)); then
			rm -f "$PFRX/ratelimit.down"
			fact rate_switch "$(date +%s.%N)"
			b=$(rcpt_reply $P_RX setup-probe@ratelimit.example) || b="(no connection)"
			fact ratelimit_reply_after_switch "$b"
			mark "receiver: ratelimit.example ACCEPTED (the milter's flag file removed); RCPT TO:<setup-probe@ratelimit.example> now (plain SMTP client): $b"
		fi
	done
	mark "submitted: postfix $NPF messages, exim $NEX messages (all)"

	# mid-outage: what bouncewatch serves while outage.example is down and deferring
	sleep_until $T_MID
	mid_snapshot
	mark "mid-outage: saved bouncewatch's /metrics (HTTP $(cat "$OUT/mid/metrics.txt.status")), /api/v1/status (HTTP $(cat "$OUT/mid/status.json.status")) and / (HTTP $(cat "$OUT/mid/index.html.status")) back to back, $( (($(cat "$OUT/mid/quiet") == 1)) && echo "no line read meanwhile" || echo "NOT at a quiet moment"), try $(cat "$OUT/mid/tries")"

	sleep_until $T_SWITCH
	cp "$PFRX/outage_client.cidr.up" "$PFRX/outage_client.cidr"
	postfix -c "$PFRX" reload >/dev/null 2>&1
	fact switch "$(date +%s.%N)"
	mark "receiver: outage.example RECOVERS (:$P_OUTAGE access map switched to OK, postfix reload)"
	sleep 1
	b=$(banner $P_OUTAGE) || b="(no connection)"
	fact outage_greeting_after_switch "$b"
	mark "greeting of 127.0.0.1:$P_OUTAGE now (plain TCP client): $b"

	say "waiting for deliveries and expiry (both queues empty, at most until T+$T_DONE)"
	local drained=0 pq eq last_pq=-1 last_eq=-1
	while awk -v t="$T0" -v d=$T_DONE -v n="$(date +%s)" 'BEGIN { exit !(n < t + d) }'; do
		pq=$(pf_queue) eq=$(ex_queue)
		if [[ $pq != "$last_pq" || $eq != "$last_eq" ]]; then
			mark "queues: postfix-tx $pq, exim-tx $eq messages"
			last_pq=$pq last_eq=$eq
		fi
		if ((pq == 0 && eq == 0)); then
			drained=1
			break
		fi
		sleep 2
	done
	fact queues_drained $drained
	fact queues_left "postfix-tx $(pf_queue), exim-tx $(ex_queue)"
	mark "$( ((drained)) && echo "both queues empty" || echo "queues NOT empty by T+$T_DONE"); stopping the MTAs"
	stop_mtas
	stop_pidfile "$RUN/ratemilter.pid"
	sleep 1 # the last lines reach rsyslogd
	mark "stopped"

	# bouncewatch has read every byte (from where it started), and Prometheus has scraped that
	local want_pf want_ex
	want_pf=$(($(stat -c %s "$LOGD/mail.log") - $(awk -F= '$1 == "bw_start_bytes_postfix" { v = $2 } END { print v }' "$OUT/facts.env")))
	want_ex=$(($(stat -c %s "$LOGD/exim/mainlog") - $(awk -F= '$1 == "bw_start_bytes_exim" { v = $2 } END { print v }' "$OUT/facts.env")))
	finish_scrapes "$want_pf" "$want_ex"
	prom_save_resets
	fact elapsed "$(tplus)"
	stop_bouncewatch bw
	mark "bouncewatch stopped (exit status $(awk -F= '$1 == "bw_exit" { v = $2 } END { print v }' "$OUT/facts.env"))"

	collect "$mode"
	chmod -R a+rX "$OUT"
	say "OUTAGE SCENARIO DONE at T+$(tplus): artifacts in $OUT"
}

collect() {
	local mode=$1 src d
	cp "$LOGD/mail.log" "$OUT/postfix-tx.log"
	cp "$LOGD/exim/mainlog" "$OUT/exim-mainlog"
	cp "$LOGD/postfix-rx.log" "$OUT/postfix-rx.log"
	cp "$LOGD/ratemilter.log" "$OUT/ratemilter.log"
	cp "$TL" "$OUT/timeline.txt"
	{
		echo "# software that wrote the logs in this directory"
		echo "os: $(. /etc/os-release && echo "$PRETTY_NAME") (debian_version $(cat /etc/debian_version)), kernel $(uname -r)"
		echo "postfix: $(postconf -d mail_version 2>/dev/null | sed 's/.*= //') (package $(dpkg-query -W -f='${Version}' postfix))"
		echo "exim: $(extx -bV 2>/dev/null | head -1) (packages $(exim_packages), unpacked with dpkg-deb -x)"
		echo "rsyslog: $(dpkg-query -W -f='${Version}' rsyslog 2>/dev/null)"
		echo "prometheus: $(prometheus --version 2>&1 | head -1)"
		echo "awk for outage-count.txt: $(readlink -f "$(command -v awk)") ($(dpkg-query -W -f='${Package} ${Version}' mawk 2>/dev/null || true))"
		echo "postfix-tx log: $([[ $mode == syslog ]] && echo "syslog(3) -> rsyslogd on a private /dev/log (RSYSLOG_FileFormat, as Debian 12's /var/log/mail.log; no journald in between)" || echo "maillog_file (FALLBACK, no namespace)")"
		echo "exim-tx log: mainlog (log_file_path); postfix-rx log: maillog_file"
	} >"$OUT/versions.txt"
	{
		for d in "${!XPF[@]}"; do echo "SUBMITTED postfix $d ${XPF[$d]}"; done
		for d in "${!XEX[@]}"; do echo "SUBMITTED exim $d ${XEX[$d]}"; done
		echo "OUTAGEMSGS postfix $NPF_OUT"
		echo "OUTAGEMSGS exim $NEX_OUT"
		echo "MSGS postfix $NPF"
		echo "MSGS exim $NEX"
		echo "PROBES postfix $NPROBE"
	} | LC_ALL=C sort >"$OUT/submitted.txt"
	awk -f "$AWKW" -f "$AWKF" "$OUT/postfix-tx.log" "$OUT/exim-mainlog" | LC_ALL=C sort >"$OUT/outage-count.txt"
	if [[ -s $LOGD/exim/paniclog ]]; then
		cp "$LOGD/exim/paniclog" "$OUT/exim-paniclog"
	fi
}

###########################################################################
main() {
	if [[ ${OUTAGE_IN_NS:-0} == 1 ]]; then
		body "${OUTAGE_MODE:-syslog}"
		return
	fi
	[[ $# -eq 1 && -n $1 ]] || { echo "usage: bash e2e/outage.sh OUTDIR" >&2; exit 2; }
	[[ $(id -u) == 0 ]] || die "run as root (installs packages, runs MTAs)"
	[[ -f $AWKF && -f $AWKW ]] || die "no $AWKF or $AWKW"
	mkdir -p "$1"
	OUT=$(cd "$1" && pwd)
	export OUT
	local start rc=0 f
	start=$(date +%s)
	[[ ${E2E_SKIP_INSTALL:-${OUTAGE_SKIP_INSTALL:-0}} == 1 ]] || install_all
	stop_all # a leftover of an interrupted run (by pid)
	for f in "${PRODUCTS[@]}"; do rm -rf "${OUT:?}/$f"; done
	mkdir -p "$OUT/state"
	build_bouncewatch
	say "go build -tags e2e -o $OUT/ratemilter ./e2e/ratemilter"
	(cd "$REPO" && go build -tags e2e -o "$OUT/ratemilter" ./e2e/ratemilter) || die "go build ./e2e/ratemilter failed"
	if [[ ${E2E_NO_NS:-${OUTAGE_NO_NS:-0}} != 1 ]] && unshare -m --propagation private true 2>/dev/null; then
		OUTAGE_IN_NS=1 OUTAGE_MODE=syslog unshare -m --propagation private -- bash "$SELF" || rc=$?
	else
		echo "NOTE: E2E_NO_NS=1 or no unshare -m here: FALLBACK to maillog_file for the sending Postfix" >&2
		OUTAGE_IN_NS=1 OUTAGE_MODE=maillog bash "$SELF" || rc=$?
	fi
	say "wall time $(($(date +%s) - start)) s"
	((rc == 0)) || DIED=1 # the scenario has said why
	return $rc
}
main "$@"; exit $? # on one line: bash must not read on if this file changes meanwhile
