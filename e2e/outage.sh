#!/usr/bin/env bash
# e2e/outage.sh OUTDIR: the logs of a real receiver OUTAGE, as a real Postfix and a real
# Exim write them. Run as root from anywhere:
#
#     bash e2e/outage.sh OUTDIR        # about 3 minutes once the packages are installed
#
# It writes into OUTDIR (created if missing; only these files are replaced):
#   postfix-tx.log   the sending Postfix (syslog(3) -> a private rsyslogd on /dev/log,
#                    RSYSLOG_FileFormat = Debian 12's /var/log/mail.log format; without a
#                    private mount namespace: FALLBACK maillog_file)
#   exim-mainlog     the sending Exim's mainlog
#   postfix-rx.log   the receiving Postfix (maillog_file)
#   timeline.txt     what this script did when, in seconds from T0 (the first message)
#   versions.txt     the software that wrote the logs
#   outage-count.txt e2e/outage-count.awk over postfix-tx.log and exim-mainlog
# and exits non-zero with a "FAIL:" line per missing fact when the logs do not show
# the scenario (see check_all below). Nothing here uses bouncewatch.
#
# Everything is real, on 127.0.0.1, private ports 127xx; no fake SMTP responder:
#   postfix-rx  Postfix 3.7 (apt), the receiver, with three smtpd listeners:
#     :12725  ok.example (accepts) and ratelimit.example (RCPT answers
#             "452 4.3.2 Connection rate limit exceeded" until T+40, then OK)
#     :12726  outage.example: the GREETING is "421 4.3.2 ... System not accepting network
#             messages" until T+60 (access map switched to OK, `postfix reload`)
#     :12727  dead.example: the same 421 greeting, forever
#   postfix-tx  Postfix 3.7, the sender (transport_maps route each domain to its port)
#   exim-tx     Exim 4.96 (exim4-daemon-light, `apt-get download` + `dpkg-deb -x`,
#               because postfix and exim4 conflict in apt), the sender; manualroute
#               routers and one smtp transport per port; daemon with a queue run every 10 s
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
#            1 to ok+outage+dead, 3 to ok.example, 3 to ratelimit.example, in each MTA
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
#   T+40     ratelimit.example is accepted (access map + postfix reload)
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
# Runs in a private mount namespace (unshare -m) with its own /dev and /etc/exim4 (as
# e2e/run.sh, where this is adapted from); the host's /dev/log and /etc are not changed
# (except for an empty /etc/exim4 as the mount point). Everything it starts is stopped
# by pid.
#
# Left on the machine: the packages (postfix, rsyslog, libidn12 and their dependencies),
# /opt/bouncewatch-outage (configs, the unpacked exim and its .debs),
# /var/spool/bouncewatch-outage, /var/log/bouncewatch-outage, /run/bouncewatch-outage
# (wiped by the next run), the users Debian-exim and bwoutage, an empty /etc/exim4.
#
# Knobs: OUTAGE_NO_NS=1 (no namespace: maillog_file fallback), OUTAGE_SKIP_INSTALL=1.
set -Eeuo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF=$REPO/e2e/outage.sh
AWKF=$REPO/e2e/outage-count.awk
export PATH="$PATH:/usr/sbin:/sbin"

LAB=/opt/bouncewatch-outage          # configs, the unpacked exim
SPOOL=/var/spool/bouncewatch-outage  # queues, mailboxes
LOGD=/var/log/bouncewatch-outage     # the MTA logs (maillog_file must start with /var)
RUN=/run/bouncewatch-outage          # pid files
EXIM=$LAB/exim-root/usr/sbin/exim4
PFTX=$LAB/postfix-tx PFRX=$LAB/postfix-rx EXTX=$LAB/exim-tx
P_RX=12725 P_OUTAGE=12726 P_DEAD=12727 P_EXTX=12728
MUSER=bwoutage                       # owner of the local and virtual mailboxes
T_RATE_OK=40 T_SWITCH=60 T_DONE=240  # seconds after T0
ROUNDS=9                             # stream rounds, every 5 s from T+5

ts() { date '+%H:%M:%S'; }
say() { echo "[$(ts)] $*"; }
die() { echo "FAIL: $*" >&2; DIED=1; exit 1; }
DIED=0 LAST_ERR=""
trap 'LAST_ERR="line $LINENO: $BASH_COMMAND (exit status $?)"' ERR
on_exit() {
	local rc=$?
	if ((rc != 0 && rc != 130 && DIED == 0 && ${FAILS:-0} == 0)); then
		echo "FAIL: e2e/outage.sh stopped at $LAST_ERR" >&2
	fi
	[[ ${1:-} == stop ]] && stop_all
	if [[ ${TRUSTED_ADDED:-0} == 1 ]]; then
		sed -i "\#^$EXTX/exim.conf\$#d" /etc/exim4/trusted_configs
		[[ -s /etc/exim4/trusted_configs ]] || rm -f /etc/exim4/trusted_configs
	fi
	return $rc
}
trap on_exit EXIT
wait_until() {  # seconds command...: poll every 0.5 s
	local max=$1 i; shift
	for ((i = 0; i < max * 2; i++)); do "$@" && return 0; sleep 0.5; done
	return 1
}
port_free() { ! ss -ltnH "( sport = :$1 )" 2>/dev/null | grep -q .; }

###########################################################################
# Host side: packages (idempotent; never removes a package), exim unpacked.
###########################################################################
install_all() {
	export DEBIAN_FRONTEND=noninteractive
	local need=() p need_update=0
	command -v postfix >/dev/null || need+=(postfix)
	command -v rsyslogd >/dev/null || need+=(rsyslog)
	command -v ss >/dev/null || need+=(iproute2)
	command -v unshare >/dev/null || need+=(util-linux)
	# the libraries exim4-daemon-light depends on
	for p in libc6 libcrypt1 libdb5.3 libgnutls-dane0 libgnutls30 libidn12 libidn2-0 libnsl2 libpcre2-8-0; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
	done
	if [[ ! -x $EXIM ]] || ! "$EXIM" -C /dev/null -bV >/dev/null 2>&1; then
		apt-cache show exim4-daemon-light >/dev/null 2>&1 || need_update=1
	fi
	if ((${#need[@]})) || ((need_update)); then
		say "apt-get update"
		apt-get update -qq
	fi
	if ((${#need[@]})); then
		mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
		say "apt-get install ${need[*]}"
		echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
		local sim
		sim=$(apt-get install -s -y --no-install-recommends "${need[@]}")
		if grep -q '^Remv ' <<<"$sim"; then
			grep '^Remv ' <<<"$sim" >&2
			die "apt-get would remove packages to install ${need[*]}; refusing"
		fi
		local made_policy=0
		if [[ ! -e /usr/sbin/policy-rc.d ]]; then
			printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
			chmod 755 /usr/sbin/policy-rc.d
			made_policy=1
		fi
		apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || {
			((made_policy)) && rm -f /usr/sbin/policy-rc.d
			die "apt-get install ${need[*]} failed"
		}
		((made_policy)) && rm -f /usr/sbin/policy-rc.d
	fi
	# Exim: postfix and exim4-daemon-* both conflict with mail-transport-agent, so the
	# .debs are downloaded and unpacked privately, never dpkg-installed.
	if [[ ! -x $EXIM ]] || ! "$EXIM" -C /dev/null -bV >/dev/null 2>&1; then
		say "apt-get download exim4-daemon-light exim4-base -> $LAB/exim-root"
		mkdir -p "$LAB/debs" "$LAB/exim-root"
		chown _apt "$LAB/debs" 2>/dev/null || true
		(cd "$LAB/debs" && rm -f exim4-*.deb && apt-get download -qq exim4-daemon-light exim4-base)
		local d
		for d in "$LAB"/debs/exim4-*.deb; do dpkg-deb -x "$d" "$LAB/exim-root"; done
		chown root:root "$EXIM"
		chmod 4755 "$EXIM" # setuid root, as packaged
	fi
	if ldd "$EXIM" | grep -q 'not found'; then
		ldd "$EXIM" | grep 'not found' >&2
		die "$EXIM misses libraries"
	fi
	getent passwd Debian-exim >/dev/null || adduser --system --group --quiet --home /var/spool/exim4 \
		--no-create-home --disabled-login --force-badname Debian-exim
	getent passwd $MUSER >/dev/null || useradd --system --user-group --no-create-home \
		--home-dir /nonexistent --shell /usr/sbin/nologin $MUSER
}

###########################################################################
# Processes: everything is started by this script and stopped by pid.
###########################################################################
mta_pids() {  # Postfix processes carry MAIL_CONFIG=<our dir>; exim runs our binary
	local d pid
	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		[[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
		if { tr '\0' '\n' <"$d/environ"; } 2>/dev/null | grep -qx -e "MAIL_CONFIG=$PFTX" -e "MAIL_CONFIG=$PFRX"; then
			echo "$pid"
		elif [[ "$(readlink "$d/exe" 2>/dev/null || true)" == "$EXIM" ]]; then
			echo "$pid"
		fi
	done
}
pidfile_pid() {  # the pid file's process, if it still runs the program the file names
	local f=$1 pid exe want
	[[ -s $f ]] || return 1
	pid=$(cat "$f")
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
	case ${f##*/} in
	exim-tx.pid) want=$EXIM ;;
	rsyslogd.pid) want="*/rsyslogd" ;;
	*) return 1 ;;
	esac
	# shellcheck disable=SC2053 # $want is a pattern
	[[ -n $exe && $exe == $want ]] || return 1
	echo "$pid"
}
stop_pidfile() {  # file [signal]
	local pid
	pid=$(pidfile_pid "$1") || return 0
	kill -"${2:-TERM}" "$pid" 2>/dev/null || true
}
stop_mtas() {
	local inst pids i
	for inst in "$PFTX" "$PFRX"; do
		[[ -f $inst/main.cf ]] && postfix -c "$inst" status >/dev/null 2>&1 && postfix -c "$inst" stop >/dev/null 2>&1
	done
	stop_pidfile "$RUN/exim-tx.pid"
	for ((i = 0; i < 40; i++)); do
		pids=$(mta_pids | tr '\n' ' ')
		[[ -z ${pids// /} ]] && return 0
		sleep 0.5
	done
	say "MTA processes still running after a graceful stop, SIGTERM by pid: $pids"
	kill $pids 2>/dev/null || true
	sleep 1
	pids=$(mta_pids | tr '\n' ' ')
	[[ -n ${pids// /} ]] && kill -9 $pids 2>/dev/null || true
	return 0
}
stop_all() {
	set +e
	local f pid
	stop_mtas
	sleep 1 # the last lines reach rsyslogd
	stop_pidfile "$RUN/rsyslogd.pid"
	for f in rsyslogd; do
		pid=$(pidfile_pid "$RUN/$f.pid") || continue
		wait_until 10 bash -c "! kill -0 $pid 2>/dev/null" || stop_pidfile "$RUN/$f.pid" KILL
	done
	rm -f "$RUN"/*.pid
	set -e
}

###########################################################################
# Configuration
###########################################################################
postfix_master_cf() {  # $1 = smtpd service lines or nothing; no chroot anywhere
	cat <<EOF
$1
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

write_configs() {  # $1 = syslog|maillog: how the sending Postfix logs
	local uid gid tx_log="maillog_file ="
	uid=$(id -u $MUSER) gid=$(id -g $MUSER)
	[[ $1 == maillog ]] && tx_log="maillog_file = $LOGD/mail.log"
	mkdir -p "$PFTX" "$PFRX" "$EXTX"

	# ---------------- sending Postfix ----------------
	cat >"$PFTX/main.cf" <<EOF
# postfix-tx: the sending Postfix of bouncewatch's outage scenario
compatibility_level = 3.6
multi_instance_name = postfix-tx
syslog_name = postfix-tx
$tx_log
queue_directory = $SPOOL/postfix-tx
data_directory = $SPOOL/postfix-tx-data
myhostname = tx.lab.example
mydomain = lab.example
myorigin = \$myhostname
mydestination = \$myhostname, localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
transport_maps = texthash:$PFTX/transport
alias_maps = hash:$PFTX/aliases
alias_database = hash:$PFTX/aliases
bounce_template_file = $PFTX/bounce.cf
mail_spool_directory = $SPOOL/mail
relayhost =
biff = no
append_dot_mydomain = no
readme_directory = no
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtp_connect_timeout = 5s
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
	postfix_master_cf "" >"$PFTX/master.cf"
	cat >"$PFTX/transport" <<EOF
ok.example          smtp:[127.0.0.1]:$P_RX
ratelimit.example   smtp:[127.0.0.1]:$P_RX
outage.example      smtp:[127.0.0.1]:$P_OUTAGE
dead.example        smtp:[127.0.0.1]:$P_DEAD
EOF
	printf 'postmaster: %s\nsender: %s\nMAILER-DAEMON: %s\nroot: %s\n' $MUSER $MUSER $MUSER $MUSER >"$PFTX/aliases"
	postalias -c "$PFTX" "hash:$PFTX/aliases"
	cat >"$PFTX/bounce.cf" <<'EOF'
delay_template = <<EOT
Charset: us-ascii
From: MAILER-DAEMON (Mail Delivery System)
Subject: Delayed Mail (still being retried)
Postmaster-Subject: Postmaster Warning: Delayed Mail

This is the mail system at host $myhostname.

Your message could not be delivered for more than $delay_warning_time_seconds second(s).
It will be retried until it is $maximal_queue_lifetime_seconds second(s) old.
EOT
EOF

	# ---------------- receiving Postfix ----------------
	cat >"$PFRX/main.cf" <<EOF
# postfix-rx: the receiver. :$P_RX answers 452 4.3.2 at RCPT for ratelimit.example (until
# T+$T_RATE_OK); :$P_OUTAGE and :$P_DEAD answer 421 4.3.2 at the greeting (see master.cf)
compatibility_level = 3.6
multi_instance_name = postfix-rx
syslog_name = postfix-rx
maillog_file = $LOGD/postfix-rx.log
queue_directory = $SPOOL/postfix-rx
data_directory = $SPOOL/postfix-rx-data
myhostname = rx.lab.example
mydomain = lab.example
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = ok.example, ratelimit.example, outage.example, dead.example
virtual_mailbox_maps = texthash:$PFRX/vmailbox
virtual_mailbox_base = $SPOOL/vmail
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access texthash:$PFRX/rcpt_access
alias_maps =
alias_database =
biff = no
readme_directory = no
smtpd_tls_security_level = none
smtp_tls_security_level = none
EOF
	# The outage listeners: smtpd_delay_reject=no makes smtpd evaluate
	# smtpd_client_restrictions at connect time and send their reply instead of the
	# 220 banner (with the default "yes" they would act only at RCPT TO).
	postfix_master_cf "127.0.0.1:$P_RX inet n - n - - smtpd
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
	cat >"$PFRX/rcpt_access.down" <<'EOF'
nobody@ok.example   550 5.1.1 User unknown
ratelimit.example   452 4.3.2 Connection rate limit exceeded
EOF
	cat >"$PFRX/rcpt_access.up" <<'EOF'
nobody@ok.example   550 5.1.1 User unknown
ratelimit.example   OK
EOF
	cp "$PFRX/rcpt_access.down" "$PFRX/rcpt_access"

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

	# ---------------- rsyslogd: mail.* to one file, Debian 12's default format ----------------
	cat >"$LAB/rsyslog.conf" <<EOF
global(workDirectory="$SPOOL/rsyslog")
module(load="imuxsock" SysSock.Name="/dev/log" SysSock.RateLimit.Interval="0")
# the receiver writes its own maillog_file; keep its start-up lines out of the sender's log
if \$programname startswith "postfix-rx" then stop
mail.*  action(type="omfile" file="$LOGD/mail.log" template="RSYSLOG_FileFormat")
EOF
}

prepare_dirs() {
	rm -rf "$SPOOL" "$LOGD" "$RUN"
	mkdir -p "$SPOOL" "$LOGD" "$RUN"
	install -d -m 1777 "$SPOOL/mail"
	install -d -o root -g root -m 0755 "$SPOOL/postfix-tx" "$SPOOL/postfix-rx"
	install -d -o $MUSER -g $MUSER -m 0755 "$SPOOL/vmail"
	install -d -m 0755 "$SPOOL/rsyslog"
	install -d -o Debian-exim -g Debian-exim -m 0750 "$SPOOL/exim-tx" "$SPOOL/exim-tx-mail"
	install -d -o Debian-exim -g adm -m 2750 "$LOGD/exim"
	install -d -o Debian-exim -g Debian-exim -m 0755 "$RUN"
	install -m 0640 -o root -g adm /dev/null "$LOGD/mail.log"
	install -m 0640 -o Debian-exim -g adm /dev/null "$LOGD/exim/mainlog"
}

###########################################################################
# Inside the private mount namespace: /dev/log, rsyslogd
###########################################################################
private_dev() {
	[[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ]] || die "not in a private mount namespace"
	mkdir -p "$RUN/hostdev"
	mount --bind /dev "$RUN/hostdev"
	mount -t tmpfs -o mode=0755,size=1m outagedev /dev
	local n
	for n in null zero full random urandom tty ptmx; do
		[[ -e $RUN/hostdev/$n ]] || continue
		: >"/dev/$n"
		mount --bind "$RUN/hostdev/$n" "/dev/$n"
	done
	mkdir -p /dev/pts /dev/shm
	mount --bind "$RUN/hostdev/pts" /dev/pts
	mount --bind "$RUN/hostdev/shm" /dev/shm
	ln -s /proc/self/fd /dev/fd
	ln -s /proc/self/fd/0 /dev/stdin
	ln -s /proc/self/fd/1 /dev/stdout
	ln -s /proc/self/fd/2 /dev/stderr
	# Exim trusts a -C config for its re-execs only if TRUSTED_CONFIG_LIST
	# (/etc/exim4/trusted_configs) lists it: a private copy on a tmpfs.
	mkdir -p /etc/exim4
	mount -t tmpfs -o mode=0755,size=1m outageexim /etc/exim4
	echo "$EXTX/exim.conf" >/etc/exim4/trusted_configs
	chmod 644 /etc/exim4/trusted_configs
}

# rsyslogd owns the private /dev/log itself. Not journald in front of it, as on a stock
# Debian 12 (e2e/run.sh does that): journald forwards to rsyslogd over a non-blocking
# datagram socket and DROPS lines when rsyslogd's queue is full (net.unix.max_dgram_qlen
# is 10 on these machines). An early run of this scenario lost a Postfix message's
# status=sent lines and another's "status=expired" line that way. With rsyslogd on
# /dev/log, syslog(3) blocks instead, and no line is lost; the file format is the same.
start_syslog_stack() {
	/usr/sbin/rsyslogd -f "$LAB/rsyslog.conf" -i "$RUN/rsyslogd.pid" || return 1
	wait_until 10 test -s "$RUN/rsyslogd.pid" || return 1
	wait_until 10 test -S /dev/log || return 1
	say "private rsyslogd (pid $(cat "$RUN/rsyslogd.pid")) owns /dev/log -> $LOGD/mail.log"
	logger -p mail.info -t bouncewatch-outage "syslog chain check $$"
	wait_until 10 grep -q "syslog chain check $$" "$LOGD/mail.log" || return 1
}

###########################################################################
# Helpers for the scenario
###########################################################################
extx() { "$EXIM" -C "$EXTX/exim.conf" "$@"; }
PF_FROM=sender@tx.lab.example EX_FROM=sender@exim-tx.lab.example
mkmsg() {  # from subject to...
	local from=$1 subj=$2
	shift 2
	printf 'From: <%s>\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: <%s.%s@lab.example>\n\nbouncewatch outage scenario "%s".\n' \
		"$from" "$(printf '<%s>, ' "$@" | sed 's/, $//')" "$subj" "$(date -R)" "$(date +%s%N)" "$RANDOM" "$subj"
}
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
pf_queue() { { postqueue -c "$PFTX" -j 2>/dev/null || true; } | wc -l; }
ex_queue() { extx -bpc 2>/dev/null || echo 99; }
TL=$LOGD/timeline.txt
mark() {  # a timeline entry, seconds from T0
	local t
	t=$(awk -v a="$(date +%s.%N)" -v b="$T0" 'BEGIN { printf "%6.1f", a - b }')
	echo "T+$t  $*" >>"$TL"
	say "T+$t $*"
}
sleep_until() {  # T+seconds
	local d
	d=$(awk -v t="$T0" -v o="$1" -v n="$(date +%s.%N)" 'BEGIN { d = t + o - n; if (d < 0) d = 0; printf "%.2f", d }')
	sleep "$d"
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

FAILS=0
fail() { echo "FAIL: $*" | tee -a "$LOGD/failures.txt"; FAILS=$((FAILS + 1)); }
pass() { echo "ok:   $*"; }
check_ge() {  # description got min
	if awk -v a="$2" -v b="$3" 'BEGIN { exit !(a + 0 >= b + 0) }'; then pass "$1: $2 (>= $3)"; else fail "$1: $2, want >= $3"; fi
}
check_eq() {  # description want got
	if [[ "$2" == "$3" ]]; then pass "$1: $3"; else fail "$1: want $2, got $3"; fi
}
# cnt TYPE SRC [FIELD3 [FIELD4 ...]]: the sum of the last field of the matching count lines
cnt() {
	awk -v want="$*" 'BEGIN { n = split(want, w, " ") }
		{ for (i = 1; i <= n; i++) if (w[i] != "*" && $i != w[i]) next; s += $NF }
		END { print s + 0 }' "$COUNT"
}

###########################################################################
# The scenario, inside the private mount namespace
###########################################################################
body() {
	local mode=$1 # syslog | maillog
	local p
	for p in $P_RX $P_OUTAGE $P_DEAD $P_EXTX; do
		port_free "$p" || die "port 127.0.0.1:$p is busy"
	done
	prepare_dirs
	write_configs "$mode"
	trap 'on_exit stop' EXIT
	trap 'say "interrupted"; exit 130' INT TERM HUP

	if [[ $mode == syslog ]]; then
		private_dev
		start_syslog_stack || die "the private rsyslogd on /dev/log did not work"
	else
		echo "NOTE: FALLBACK: no private mount namespace; the sending Postfix writes $LOGD/mail.log through maillog_file, not syslog"
		mkdir -p /etc/exim4
		if ! grep -qxF "$EXTX/exim.conf" /etc/exim4/trusted_configs 2>/dev/null; then
			echo "$EXTX/exim.conf" >>/etc/exim4/trusted_configs
			TRUSTED_ADDED=1
		fi
	fi

	say "config check"
	postfix -c "$PFRX" check
	postfix -c "$PFTX" check
	extx -bV >/dev/null

	say "starting the receiving Postfix, the sending Postfix and the sending Exim"
	postfix -c "$PFRX" start >/dev/null 2>&1
	postfix -c "$PFTX" start >/dev/null 2>&1
	extx -bd -q10s
	for p in $P_RX $P_OUTAGE $P_DEAD; do
		wait_until 15 bash -c "ss -ltnH '( sport = :$p )' | grep -q ." || die "postfix-rx does not listen on $p"
	done
	wait_until 15 test -s "$RUN/exim-tx.pid" || die "exim-tx did not start"
	postfix -c "$PFTX" status >/dev/null 2>&1 || die "postfix-tx did not start"

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

	###################### the mail ######################
	local i r c mode_ex
	T0=$(date +%s.%N)
	echo "T0 = $(date -d "@${T0%.*}" '+%Y-%m-%d %H:%M:%S %Z') (epoch $T0)" >>"$TL"
	mark "burst: per MTA 12 messages to outage.example (1-5 recipients), 5 to dead.example, 1 to ok+outage+dead, 3 to ok.example, 3 to ratelimit.example"
	local oc=(1 3 1 4 1 5 1 2 1 3 1 1) dc=(1 3 1 2 1) kc=(1 2 1) lc=(1 3 1)
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
			cp "$PFRX/rcpt_access.up" "$PFRX/rcpt_access"
			postfix -c "$PFRX" reload >/dev/null 2>&1
			mark "receiver: ratelimit.example accepted (rcpt_access switched, postfix reload)"
		fi
	done
	mark "submitted: postfix $NPF messages, exim $NEX messages (all)"

	sleep_until $T_SWITCH
	cp "$PFRX/outage_client.cidr.up" "$PFRX/outage_client.cidr"
	postfix -c "$PFRX" reload >/dev/null 2>&1
	mark "receiver: outage.example RECOVERS (:$P_OUTAGE access map switched to OK, postfix reload)"
	sleep 1
	b=$(banner $P_OUTAGE)
	mark "greeting of 127.0.0.1:$P_OUTAGE now (plain TCP client): $b"
	[[ $b == 220* ]] || fail "the outage listener does not greet with 220 after the switch: $b"

	say "waiting for deliveries and expiry (both queues empty, at most until T+$T_DONE)"
	local done_ok=0 pq eq last_pq=-1 last_eq=-1 now
	while :; do
		now=$(date +%s)
		(( now < ${T0%.*} + T_DONE )) || break
		pq=$(pf_queue) eq=$(ex_queue)
		if [[ $pq != "$last_pq" || $eq != "$last_eq" ]]; then
			mark "queues: postfix-tx $pq, exim-tx $eq messages"
			last_pq=$pq last_eq=$eq
		fi
		if ((pq == 0 && eq == 0)); then
			done_ok=1
			break
		fi
		sleep 2
	done
	((done_ok)) || fail "the queues did not drain by T+$T_DONE: postfix-tx $(pf_queue), exim-tx $(ex_queue)"
	mark "both queues empty; stopping the MTAs"
	stop_mtas
	sleep 1
	mark "stopped"

	collect "$mode"
	check_all
	if ((FAILS)); then
		echo "OUTAGE SCENARIO FAILED: $FAILS check(s) failed (FAIL: lines above); logs in $OUT"
		exit 1
	fi
	echo "OUTAGE SCENARIO OK: logs in $OUT"
}

collect() {
	local mode=$1
	cp "$LOGD/mail.log" "$OUT/postfix-tx.log"
	cp "$LOGD/exim/mainlog" "$OUT/exim-mainlog"
	cp "$LOGD/postfix-rx.log" "$OUT/postfix-rx.log"
	cp "$TL" "$OUT/timeline.txt"
	{
		echo "# software that wrote the logs in this directory"
		echo "os: $(. /etc/os-release && echo "$PRETTY_NAME") (debian_version $(cat /etc/debian_version)), kernel $(uname -r)"
		echo "postfix: $(postconf -d mail_version 2>/dev/null | sed 's/.*= //') (package $(dpkg-query -W -f='${Version}' postfix))"
		echo "exim: $(extx -bV 2>/dev/null | head -1) (packages $(for d in "$LAB"/debs/exim4-*.deb; do dpkg-deb -f "$d" Package Version | awk '{ print $2 }' | paste -sd' '; done | paste -sd',' | sed 's/,/, /g'), unpacked with dpkg-deb -x)"
		echo "rsyslog: $(dpkg-query -W -f='${Version}' rsyslog 2>/dev/null)"
		echo "awk for outage-count.txt: $(readlink -f "$(command -v awk)") ($(dpkg-query -W -f='${Package} ${Version}' mawk 2>/dev/null || true))"
		echo "postfix-tx log: $([[ $mode == syslog ]] && echo "syslog(3) -> rsyslogd on a private /dev/log (RSYSLOG_FileFormat, as Debian 12's /var/log/mail.log; no journald in between)" || echo "maillog_file (FALLBACK, no namespace)")"
		echo "exim-tx log: mainlog (log_file_path); postfix-rx log: maillog_file"
	} >"$OUT/versions.txt"
	chmod 644 "$OUT"/{postfix-tx.log,exim-mainlog,postfix-rx.log,timeline.txt,versions.txt}
	COUNT=$OUT/outage-count.txt
	awk -f "$AWKF" "$OUT/postfix-tx.log" "$OUT/exim-mainlog" | LC_ALL=C sort >"$COUNT"
	if [[ -s $LOGD/exim/paniclog ]]; then
		cp "$LOGD/exim/paniclog" "$OUT/exim-paniclog"
	fi
}

check_all() {
	echo
	say "== checks over $OUT"
	local src d o n
	[[ -s $LOGD/exim/paniclog ]] && fail "exim wrote a paniclog: $(head -3 "$LOGD/exim/paniclog")"
	# no line lost on the way: every message that entered a queue left it in the log
	check_eq "postfix-tx.log: queue ids 'queue active' without a 'removed' line (lost lines?)" 0 \
		"$(awk 'match($0, /\]: [0-9A-F]+: /) { q = substr($0, RSTART + 3, RLENGTH - 5)
			if (/ \(queue active\)$/) a[q] = 1; else if (/: removed$/) delete a[q] }
			END { n = 0; for (q in a) n++; print n }' "$OUT/postfix-tx.log")"
	check_eq "exim-mainlog: message ids with '<=' but no 'Completed'" 0 \
		"$(awk '$4 == "<=" { a[$3] = 1 } $4 == "Completed" { delete a[$3] } END { n = 0; for (q in a) n++; print n }' "$OUT/exim-mainlog")"
	local want
	for src in postfix exim; do
		n=$(awk -v s=$src '$1 == "RCPT" && $2 == s && $4 ~ /@(outage|dead)\.example$/ { print $3 }' "$COUNT" | sort -u | wc -l)
		check_ge "$src: messages to outage.example/dead.example (with a deferred recipient)" "$n" 30
		want=$NPF_OUT; [[ $src == exim ]] && want=$NEX_OUT
		check_eq "$src: ... = the messages submitted to them" "$want" "$n"
		for d in outage.example dead.example ok.example ratelimit.example; do
			if [[ $src == postfix ]]; then want=${XPF[$d]:-0}; else want=${XEX[$d]:-0}; fi
			# the sendmail -bv probes are recipients in the log too
			[[ $src == postfix && $d == ok.example ]] && want=$((want + NPROBE))
			check_eq "$src: $d recipients in the log = recipients submitted" "$want" "$(cnt RECIPIENTS $src $d)"
		done
		n=$(awk -v s=$src '$1 == "RCPT" && $2 == s && $4 ~ /@(outage|dead)\.example$/ { c[$3]++ } END { for (q in c) if (c[q] >= 3) n++; print n + 0 }' "$COUNT")
		check_ge "$src: of them with 3-5 recipients in one domain" "$n" 5
		for d in outage.example dead.example; do
			check_ge "$src: $d deferrals at the GREETING with 4.3.2" "$(cnt PHASES $src $d greeting 4.3.2)" 1
			n=$(awk -v s=$src -v d=$d '$1 == "PHASES" && $2 == s && $3 == d && $4 != "greeting"' "$COUNT" | wc -l)
			check_eq "$src: $d deferrals NOT at the greeting (kinds)" 0 "$n"
		done
		check_ge "$src: ratelimit.example deferrals at RCPT with 4.3.2 (452)" "$(cnt PHASES $src ratelimit.example rcpt 4.3.2)" 1
		o=$(cnt RECIPIENTS $src outage.example)
		check_ge "$src: outage.example recipients" "$o" 30
		check_eq "$src: outage.example recipients delivered (all, after the recovery)" "$o" "$(cnt OUTCOMES $src outage.example '*' delivered)"
		o=$(cnt RECIPIENTS $src dead.example)
		check_ge "$src: dead.example recipients" "$o" 10
		check_eq "$src: dead.example recipients expired (all)" "$o" "$(cnt OUTCOMES $src dead.example '*' expired)"
		check_eq "$src: dead.example recipients whose first code is 4.3.2" "$o" "$(cnt OUTCOMES $src dead.example 4.3.2 '*')"
		check_ge "$src: dead.example expired events" "$(cnt EVENTS $src dead.example expired)" 10
		o=$(cnt RECIPIENTS $src ratelimit.example)
		check_eq "$src: ratelimit.example recipients delivered (all)" "$o" "$(cnt OUTCOMES $src ratelimit.example '*' delivered)"
		if [[ $src == postfix ]]; then want=${XPF[ok.example]:-0}; else want=${XEX[ok.example]:-0}; fi
		check_eq "$src: ok.example sent events (all its recipients)" "$want" "$(cnt EVENTS $src ok.example sent)"
		check_eq "$src: recipients pending at the end" 0 "$(cnt OUTCOMES $src '*' '*' pending)"
		check_eq "$src: recipients removed while pending" 0 "$(cnt OUTCOMES $src '*' '*' removed)"
	done
	# Postfix: the destination marked dead -> "delivery temporarily suspended"
	for d in outage.example dead.example; do
		check_ge "postfix: $d 'delivery temporarily suspended' deferrals (dsn=4.3.2)" "$(cnt DEFERRALS postfix $d suspended 4.3.2)" 1
	done
	check_ge "postfix: recipients whose FIRST deferral line is a suspended line" "$(cnt FIRSTKIND postfix '*' suspended)" 1
	check_ge "postfix: recipients whose ONLY deferral lines are suspended lines" "$(cnt ONLYKIND postfix '*' suspended)" 1
	check_ge "postfix: address verification probe lines (status=deliverable|undeliverable, ignored)" "$(cnt IGNORED postfix)" 1
	check_ge "postfix: 'status=expired, returned to sender' lines" "$(cnt EXPIRYWORDING postfix dead.example)" 1
	# Exim: retry time not reached, -odqs, queue runs, both expiry wordings
	for d in outage.example dead.example; do
		check_ge "exim: $d 'retry time not reached' deferrals" "$(cnt DEFERRALS exim $d retry-wait)" 1
	done
	check_ge "exim: recipients whose FIRST deferral line is 'retry time not reached'" "$(cnt FIRSTKIND exim '*' retry-wait)" 1
	check_ge "exim: -odqs deferrals (skipped)" "$(cnt SKIPPED exim '*' odqs)" 1
	check_ge "exim: queue runs" "$(cnt QUEUERUNS exim)" 3
	check_ge "exim: dead.example '** ...: retry timeout exceeded'" "$(cnt EXPIRYWORDING exim dead.example retry-timeout-exceeded)" 1
	check_ge "exim: dead.example '** ... all hosts ... have been failing for a long time'" "$(cnt EXPIRYWORDING exim dead.example all-hosts-failing)" 1
	# the receiver really answered at the greeting
	for d in outage dead; do
		check_ge "postfix-rx: 'reject: CONNECT ... 421 4.3.2' on the $d listener" \
			"$(grep -c "postfix-rx/$d/smtpd\[[0-9]*\]: NOQUEUE: reject: CONNECT from .*: 421 4\.3\.2 " "$OUT/postfix-rx.log" || true)" 1
	done
	check_ge "postfix-tx: 'refused to talk to me: 421 4.3.2' lines" "$(grep -c 'refused to talk to me: 421 4\.3\.2 ' "$OUT/postfix-tx.log" || true)" 1
	check_ge "exim-tx: 'after initial connection: 421 4.3.2' lines" "$(grep -c 'after initial connection: 421 4\.3\.2 ' "$OUT/exim-mainlog" || true)" 1

	echo
	echo "================ outage scenario summary ================"
	for src in postfix exim; do
		echo "$src: $(awk -v s=$src '$1 == "MESSAGES" && $2 == s { printf "%s %s msgs; ", $3, $4 }' "$COUNT")"
		echo "  recipients: $(awk -v s=$src '$1 == "RECIPIENTS" && $2 == s { printf "%s %s; ", $3, $4 }' "$COUNT")"
		echo "  deferral lines (domain kind code n): $(awk -v s=$src '$1 == "DEFERRALS" && $2 == s { printf "%s %s %s %s; ", $3, $4, $5, $6 }' "$COUNT")"
		echo "  first deferral line kind: $(awk -v s=$src '$1 == "FIRSTKIND" && $2 == s { printf "%s %s %s; ", $3, $4, $5 }' "$COUNT")"
		echo "  only one kind: $(awk -v s=$src '$1 == "ONLYKIND" && $2 == s { printf "%s %s %s; ", $3, $4, $5 }' "$COUNT")"
		echo "  outcomes (domain first-code outcome n): $(awk -v s=$src '$1 == "OUTCOMES" && $2 == s { printf "%s %s %s %s; ", $3, $4, $5, $6 }' "$COUNT")"
		echo "  other: $(awk -v s=$src '($1 == "SKIPPED" || $1 == "IGNORED" || $1 == "EXPIRYWORDING" || $1 == "QUEUERUNS") && $2 == s { $2 = ""; printf "%s; ", $0 }' "$COUNT")"
	done
}

###########################################################################
main() {
	if [[ ${OUTAGE_IN_NS:-0} == 1 ]]; then
		body "${OUTAGE_MODE:-syslog}"
		return
	fi
	[[ $# -eq 1 && -n $1 ]] || { echo "usage: bash e2e/outage.sh OUTDIR" >&2; exit 2; }
	[[ $(id -u) == 0 ]] || die "run as root (installs packages, runs MTAs)"
	[[ -f $AWKF ]] || die "no $AWKF"
	mkdir -p "$1"
	OUT=$(cd "$1" && pwd)
	export OUT
	local start rc=0
	start=$(date +%s)
	[[ ${OUTAGE_SKIP_INSTALL:-0} == 1 ]] || install_all
	stop_all # a leftover of an interrupted run (by pid)
	rm -f "$OUT"/{postfix-tx.log,exim-mainlog,postfix-rx.log,timeline.txt,versions.txt,outage-count.txt,exim-paniclog}
	if [[ ${OUTAGE_NO_NS:-0} != 1 ]] && unshare -m --propagation private true 2>/dev/null; then
		OUTAGE_IN_NS=1 OUTAGE_MODE=syslog unshare -m --propagation private -- bash "$SELF" || rc=$?
	else
		echo "NOTE: OUTAGE_NO_NS=1 or no unshare -m here: FALLBACK to maillog_file for the sending Postfix" >&2
		OUTAGE_IN_NS=1 OUTAGE_MODE=maillog bash "$SELF" || rc=$?
	fi
	say "wall time $(($(date +%s) - start)) s"
	((rc == 0)) || DIED=1 # the scenario has said why
	return $rc
}
main "$@"; exit $?  # on one line: bash must not read on if this file changes meanwhile
