# e2e/lib.sh: what e2e/run.sh and e2e/outage.sh share (bash; sourced by both).
#
#     bash e2e/lib.sh install     # the Debian packages and the unpacked Exim, once
#
# (go test -tags e2e ./e2e/ runs that once, then both scenarios with E2E_SKIP_INSTALL=1.)
#
# The scenario sets, before it calls these functions: NAME (its name in messages), LAB
# (its configs), SPOOL, LOGD (the MTA logs), RUN (pid files), OUT (results), PFTX, PFRX,
# EXTX (the sending Postfix, receiving Postfix and sending Exim config directories).
# Everything started here is stopped by pid: pid files in $RUN, each checked against
# /proc/PID/exe before a signal (a pid file left by an interrupted run may name a reused
# pid). Orchestration failures end the scenario with a "FAIL:" line (die); what the
# scenario observed is left in $OUT for the Go tests, never judged here.

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$E2E_DIR/.." && pwd)
export PATH="/usr/local/go/bin:$PATH:/usr/sbin:/sbin"
# Exim 4.96 (exim4-daemon-light), `apt-get download` + `dpkg-deb -x`, shared by both
# scenarios: postfix and exim4-daemon-* both conflict with mail-transport-agent in apt.
EXIM_DIR=/opt/bouncewatch-e2e/exim
EXIM=$EXIM_DIR/root/usr/sbin/exim4
MUSER=bwe2e # owner of the local and virtual mailboxes
# Debian 12 hosts have net.unix.max_dgram_qlen = 512 (systemd's sysctl.d/50-default.conf);
# some CI machines have 10, where journald's non-blocking forward to rsyslogd drops lines.
SYSLOG_DGRAM_QLEN=${E2E_SYSLOG_QLEN:-512} # E2E_SYSLOG_QLEN: to reproduce the drops (10)

ts() { date '+%H:%M:%S'; }
say() { echo "[$(ts)] $*"; }
die() { echo "FAIL: ${NAME:-e2e}: $*" >&2; DIED=1; exit 1; }
# fact KEY VALUE: one line KEY=VALUE in $OUT/facts.env (the Go tests read the last one)
fact() { printf '%s=%s\n' "$1" "$2" >>"$OUT/facts.env"; }

# set -e stops at an unexpected failure: the ERR trap notes where, the EXIT trap says it
# (unless die already said why) and, inside the scenario, stops what it started.
DIED=0 LAST_ERR=""
on_exit() {
	local rc=$?
	if ((rc != 0 && rc != 130 && DIED == 0)); then
		echo "FAIL: ${NAME:-e2e} stopped at $LAST_ERR" >&2
	fi
	[[ ${1:-} == stop ]] && stop_all
	if [[ ${TRUSTED_ADDED:-0} == 1 ]]; then
		sed -i "\#^$EXTX/exim.conf\$#d" /etc/exim4/trusted_configs
		[[ -s /etc/exim4/trusted_configs ]] || rm -f /etc/exim4/trusted_configs
	fi
	return $rc
}
set_traps() {
	trap 'LAST_ERR="line $LINENO: $BASH_COMMAND (exit status $?)"' ERR
	trap on_exit EXIT
}
wait_until() { # seconds command...: poll every 0.5 s
	local max=$1 i
	shift
	for ((i = 0; i < max * 2; i++)); do "$@" && return 0; sleep 0.5; done
	return 1
}
port_free() { ! ss -ltnH "( sport = :$1 )" 2>/dev/null | grep -q .; }
sleep_until() { # T+seconds (T0 may have a fraction)
	local d
	d=$(awk -v t="$T0" -v o="$1" -v n="$(date +%s.%N)" 'BEGIN { d = t + o - n; if (d < 0) d = 0; printf "%.2f", d }')
	sleep "$d"
}
# seconds since T0, one decimal
tplus() { awk -v a="$(date +%s.%N)" -v b="$T0" 'BEGIN { printf "%.1f", a - b }'; }

###########################################################################
# Host side: packages (idempotent; never removes a package), exim unpacked.
###########################################################################
install_all() {
	export DEBIAN_FRONTEND=noninteractive
	local need=() p need_update=0
	command -v postfix >/dev/null || need+=(postfix)
	command -v rsyslogd >/dev/null || need+=(rsyslog)
	command -v prometheus >/dev/null || need+=(prometheus)
	command -v promtool >/dev/null || need+=(prometheus)
	command -v jq >/dev/null || need+=(jq)
	command -v curl >/dev/null || need+=(curl)
	command -v ss >/dev/null || need+=(iproute2)
	command -v unshare >/dev/null || need+=(util-linux)
	command -v chromium >/dev/null || need+=(chromium) # TestOutage renders the status page
	[[ -x /lib/systemd/systemd-journald ]] || need+=(systemd) # run.sh's journald -> rsyslogd chain
	command -v adduser >/dev/null || need+=(adduser)
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
	if [[ ! -x $EXIM ]] || ! "$EXIM" -C /dev/null -bV >/dev/null 2>&1; then
		say "apt-get download exim4-daemon-light exim4-base -> $EXIM_DIR/root"
		rm -rf "$EXIM_DIR"
		mkdir -p "$EXIM_DIR/debs" "$EXIM_DIR/root"
		chown _apt "$EXIM_DIR/debs" 2>/dev/null || true
		(cd "$EXIM_DIR/debs" && apt-get download -qq exim4-daemon-light exim4-base)
		local d
		for d in "$EXIM_DIR"/debs/exim4-*.deb; do dpkg-deb -x "$d" "$EXIM_DIR/root"; done
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
exim_packages() { # "exim4-base 4.96-..., exim4-daemon-light 4.96-..."
	local d
	for d in "$EXIM_DIR"/debs/exim4-*.deb; do dpkg-deb -f "$d" Package Version | paste -sd' '; done | paste -sd',' | sed 's/,/, /g'
}

###########################################################################
# Processes
###########################################################################
# Pids of this scenario's MTAs: Postfix processes carry MAIL_CONFIG=<our config dir> in
# their environment; exim processes run the unpacked binary with our -C (or none, for a
# child that has not re-executed).
mta_pids() {
	local d pid cmd
	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		[[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
		if { tr '\0' '\n' <"$d/environ"; } 2>/dev/null | grep -qx -e "MAIL_CONFIG=$PFTX" -e "MAIL_CONFIG=$PFRX"; then
			echo "$pid"
		elif [[ "$(readlink "$d/exe" 2>/dev/null || true)" == "$EXIM" ]]; then
			cmd=$({ tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null || true)
			if [[ $cmd == *"$EXTX/exim.conf"* || $cmd != *" -C "* ]]; then echo "$pid"; fi
		fi
	done
}

# A pid file's process, if it still runs and is the program the file names.
pidfile_pid() {
	local f=$1 pid exe want
	[[ -s $f ]] || return 1
	pid=$(cat "$f")
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
	case ${f##*/} in
	exim-tx.pid) want=$EXIM ;;
	bouncewatch.pid) want=$OUT/bouncewatch ;;
	ratemilter.pid) want=$OUT/ratemilter ;;
	prometheus.pid) want="*/prometheus" ;;
	rsyslogd.pid) want="*/rsyslogd" ;;
	journald.pid) want="*/systemd-journald" ;;
	*-poller.pid) want="*/bash" ;;
	*) return 1 ;;
	esac
	# shellcheck disable=SC2053 # $want is a pattern
	[[ -n $exe && $exe == $want ]] || return 1
	echo "$pid"
}
stop_pidfile() { # file [signal]
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
	for f in scrape-poller alerts-poller prometheus; do stop_pidfile "$RUN/$f.pid"; done
	stop_bouncewatch >/dev/null 2>&1
	stop_mtas
	stop_pidfile "$RUN/ratemilter.pid" # outage.sh's receiver milter, after the receiver
	sleep 1 # the last lines reach rsyslogd
	stop_pidfile "$RUN/rsyslogd.pid"
	stop_pidfile "$RUN/journald.pid"
	for f in scrape-poller alerts-poller prometheus bouncewatch ratemilter rsyslogd journald; do
		pid=$(pidfile_pid "$RUN/$f.pid") || continue
		wait_until 10 bash -c "! kill -0 $pid 2>/dev/null" || stop_pidfile "$RUN/$f.pid" KILL
	done
	rm -f "$RUN"/*.pid
	set -e
}

###########################################################################
# Configuration shared by the scenarios
###########################################################################
postfix_master_cf() { # $1 = smtpd service lines or nothing; no chroot anywhere
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

# postfix_tx_main_cf TITLE LOG_LINE: the sending Postfix's main.cf up to its retry
# timers, which each scenario appends (it writes its own transport, aliases, ...).
postfix_tx_main_cf() {
	cat <<EOF
# postfix-tx: $1
compatibility_level = 3.6
multi_instance_name = postfix-tx
syslog_name = postfix-tx
$2
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
EOF
}

# postfix_bounce_cf: the sending Postfix's delay template, in seconds.
postfix_bounce_cf() {
	cat <<'EOF'
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
}

# postfix_rx_main_cf COMMENT DOMAINS: the receiving Postfix's main.cf: DOMAINS
# (comma-separated) go to virtual mailboxes owned by $MUSER; recipients pass the
# access map $PFRX/rcpt_access.
postfix_rx_main_cf() {
	cat <<EOF
# postfix-rx: $1
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
virtual_mailbox_domains = $2
virtual_mailbox_maps = texthash:$PFRX/vmailbox
virtual_mailbox_base = $SPOOL/vmail
virtual_uid_maps = static:$(id -u $MUSER)
virtual_gid_maps = static:$(id -g $MUSER)
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access texthash:$PFRX/rcpt_access
alias_maps =
alias_database =
biff = no
readme_directory = no
smtpd_tls_security_level = none
smtp_tls_security_level = none
EOF
}

# The directories both scenarios use; both logs exist (empty) before anything starts.
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
	install -m 0640 -o root -g adm /dev/null "$LOGD/mail.log"
	install -m 0640 -o Debian-exim -g adm /dev/null "$LOGD/exim/mainlog"
}

###########################################################################
# Inside the private mount namespace: /dev, /etc/exim4, the syslog stack
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
# Without a private mount namespace: list the Exim config in the host's file (removed on exit).
host_trusted_config() {
	mkdir -p /etc/exim4
	if ! grep -qxF "$EXTX/exim.conf" /etc/exim4/trusted_configs 2>/dev/null; then
		echo "$EXTX/exim.conf" >>/etc/exim4/trusted_configs
		TRUSTED_ADDED=1
	fi
}

# start_syslog_stack journald|direct: mail.* -> $LOGD/mail.log in RSYSLOG_FileFormat (RFC
# 3339, Debian 12's /var/log/mail.log format).
#   journald  as on a stock Debian 12: a private systemd-journald owns /dev/log and
#             forwards to rsyslogd (/run/systemd/journal/syslog). journald forwards over
#             a NON-BLOCKING datagram socket and drops what does not fit into rsyslogd's
#             receive queue ("Forwarding to syslog missed N messages"); that queue is
#             net.unix.max_dgram_qlen long, taken from the network namespace that
#             creates the socket: 512 on a Debian 12 host (systemd's sysctl.d), but 10 on
#             some CI machines, where an early run lost status= lines. So journald and
#             rsyslogd run in a network namespace of their own (unshare -n; they use only
#             Unix sockets and files) with max_dgram_qlen = $SYSLOG_DGRAM_QLEN, as on a
#             real host. The journal is dumped at the end (dump_journal) so that a test
#             can check that every line reached mail.log.
#   direct    rsyslogd owns /dev/log: syslog(3) blocks rather than drops.
# Needs private_dev (a private /dev, /run/systemd, /run/log).
start_syslog_stack() {
	local mode=$1 jd=0 sock=/dev/log qlen="echo $SYSLOG_DGRAM_QLEN >/proc/sys/net/unix/max_dgram_qlen"
	if [[ $mode == journald ]]; then
		[[ -x /lib/systemd/systemd-journald ]] || die "no /lib/systemd/systemd-journald (package systemd) for the journald -> rsyslogd chain"
		jd=1 sock=/run/systemd/journal/syslog
	fi
	cat >"$LAB/rsyslog.conf" <<EOF
global(workDirectory="$SPOOL/rsyslog")
module(load="imuxsock" SysSock.Name="$sock" SysSock.RateLimit.Interval="0")
# the receiver writes its own maillog_file; keep its start-up lines out of the sender's log
if \$programname startswith "postfix-rx" then stop
mail.*  action(type="omfile" file="$LOGD/mail.log" template="RSYSLOG_FileFormat")
EOF
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
	# rsyslogd daemonizes; it stays in the network namespace unshare made
	unshare -n -- bash -c "$qlen && exec /usr/sbin/rsyslogd -f '$LAB/rsyslog.conf' -i '$RUN/rsyslogd.pid'" ||
		return 1
	wait_until 10 test -s "$RUN/rsyslogd.pid" || return 1
	wait_until 10 test -S "$sock" || return 1
	local pid qseen
	pid=$(cat "$RUN/rsyslogd.pid")
	qseen=$(nsenter -t "$pid" -n cat /proc/sys/net/unix/max_dgram_qlen 2>/dev/null || echo "?")
	fact syslog_dgram_qlen "$qseen"
	fact syslog_host_dgram_qlen "$(cat /proc/sys/net/unix/max_dgram_qlen)"
	if ((jd)); then
		unshare -n -- bash -c "$qlen && exec /lib/systemd/systemd-journald" </dev/null >"$OUT/journald.out" 2>&1 &
		echo $! >"$RUN/journald.pid"
		wait_until 10 test -S /run/systemd/journal/dev-log || return 1
		ln -sf /run/systemd/journal/dev-log /dev/log
		say "private systemd-journald (pid $(cat "$RUN/journald.pid")) owns /dev/log -> rsyslogd (pid $pid) -> $LOGD/mail.log; max_dgram_qlen $qseen in their network namespace (host: $(cat /proc/sys/net/unix/max_dgram_qlen))"
	else
		say "private rsyslogd (pid $pid) owns /dev/log -> $LOGD/mail.log"
	fi
	# the chain works end to end before anything depends on it
	logger -p mail.info -t bouncewatch-e2e "syslog chain check $$"
	wait_until 10 grep -q "syslog chain check $$" "$LOGD/mail.log" || return 1
}
# dump_journal FILE: the private journal (short-iso-precise), when journald ran
dump_journal() {
	[[ -S /run/systemd/journal/dev-log ]] || return 0
	journalctl --directory=/run/log/journal --no-pager -o short-iso-precise >"$1" 2>/dev/null ||
		journalctl --no-pager -o short-iso-precise >"$1" 2>/dev/null || true
}

###########################################################################
# bouncewatch: built (or E2E_BW_BIN copied) into $OUT/bouncewatch; one launch
###########################################################################
BWCFG=() # E2E_BW_CONFIG: a rules.yaml for bouncewatch (run and report); default the built-in one
[[ -n ${E2E_BW_CONFIG:-} ]] && BWCFG=(--config.file="$E2E_BW_CONFIG")

build_bouncewatch() {
	if [[ -n ${E2E_BW_BIN:-} ]]; then
		say "bouncewatch: $E2E_BW_BIN (E2E_BW_BIN) -> $OUT/bouncewatch"
		install -m 0755 "$E2E_BW_BIN" "$OUT/bouncewatch"
	else
		say "go build -o $OUT/bouncewatch ./cmd/bouncewatch"
		(cd "$REPO" && go build -o "$OUT/bouncewatch" ./cmd/bouncewatch) || die "go build ./cmd/bouncewatch failed"
	fi
}

# start_bouncewatch URL LOGFILE ARGS...: `bouncewatch run ARGS...` with its output in
# LOGFILE; waits until URL/-/ready answers 200. The one place that launches bouncewatch.
start_bouncewatch() {
	local url=$1 log=$2
	shift 2
	"$OUT/bouncewatch" "${BWCFG[@]}" run "$@" >"$log" 2>&1 &
	echo $! >"$RUN/bouncewatch.pid"
	BW_URL=$url
	wait_until 60 curl -sf -o /dev/null --max-time 2 "$url/-/ready" ||
		die "bouncewatch did not become ready: $(curl -s --max-time 2 "$url/-/ready" 2>&1 | head -5); its log $log: $(tail -5 "$log")"
	say "bouncewatch (pid $(cat "$RUN/bouncewatch.pid" 2>/dev/null)) ready: $*"
}
# stop_bouncewatch [FACT-PREFIX]: SIGTERM; facts PREFIX_stop_seconds, PREFIX_exit
# (the exit status; "killed" when it did not stop within 20 s and got SIGKILL)
stop_bouncewatch() {
	local pid t0 rc=0
	pid=$(pidfile_pid "$RUN/bouncewatch.pid") || return 0
	t0=$(date +%s.%N)
	kill -TERM "$pid"
	if wait_until 20 bash -c "! kill -0 $pid 2>/dev/null"; then
		wait "$pid" 2>/dev/null || rc=$?
	else
		kill -KILL "$pid" 2>/dev/null || true
		rc=killed
	fi
	rm -f "$RUN/bouncewatch.pid"
	if [[ -n ${1:-} ]]; then
		fact "$1_stop_seconds" "$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')"
		fact "$1_exit" "$rc"
	fi
}

###########################################################################
# Prometheus, and what the Go tests read of it
###########################################################################
# shorten_rules SRC DST FOR: the shipped alert rules with every for: set to FOR; dies if the
# copy differs from SRC in anything but for: lines, or promtool rejects it
shorten_rules() {
	local src=$1 dst=$2 for=$3
	[[ -f $src ]] || die "no rule file $src"
	sed -E "s/^([[:space:]]*)for:[[:space:]]*[0-9][0-9smhdwy]*[[:space:]]*\$/\\1for: $for/" "$src" >"$dst"
	diff <(grep -vE '^[[:space:]]*for:' "$src") <(grep -vE '^[[:space:]]*for:' "$dst") >/dev/null ||
		die "the rules copy $dst differs from $src in more than for:"
	[[ $(wc -l <"$src") == $(wc -l <"$dst") ]] || die "the rules copy $dst has another number of lines than $src"
	grep -qE '^[[:space:]]*for:' "$dst" || die "$src: no for: line to shorten"
	promtool check rules "$dst" >/dev/null || die "promtool check rules $dst failed"
}

# start_prometheus PORT TARGET RULES: scrape TARGET every 2 s, evaluate RULES every 2 s;
# wait_prometheus waits until it is ready and has scraped TARGET (it starts in ~10-20 s
# on a busy machine: start it first, do something else, then wait)
start_prometheus() {
	local port=$1 target=$2 rules=$3
	cat >"$OUT/prometheus.yml" <<EOF
global:
  scrape_interval: 2s
  scrape_timeout: 1s
  evaluation_interval: 2s
rule_files: [ "$rules" ]
scrape_configs:
  - job_name: bouncewatch
    static_configs: [ { targets: [ "$target" ] } ]
EOF
	promtool check config "$OUT/prometheus.yml" >/dev/null || die "promtool check config $OUT/prometheus.yml failed"
	prometheus --config.file="$OUT/prometheus.yml" --storage.tsdb.path="$OUT/tsdb" \
		--web.listen-address="127.0.0.1:$port" --query.lookback-delta=1m >"$OUT/prometheus.log" 2>&1 &
	echo $! >"$RUN/prometheus.pid"
	PROM=http://127.0.0.1:$port PROM_TARGET=$target
}
wait_prometheus() {
	wait_until 60 curl -sf -o /dev/null --max-time 2 "$PROM/-/ready" || die "prometheus did not become ready: $(tail -5 "$OUT/prometheus.log")"
	wait_until 30 bash -c "curl -sf --max-time 2 '$PROM/api/v1/targets' | jq -e '.data.activeTargets[0].health == \"up\"' >/dev/null" ||
		die "prometheus does not scrape bouncewatch at $PROM_TARGET"
	say "prometheus (pid $(cat "$RUN/prometheus.pid")) scrapes bouncewatch every 2 s"
}
# every 2 s, the alerts as Prometheus shows them: $OUT/alerts.jsonl, {"t": epoch, "alerts": [...]}
start_alert_poller() {
	(
		set +eE
		trap - ERR
		while :; do
			curl -sf --max-time 2 "$PROM/api/v1/alerts" | jq -c --arg t "$(date +%s.%N)" '{t: ($t | tonumber), alerts: .data.alerts}'
			sleep 2
		done
	) >>"$OUT/alerts.jsonl" 2>/dev/null &
	echo $! >"$RUN/alerts-poller.pid"
}
# every 2 s, GET $BW_URL/metrics into $OUT/scrapes/NNNNN.prom; $OUT/scrapes/index.tsv has
# "seq <tab> epoch <tab> HTTP status" per scrape (000: no answer, e.g. during a restart)
start_scrape_poller() {
	mkdir -p "$OUT/scrapes"
	(
		set +eE
		trap - ERR
		local i=0 f t code
		while :; do
			i=$((i + 1))
			f=$(printf '%s/scrapes/%05d.prom' "$OUT" $i)
			t=$(date +%s.%N)
			code=$(curl -s --max-time 2 -o "$f" -w '%{http_code}' "$BW_URL/metrics")
			printf '%05d\t%s\t%s\n' $i "$t" "${code:-000}" >>"$OUT/scrapes/index.tsv"
			sleep 2
		done
	) </dev/null >/dev/null 2>&1 &
	echo $! >"$RUN/scrape-poller.pid"
}
stop_pollers() {
	local f
	for f in scrape-poller alerts-poller; do stop_pidfile "$RUN/$f.pid"; done
}
# prom_save NAME PROMQL: the raw /api/v1/query answer in $OUT/prom/NAME.json
prom_save() {
	mkdir -p "$OUT/prom"
	curl -s --max-time 10 --data-urlencode "query=$2" "$PROM/api/v1/query" >"$OUT/prom/$1.json" || true
	printf '%s\t%s\n' "$1" "$2" >>"$OUT/prom/queries.tsv"
}
# prom_save_resets: resets() over the last 30 minutes of every bouncewatch counter and
# histogram part of $OUT/metrics.txt, in $OUT/prom/resets.json, each series labelled
# counter="<name>" (resets() drops the name, and series of two names can have the same labels)
prom_save_resets() {
	local q
	q=$(awk '$1 == "#" && $2 == "TYPE" && $3 ~ /^bouncewatch_/ {
			if ($4 == "counter") print $3
			else if ($4 == "histogram") { print $3 "_bucket"; print $3 "_count"; print $3 "_sum" } }' "$OUT/metrics.txt" |
		sort -u | awk '{ printf "%slabel_replace(resets(%s[30m]), \"counter\", \"%s\", \"\", \"\")", (NR > 1 ? " or " : ""), $1, $1 }')
	[[ -n $q ]] || die "no bouncewatch counter in $OUT/metrics.txt"
	prom_save resets "$q"
}
# http_save URL FILE: the body in FILE, "HTTP status" in FILE.status, headers in FILE.headers
http_save() {
	local code
	code=$(curl -s --max-time 5 -D "$2.headers" -o "$2" -w '%{http_code}' "$1" || true)
	echo "${code:-000}" >"$2.status"
}

# The sending MTAs' queues and messages, and how much of the logs the live
# bouncewatch has read.
extx() { "$EXIM" -C "$EXTX/exim.conf" "$@"; }
mkmsg() {  # from subject to...
	local from=$1 subj=$2
	shift 2
	printf 'From: <%s>\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: <%s.%s@lab.example>\n\n%s "%s".\n' \
		"$from" "$(printf '<%s>, ' "$@" | sed 's/, $//')" "$subj" "$(date -R)" "$(date +%s%N)" "$RANDOM" "$NAME" "$subj"
}
pf_queue() { { postqueue -c "$PFTX" -j 2>/dev/null || true; } | wc -l; }
ex_queue() { extx -bpc 2>/dev/null || echo 99; }
bw_bytes() { # source: bouncewatch_log_bytes_total of the live daemon, or -1
	curl -sf --max-time 2 "$BW/metrics" 2>/dev/null | awk -v s="$1" '$1 == "bouncewatch_log_bytes_total{source=\"" s "\"}" { print $2; f = 1 } END { if (!f) print -1 }'
}

# finish_scrapes WANT_POSTFIX WANT_EXIM: waits until bouncewatch has read
# that many bytes of each log (fact read_to_end; how far it got is said when
# it has not) and Prometheus has scraped the Exim figure (fact prom_caught_up), lets one
# more scrape and evaluation happen, stops the pollers and saves the final
# /metrics and alerts.
finish_scrapes() {
	local want_pf=$1 want_ex=$2
	export -f bw_bytes
	export BW
	if wait_until 30 bash -c "[[ \$(bw_bytes postfix) == $want_pf && \$(bw_bytes exim) == $want_ex ]]"; then
		fact read_to_end 1
	else
		fact read_to_end 0
		say "bouncewatch did not read the logs to their end: log_bytes_total postfix $(bw_bytes postfix) of $want_pf, exim $(bw_bytes exim) of $want_ex"
	fi
	if wait_until 20 bash -c "[[ \$(curl -sf --max-time 5 --data-urlencode 'query=bouncewatch_log_bytes_total{source=\"exim\"}' '$PROM/api/v1/query' | jq -r '.data.result[0].value[1]') == $want_ex ]]"; then
		fact prom_caught_up 1
	else
		fact prom_caught_up 0
	fi
	sleep 3 # one more scrape and evaluation
	stop_pollers
	curl -s --max-time 5 "$BW/metrics" >"$OUT/metrics.txt" || die "GET $BW/metrics failed at the end"
	curl -sf --max-time 5 "$PROM/api/v1/alerts" >"$OUT/alerts-final.json" || die "GET $PROM/api/v1/alerts failed at the end"
}

# `bash e2e/lib.sh install`: the packages and Exim, once, for both scenarios
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -Eeuo pipefail
	NAME=e2e/lib.sh
	set_traps
	case ${1:-} in
	install)
		[[ $(id -u) == 0 ]] || die "run as root (installs packages)"
		install_all
		say "packages and Exim ready ($EXIM)"
		;;
	*) echo "usage: bash e2e/lib.sh install" >&2; exit 2 ;;
	esac
fi
