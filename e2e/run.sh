#!/usr/bin/env bash
# e2e/run.sh: bouncewatch end to end, with a real Postfix, a real Exim and a
# real Prometheus, on loopback. Run as root from the repository root:
#
#     bash e2e/run.sh            # about 1.5 minutes once the packages are installed
#
# .ci/run runs it through `go test -tags e2e ./e2e/` (e2e_test.go). It exits
# non-zero, with a "FAIL:" line per failed assertion, when anything is off.
#
# What runs (all on 127.0.0.1, private ports 126xx; adapted from
# ../shared/mta-lab/run-lab.sh, the project's MTA lab):
#   postfix-rx  Postfix 3.7 (apt), receiver on :12625. Its access map answers
#               "451 4.3.2 System not accepting network messages" for retry.example
#               (until it is switched to OK at T+35s, then `postfix reload`) and for
#               expire.example (always), "450 4.7.1" for greylist.example (until T+35s:
#               a domain that defers with another code, which must not raise the 4.3.2
#               alert), 550 5.1.1 for unknown bounce.example users (and, after the
#               switch, for gone@retry.example); it accepts ok.example.
#   postfix-tx  Postfix 3.7, sender: logs through syslog(3) -> a private
#               systemd-journald -> rsyslogd -> $LOGD/mail.log (RFC 3339, Debian 12's
#               default file format). bouncewatch source "postfix".
#   exim-tx     Exim 4.96 (exim4-daemon-light, `apt-get download` + `dpkg-deb -x`,
#               because postfix and exim4 conflict in apt), sender: writes its mainlog
#               $LOGD/exim/mainlog. bouncewatch source "exim".
#   bouncewatch `bouncewatch run` built from this repository, following both logs from
#               their start (--source.from-beginning, state file), :12690.
#   prometheus  Debian's /usr/bin/prometheus scraping bouncewatch every 2 s and
#               evaluating alerting/bouncewatch.rules.yml every 2 s, :12691.
# Retry timers are seconds: Postfix queue_run_delay 5s, backoff 10s, queue lifetime
# 60s; Exim retry rule F,60s,10s and a queue run every 10 s.
#
# Timeline (T = first message): T+20 rename mail.log and SIGHUP rsyslogd; T+35 the
# receiver accepts retry.example; T+45 bouncewatch is stopped (SIGTERM), the Exim
# mainlog is renamed while it is down, and bouncewatch is started again on its state
# file; T+60..80 expire.example expires in both MTAs; then the queues drain, the MTAs
# are stopped and everything is compared.
#
# The syslog part runs in a private mount namespace (unshare -m) with its own /dev,
# /run/systemd, /run/log and /etc/exim4, so the host's /dev/log, journal and /etc are
# not changed (except for an empty /etc/exim4 as the mount point). Without unshare the sending Postfix falls back to maillog_file
# (said loudly, and in the summary).
#
# Alert rules: the shipped alerting/bouncewatch.rules.yml is used as it is, except that
# a copy with every `for:` shortened to 10s is loaded (production `for: 5m` would make
# the test wait 5 minutes); the expressions and windows are unchanged, and the script
# checks that the copy differs from the shipped file only in `for:` lines.
#
# Left on the machine: the packages (postfix, rsyslog, libidn12 and their dependencies;
# prometheus, jq, curl if they were missing), /opt/bouncewatch-e2e (configs, the unpacked
# exim and its .debs), /var/spool/bouncewatch-e2e, /var/log/bouncewatch-e2e and
# /run/bouncewatch-e2e (wiped by the next run), the users Debian-exim and bwe2e, an empty
# /etc/exim4 (mount point of the private trusted_configs) and the results in $E2E_OUT.
# Nothing keeps running and no mount outlives the run; /etc/postfix is never used.
#
# Knobs: E2E_OUT (work and result dir, default /tmp/bouncewatch-e2e), E2E_RULES (the
# rule file, default alerting/bouncewatch.rules.yml), E2E_BW_CONFIG (a rules.yaml for
# bouncewatch), E2E_NO_NS=1 (the fallback), E2E_SKIP_INSTALL=1.
set -Eeuo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF=$REPO/e2e/run.sh
export PATH="/usr/local/go/bin:$PATH:/usr/sbin:/sbin"

LAB=/opt/bouncewatch-e2e          # configs, the unpacked exim
SPOOL=/var/spool/bouncewatch-e2e  # queues, mailboxes
LOGD=/var/log/bouncewatch-e2e     # the MTA logs (Postfix's maillog_file must start with /var)
RUN=/run/bouncewatch-e2e          # pid files
OUT=${E2E_OUT:-/tmp/bouncewatch-e2e}
RULES_SRC=${E2E_RULES:-$REPO/alerting/bouncewatch.rules.yml}
EXIM=$LAB/exim-root/usr/sbin/exim4
PFTX=$LAB/postfix-tx PFRX=$LAB/postfix-rx EXTX=$LAB/exim-tx
P_PFRX=12625 P_EXTX=12628 P_BW=12690 P_PROM=12691
MUSER=bwe2e                       # owner of the local and virtual mailboxes
ALERT=BouncewatchRepeated432
BW=http://127.0.0.1:$P_BW PROM=http://127.0.0.1:$P_PROM
BWCFG=() # E2E_BW_CONFIG: a rules.yaml for bouncewatch (run and report); default the built-in one
[[ -n ${E2E_BW_CONFIG:-} ]] && BWCFG=(--config.file="$E2E_BW_CONFIG")
T_ROTATE=20 T_SWITCH=35 T_RESTART=45 T_DONE=200   # seconds after the first message

ts() { date '+%H:%M:%S'; }
say() { echo "[$(ts)] $*"; }
die() { echo "FAIL: $*" >&2; DIED=1; exit 1; }
cols() { if command -v column >/dev/null; then column -t; else cat; fi; }
# set -e stops at an unexpected failure; say where (the ERR trap only notes it, the
# EXIT trap prints it unless a die or an assertion already said why)
DIED=0 LAST_ERR=""
trap 'LAST_ERR="line $LINENO: $BASH_COMMAND (exit status $?)"' ERR
on_exit() {
	local rc=$?
	if ((rc != 0 && rc != 130 && DIED == 0 && ${FAILS:-0} == 0)); then
		echo "FAIL: e2e/run.sh stopped at $LAST_ERR" >&2
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
	local need=() p
	command -v postfix >/dev/null || need+=(postfix)
	command -v rsyslogd >/dev/null || need+=(rsyslog)
	command -v prometheus >/dev/null || need+=(prometheus)
	command -v promtool >/dev/null || need+=(prometheus)
	command -v jq >/dev/null || need+=(jq)
	command -v curl >/dev/null || need+=(curl)
	command -v ss >/dev/null || need+=(iproute2)
	command -v unshare >/dev/null || need+=(util-linux)
	# the libraries exim4-daemon-light depends on
	for p in libc6 libcrypt1 libdb5.3 libgnutls-dane0 libgnutls30 libidn12 libidn2-0 libnsl2 libpcre2-8-0; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
	done
	if [[ ! -x $EXIM ]] || ! "$EXIM" -C /dev/null -bV >/dev/null 2>&1; then
		apt-cache show exim4-daemon-light >/dev/null 2>&1 || need_update=1
	fi
	if ((${#need[@]})) || [[ ${need_update:-0} == 1 ]]; then
		say "apt-get update"
		apt-get update -qq
	fi
	if ((${#need[@]})); then
		mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
		say "apt-get install ${need[*]}"
		# the default /etc/postfix instance is never used
		echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
		local sim
		sim=$(apt-get install -s -y --no-install-recommends "${need[@]}")
		if grep -q '^Remv ' <<<"$sim"; then
			grep '^Remv ' <<<"$sim" >&2
			die "apt-get would remove packages to install ${need[*]}; refusing"
		fi
		# maintainer scripts must not start daemons
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
	# EXIM_USER=ref:Debian-exim is compiled in
	getent passwd Debian-exim >/dev/null || adduser --system --group --quiet --home /var/spool/exim4 \
		--no-create-home --disabled-login --force-badname Debian-exim
	getent passwd $MUSER >/dev/null || useradd --system --user-group --no-create-home \
		--home-dir /nonexistent --shell /usr/sbin/nologin $MUSER
}

###########################################################################
# Processes: everything is started by this script and stopped by pid.
###########################################################################
# Pids of this test's MTAs: Postfix processes carry MAIL_CONFIG=<our config dir>
# in their environment; exim processes run our unpacked binary.
mta_pids() {
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

# A pid file's process, if it still runs and is the program the file names (a pid
# file left by an interrupted run may name a pid that has been reused since).
pidfile_pid() {
	local f=$1 pid exe want
	[[ -s $f ]] || return 1
	pid=$(cat "$f")
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
	case ${f##*/} in
	exim-tx.pid) want=$EXIM ;;
	bouncewatch.pid) want="$OUT/bouncewatch*" ;;
	prometheus.pid) want="*/prometheus" ;;
	rsyslogd.pid) want="*/rsyslogd" ;;
	journald.pid) want="*/systemd-journald" ;;
	poller.pid) want="*/bash" ;;
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
	local f
	for f in poller prometheus bouncewatch; do stop_pidfile "$RUN/$f.pid"; done
	stop_mtas
	stop_pidfile "$RUN/rsyslogd.pid"
	stop_pidfile "$RUN/journald.pid"
	local pid
	for f in poller prometheus bouncewatch rsyslogd journald; do
		pid=$(pidfile_pid "$RUN/$f.pid") || continue
		wait_until 10 bash -c "! kill -0 $pid 2>/dev/null" || stop_pidfile "$RUN/$f.pid" KILL
	done
	rm -f "$RUN"/*.pid
	set -e
}

###########################################################################
# Configuration (written from heredocs; adapted from ../shared/mta-lab/run-lab.sh)
###########################################################################
postfix_master_cf() {  # $1 = an smtpd service line or nothing; no chroot anywhere
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
# postfix-tx: the sending Postfix of bouncewatch's end-to-end test
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
# the built-in bounce templates warn about sub-hour timers; this one reports seconds
bounce_template_file = $PFTX/bounce.cf
mail_spool_directory = $SPOOL/mail
relayhost =
biff = no
append_dot_mydomain = no
readme_directory = no
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtp_connect_timeout = 5s
# retry timers in seconds, so that a whole defer/retry/expire cycle takes ~80 s
queue_run_delay = 5s
minimal_backoff_time = 10s
maximal_backoff_time = 10s
maximal_queue_lifetime = 60s
bounce_queue_lifetime = 60s
EOF
	postfix_master_cf "" >"$PFTX/master.cf"
	local d
	for d in ok.example retry.example expire.example bounce.example greylist.example; do
		printf '%-20s smtp:[127.0.0.1]:%s\n' "$d" "$P_PFRX"
	done >"$PFTX/transport"
	printf 'postmaster: %s\nsender: %s\nMAILER-DAEMON: %s\n' $MUSER $MUSER $MUSER >"$PFTX/aliases"
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
# postfix-rx: the receiver; its access map answers 451 4.3.2
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
virtual_mailbox_domains = ok.example, retry.example, expire.example, bounce.example, greylist.example
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

	# ---------------- rsyslogd: mail.* to one file, Debian 12's default format ----------------
	local sock=/dev/log
	[[ $1 == syslog && -x /lib/systemd/systemd-journald ]] && sock=/run/systemd/journal/syslog
	cat >"$LAB/rsyslog.conf" <<EOF
global(workDirectory="$SPOOL/rsyslog")
module(load="imuxsock" SysSock.Name="$sock" SysSock.RateLimit.Interval="0")
mail.*  action(type="omfile" file="$LOGD/mail.log" template="RSYSLOG_FileFormat")
EOF
}

prepare_dirs() {
	rm -rf "$SPOOL" "$LOGD" "$RUN"
	mkdir -p "$SPOOL" "$LOGD" "$RUN"
	install -d -m 1777 "$SPOOL/mail"
	# postfix check/start need the queue directory; post-install creates the rest
	install -d -o root -g root -m 0755 "$SPOOL/postfix-tx" "$SPOOL/postfix-rx"
	install -d -o $MUSER -g $MUSER -m 0755 "$SPOOL/vmail"
	install -d -m 0755 "$SPOOL/rsyslog"
	install -d -o Debian-exim -g Debian-exim -m 0750 "$SPOOL/exim-tx" "$SPOOL/exim-tx-mail"
	install -d -o Debian-exim -g adm -m 2750 "$LOGD/exim"
	install -d -o Debian-exim -g Debian-exim -m 0755 "$RUN"
	# both logs exist (empty) when bouncewatch starts
	install -m 0640 -o root -g adm /dev/null "$LOGD/mail.log"
	install -m 0640 -o Debian-exim -g adm /dev/null "$LOGD/exim/mainlog"
}

###########################################################################
# Inside the private mount namespace: /dev/log, journald, rsyslogd
###########################################################################
private_dev() {
	# only ever inside a mount namespace that is not the host's
	[[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ]] || die "not in a private mount namespace"
	mkdir -p "$RUN/hostdev"
	mount --bind /dev "$RUN/hostdev"
	mount -t tmpfs -o mode=0755,size=1m e2edev /dev
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
	mount -t tmpfs -o mode=0755,size=1m e2eexim /etc/exim4
	echo "$EXTX/exim.conf" >/etc/exim4/trusted_configs
	chmod 644 /etc/exim4/trusted_configs
}

start_syslog_stack() {  # journald owns /dev/log and forwards to rsyslogd, as on Debian 12
	local jd=0
	[[ -x /lib/systemd/systemd-journald ]] && jd=1
	if ((jd)); then
		mkdir -p /run/systemd /run/log
		mount -t tmpfs -o mode=0755 e2erunsd /run/systemd
		mount -t tmpfs -o mode=0755 e2erunlog /run/log
		[[ -d /var/log/journal ]] && mount -t tmpfs -o mode=2755 e2evarjournal /var/log/journal
		mkdir -p /run/systemd/journal "$RUN/etc-systemd/journald.conf.d"
		cp -a /etc/systemd/. "$RUN/etc-systemd/"
		printf '[Journal]\nStorage=volatile\nForwardToSyslog=yes\nRateLimitIntervalSec=0\nReadKMsg=no\n' \
			>"$RUN/etc-systemd/journald.conf.d/zz-bouncewatch-e2e.conf"
		mount --bind "$RUN/etc-systemd" /etc/systemd
	fi
	/usr/sbin/rsyslogd -f "$LAB/rsyslog.conf" -i "$RUN/rsyslogd.pid" || return 1
	wait_until 10 test -s "$RUN/rsyslogd.pid" || return 1
	if ((jd)); then
		/lib/systemd/systemd-journald </dev/null >"$OUT/journald.out" 2>&1 &
		echo $! >"$RUN/journald.pid"
		wait_until 10 test -S /run/systemd/journal/dev-log || return 1
		ln -sf /run/systemd/journal/dev-log /dev/log
		say "private systemd-journald (pid $(cat "$RUN/journald.pid")) owns /dev/log -> rsyslogd (pid $(cat "$RUN/rsyslogd.pid")) -> $LOGD/mail.log"
	else
		wait_until 10 test -S /dev/log || return 1
		say "private rsyslogd (pid $(cat "$RUN/rsyslogd.pid")) owns /dev/log -> $LOGD/mail.log"
	fi
	# the chain works end to end before anything depends on it
	logger -p mail.info -t bouncewatch-e2e "syslog chain check $$"
	wait_until 10 grep -q "syslog chain check $$" "$LOGD/mail.log" || return 1
}

###########################################################################
# Helpers for the scenario
###########################################################################
extx() { "$EXIM" -C "$EXTX/exim.conf" "$@"; }
mkmsg() {  # from subject to...
	local from=$1 subj=$2
	shift 2
	printf 'From: <%s>\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: <%s.%s@lab.example>\n\nbouncewatch e2e "%s".\n' \
		"$from" "$(printf '<%s>, ' "$@" | sed 's/, $//')" "$subj" "$(date -R)" "$(date +%s%N)" "$RANDOM" "$subj"
}
pf_send() { local from=$1 subj=$2; shift 2; mkmsg "$from" "$subj" "$@" | sendmail -C "$PFTX" -f "$from" -- "$@"; }
# exim -odi delivers in the foreground; its exit status tells about that first attempt
ex_send() { local from=$1 subj=$2; shift 2; mkmsg "$from" "$subj" "$@" | extx -odi -oi -f "$from" -- "$@" || true; }
pf_queue() { { postqueue -c "$PFTX" -j 2>/dev/null || true; } | wc -l; }
ex_queue() { extx -bpc 2>/dev/null || echo 99; }
sleep_until() {  # T+seconds
	local d=$((T0 + $1 - $(date +%s)))
	((d > 0)) && sleep "$d"
	return 0
}

start_bouncewatch() {  # log-file extra-flags...
	local log=$1
	shift
	"$OUT/bouncewatch" "${BWCFG[@]}" run \
		--source.file="postfix=$LOGD/mail.log" \
		--source.file="exim=$LOGD/exim/mainlog" \
		--state.file="$OUT/state/state.json" --state.interval=2s \
		--web.listen-address="127.0.0.1:$P_BW" "$@" >"$log" 2>&1 &
	echo $! >"$RUN/bouncewatch.pid"
	wait_until 30 curl -sf -o /dev/null --max-time 2 "$BW/-/ready" ||
		die "bouncewatch did not become ready; its log $log: $(tail -5 "$log")"
	say "bouncewatch (pid $(cat "$RUN/bouncewatch.pid")) ready: $*"
}

prom_query() {  # promql -> the first value, or "none"
	curl -sf --max-time 5 --data-urlencode "query=$1" "$PROM/api/v1/query" |
		jq -r 'if (.data.result | length) == 0 then "none" else .data.result[0].value[1] end'
}

# mget FILE NAME 'k="v"'...: the sum of the samples of NAME carrying all the labels
mget() {
	local f=$1 name=$2
	shift 2
	awk -v name="$name" -v want="$(printf '%s\n' "$@")" '
		BEGIN { n = split(want, w, "\n") }
		/^#/ { next }
		{
			i = index($0, "{"); s = i ? substr($0, 1, i - 1) : $1
			if (s != name) next
			for (j = 1; j <= n; j++) if (w[j] != "" && index($0, w[j]) == 0) next
			sum += $NF
		}
		END { printf "%.10g\n", sum + 0 }' "$f"
}

FAILS=0
declare -A OUTAGE
fail() { echo "FAIL: $*" | tee -a "$OUT/failures.txt"; FAILS=$((FAILS + 1)); }
pass() { echo "ok:   $*"; }
check_eq() {  # description want got
	if [[ "$2" == "$3" ]]; then pass "$1 = $3"; else fail "$1: want $2, got $3"; fi
}
check_ge() {  # description got min  (numbers)
	if awk -v a="$2" -v b="$3" 'BEGIN { exit !(a + 0 >= b + 0) }'; then pass "$1: $2 >= $3"; else fail "$1: $2 is below $3"; fi
}

###########################################################################
# The test, inside the private mount namespace
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

	if [[ $mode == syslog ]]; then
		private_dev
		start_syslog_stack || die "the private journald -> rsyslogd chain did not work (see $OUT/journald.out)"
	else
		echo "NOTE: FALLBACK: no private mount namespace; the sending Postfix writes $LOGD/mail.log through maillog_file, not syslog"
		# no private /etc/exim4 here: list the config in the host's file, removed on exit
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
	wait_until 15 bash -c "ss -ltnH '( sport = :$P_PFRX )' | grep -q ." || die "postfix-rx does not listen on $P_PFRX"
	wait_until 15 test -s "$RUN/exim-tx.pid" || die "exim-tx did not start"
	postfix -c "$PFTX" status >/dev/null 2>&1 || die "postfix-tx did not start"

	start_bouncewatch "$OUT/bouncewatch-1.log" --source.from-beginning

	# the shipped rules; only the for: durations are shortened (expressions as shipped)
	sed -E 's/^([[:space:]]*)for:[[:space:]]*[0-9][0-9smhdwy]*/\1for: 10s/' "$RULES_SRC" >"$OUT/rules.yml"
	diff <(grep -vE '^[[:space:]]*for:' "$RULES_SRC") <(grep -vE '^[[:space:]]*for:' "$OUT/rules.yml") >/dev/null ||
		die "the rules copy differs from $RULES_SRC in more than for:"
	promtool check rules "$OUT/rules.yml" >/dev/null || die "promtool check rules $OUT/rules.yml failed"
	grep -q "alert: $ALERT\$" "$OUT/rules.yml" || die "$RULES_SRC has no alert $ALERT"
	# the alert as loaded: its for: is 10s (or it has none)
	awk -v a="$ALERT" '$0 ~ "alert: " a "$" { on = 1; next } /alert:/ { on = 0 } on && /^[[:space:]]*for:/ { print $2 }' "$OUT/rules.yml" |
		grep -qvx 10s && die "the copy of $ALERT has a for: other than 10s"
	cat >"$OUT/prometheus.yml" <<EOF
global:
  scrape_interval: 2s
  scrape_timeout: 1s
  evaluation_interval: 2s
rule_files: [ "$OUT/rules.yml" ]
scrape_configs:
  - job_name: bouncewatch
    static_configs: [ { targets: [ "127.0.0.1:$P_BW" ] } ]
EOF
	prometheus --config.file="$OUT/prometheus.yml" --storage.tsdb.path="$OUT/tsdb" \
		--web.listen-address="127.0.0.1:$P_PROM" --query.lookback-delta=1m >"$OUT/prometheus.log" 2>&1 &
	echo $! >"$RUN/prometheus.pid"
	wait_until 60 curl -sf -o /dev/null --max-time 2 "$PROM/-/ready" || die "prometheus did not become ready: $(tail -5 "$OUT/prometheus.log")"
	wait_until 30 bash -c "curl -sf --max-time 2 '$PROM/api/v1/targets' | jq -e '.data.activeTargets[0].health == \"up\"' >/dev/null" ||
		die "prometheus does not scrape bouncewatch"
	say "prometheus (pid $(cat "$RUN/prometheus.pid")) scrapes bouncewatch every 2 s"
	# every 2 s, the alerts as Prometheus shows them
	(
		while :; do
			curl -sf --max-time 2 "$PROM/api/v1/alerts" | jq -c --arg t "$(date +%s)" '{t: ($t | tonumber), alerts: .data.alerts}' || true
			sleep 2
		done
	) >>"$OUT/alerts.jsonl" 2>/dev/null &
	echo $! >"$RUN/poller.pid"

	###################### the mail ######################
	T0=$(date +%s)
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
	if [[ $mode == syslog ]]; then
		say "T+$(($(date +%s) - T0)) rotate $LOGD/mail.log: rename to mail.log.1, SIGHUP rsyslogd"
		mv "$LOGD/mail.log" "$LOGD/mail.log.1"
		install -m 0640 -o root -g adm /dev/null "$LOGD/mail.log"
		kill -HUP "$(cat "$RUN/rsyslogd.pid")"
	else
		say "T+$(($(date +%s) - T0)) rotate $LOGD/mail.log: rename to mail.log.1, postfix reload (postlogd reopens)"
		mv "$LOGD/mail.log" "$LOGD/mail.log.1"
		postfix -c "$PFTX" reload >/dev/null 2>&1
	fi

	sleep_until $T_SWITCH
	cp "$PFRX/rcpt_access.up" "$PFRX/rcpt_access"
	postfix -c "$PFRX" reload >/dev/null 2>&1
	SWITCH=$(date +%s.%N)
	say "T+$(($(date +%s) - T0)) the receiver accepts retry.example and greylist.example (postfix reload)"

	sleep_until $T_RESTART
	say "T+$(($(date +%s) - T0)) SIGTERM bouncewatch; rename the Exim mainlog while it is down; start it again"
	local bwpid
	bwpid=$(cat "$RUN/bouncewatch.pid")
	kill -TERM "$bwpid"
	wait_until 20 bash -c "! kill -0 $bwpid 2>/dev/null" || die "bouncewatch did not stop on SIGTERM"
	wait "$bwpid" || die "bouncewatch exited non-zero on SIGTERM: $(tail -5 "$OUT/bouncewatch-1.log")"
	mv "$LOGD/exim/mainlog" "$LOGD/exim/mainlog.1" # Exim reopens by name when the inode changes
	sleep 3
	start_bouncewatch "$OUT/bouncewatch-2.log"

	say "waiting for retries, expiry and bounces to finish (both queues empty)"
	local done_ok=0
	while (($(date +%s) < T0 + T_DONE)); do
		if (($(pf_queue) == 0 && $(ex_queue) == 0)); then
			done_ok=1
			break
		fi
		sleep 2
	done
	((done_ok)) || fail "the queues did not drain by T+$T_DONE: postfix-tx $(pf_queue), exim-tx $(ex_queue)"
	say "T+$(($(date +%s) - T0)) queues empty"

	# let the alert reach firing for the domains that deferred with 4.3.2
	local expect=(expire.example retry.example)
	wait_until 90 bash -c "curl -sf --max-time 2 '$PROM/api/v1/alerts' | jq -e --arg a $ALERT '
		[.data.alerts[] | select(.labels.alertname == \$a and .state == \"firing\") | .labels.domain] | unique == [\"expire.example\", \"retry.example\"]' >/dev/null" ||
		say "the alert set did not settle on ${expect[*]} (checked below)"

	say "stopping the MTAs so that the logs are final"
	stop_mtas
	local files_pf=() files_ex=()
	[[ -f $LOGD/mail.log.1 ]] && files_pf+=("$LOGD/mail.log.1")
	files_pf+=("$LOGD/mail.log")
	[[ -f $LOGD/exim/mainlog.1 ]] && files_ex+=("$LOGD/exim/mainlog.1")
	files_ex+=("$LOGD/exim/mainlog")
	local size_pf size_ex
	size_pf=$(cat "${files_pf[@]}" | wc -c) size_ex=$(cat "${files_ex[@]}" | wc -c)
	# bouncewatch has read every byte; Prometheus has scraped that
	wait_until 30 bash -c "curl -sf --max-time 2 $BW/metrics >'$OUT/metrics.txt' &&
		grep -qx 'bouncewatch_log_bytes_total{source=\"postfix\"} $size_pf' '$OUT/metrics.txt' &&
		grep -qx 'bouncewatch_log_bytes_total{source=\"exim\"} $size_ex' '$OUT/metrics.txt'" ||
		fail "bouncewatch did not read the logs to their end: log_bytes_total $(grep '^bouncewatch_log_bytes_total' "$OUT/metrics.txt" | tr '\n' ' ') vs file sizes postfix=$size_pf exim=$size_ex"
	wait_until 20 bash -c "[[ \$(curl -sf --max-time 5 --data-urlencode 'query=bouncewatch_log_bytes_total{source=\"exim\"}' '$PROM/api/v1/query' | jq -r '.data.result[0].value[1]') == $size_ex ]]" ||
		fail "prometheus did not scrape the final values"
	sleep 3
	curl -sf --max-time 5 "$BW/metrics" >"$OUT/metrics.txt"
	curl -sf --max-time 5 "$PROM/api/v1/alerts" >"$OUT/alerts-final.json"
	local elapsed=$(($(date +%s) - T0))

	###################### assertions ######################
	mkdir -p "$OUT/logs"
	cp "${files_pf[@]}" "${files_ex[@]}" "$LOGD/postfix-rx.log" "$OUT/logs/" 2>/dev/null || true
	echo
	say "== assertions"
	check_eq "bouncewatch log errors (level=error in its logs)" 0 "$(cat "$OUT"/bouncewatch-*.log | grep -c 'level=error' || true)"

	# 1. bouncewatch live == bouncewatch report over the same files (rotated file first)
	local src files
	for src in postfix exim; do
		if [[ $src == postfix ]]; then files=("${files_pf[@]}"); else files=("${files_ex[@]}"); fi
		"$OUT/bouncewatch" "${BWCFG[@]}" report --format=prometheus --source=$src "${files[@]}" >"$OUT/report-$src.prom"
		"$OUT/bouncewatch" "${BWCFG[@]}" report --source=$src "${files[@]}" >"$OUT/report-$src.txt"
		diff <(grep -v '^#' "$OUT/report-$src.prom" | grep "source=\"$src\"" | grep -v '^bouncewatch_log_rotations_total' | sort) \
			<(grep -v '^#' "$OUT/metrics.txt" | grep "source=\"$src\"" | grep -v '^bouncewatch_log_rotations_total' | sort) \
			>"$OUT/diff-$src.txt" &&
			pass "$src: every series of the daemon equals 'bouncewatch report' over ${files[*]##*/} ($(grep -v '^#' "$OUT/report-$src.prom" | grep -c "source=\"$src\"") series)" ||
			fail "$src: the daemon's /metrics differs from 'bouncewatch report' over the same files (< report, > daemon):
$(head -40 "$OUT/diff-$src.txt")"
		check_ge "$src: bouncewatch_log_rotations_total{kind=\"rename\"}" \
			"$(mget "$OUT/metrics.txt" bouncewatch_log_rotations_total "source=\"$src\"" 'kind="rename"')" 1
	done

	# 2. per domain, status and code: bouncewatch == what the MTAs logged (independent awk count)
	for src in postfix exim; do
		if [[ $src == postfix ]]; then files=("${files_pf[@]}"); else files=("${files_ex[@]}"); fi
		awk -v SRC=$src -f "$REPO/e2e/logcount.awk" "${files[@]}" >"$OUT/logcount-$src.txt"
		local want got
		want=$(awk '$1 == "EVENT" { print $2, $3, $4, $5 }' "$OUT/logcount-$src.txt" | sort)
		got=$(grep "^bouncewatch_domain_events_total{.*source=\"$src\"" "$OUT/metrics.txt" |
			sed -E 's/.*code="([^"]*)",domain="([^"]*)",source="[^"]*",status="([^"]*)"\} (.*)/\2 \3 \1 \4/' | sort)
		if [[ "$want" == "$got" ]]; then
			pass "$src: bouncewatch_domain_events_total equals the log lines, for all $(wc -l <<<"$want") (domain, status, code):"
			sed 's/^/        /' <<<"$want"
		else
			fail "$src: bouncewatch_domain_events_total differs from the log lines (< logs, > bouncewatch):
$(diff <(echo "$want") <(echo "$got") | grep '^[<>]')"
		fi
		want=$(awk '$1 == "EVENT" { n[$3 " " $4] += $5 } END { for (k in n) print k, n[k] }' "$OUT/logcount-$src.txt" | sort)
		got=$(grep "^bouncewatch_events_total{.*source=\"$src\"" "$OUT/metrics.txt" |
			sed -E 's/.*code="([^"]*)",source="[^"]*",status="([^"]*)"\} (.*)/\2 \1 \3/' | sort)
		[[ "$want" == "$got" ]] && pass "$src: bouncewatch_events_total per (status, code) equals the log lines" ||
			fail "$src: bouncewatch_events_total differs from the log lines (< logs, > bouncewatch):
$(diff <(echo "$want") <(echo "$got") | grep '^[<>]')"
		want=$(awk '$1 == "OUTCOME" { print $2, $3, $4 }' "$OUT/logcount-$src.txt" | sort)
		got=$(grep "^bouncewatch_retry_outcomes_total{.*source=\"$src\"" "$OUT/metrics.txt" |
			sed -E 's/.*code="([^"]*)",outcome="([^"]*)",source="[^"]*"\} (.*)/\1 \2 \3/' | grep -v ' 0$' | sort)
		[[ "$want" == "$got" ]] && pass "$src: bouncewatch_retry_outcomes_total equals the recipients followed through the logs" ||
			fail "$src: bouncewatch_retry_outcomes_total differs from the logs (< logs, > bouncewatch):
$(diff <(echo "$want") <(echo "$got") | grep '^[<>]')"
		check_eq "$src: recipients still pending in the logs" 0 "$(awk '$1 == "PENDING" { print $2 }' "$OUT/logcount-$src.txt")"
		check_eq "$src: bouncewatch_deferred_recipients" 0 "$(mget "$OUT/metrics.txt" bouncewatch_deferred_recipients "source=\"$src\"")"
	done
	# the plain grep the issue names, as a cross-check of the awk count
	local m g
	for d in retry.example expire.example; do
		g=$(cat "${files_pf[@]}" | grep 'dsn=4.3.2, status=deferred' | grep -c "to=<[^>]*@$d>" || true)
		m=$(mget "$OUT/metrics.txt" bouncewatch_domain_events_total 'source="postfix"' "domain=\"$d\"" 'status="deferred"' 'code="4.3.2"')
		check_eq "postfix: grep 'dsn=4.3.2, status=deferred' to=<...@$d> vs bouncewatch" "$g" "$m"
		g=$(cat "${files_ex[@]}" | grep ' == [^ ]*@'"$d"' ' | grep -v 'retry time not reached' | grep -c ' 4\.3\.2 ' || true)
		m=$(mget "$OUT/metrics.txt" bouncewatch_domain_events_total 'source="exim"' "domain=\"$d\"" 'status="deferred"' 'code="4.3.2"')
		check_eq "exim: grep ' == ...@$d' with 4.3.2 (not 'retry time not reached') vs bouncewatch" "$g" "$m"
	done

	# 3. the scenario's outcomes, per MTA
	for src in postfix exim; do
		local o='source="'$src'"'
		check_eq "$src: retry outcomes 4.3.2 delivered (retry.example: gina bob oscar paul rita)" 5 "$(mget "$OUT/metrics.txt" bouncewatch_retry_outcomes_total "$o" 'code="4.3.2"' 'outcome="delivered"')"
		check_eq "$src: retry outcomes 4.3.2 bounced (gone@retry.example, 550 5.1.1 after the switch)" 1 "$(mget "$OUT/metrics.txt" bouncewatch_retry_outcomes_total "$o" 'code="4.3.2"' 'outcome="bounced"')"
		check_eq "$src: retry outcomes 4.3.2 expired (expire.example: carol cora cody)" 3 "$(mget "$OUT/metrics.txt" bouncewatch_retry_outcomes_total "$o" 'code="4.3.2"' 'outcome="expired"')"
		check_eq "$src: retry outcomes 4.7.1 delivered (greylist.example)" 1 "$(mget "$OUT/metrics.txt" bouncewatch_retry_outcomes_total "$o" 'code="4.7.1"' 'outcome="delivered"')"
		check_eq "$src: expire.example expired events (4.4.7)" 3 "$(mget "$OUT/metrics.txt" bouncewatch_domain_events_total "$o" 'domain="expire.example"' 'status="expired"' 'code="4.4.7"')"
		check_eq "$src: bounce.example bounced events (5.1.1: dave dina)" 2 "$(mget "$OUT/metrics.txt" bouncewatch_domain_events_total "$o" 'domain="bounce.example"' 'status="bounced"' 'code="5.1.1"')"
		check_eq "$src: ok.example sent events" 3 "$(mget "$OUT/metrics.txt" bouncewatch_domain_events_total "$o" 'domain="ok.example"' 'status="sent"')"
		check_eq "$src: retry.example sent events" 5 "$(mget "$OUT/metrics.txt" bouncewatch_domain_events_total "$o" 'domain="retry.example"' 'status="sent"')"
		check_ge "$src: retry.example 4.3.2 deferrals" "$(mget "$OUT/metrics.txt" bouncewatch_domain_events_total "$o" 'domain="retry.example"' 'status="deferred"' 'code="4.3.2"')" 12

		# resolution: the time from each recipient's first deferral to its delivery
		local cnt sum lsum lmin first last outage outage_min
		cnt=$(mget "$OUT/metrics.txt" bouncewatch_resolution_seconds_count "$o" 'code="4.3.2"' 'outcome="delivered"')
		sum=$(mget "$OUT/metrics.txt" bouncewatch_resolution_seconds_sum "$o" 'code="4.3.2"' 'outcome="delivered"')
		check_eq "$src: resolution_seconds_count{4.3.2,delivered}" 5 "$cnt"
		# from the log lines: the sum of (delivery - first deferral) per recipient
		lsum=$(awk '$1 == "RESOLUTION" && $2 == "4.3.2" && $3 == "delivered" { s += $7 } END { printf "%.6f", s }' "$OUT/logcount-$src.txt")
		if awk -v a="$sum" -v b="$lsum" -v n="$cnt" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.001 * n + 0.0005) }'; then
			pass "$src: resolution_seconds_sum{4.3.2,delivered} = $sum s = the sum of (delivery - first deferral) over the log lines ($lsum s)"
		else
			fail "$src: resolution_seconds_sum{4.3.2,delivered} = $sum s, but the log lines give $lsum s"
		fi
		# no shorter than the outage: each recipient's resolution covers the time from its
		# first deferral to the switch (Exim's log times are whole seconds: 1 s slack)
		lmin=$(awk -v sw="$SWITCH" '$1 == "RESOLUTION" && $2 == "4.3.2" && $3 == "delivered" { x = $7 - (sw - $5); if (n++ == 0 || x < m) m = x } END { printf "%.3f", m }' "$OUT/logcount-$src.txt")
		check_ge "$src: min over recipients of (resolution - (switch - first deferral)), s" "$lmin" "$([[ $src == exim ]] && echo -1 || echo 0)"
		first=$(awk '$1 == "RESOLUTION" && $2 == "4.3.2" && $3 == "delivered" { if (n++ == 0 || $5 < m) m = $5 } END { printf "%.6f", m }' "$OUT/logcount-$src.txt")
		last=$(awk '$1 == "RESOLUTION" && $2 == "4.3.2" && $3 == "delivered" { if (n++ == 0 || $5 > m) m = $5 } END { printf "%.6f", m }' "$OUT/logcount-$src.txt")
		outage=$(awk -v a="$SWITCH" -v b="$first" 'BEGIN { printf "%.1f", a - b }')
		outage_min=$(awk -v a="$SWITCH" -v b="$last" -v sl="$([[ $src == exim ]] && echo 1 || echo 0)" 'BEGIN { printf "%.1f", a - b - sl }')
		# the histogram alone: no observation is below the shortest outage, so the mean is not either
		check_ge "$src: mean of resolution_seconds{4.3.2,delivered} vs the shortest outage (switch - last first deferral)" \
			"$(awk -v s="$sum" -v n="$cnt" 'BEGIN { printf "%.1f", n ? s / n : 0 }')" "$outage_min"
		check_eq "$src: resolution_seconds_bucket{4.3.2,delivered,le=\"+Inf\"}" "$cnt" "$(mget "$OUT/metrics.txt" bouncewatch_resolution_seconds_bucket "$o" 'code="4.3.2"' 'outcome="delivered"' 'le="+Inf"')"
		echo "        $src: outage $outage s (first 4.3.2 deferral of retry.example -> switch to OK), mean resolution $(awk -v s="$sum" -v n="$cnt" 'BEGIN { printf "%.1f", n ? s / n : 0 }') s"
		OUTAGE[$src]=$outage
	done

	# 4. Prometheus: the same numbers, counters never went down across the restart
	local pq
	pq=$(prom_query 'sum(bouncewatch_domain_events_total{status="deferred",code="4.3.2"})')
	check_eq "prometheus: sum of 4.3.2 deferrals it scraped last vs /metrics" "$(mget "$OUT/metrics.txt" bouncewatch_domain_events_total 'status="deferred"' 'code="4.3.2"')" "$pq"
	check_eq "prometheus: counter resets over the run (a restart must continue the counters)" none \
		"$(prom_query 'sum(resets({__name__=~"bouncewatch_(events|domain_events|retry_outcomes|log_lines|log_bytes)_total"}[30m]) > 0)')"
	check_ge "prometheus: bouncewatch restarts it saw (changes of process_start_time_seconds)" \
		"$(prom_query 'changes(process_start_time_seconds{job="bouncewatch"}[30m])')" 1

	# 5. the alert: firing for exactly the domains that deferred with 4.3.2, never for another
	local deferring firing ever
	deferring=$(cat "$OUT"/logcount-*.txt | awk '$1 == "EVENT" && $3 == "deferred" && $4 == "4.3.2" { print $2 }' | sort -u | tr '\n' ' ')
	check_eq "domains that deferred with 4.3.2 in the logs" "expire.example retry.example " "$deferring"
	firing=$(jq -r --arg a $ALERT '[.data.alerts[] | select(.labels.alertname == $a and .state == "firing") | .labels.domain // "<no domain label>"] | unique | join(" ")' "$OUT/alerts-final.json")
	check_eq "$ALERT firing for (domains, from /api/v1/alerts)" "expire.example retry.example" "$firing"
	# the shipped rule keeps the source label: then each (source, domain) that deferred
	# with 4.3.2 in that MTA's log fires on its own
	if jq -e --arg a $ALERT 'any(.data.alerts[]; .labels.alertname == $a and .labels.source != null)' "$OUT/alerts-final.json" >/dev/null; then
		check_eq "$ALERT firing for (source/domain)" \
			"$(for src in exim postfix; do awk -v s=$src '$1 == "EVENT" && $3 == "deferred" && $4 == "4.3.2" { print s "/" $2 }' "$OUT/logcount-$src.txt"; done | sort -u | tr '\n' ' ')" \
			"$(jq -r --arg a $ALERT '.data.alerts[] | select(.labels.alertname == $a and .state == "firing") | .labels.source + "/" + .labels.domain' "$OUT/alerts-final.json" | sort -u | tr '\n' ' ')"
	fi
	ever=$(jq -r --arg a $ALERT '.alerts[] | select(.labels.alertname == $a) | .labels.domain // "<no domain label>"' "$OUT/alerts.jsonl" | sort -u | tr '\n' ' ')
	check_eq "$ALERT ever pending or firing for (domains, $(wc -l <"$OUT/alerts.jsonl") polls every 2 s)" "expire.example retry.example " "$ever"
	for d in ok.example bounce.example greylist.example; do
		if grep -q "\"$d\"" <<<"$(jq -c --arg a $ALERT '.alerts[] | select(.labels.alertname == $a)' "$OUT/alerts.jsonl")"; then
			fail "$ALERT appeared for $d"
		else
			pass "$ALERT never pending or firing for $d"
		fi
	done
	local firstfire
	firstfire=$(jq -r --arg a $ALERT 'select(any(.alerts[]; .labels.alertname == $a and .state == "firing")) | .t' "$OUT/alerts.jsonl" | head -1)
	[[ -n $firstfire ]] && echo "        $ALERT first seen firing at T+$((firstfire - T0)) s"

	###################### summary ######################
	{
		echo
		echo "================ bouncewatch end-to-end summary ================"
		echo "Postfix $(postconf -d mail_version 2>/dev/null | sed 's/.*= //'), $(extx -bV 2>/dev/null | head -1 | sed 's/ #.*//'), $(prometheus --version 2>&1 | head -1)"
		echo "postfix source: $([[ $mode == syslog ]] && echo "syslog(3) -> systemd-journald -> rsyslogd -> mail.log (RFC 3339)" || echo "FALLBACK maillog_file mail.log"); exim source: mainlog"
		echo "rotations: mail.log at T+$T_ROTATE (rename + $([[ $mode == syslog ]] && echo "SIGHUP rsyslogd" || echo "postfix reload")), Exim mainlog at T+$T_RESTART (rename while bouncewatch was stopped)"
		echo "receiver switched retry.example to OK at T+$(awk -v a="$SWITCH" -v b="$T0" 'BEGIN { printf "%.0f", a - b }') s; scenario finished at T+$elapsed s"
		echo
		echo "bouncewatch_domain_events_total (domain status code value):"
		grep '^bouncewatch_domain_events_total' "$OUT/metrics.txt" |
			sed -E 's/.*code="([^"]*)",domain="([^"]*)",source="([^"]*)",status="([^"]*)"\} (.*)/  \3 \2 \4 \1 \5/' | sort | cols
		echo
		echo "bouncewatch_retry_outcomes_total and resolution (count, sum seconds):"
		grep '^bouncewatch_retry_outcomes_total' "$OUT/metrics.txt" | grep -v ' 0$' |
			sed -E 's/.*code="([^"]*)",outcome="([^"]*)",source="([^"]*)"\} (.*)/\3 \1 \2 \4/' | sort |
			while read -r s c o v; do
				echo "  $s $c $o $v $(mget "$OUT/metrics.txt" bouncewatch_resolution_seconds_count "source=\"$s\"" "code=\"$c\"" "outcome=\"$o\"") $(mget "$OUT/metrics.txt" bouncewatch_resolution_seconds_sum "source=\"$s\"" "code=\"$c\"" "outcome=\"$o\"")"
			done | cols
		echo
		echo "log lines and rotations:"
		grep -E '^bouncewatch_log_(lines|rotations)_total' "$OUT/metrics.txt" | grep -v ' 0$' | sed 's/^/  /'
		echo
		echo "$ALERT in Prometheus' /api/v1/alerts (firing):"
		jq --arg a $ALERT '[.data.alerts[] | select(.labels.alertname == $a)]' "$OUT/alerts-final.json"
		echo "other alerts firing: $(jq -r --arg a $ALERT '[.data.alerts[] | select(.labels.alertname != $a and .state == "firing") | .labels.alertname + "{" + ([.labels | to_entries[] | select(.key != "alertname" and .key != "severity") | .key + "=" + .value] | join(",")) + "}"] | join(" ")' "$OUT/alerts-final.json")"
		echo "results in $OUT"
	} | tee "$OUT/summary.txt"
	if ((FAILS)); then
		echo "E2E FAILED: $FAILS assertion(s) failed (see FAIL: lines above; $OUT/failures.txt)"
		exit 1
	fi
	echo "E2E PASSED"
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
	say "go build -o $OUT/bouncewatch ./cmd/bouncewatch"
	(cd "$REPO" && go build -o "$OUT/bouncewatch" ./cmd/bouncewatch)
	local rc=0
	if [[ ${E2E_NO_NS:-0} != 1 ]] && unshare -m --propagation private true 2>/dev/null; then
		E2E_IN_NS=1 E2E_MODE=syslog unshare -m --propagation private -- bash "$SELF" || rc=$?
	else
		echo "NOTE: E2E_NO_NS=1 or no unshare -m here: FALLBACK to maillog_file for the sending Postfix" >&2
		E2E_IN_NS=1 E2E_MODE=maillog bash "$SELF" || rc=$?
	fi
	say "wall time $(($(date +%s) - start)) s"
	((rc == 0)) || DIED=1 # the test has said why
	return $rc
}
main "$@"
