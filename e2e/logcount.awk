# logcount.awk: counts what a sending Postfix or Exim logged, without bouncewatch.
#
#   awk -v SRC=postfix -f e2e/logcount.awk mail.log.1 mail.log
#   awk -v SRC=exim    -f e2e/logcount.awk mainlog.1 mainlog
#
# An independent reading of the log files (plain awk, no rules.yaml), so that
# e2e/run.sh can compare bouncewatch's figures with what the MTAs wrote:
#
#   EVENT <domain> <status> <code> <count>          delivery results per domain
#   OUTCOME <first-code> <outcome> <count>          deferred recipients and how they ended
#   RESOLUTION <first-code> <outcome> <domain> <first-deferral> <end> <seconds>
#                                                   one line per recipient that ended
#   PENDING <count>                                 deferred recipients with no end
#
# Postfix: "to=<...>, ... dsn=X.Y.Z, status=sent|deferred|bounced" per recipient
# ("delivery temporarily suspended" is not an attempt), and qmgr's
# "from=<...>, status=expired" per message, which ends every recipient of the
# message still deferred (code 4.4.7). Exim: "=>"/"->" delivered (code from
# C="250 X.Y.Z"), "==" deferred ("retry time not reached" is not an attempt),
# "**" bounced, or expired when "retry timeout exceeded"; the code is the
# enhanced code right after the first SMTP reply. Times are log times.

function dom(a, i) {
	a = tolower(a)
	sub(/^</, "", a); sub(/>$/, "", a); sub(/\.$/, "", a)
	i = index(a, "@")
	return i ? substr(a, i + 1) : ""
}
function mon(m) { return (index("JanFebMarAprMayJunJulAugSepOctNovDec", m) + 2) / 3 }
# Seconds (only differences are used). RFC 3339 "2026-11-27T06:06:39.912366+00:00",
# RFC 3164 "Nov 27 06:02:21" (maillog_file; the year does not matter for
# differences within one run), Exim "2026-11-27 06:07:10".
function tstamp(   d, t, f, y) {
	f = 0
	if ($1 ~ /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T/) {
		d = substr($1, 1, 10); t = substr($1, 12, 8)
		if (substr($1, 20, 1) == ".") { f = substr($1, 20); sub(/[-+Z].*$/, "", f); f = f + 0 }
	} else if ($1 ~ /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$/) {
		d = $1; t = substr($2, 1, 8)
		if (substr($2, 9, 1) == ".") f = ("0" substr($2, 9)) + 0
	} else {
		y = strftime("%Y")
		d = sprintf("%04d-%02d-%02d", y, mon($1), $2); t = substr($3, 1, 8)
		if (substr($3, 9, 1) == ".") f = ("0" substr($3, 9)) + 0
	}
	gsub(/-/, " ", d); gsub(/:/, " ", t)
	return mktime(d " " t) + f
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
function grab(re, skip,   s) {   # the text matched by re, minus its first skip characters
	if (!match($0, re)) return ""
	return substr($0, RSTART + skip, RLENGTH - skip)
}

SRC == "postfix" && / status=/ {
	now = tstamp()
	qid = grab("\\]: [0-9A-Za-z]+: ", 3); sub(/: $/, "", qid)
	if (qid == "") next
	status = grab(" status=[a-z-]+", 8)
	if (match($0, / to=<[^>]*>/)) {
		rcpt = substr($0, RSTART + 5, RLENGTH - 6)
		if (status == "deferred" && $0 ~ /delivery temporarily suspended/) next
		code = grab(" dsn=[0-9]+\\.[0-9]+\\.[0-9]+", 5)
		ev(dom(rcpt), status, code)
		k = qid SUBSEP rcpt
		if (status == "deferred") deferred(k, code)
		else if (status == "sent") ended(k, "delivered")
		else if (status == "bounced") ended(k, "bounced")
	} else if (status == "expired" || status == "force-expired") {
		for (k in pend) {
			split(k, p, SUBSEP)
			if (p[1] == qid) { ev(dom(p[2]), "expired", "4.4.7"); ended(k, "expired") }
		}
	}
	next
}
SRC == "postfix" && /\]: [0-9A-Za-z]+: removed$/ {
	now = tstamp()
	qid = grab("\\]: [0-9A-Za-z]+: ", 3); sub(/: $/, "", qid)
	for (k in pend) { split(k, p, SUBSEP); if (p[1] == qid) ended(k, "abandoned") }
	next
}

SRC == "exim" && $4 ~ /^(=>|->|>>|==|\*\*)$/ {
	now = tstamp()
	id = $3; flag = $4; rcpt = $5; sub(/:$/, "", rcpt)
	if (index(rcpt, "@") == 0 && $6 ~ /^<.*@.*>$/) rcpt = $6   # local delivery: "=> sender <sender@host>"
	k = id SUBSEP tolower(rcpt)
	if (flag == "==") {
		if ($0 ~ /retry time not reached/) next
		code = grab(" [45][0-9][0-9][ -][245]\\.[0-9]+\\.[0-9]+", 5)
		if (code == "") code = grab(" [45][0-9][0-9] ", 1) != "" ? substr(grab(" [45][0-9][0-9] ", 1), 1, 1) ".0.0" : "4.4.1"
		ev(dom(rcpt), "deferred", code)
		deferred(k, code)
	} else if (flag == "**") {
		if ($0 ~ /retry timeout exceeded/) { ev(dom(rcpt), "expired", "4.4.7"); ended(k, "expired"); next }
		code = grab(" [45][0-9][0-9][ -][245]\\.[0-9]+\\.[0-9]+", 5)
		if (code == "") code = "5.0.0"
		ev(dom(rcpt), "bounced", code)
		ended(k, "bounced")
	} else {
		code = grab("C=\"2[0-9][0-9][ -][245]\\.[0-9]+\\.[0-9]+", 7)
		if (code == "") code = "2.0.0"
		ev(dom(rcpt), "sent", code)
		ended(k, "delivered")
	}
	next
}
SRC == "exim" && $4 == "Completed" {
	now = tstamp()
	for (k in pend) { split(k, p, SUBSEP); if (p[1] == $3) ended(k, "abandoned") }
}

END {
	for (e in events) print "EVENT", e, events[e]
	for (o in outcomes) print "OUTCOME", o, outcomes[o]
	n = 0; for (k in pend) n++
	print "PENDING", n
}
