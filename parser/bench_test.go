package parser_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/bouncewatch/bouncewatch/parser"
)

// BenchmarkParseLab parses the real lab logs line by line and reports
// lines/s and allocations per line.
func BenchmarkParseLab(b *testing.B) {
	for _, name := range []string{"postfix.log", "exim-mainlog", "syslog-rfc3339.log"} {
		b.Run(name, func(b *testing.B) {
			data, err := os.ReadFile("../testdata/lab/" + name)
			if err != nil {
				b.Fatal(err)
			}
			lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
			p := parser.NewParser(defaultRules(b), "bench")
			p.SetReference(reference)
			var ev parser.Event
			b.ReportAllocs()
			b.SetBytes(int64(len(data) / len(lines)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p.Parse(lines[i%len(lines)], &ev)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// BenchmarkParseKind parses one line of each kind a log is made of: where
// the time of a line goes, by kind.
func BenchmarkParseKind(b *testing.B) {
	for _, k := range []struct{ name, line string }{
		{"postfix-noise", "Nov 27 10:27:16 mx1 postfix/cleanup[6932]: 739A28DBD0: message-id=<20261127102716.82432@example.net>"},
		{"postfix-sent", "Nov 27 12:10:02 mx1 postfix/smtp[8778]: D09E16B46F: to=<bob.novak@doviripe.com>, relay=mail.doviripe.com[203.0.113.87]:25, delay=1.8, delays=1.3/0.01/0.15/0.26, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 524D6FBDBE)"},
		{"postfix-deferred", "Nov 28 15:48:47 mx1 postfix/smtp[42948]: 8C2BEA703B: to=<lena@popa.com>, relay=popa-com.mail.protection.example.com[203.0.113.37]:25, delay=1333, delays=1333/0.01/0.04/0.18, dsn=4.0.0, status=deferred (host popa-com.mail.protection.example.com[203.0.113.37] said: 451 Mailbox busy, try again later (in reply to RCPT TO command))"},
		{"postfix-removed", "Nov 27 10:12:47 mx1 postfix/qmgr[1033]: 36492CB79A: removed"},
		{"exim-noise", "2026-11-28 10:01:38 SMTP connection from (web1.example.net) [198.51.100.11]:61508 I=[198.51.100.25]:587 (TCP/IP connection count = 4)"},
		{"exim-sent", `2026-11-27 15:16:00 1xWwLR-001lOx-S3 => gina.larsen@erab.co.uk R=dnslookup T=remote_smtp H=mx.erab.co.uk [198.51.100.146] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes K C="250 2.0.0 Ok: queued as 2505EE49D9"`},
		{"exim-deferred", "2026-11-29 06:16:00 1xXXmZ-00AmFc-97 == paul.muller@genodolumedia.com R=dnslookup T=remote_smtp defer (-44) H=mx.genodolumedia.com [203.0.113.5]: SMTP error from remote mail server after RCPT TO:<paul.muller@genodolumedia.com>: 451 4.3.2 <paul.muller@genodolumedia.com>: Recipient address rejected: System not accepting network messages"},
		{"exim-completed", "2026-11-29 19:08:47 1xXkGT-00Do4i-El Completed"},
	} {
		b.Run(k.name, func(b *testing.B) {
			p := parser.NewParser(defaultRules(b), "bench")
			p.SetReference(reference)
			line := []byte(k.line)
			var ev parser.Event
			b.ReportAllocs()
			for b.Loop() {
				p.Parse(line, &ev)
			}
		})
	}
}
