# outage-count.awk: an independent count (plain awk, no bouncewatch code) of what a sending
# Postfix and a sending Exim logged, with the deferral semantics bouncewatch implements.
#
#   awk -f e2e/logwords.awk -f e2e/outage-count.awk postfix-tx.log exim-mainlog | LC_ALL=C sort
#
# Each line is classified by its format: an Exim mainlog line starts with
# "YYYY-MM-DD HH:MM:SS"; a Postfix line has a "postfix.../prog[pid]: " tag (RFC 3339,
# RFC 3164 or maillog_file prefix). -v SRC=postfix|exim forces one. Rotated files go in
# order (oldest first). Works with mawk 1.3.4 and gawk.
#
# Semantics
#  * A deferral line is any Postfix "status=deferred" line (also "delivery temporarily
#    suspended: ...", with its dsn= code) and any Exim "==" line EXCEPT the ones that
#    say the delivery was queued on purpose (-odqs, queue_smtp_domains): Exim 4.96
#    "defer (0): SMTP delivery explicitly queued", older Exim "defer (-1): domain
#    matches queue_smtp_domains, or -odqs set" (both skipped, counted under SKIPPED). Kinds: suspended (Postfix), retry-wait (Exim "retry time not reached",
#    "Retry time not yet reached"), attempt (the rest).
#  * Code: Postfix dsn=. Exim retry-wait lines carry none: they take the code of the
#    latest Exim deferral line that carried one for the same domain earlier in the
#    input, 4.0.0 if none. Exim "Connection refused" / "Connection timed out" deferrals
#    are 4.4.1. Otherwise the first RFC 3463 code (class.subject.detail, class 2/4/5) in
#    the remote reply ("SMTP error from remote mail server after <phase>: <reply>"), or in
#    the rest of the line when there is no remote reply; else 4.0.0 (that one does not
#    count as carried).
#  * A recipient (queue id + address) is tracked from its first deferral line of any
#    kind; first-code = that line's code. Outcome: delivered (Postfix status=sent, Exim
#    => or ->), bounced (Postfix status=bounced, Exim ** other than expiry), expired
#    (Postfix qmgr "status=expired|force-expired" for the message: all its recipients
#    still pending; Exim "** addr: retry timeout exceeded" or "** ... all hosts for '...'
#    have been failing for a long time ..."), or pending at the end. A recipient still
#    pending when its message leaves the queue (Postfix "removed", Exim "Completed"),
#    which should not happen, gets outcome "removed"; a Postfix queue id is a new
#    message after "removed" (short queue ids are reused).
#  * Postfix status=deliverable|undeliverable|undeliverable-but-not-cached (address
#    verification probes) are ignored (counted under IGNORED).
#
# Output (one fact per line; times are epoch seconds, log time; "-" when none):
#  RCPT <src> <queue-id> <recipient> <first-code> <outcome> <first-line-time> <outcome-time> <deferral-lines> <first-kind> <lines-per-kind>
#  EVENTS <src> <domain> <status> <code> <n>        status: sent deferred bounced expired
#                                                  (expired: code 4.4.7, one per recipient)
#  DEFERRALS <src> <domain> <kind> <code> <n>       deferral lines per kind and code
#  PHASES <src> <domain> <phase> <code> <n>         attempt lines by where the reply came:
#                                                  greeting, rcpt, mail, data, connect, other
#  FIRSTKIND <src> <domain> <kind> <n>              tracked recipients by their first line's kind
#  ONLYKIND <src> <domain> <kind> <n>               tracked recipients all of whose deferral
#                                                  lines are of that kind
#  OUTCOMES <src> <domain> <first-code> <outcome> <n>
#  RECIPIENTS <src> <domain> <n>                    distinct (message, recipient) with any line
#  MESSAGES <src> <domain> <n>                      distinct messages with a recipient in domain
#  SKIPPED <src> <domain> odqs <n>                  Exim "queued on purpose" lines (-odqs)
#  IGNORED <src> <domain> <status> <n>              Postfix verification probe lines
#  EXPIRYWORDING <src> <domain> <wording> <n>       expired-returned-to-sender (Postfix, per
#                                                  message), retry-timeout-exceeded,
#                                                  all-hosts-failing (Exim, per recipient)
#  QUEUERUNS <src> <n>                              Exim "Start queue run" lines

function dom(a,   i) {
	a = tolower(a)
	sub(/^</, "", a); sub(/>$/, "", a); sub(/\.$/, "", a)
	i = index(a, "@")
	return i ? substr(a, i + 1) : "-"
}
function seen(src, mk, rcpt, d) {
	if (!((src SUBSEP mk SUBSEP rcpt) in rseen)) { rseen[src SUBSEP mk SUBSEP rcpt] = 1; nrcpts[src SUBSEP d]++ }
	if (!((src SUBSEP mk SUBSEP d) in mseen)) { mseen[src SUBSEP mk SUBSEP d] = 1; nmsgs[src SUBSEP d]++ }
}
function deferral(src, mk, qid, rcpt, d, kind, code,   k) {
	events[src SUBSEP d SUBSEP "deferred" SUBSEP code]++
	dlines[src SUBSEP d SUBSEP kind SUBSEP code]++
	k = src SUBSEP mk SUBSEP rcpt
	if (!(k in state)) {
		state[k] = "pending"; fcode[k] = code; ft[k] = now; fkind[k] = kind
		order[++nord] = k; kqid[k] = qid; krcpt[k] = rcpt; kdom[k] = d; ksrc[k] = src; kmk[k] = mk
	}
	if (state[k] == "pending") { nd[k]++; nkind[k SUBSEP kind]++ }
}
function ended(src, mk, rcpt, outcome,   k) {
	k = src SUBSEP mk SUBSEP rcpt
	if (!(k in state) || state[k] != "pending") return
	state[k] = outcome; ot[k] = now
}
function end_message(src, mk, outcome, expiry,   i, k) {   # every pending recipient of mk
	for (i = 1; i <= nord; i++) {
		k = order[i]
		if (ksrc[k] != src || kmk[k] != mk || state[k] != "pending") continue
		if (expiry) events[src SUBSEP kdom[k] SUBSEP "expired" SUBSEP "4.4.7"]++
		state[k] = outcome; ot[k] = now
	}
}
function phase_postfix(   p) {
	if (index($0, "refused to talk to me:")) return "greeting"
	if (index($0, "while receiving the initial server greeting")) return "greeting"
	if (match($0, /\(in reply to [A-Za-z]+/)) {
		p = tolower(substr($0, RSTART + 13, RLENGTH - 13))
		if (p == "end") return "data"
		return p
	}
	if ($0 ~ /connect to [^ ]*: (Connection refused|Connection timed out|No route to host)/) return "connect"
	return "other"
}
function phase_exim() {
	if (index($0, "after initial connection")) return "greeting"
	if ($0 ~ /after (pipelined )?RCPT TO/) return "rcpt"
	if ($0 ~ /after (pipelined )?MAIL FROM/) return "mail"
	if ($0 ~ /after (pipelined )?(DATA|end of data|BDAT)/) return "data"
	if ($0 ~ /after (HELO|EHLO)/) return "helo"
	if ($0 ~ /Connection refused|Connection timed out|connection timed out/) return "connect"
	return "other"
}

{
	src = SRC
	if (src == "") {
		if ($0 ~ /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]/) src = "exim"
		else if ($0 ~ / postfix[^ ]*\[[0-9]+\]: /) src = "postfix"
		else next
	}
}

src == "postfix" {
	if (!match($0, /\]: [0-9A-Za-z]+: /)) next
	qid = substr($0, RSTART + 3, RLENGTH - 5)
	mk = qid "#" (gen[qid] + 0)
	if ($0 ~ /\]: [0-9A-Za-z]+: removed$/) {
		now = tstamp()
		end_message("postfix", mk, "removed", 0)
		gen[qid]++
		next
	}
	if (index($0, " status=") == 0) next
	now = tstamp()
	status = grab(" status=[a-z-]+", 8)
	if (match($0, / to=<[^>]*>/)) {
		rcpt = tolower(substr($0, RSTART + 5, RLENGTH - 6))
		d = dom(rcpt)
		seen("postfix", mk, rcpt, d)
		if (status == "deliverable" || status == "undeliverable" || status == "undeliverable-but-not-cached") {
			ignored["postfix" SUBSEP d SUBSEP status]++
			next
		}
		code = grab(" dsn=[0-9]+\\.[0-9]+\\.[0-9]+", 5)
		if (code == "") code = "4.0.0"
		if (status == "deferred") {
			kind = index($0, "status=deferred (delivery temporarily suspended:") ? "suspended" : "attempt"
			if (kind == "attempt") phases["postfix" SUBSEP d SUBSEP phase_postfix() SUBSEP code]++
			deferral("postfix", mk, qid, rcpt, d, kind, code)
		} else if (status == "sent") {
			events["postfix" SUBSEP d SUBSEP "sent" SUBSEP code]++
			ended("postfix", mk, rcpt, "delivered")
		} else if (status == "bounced") {
			events["postfix" SUBSEP d SUBSEP "bounced" SUBSEP code]++
			ended("postfix", mk, rcpt, "bounced")
		} else {
			events["postfix" SUBSEP d SUBSEP status SUBSEP code]++
		}
	} else if (status == "expired" || status == "force-expired") {
		# once per domain of the pending recipients it ends
		for (i = 1; i <= nord; i++) {
			k = order[i]
			if (ksrc[k] == "postfix" && kmk[k] == mk && state[k] == "pending") xdom[kdom[k]] = 1
		}
		for (dd in xdom) { expword["postfix" SUBSEP dd SUBSEP "expired-returned-to-sender"]++; delete xdom[dd] }
		end_message("postfix", mk, "expired", 1)
	}
	next
}

src == "exim" && $3 == "Start" && $4 == "queue" && $5 == "run:" { queueruns["exim"]++; next }
src == "exim" && $4 == "Completed" {
	now = tstamp()
	end_message("exim", $3, "removed", 0)
	next
}
src == "exim" && $4 ~ /^(=>|->|>>|==|\*\*)$/ {
	now = tstamp()
	id = $3; flag = $4; rcpt = $5; sub(/:$/, "", rcpt)
	if (index(rcpt, "@") == 0 && $6 ~ /^<.*@.*>:?$/) { rcpt = $6; sub(/:$/, "", rcpt) }   # local: "=> sender <sender@host>"
	rcpt = tolower(rcpt); sub(/^</, "", rcpt); sub(/>$/, "", rcpt)
	d = dom(rcpt)
	seen("exim", id, rcpt, d)
	if (flag == "==") {
		# queued on purpose (-odqs, queue_smtp_domains, control=queue): not a deferral.
		# Exim 4.96 says "defer (0): SMTP delivery explicitly queued"; older Exim said
		# "defer (-1): domain matches queue_smtp_domains, or -odqs set".
		if (index($0, "domain matches queue_smtp_domains, or -odqs set") || index($0, ": SMTP delivery explicitly queued")) {
			skipped["exim" SUBSEP d SUBSEP "odqs"]++
			next
		}
		if ($0 ~ /[Rr]etry time not (yet )?reached/) {
			kind = "retry-wait"
			code = ((d in lastcode) ? lastcode[d] : "4.0.0")
		} else {
			kind = "attempt"
			code = excode("4.0.0")
			if (carried) lastcode[d] = code
			phases["exim" SUBSEP d SUBSEP phase_exim() SUBSEP code]++
		}
		deferral("exim", id, id, rcpt, d, kind, code)
	} else if (flag == "**") {
		if (index($0, "retry timeout exceeded") || index($0, "have been failing for a long time")) {
			expword["exim" SUBSEP d SUBSEP (index($0, "retry timeout exceeded") ? "retry-timeout-exceeded" : "all-hosts-failing")]++
			events["exim" SUBSEP d SUBSEP "expired" SUBSEP "4.4.7"]++
			ended("exim", id, rcpt, "expired")
		} else {
			code = excode("5.0.0")
			events["exim" SUBSEP d SUBSEP "bounced" SUBSEP code]++
			ended("exim", id, rcpt, "bounced")
		}
	} else {
		code = grab("C=\"2[0-9][0-9][ -][245]\\.[0-9]+\\.[0-9]+", 7)
		if (code == "") code = "2.0.0"
		events["exim" SUBSEP d SUBSEP "sent" SUBSEP code]++
		ended("exim", id, rcpt, "delivered")
	}
	next
}

function out(prefix, arr,   k, p, n, i, s) {
	for (k in arr) {
		if (arr[k] == 0) continue
		n = split(k, p, SUBSEP)
		s = prefix
		for (i = 1; i <= n; i++) s = s " " p[i]
		print s, arr[k]
	}
}
END {
	for (i = 1; i <= nord; i++) {
		k = order[i]
		o = state[k]
		print "RCPT", ksrc[k], kqid[k], krcpt[k], fcode[k], o, sprintf("%.6f", ft[k]), \
			(o == "pending" ? "-" : sprintf("%.6f", ot[k])), nd[k], fkind[k], \
			"attempt=" (nkind[k SUBSEP "attempt"] + 0) ",suspended=" (nkind[k SUBSEP "suspended"] + 0) ",retry-wait=" (nkind[k SUBSEP "retry-wait"] + 0)
		outcomes[ksrc[k] SUBSEP kdom[k] SUBSEP fcode[k] SUBSEP o]++
		firstkind[ksrc[k] SUBSEP kdom[k] SUBSEP fkind[k]]++
		if (nkind[k SUBSEP fkind[k]] == nd[k]) onlykind[ksrc[k] SUBSEP kdom[k] SUBSEP fkind[k]]++
	}
	out("EVENTS", events)
	out("DEFERRALS", dlines)
	out("PHASES", phases)
	out("FIRSTKIND", firstkind)
	out("ONLYKIND", onlykind)
	out("OUTCOMES", outcomes)
	out("RECIPIENTS", nrcpts)
	out("MESSAGES", nmsgs)
	out("SKIPPED", skipped)
	out("IGNORED", ignored)
	out("EXPIRYWORDING", expword)
	out("QUEUERUNS", queueruns)
}
