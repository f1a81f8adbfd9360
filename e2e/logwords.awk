# e2e/logwords.awk: what the e2e's independent counts (logcount.awk, outage-count.awk)
# read from a mail log line in the same way: its time, a field, the RFC 3463 code of
# an Exim deferral or bounce. Plain awk (mawk 1.3.4 or gawk), no bouncewatch
# code; loaded before them: awk -f e2e/logwords.awk -f e2e/logcount.awk LOG...

function mon(m) { return (index("JanFebMarAprMayJunJulAugSepOctNovDec", m) + 2) / 3 }
# Seconds since the epoch, from the line's own time: RFC 3339 (rsyslog)
# "2026-11-27T06:06:39.912366+00:00", RFC 3164 or maillog_file "Nov 27 06:02:21"
# (taken as this year), Exim "2026-11-27 06:07:10[.mmm]".
function tstamp(   d, t, f, y) {
	f = 0
	if ($1 ~ /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T/) {
		d = substr($1, 1, 10); t = substr($1, 12, 8)
		if (substr($1, 20, 1) == ".") { f = substr($1, 20); sub(/[-+Z].*$/, "", f); f = ("0" f) + 0 }
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
function grab(re, skip) {   # the text matched by re, minus its first skip characters
	if (!match($0, re)) return ""
	return substr($0, RSTART + skip, RLENGTH - skip)
}
# the first RFC 3463 code (2|4|5 . 1-3 digits . 1-3 digits) among the words of s
function first3463(s,   n, w, i, x) {
	n = split(s, w, " ")
	for (i = 1; i <= n; i++) {
		x = w[i]
		sub(/^[(\[<"]+/, "", x); sub(/[)\]>",;:.]+$/, "", x)
		if (x ~ /^[245]\.[0-9][0-9]?[0-9]?\.[0-9][0-9]?[0-9]?$/) return x
	}
	return ""
}
# Exim: the code of a deferral or bounce line; sets carried
function excode(dflt,   i, s, j, c) {
	carried = 0
	i = index($0, "SMTP error from remote mail server after ")
	if (i) {
		s = substr($0, i + 41)
		j = index(s, ": ")
		if (j) s = substr(s, j + 2)
		c = first3463(s)
		if (c != "") { carried = 1; return c }
		return dflt
	}
	if ($0 ~ /Connection refused|Connection timed out|connection timed out/) { carried = 1; return "4.4.1" }
	s = $0
	for (j = 1; j <= 5; j++) sub(/^[^ ]+ /, "", s)   # drop date time id flag address
	c = first3463(s)
	if (c != "") { carried = 1; return c }
	return dflt
}
