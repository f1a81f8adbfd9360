# logcount.awk: counts what a sending Postfix or Exim logged, without bouncewatch.
#
#   awk -v SRC=postfix -f e2e/logwords.awk -f e2e/logcount.awk mail.log.1 mail.log
#   awk -v SRC=exim    -f e2e/logwords.awk -f e2e/logcount.awk mainlog.1 mainlog
#
# An independent reading of the log files (plain awk, no rules.yaml), so that
# TestEndToEnd (e2e/e2e_test.go) can compare bouncewatch's figures with what the
# MTAs wrote. Rotated files go in order (oldest first). Works with mawk 1.3.4 and gawk.
#
#   EVENT <domain> <status> <code> <count>          delivery results per domain
#   OUTCOME <first-code> <outcome> <count>          deferred recipients and how they ended
#   RESOLUTION <first-code> <outcome> <domain> <first-deferral> <end> <seconds>
#                                                   one line per recipient that ended
#   PENDING <count>                                 deferred recipients with no end
#
# The deferral semantics are the shipped ones (DESIGN.md, rules.yaml), the same as
# e2e/outage-count.awk's:
#  * Postfix: "to=<...>, ... dsn=X.Y.Z, status=sent|deferred|bounced" per recipient;
#    "status=deferred (delivery temporarily suspended: ...)" (postfix/error, the
#    destination marked dead) is a deferral too, with its dsn= code. Address
#    verification results (status=deliverable|undeliverable|undeliverable-but-not-
#    cached) are ignored. qmgr's "from=<...>, status=expired|force-expired" per
#    message ends every recipient of the message still deferred (an expired event,
#    code 4.4.7). "removed" ends the message's pending recipients (abandoned); a queue
#    id is a new message after it.
#  * Exim: "=>"/"->"/">>" delivered (code from C="250 X.Y.Z", else 2.0.0); "=="
#    deferred, except the lines that say the delivery was queued on purpose (-odqs,
#    queue_smtp_domains: 4.96 "defer (0): SMTP delivery explicitly queued", older
#    "defer (-1): domain matches queue_smtp_domains, or -odqs set"), which are not
#    events; "retry time not (yet) reached" lines are deferrals that carry no code:
#    they take the code of the latest Exim deferral that carried one for the same
#    domain earlier in the input (4.0.0 if none). "**" bounced, or expired (4.4.7)
#    for "retry timeout exceeded" and "all hosts for 'd' have been failing for a long
#    time". "Completed" ends the message's pending recipients (abandoned).
#    Code of a deferral or bounce: 4.4.1 for "Connection refused|timed out"; else the
#    first RFC 3463 code (class 2/4/5) in the remote reply ("SMTP error from remote
#    mail server after <phase>: <reply>"), or in the rest of the line when there is
#    no remote reply; else 4.0.0 (deferral) or 5.0.0 (bounce), which does not count
#    as carried.
#  * A recipient (queue id + address) is tracked from its first deferral line of any
#    kind; its first code is that line's code. Times are log times.

function dom(a,   i) {
	a = tolower(a)
	sub(/^</, "", a); sub(/>$/, "", a); sub(/\.$/, "", a)
	i = index(a, "@")
	return i ? substr(a, i + 1) : ""
}
function ev(d, status, code) { events[d " " status " " code]++ }
function deferred(k, code) {
	if (!(k in pend)) { first[k] = code; ft[k] = now; pend[k] = 1 }
}
function ended(k, outcome,   p) {
	if (!(k in pend)) return
	split(k, p, SUBSEP)
	outcomes[first[k] " " outcome]++
	printf "RESOLUTION %s %s %s %.6f %.6f %.6f\n", first[k], outcome, dom(p[2]), ft[k], now, now - ft[k]
	delete pend[k]; delete first[k]; delete ft[k]
}
# every pending recipient of message id (expired: also an expired event each)
function end_message(id, outcome,   k, p) {
	for (k in pend) {
		split(k, p, SUBSEP)
		if (p[1] != id) continue
		if (outcome == "expired") ev(dom(p[2]), "expired", "4.4.7")
		ended(k, outcome)
	}
}

SRC == "postfix" && / status=/ {
	now = tstamp()
	qid = grab("\\]: [0-9A-Za-z]+: ", 3); sub(/: $/, "", qid)
	if (qid == "") next
	mk = qid "#" (gen[qid] + 0)
	status = grab(" status=[a-z-]+", 8)
	if (match($0, / to=<[^>]*>/)) {
		rcpt = tolower(substr($0, RSTART + 5, RLENGTH - 6))
		if (status == "deliverable" || status == "undeliverable" || status == "undeliverable-but-not-cached") next
		code = grab(" dsn=[0-9]+\\.[0-9]+\\.[0-9]+", 5)
		if (code == "") code = "4.0.0"
		ev(dom(rcpt), status, code)
		k = mk SUBSEP rcpt
		if (status == "deferred") deferred(k, code)
		else if (status == "sent") ended(k, "delivered")
		else if (status == "bounced") ended(k, "bounced")
	} else if (status == "expired" || status == "force-expired") {
		end_message(mk, "expired")
	}
	next
}
SRC == "postfix" && /\]: [0-9A-Za-z]+: removed$/ {
	now = tstamp()
	qid = grab("\\]: [0-9A-Za-z]+: ", 3); sub(/: $/, "", qid)
	end_message(qid "#" (gen[qid] + 0), "abandoned")
	gen[qid]++
	next
}

SRC == "exim" && $4 ~ /^(=>|->|>>|==|\*\*)$/ {
	now = tstamp()
	id = $3; flag = $4; rcpt = $5; sub(/:$/, "", rcpt)
	if (index(rcpt, "@") == 0 && $6 ~ /^<.*@.*>:?$/) { rcpt = $6; sub(/:$/, "", rcpt) }   # local: "=> sender <sender@host>"
	rcpt = tolower(rcpt); sub(/^</, "", rcpt); sub(/>$/, "", rcpt)
	d = dom(rcpt)
	k = id SUBSEP rcpt
	if (flag == "==") {
		if (index($0, "domain matches queue_smtp_domains, or -odqs set") || index($0, ": SMTP delivery explicitly queued")) next
		if ($0 ~ /[Rr]etry time not (yet )?reached/) {
			code = (d in lastcode) ? lastcode[d] : "4.0.0"
		} else {
			code = excode("4.0.0")
			if (carried) lastcode[d] = code
		}
		ev(d, "deferred", code)
		deferred(k, code)
	} else if (flag == "**") {
		if (index($0, "retry timeout exceeded") || index($0, "have been failing for a long time")) {
			ev(d, "expired", "4.4.7")
			ended(k, "expired")
			next
		}
		code = excode("5.0.0")
		ev(d, "bounced", code)
		ended(k, "bounced")
	} else {
		code = grab("C=\"2[0-9][0-9][ -][245]\\.[0-9]+\\.[0-9]+", 7)
		if (code == "") code = "2.0.0"
		ev(d, "sent", code)
		ended(k, "delivered")
	}
	next
}
SRC == "exim" && $4 == "Completed" {
	now = tstamp()
	end_message($3, "abandoned")
}

END {
	for (e in events) print "EVENT", e, events[e]
	for (o in outcomes) print "OUTCOME", o, outcomes[o]
	n = 0; for (k in pend) n++
	print "PENDING", n
}
