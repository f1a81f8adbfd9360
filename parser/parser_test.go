package parser_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/labtest"
	"github.com/bouncewatch/bouncewatch/parser"
)

var (
	defaultRules = labtest.Rules
	reference    = labtest.Reference
)

// TestDefaultRules runs every rule of the shipped rules.yaml against real
// lines written by Postfix 3.7 and Exim 4.96 (testdata/lab, ../shared/corpus)
// and public samples.
func TestDefaultRules(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		rule   string // "" for an unmatched line
		result parser.Result
		qid    string
		rcpt   string
		domain string
		status string
		code   string
		reply  uint16
		time   string
	}{
		// Postfix, maillog_file, every delivery agent.
		{"smtp deferred 4.3.2", `Nov 27 06:02:21 tx postfix-tx/smtp[28404]: 6BD60BE58E: to=<bob@retry.example>, relay=127.0.0.1[127.0.0.1]:12525, delay=0.08, delays=0.02/0.01/0.03/0.01, dsn=4.3.2, status=deferred (host 127.0.0.1[127.0.0.1] said: 451 4.3.2 <bob@retry.example>: Recipient address rejected: System not accepting network messages (in reply to RCPT TO command))`,
			"postfix-delivery", parser.Matched, "6BD60BE58E", "bob@retry.example", "retry.example", "deferred", "4.3.2", 451, "2026-11-27T06:02:21Z"},
		{"smtp sent", `Nov 27 06:02:21 tx postfix-tx/smtp[28404]: 845D3BE5A0: to=<erin@ok.example>, relay=127.0.0.1[127.0.0.1]:12525, delay=0.01, delays=0.01/0/0/0.01, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 851AFBE59E)`,
			"postfix-delivery", parser.Matched, "845D3BE5A0", "erin@ok.example", "ok.example", "sent", "2.0.0", 250, "2026-11-27T06:02:21Z"},
		{"smtp re-used connection", `Nov 27 06:04:42 tx postfix-tx/smtp[466]: 04626BE671: to=<oscar@retry.example>, relay=127.0.0.1[127.0.0.1]:12525, conn_use=2, delay=9, delays=9/0/0/0, dsn=4.3.2, status=deferred (host 127.0.0.1[127.0.0.1] said: 451 4.3.2 <oscar@retry.example>: Recipient address rejected: System not accepting network messages (in reply to RCPT TO command))`,
			"postfix-delivery", parser.Matched, "04626BE671", "oscar@retry.example", "retry.example", "deferred", "4.3.2", 451, "2026-11-27T06:04:42Z"},
		{"smtp bounced 5.1.1", `Nov 27 06:02:21 tx postfix-tx/smtp[28401]: 7CFD6BE59E: to=<dave@bounce.example>, relay=127.0.0.1[127.0.0.1]:12525, delay=0.02, delays=0.01/0/0/0.01, dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <dave@bounce.example>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))`,
			"postfix-delivery", parser.Matched, "7CFD6BE59E", "dave@bounce.example", "bounce.example", "bounced", "5.1.1", 550, "2026-11-27T06:02:21Z"},
		{"smtp deferred without enhanced code", `Nov 27 06:14:28 tx postfix-tx/smtp[21524]: 5243DBE5BD: to=<hank@nocode-defer.example>, relay=127.0.0.1[127.0.0.1]:12526, delay=0.01, delays=0.01/0/0/0, dsn=4.0.0, status=deferred (host 127.0.0.1[127.0.0.1] said: 451 Mailbox busy, try again later (in reply to RCPT TO command))`,
			"postfix-delivery", parser.Matched, "5243DBE5BD", "hank@nocode-defer.example", "nocode-defer.example", "deferred", "4.0.0", 451, "2026-11-27T06:14:28Z"},
		{"smtp connection refused", `Nov 27 06:14:28 tx postfix-tx/smtp[21547]: 5B7C6BE5C7: to=<judy@down.example>, relay=none, delay=0.02, delays=0.02/0/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:12529: Connection refused)`,
			"postfix-delivery", parser.Matched, "5B7C6BE5C7", "judy@down.example", "down.example", "deferred", "4.4.1", 0, "2026-11-27T06:14:28Z"},
		{"error: delivery temporarily suspended, a deferral without an attempt", `Nov 27 06:14:38 tx postfix-tx/error[21652]: 6D0F4BE5D4: to=<jim6@down.example>, relay=none, delay=10, delays=10/0.01/0/0.01, dsn=4.4.1, status=deferred (delivery temporarily suspended: connect to 127.0.0.1[127.0.0.1]:12529: Connection refused)`,
			"postfix-delivery", parser.Matched, "6D0F4BE5D4", "jim6@down.example", "down.example", "deferred", "4.4.1", 0, "2026-11-27T06:14:38Z"},
		{"suspended after a 421 at the greeting (real outage, rsyslog RFC 3339)", `2026-11-30T02:48:49.845541+00:00 vm postfix-tx/error[16260]: 2D60ECA255: to=<b3-1@outage.example>, relay=none, delay=0.03, delays=0.02/0.01/0/0, dsn=4.3.2, status=deferred (delivery temporarily suspended: host 127.0.0.1[127.0.0.1] refused to talk to me: 421 4.3.2 <localhost[127.0.0.1]>: Client host rejected: System not accepting network messages)`,
			"postfix-delivery", parser.Matched, "2D60ECA255", "b3-1@outage.example", "outage.example", "deferred", "4.3.2", 421, "2026-11-30T02:48:49.845541Z"},
		{"lmtp sent", `Nov 27 06:14:28 tx postfix-tx/lmtp[21675]: 7DCF7BE5DE: to=<alice@lmtp.example>, relay=127.0.0.1[127.0.0.1]:12524, delay=0.04, delays=0.01/0.01/0.01/0.01, dsn=2.0.0, status=sent (250 2.0.0 <alice@lmtp.example> YR8GIMQfCWutVAAAg+zDdQ Saved)`,
			"postfix-delivery", parser.Matched, "7DCF7BE5DE", "alice@lmtp.example", "lmtp.example", "sent", "2.0.0", 250, "2026-11-27T06:14:28Z"},
		{"lmtp bounced", `Nov 27 06:14:28 tx postfix-tx/lmtp[21675]: 7DCF7BE5DE: to=<zed@lmtp.example>, relay=127.0.0.1[127.0.0.1]:12524, delay=0.03, delays=0.01/0.01/0.01/0.01, dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <zed@lmtp.example> User doesn't exist: zed@lmtp.example (in reply to RCPT TO command))`,
			"postfix-delivery", parser.Matched, "7DCF7BE5DE", "zed@lmtp.example", "lmtp.example", "bounced", "5.1.1", 550, "2026-11-27T06:14:28Z"},
		{"local with orig_to", `Nov 27 06:14:28 tx postfix-tx/local[21564]: 4E530BE5BD: to=<mtalab@tx.lab.example>, orig_to=<sender@tx.lab.example>, relay=local, delay=0.01, delays=0/0.01/0/0, dsn=2.0.0, status=sent (delivered to mailbox)`,
			"postfix-delivery", parser.Matched, "4E530BE5BD", "mtalab@tx.lab.example", "tx.lab.example", "sent", "2.0.0", 0, "2026-11-27T06:14:28Z"},
		{"local unknown user", `Nov 27 05:55:23 tx postfix-tx/local[19016]: 84694BE383: to=<sender@tx.lab.example>, relay=local, delay=0.01, delays=0/0/0/0, dsn=5.1.1, status=bounced (unknown user: "sender")`,
			"postfix-delivery", parser.Matched, "84694BE383", "sender@tx.lab.example", "tx.lab.example", "bounced", "5.1.1", 0, "2026-11-27T05:55:23Z"},
		{"virtual, journalctl -o short", `Nov 27 06:02:21 vm postfix-rx/virtual[28420]: 75905BE591: to=<alice@ok.example>, relay=virtual, delay=0.01, delays=0/0/0/0, dsn=2.0.0, status=sent (delivered to maildir)`,
			"postfix-delivery", parser.Matched, "75905BE591", "alice@ok.example", "ok.example", "sent", "2.0.0", 0, "2026-11-27T06:02:21Z"},
		{"error transport", `Nov 27 06:14:28 tx postfix-tx/error[21641]: 73FEFBE5DA: to=<kate@error.example>, relay=none, delay=0.01, delays=0/0.01/0/0, dsn=5.1.2, status=bounced (Bad destination system address (lab error transport))`,
			"postfix-delivery", parser.Matched, "73FEFBE5DA", "kate@error.example", "error.example", "bounced", "5.1.2", 0, "2026-11-27T06:14:28Z"},
		{"retry transport", `Nov 27 06:14:28 tx postfix-tx/error[21652]: 7814CBE5DB: to=<liam@hold.example>, relay=none, delay=0.01, delays=0/0/0/0, dsn=4.3.2, status=deferred (Destination temporarily disabled (lab retry transport))`,
			"postfix-delivery", parser.Matched, "7814CBE5DB", "liam@hold.example", "hold.example", "deferred", "4.3.2", 0, "2026-11-27T06:14:28Z"},
		{"discard", `Nov 27 06:14:28 tx postfix-tx/discard[21664]: 7AA98BE5DE: to=<mia@discard.example>, relay=none, delay=0.01, delays=0/0.01/0/0, dsn=2.0.0, status=sent (lab discard transport)`,
			"postfix-delivery", parser.Matched, "7AA98BE5DE", "mia@discard.example", "discard.example", "sent", "2.0.0", 0, "2026-11-27T06:14:28Z"},
		{"pipe, relay/smtp syslog_name, public sample", `Dec 29 02:54:12 mail postfix/relay/smtp[7648]: 732BB407C3: to=<redacted@Domain.COM.>, relay=mail.domain.com[1.1.1.1]:25, delay=6.2, delays=0.1/0/5.2/0.87, dsn=4.0.0, status=deferred (host mail.domain.com[1.1.1.1] said: 451 DT:SPM 163 mx40,WsCowAAnEhlCoEVa5GjcAA--.20089S3 1514512452, please try again 15min later (in reply to end of DATA command))`,
			"postfix-delivery", parser.Matched, "732BB407C3", "redacted@Domain.COM.", "domain.com", "deferred", "4.0.0", 451, "2025-12-29T02:54:12Z"},
		{"host said without to= is not a delivery result", `Dec 29 02:54:09 mail postfix/smtp[7648]: 732BB407C3: host mail.domain.com[1.1.1.1] said: 451 DT:SPM 163 mx13,P8CowECpNVM_oEVaenoEAQ--.23796S3 1514512449, please try again 15min later (in reply to end of DATA command)`,
			"", parser.Unmatched, "", "", "", "", "", 0, ""},
		{"postfix 3.11 tls= field", `Nov 27 06:02:21 mx postfix/smtp[1]: 6BD60BE58E: to=<bob@retry.example>, relay=mx.retry.example[192.0.2.1]:25, delay=0.08, delays=0.02/0.01/0.03/0.01, tls=TLSv1.3:TLS_AES_256_GCM_SHA384, dsn=2.0.0, status=sent (250 2.0.0 Ok)`,
			"postfix-delivery", parser.Matched, "6BD60BE58E", "bob@retry.example", "retry.example", "sent", "2.0.0", 250, "2026-11-27T06:02:21Z"},
		{"long queue id, submission/smtpd-style name", `Nov 27 06:02:21 mx postfix-out/smtp[1]: 44JCRG5tYPzCqt2: to=<a@b.example>, relay=b.example[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)`,
			"postfix-delivery", parser.Matched, "44JCRG5tYPzCqt2", "a@b.example", "b.example", "sent", "2.0.0", 250, "2026-11-27T06:02:21Z"},
		{"address verification probe is not a delivery", `Nov 27 06:02:21 mx postfix/smtp[1]: 6BD60BE58E: to=<a@b.example>, relay=b.example[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=2.1.5, status=deliverable (250 2.1.5 Ok)`,
			"postfix-verify", parser.Skipped, "", "", "", "", "", 0, ""},
		{"address verification probe, undeliverable (real, sendmail -bv)", `2026-11-30T02:49:08.551267+00:00 vm postfix-tx/smtp[16092]: 82C9ACA2B5: to=<nobody@ok.example>, relay=127.0.0.1[127.0.0.1]:12725, delay=0.02, delays=0.01/0.01/0/0, dsn=5.1.1, status=undeliverable (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <nobody@ok.example>: Recipient address rejected: User unknown (in reply to RCPT TO command))`,
			"postfix-verify", parser.Skipped, "", "", "", "", "", 0, ""},
		{"address verification probe, not cached", `Nov 27 06:02:21 mx postfix/smtp[1]: 6BD60BE58E: to=<a@b.example>, relay=b.example[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=4.4.1, status=undeliverable-but-not-cached (connect to b.example[192.0.2.1]:25: Connection refused)`,
			"postfix-verify", parser.Skipped, "", "", "", "", "", 0, ""},
		{"qmgr expired", `Nov 27 06:03:21 tx postfix-tx/qmgr[28363]: 72308BE590: from=<sender@tx.lab.example>, status=expired, returned to sender`,
			"postfix-expired", parser.Matched, "72308BE590", "", "", "expired", "4.4.7", 0, "2026-11-27T06:03:21Z"},
		{"qmgr force-expired", `Apr 10 14:50:16 mail postfix/qmgr[3663]: BACE842E73: from=<noreply@domain.com>, status=force-expired, returned to sender`,
			"postfix-expired", parser.Matched, "BACE842E73", "", "", "expired", "4.4.7", 0, "2026-04-10T14:50:16Z"},
		{"qmgr removed", `Nov 27 06:03:01 tx postfix-tx/qmgr[28363]: 6BD60BE58E: removed`,
			"postfix-removed", parser.Matched, "6BD60BE58E", "", "", "removed", "", 0, "2026-11-27T06:03:01Z"},
		{"qmgr queue active is noise", `Nov 27 06:02:21 tx postfix-tx/qmgr[28363]: 6BD60BE58E: from=<sender@tx.lab.example>, size=303, nrcpt=1 (queue active)`,
			"", parser.Unmatched, "", "", "", "", "", 0, ""},
		{"smtpd reject is the receiver's view, not a delivery", `Nov 27 06:02:21 vm postfix-rx/smtpd[28403]: NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 451 4.3.2 <bob@retry.example>: Recipient address rejected: System not accepting network messages; from=<sender@tx.lab.example> to=<bob@retry.example> proto=ESMTP helo=<tx.lab.example>`,
			"", parser.Unmatched, "", "", "", "", "", 0, ""},

		// Postfix in every syslog and journald rendering.
		{"rsyslog RFC 3339 (Debian 12)", `2026-11-27T06:07:39.603940+00:00 vm postfix-tx/smtp[11493]: CC68BBE3FA: to=<carol@expire.example>, relay=127.0.0.1[127.0.0.1]:12525, delay=60, delays=60/0/0/0, dsn=4.3.2, status=deferred (host 127.0.0.1[127.0.0.1] said: 451 4.3.2 <carol@expire.example>: Recipient address rejected: System not accepting network messages (in reply to RCPT TO command))`,
			"postfix-delivery", parser.Matched, "CC68BBE3FA", "carol@expire.example", "expire.example", "deferred", "4.3.2", 451, "2026-11-27T06:07:39.60394Z"},
		{"rsyslog RFC 5424, tag cut at the slash", `<22>1 2026-11-27T06:07:39.603940+00:00 vm postfix-tx 11493 - -  CC68BBE3FA: from=<sender@tx.lab.example>, status=expired, returned to sender`,
			"postfix-expired", parser.Matched, "CC68BBE3FA", "", "", "expired", "4.4.7", 0, "2026-11-27T06:07:39.60394Z"},
		{"journalctl -o short-iso", `2026-11-27T06:07:39+0000 vm postfix-tx/qmgr[11493]: CC68BBE3FA: removed`,
			"postfix-removed", parser.Matched, "CC68BBE3FA", "", "", "removed", "", 0, "2026-11-27T06:07:39Z"},
		{"journalctl -o short-precise", `Nov 27 06:07:39.603599 vm postfix-tx/qmgr[11493]: CC68BBE3FA: from=<sender@tx.lab.example>, status=expired, returned to sender`,
			"postfix-expired", parser.Matched, "CC68BBE3FA", "", "", "expired", "4.4.7", 0, "2026-11-27T06:07:39.603599Z"},
		{"rsyslog traditional, space-padded day", `Nov  7 06:07:39 vm postfix/smtp[11493]: CC68BBE3FA: to=<a@b.example>, relay=none, delay=0, delays=0/0/0/0, dsn=4.4.1, status=deferred (connect to b.example[192.0.2.1]:25: Connection timed out)`,
			"postfix-delivery", parser.Matched, "CC68BBE3FA", "a@b.example", "b.example", "deferred", "4.4.1", 0, "2026-11-07T06:07:39Z"},

		// Exim mainlog, 4.96.
		{"exim deferred 4.3.2", `2026-11-27 06:02:21 1xWp2L-0007Qz-2u == bob@retry.example R=to_postfix_rx T=smtp_postfix_rx defer (-44) H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<bob@retry.example>: 451 4.3.2 <bob@retry.example>: Recipient address rejected: System not accepting network messages`,
			"exim-deferred", parser.Matched, "1xWp2L-0007Qz-2u", "bob@retry.example", "retry.example", "deferred", "4.3.2", 451, "2026-11-27T06:02:21Z"},
		{"exim deferred without enhanced code", `2026-11-27 06:14:28 1xWpE4-0005ek-2G == hank@nocode-defer.example R=to_exim_rx T=smtp_exim_rx defer (-44) H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<hank@nocode-defer.example>: 451 Mailbox busy, try again later`,
			"exim-deferred", parser.Matched, "1xWpE4-0005ek-2G", "hank@nocode-defer.example", "nocode-defer.example", "deferred", "4.0.0", 451, "2026-11-27T06:14:28Z"},
		{"exim connection refused", `2026-11-27 06:02:22 1xWp2M-0007SC-07 == judy@down.example R=to_down T=smtp_down defer (111): Connection refused`,
			"exim-connect-defer", parser.Matched, "1xWp2M-0007SC-07", "judy@down.example", "down.example", "deferred", "4.4.1", 0, "2026-11-27T06:02:22Z"},
		{"exim connection timed out", `2026-11-27 06:02:22 1xWp2M-0007SC-07 == judy@down.example R=dnslookup T=remote_smtp defer (110): Connection timed out`,
			"exim-connect-defer", parser.Matched, "1xWp2M-0007SC-07", "judy@down.example", "down.example", "deferred", "4.4.1", 0, "2026-11-27T06:02:22Z"},
		{"exim connection line without address is noise", `2026-11-27 06:02:22 1xWp2M-0007SC-07 H=127.0.0.1 [127.0.0.1] Connection refused`,
			"", parser.Unmatched, "", "", "", "", "", 0, ""},
		{"exim retry time not reached (routing): a deferral with the domain's code", `2026-11-27 06:02:25 1xWp2L-0007Qz-2u == bob@retry.example routing defer (-52): retry time not reached`,
			"exim-retry-not-reached", parser.Matched, "1xWp2L-0007Qz-2u", "bob@retry.example", "retry.example", "deferred", "4.0.0", 0, "2026-11-27T06:02:25Z"},
		{"exim retry time not reached for any host", `2026-11-27 06:02:25 1xWp2M-0007SC-07 == judy@down.example R=to_down T=smtp_down defer (-54): retry time not reached for any host for 'down.example'`,
			"exim-retry-not-reached", parser.Matched, "1xWp2M-0007SC-07", "judy@down.example", "down.example", "deferred", "4.0.0", 0, "2026-11-27T06:02:25Z"},
		{"exim local retry time not yet reached", `1999-03-02 09:44:33 10HmaX-000000005vi-0000 == userx@test.ex R=r1 T=t1 defer (-53): Retry time not yet reached`,
			"exim-retry-not-reached", parser.Matched, "10HmaX-000000005vi-0000", "userx@test.ex", "test.ex", "deferred", "4.0.0", 0, "1999-03-02T09:44:33Z"},
		{"exim -odqs (4.96): queued on purpose, not a failure", `2026-11-30 02:48:58 1xXrRq-0004Mo-0W == q2-1@outage.example R=to_outage T=smtp_outage defer (0): SMTP delivery explicitly queued`,
			"exim-queued-only", parser.Skipped, "", "", "", "", "", 0, ""},
		{"exim queue_smtp_domains (earlier versions)", `2026-11-27 06:02:25 1xWp2L-0007Qz-2u == bob@retry.example R=dnslookup T=remote_smtp defer (-1): domain matches queue_smtp_domains, or -odqs set`,
			"exim-queued-only", parser.Skipped, "", "", "", "", "", 0, ""},
		{"exim 421 at the greeting", `2026-11-30 02:48:48 1xXrRg-0004CZ-36 == b0-1@outage.example R=to_outage T=smtp_outage defer (0) H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after initial connection: 421 4.3.2 <localhost[127.0.0.1]>: Client host rejected: System not accepting network messages`,
			"exim-deferred", parser.Matched, "1xXrRg-0004CZ-36", "b0-1@outage.example", "outage.example", "deferred", "4.3.2", 421, "2026-11-30T02:48:48Z"},
		{"exim retry timeout exceeded", `2026-11-27 06:03:31 1xWp2L-0007RB-2x ** carol@expire.example: retry timeout exceeded`,
			"exim-retry-timeout", parser.Matched, "1xWp2L-0007RB-2x", "carol@expire.example", "expire.example", "expired", "4.4.7", 0, "2026-11-27T06:03:31Z"},
		{"exim: all hosts failing for a long time is an expiry", `2026-11-30 02:50:57 1xXrSK-0004eP-0S ** s8c-1@dead.example R=to_dead T=smtp_dead: all hosts for 'dead.example' have been failing for a long time (and retry time not reached)`,
			"exim-retry-timeout", parser.Matched, "1xXrSK-0004eP-0S", "s8c-1@dead.example", "dead.example", "expired", "4.4.7", 0, "2026-11-30T02:50:57Z"},
		{"exim: the same in Exim's test suite (a space before the colon)", `1999-03-02 09:44:33 10HmbA-000000005vi-0000 ** userx@test.ex R=r1 T=t1 : all hosts for 'test.ex' have been failing for a long time (and retry time not reached)`,
			"exim-retry-timeout", parser.Matched, "10HmbA-000000005vi-0000", "userx@test.ex", "test.ex", "expired", "4.4.7", 0, "1999-03-02T09:44:33Z"},
		{"exim bounced 5.1.1", `2026-11-27 06:02:21 1xWp2L-0007RK-31 ** dave@bounce.example R=to_postfix_rx T=smtp_postfix_rx H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<dave@bounce.example>: 550 5.1.1 <dave@bounce.example>: Recipient address rejected: User unknown in virtual mailbox table`,
			"exim-bounced", parser.Matched, "1xWp2L-0007RK-31", "dave@bounce.example", "bounce.example", "bounced", "5.1.1", 550, "2026-11-27T06:02:21Z"},
		{"exim bounced without enhanced code", `2026-11-27 06:14:28 1xWpE4-0005ew-2J ** ivan@nocode-bounce.example R=to_exim_rx T=smtp_exim_rx H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<ivan@nocode-bounce.example>: 550 No such user here`,
			"exim-bounced", parser.Matched, "1xWpE4-0005ew-2J", "ivan@nocode-bounce.example", "nocode-bounce.example", "bounced", "5.0.0", 550, "2026-11-27T06:14:28Z"},
		{"exim delivered", `2026-11-27 06:02:51 1xWp2L-0007Qz-2u => bob@retry.example R=to_postfix_rx T=smtp_postfix_rx H=127.0.0.1 [127.0.0.1] K C="250 2.0.0 Ok: 393 bytes queued as E8DE3BE35E"`,
			"exim-delivered", parser.Matched, "1xWp2L-0007Qz-2u", "bob@retry.example", "retry.example", "sent", "2.0.0", 250, "2026-11-27T06:02:51Z"},
		{"exim delivered in the same transaction", `2026-11-27 06:02:21 1xWp2L-0007RZ-38 -> frank@ok.example R=to_postfix_rx T=smtp_postfix_rx H=127.0.0.1 [127.0.0.1] K C="250 2.0.0 Ok: 410 bytes queued as EF0CBBE5E6"`,
			"exim-delivered-more", parser.Matched, "1xWp2L-0007RZ-38", "frank@ok.example", "ok.example", "sent", "2.0.0", 250, "2026-11-27T06:02:21Z"},
		{"exim cutthrough", `2026-11-27 06:02:22 1xWp2M-0007Sm-0S >> quinn@cut.example R=to_postfix_rx T=smtp_postfix_rx H=127.0.0.1 [127.0.0.1] C="250 2.0.0 Ok: queued as 22E06BE5F0"`,
			"exim-cutthrough", parser.Matched, "1xWp2M-0007Sm-0S", "quinn@cut.example", "cut.example", "sent", "2.0.0", 250, "2026-11-27T06:02:22Z"},
		{"exim local delivery takes the address in brackets", `2026-11-27 06:02:21 1xWp2L-0007RT-34 => sender <sender@exim-tx.lab.example> R=local_user T=local_file`,
			"exim-delivered", parser.Matched, "1xWp2L-0007RT-34", "sender@exim-tx.lab.example", "exim-tx.lab.example", "sent", "2.0.0", 0, "2026-11-27T06:02:21Z"},
		{"exim -N bypass is not a delivery", `2026-11-27 06:02:22 1xWp2M-0007Sc-0I *> nick@ok.example R=to_postfix_rx T=smtp_postfix_rx H=127.0.0.1 [127.0.0.1] C="delivery bypassed by -N option"`,
			"exim-bypassed", parser.Skipped, "", "", "", "", "", 0, ""},
		{"exim completed", `2026-11-27 06:02:51 1xWp2L-0007Qz-2u Completed`,
			"exim-completed", parser.Matched, "1xWp2L-0007Qz-2u", "", "", "removed", "", 0, "2026-11-27T06:02:51Z"},
		{"exim arrival is noise", `2026-11-27 06:02:21 1xWp2L-0007Qz-2u <= sender@exim-tx.lab.example U=root P=local S=381 id=1795759341900067473.8519@lab.example`,
			"", parser.Unmatched, "", "", "", "", "", 0, ""},
		{"exim 4.97+ message id", `1999-03-02 09:44:33 10HmaX-000000005vi-0000 == userx@test.ex R=r1 T=t1 defer (-44) H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<userx@test.ex>: 451 4.7.1 Try later`,
			"exim-deferred", parser.Matched, "10HmaX-000000005vi-0000", "userx@test.ex", "test.ex", "deferred", "4.7.1", 451, "1999-03-02T09:44:33Z"},
		{"exim with zone and pid", `2020-06-20 01:32:57 +0200 [123] 1jmFYj-0002Ip-Gw ** jack@test.corp R=dnslookup T=remote_smtp H=mx.test.corp [4.4.4.4] X=TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384:256 CV=yes DN="CN=mx": SMTP error from remote mail server after end of data: 550 5.7.1 Message rejected`,
			"exim-bounced", parser.Matched, "1jmFYj-0002Ip-Gw", "jack@test.corp", "test.corp", "bounced", "5.7.1", 550, "2020-06-19T23:32:57Z"},
		{"exim through syslog keeps its own stamp inside", `2026-11-27T06:06:51.102650+00:00 vm exim[11664]: 2026-11-27 06:06:51 1xWp9Y-00031z-0P => alice@ok.example R=to_postfix_rx T=smtp_postfix_rx H=127.0.0.1 [127.0.0.1] K C="250 2.0.0 Ok: 386 bytes queued as 2F8FBBE2F7"`,
			"exim-delivered", parser.Matched, "1xWp9Y-00031z-0P", "alice@ok.example", "ok.example", "sent", "2.0.0", 250, "2026-11-27T06:06:51.10265Z"},
		{"exim class mismatch falls back to the reply class", `2026-11-27 06:02:21 1xWp2L-0007Qz-2u == a@x.example R=r T=t defer (-44) H=mx.x.example [192.0.2.1]: SMTP error from remote mail server after RCPT TO:<a@x.example>: 451 5.7.1 odd`,
			"exim-deferred", parser.Matched, "1xWp2L-0007Qz-2u", "a@x.example", "x.example", "deferred", "4.0.0", 451, "2026-11-27T06:02:21Z"},
		{"exim IP in the host is not a code", `2026-11-27 06:02:21 1xWp2L-0007Qz-2u == a@x.example R=r T=t defer (-45) H=(relay.test.corp) [4.4.4.4]: SMTP error from remote mail server after MAIL FROM:<s@y>: 421 too busy`,
			"exim-deferred", parser.Matched, "1xWp2L-0007Qz-2u", "a@x.example", "x.example", "deferred", "4.0.0", 421, "2026-11-27T06:02:21Z"},

		// Hostile or broken input.
		{"IDN domain becomes an A-label", `Nov 27 06:02:21 mx postfix/smtp[1]: 6BD60BE58E: to=<anna@bücher.example>, relay=none, delay=0, delays=0/0/0/0, dsn=4.4.1, status=deferred (connect to x: Connection refused)`,
			"postfix-delivery", parser.Matched, "6BD60BE58E", "anna@bücher.example", "xn--bcher-kva.example", "deferred", "4.4.1", 0, "2026-11-27T06:02:21Z"},
		{"invalid UTF-8 and NUL in the domain", "Nov 27 06:02:21 mx postfix/smtp[1]: 6BD60BE58E: to=<a@b\xff\x00c.example>, relay=none, delay=0, delays=0/0/0/0, dsn=4.4.1, status=deferred (x)",
			"postfix-delivery", parser.Matched, "6BD60BE58E", "a@b\xff\x00c.example", "invalid", "deferred", "4.4.1", 0, "2026-11-27T06:02:21Z"},
		{"CRLF line end", "Nov 27 06:03:01 tx postfix-tx/qmgr[28363]: 6BD60BE58E: removed\r",
			"postfix-removed", parser.Matched, "6BD60BE58E", "", "", "removed", "", 0, "2026-11-27T06:03:01Z"},
		{"garbage timestamp", `Nov 99 06:02:21 mx postfix/smtp[1]: 6BD60BE58E: to=<a@b.example>, relay=none, delay=0, delays=0/0/0/0, dsn=4.4.1, status=deferred (x)`,
			"postfix-delivery", parser.BadTime, "", "", "", "", "", 0, ""},
		{"journalctl -o cat has no time at all", `6BD60BE58E: to=<a@b.example>, relay=none, delay=0, delays=0/0/0/0, dsn=4.4.1, status=deferred (x)`,
			"", parser.Unmatched, "", "", "", "", "", 0, ""},
		{"code with too many digits is not a code", `Nov 27 06:02:21 mx postfix/smtp[1]: 6BD60BE58E: to=<a@b.example>, relay=none, delay=0, delays=0/0/0/0, dsn=4.1234.1, status=deferred (x)`,
			"", parser.Unmatched, "", "", "", "", "", 0, ""},
		{"unknown but valid code is kept", `Nov 27 06:02:21 mx postfix/smtp[1]: 6BD60BE58E: to=<a@b.example>, relay=none, delay=0, delays=0/0/0/0, dsn=4.999.999, status=deferred (x)`,
			"postfix-delivery", parser.Matched, "6BD60BE58E", "a@b.example", "b.example", "deferred", "4.999.999", 0, "2026-11-27T06:02:21Z"},
	}
	rs := defaultRules(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parser.NewParser(rs, "test")
			p.SetReference(reference)
			var ev parser.Event
			res, rule := p.Parse([]byte(tt.line), &ev)
			gotRule := ""
			if rule != nil {
				gotRule = rule.Name
			}
			if res != tt.result || gotRule != tt.rule {
				t.Fatalf("want %s by %q, got %s by %q", tt.result, tt.rule, res, gotRule)
			}
			if res != parser.Matched {
				return
			}
			got := []string{string(ev.QueueID), string(ev.Recipient), string(ev.Domain), ev.Status.String(), ev.Code.String(), ev.Time.UTC().Format(time.RFC3339Nano)}
			want := []string{tt.qid, tt.rcpt, tt.domain, tt.status, tt.code, tt.time}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("want %q\n got %q", want, got)
			}
			if ev.Reply != tt.reply {
				t.Errorf("want reply %d, got %d", tt.reply, ev.Reply)
			}
			if ev.Source != "test" || ev.Rule != tt.rule {
				t.Errorf("want source test rule %s, got %s %s", tt.rule, ev.Source, ev.Rule)
			}
		})
	}
}

func TestTooLongLine(t *testing.T) {
	rs := defaultRules(t)
	p := parser.NewParser(rs, "test")
	line := []byte("Nov 27 06:03:01 tx postfix-tx/qmgr[28363]: 6BD60BE58E: removed" + strings.Repeat(" ", rs.Limits.MaxLineBytes))
	var ev parser.Event
	if res, _ := p.Parse(line, &ev); res != parser.TooLong {
		t.Errorf("want too_long, got %s", res)
	}
}

// TestParseAllocations checks the hot path: a noise line costs no allocation.
func TestParseAllocations(t *testing.T) {
	rs := defaultRules(t)
	p := parser.NewParser(rs, "test")
	p.SetReference(reference)
	noise := []byte("Nov 27 06:02:21 tx postfix-tx/qmgr[28363]: 6BD60BE58E: from=<sender@tx.lab.example>, size=303, nrcpt=1 (queue active)")
	var ev parser.Event
	if n := testing.AllocsPerRun(100, func() { p.Parse(noise, &ev) }); n != 0 {
		t.Errorf("want 0 allocations for a noise line, got %v", n)
	}
}

// TestInheritCode: a deferral Exim logs without trying (retry time not
// reached) says it has no code of its own; one with a reply does not.
func TestInheritCode(t *testing.T) {
	p := parser.NewParser(defaultRules(t), "test")
	p.SetReference(reference)
	for line, want := range map[string]bool{
		`2026-11-27 06:02:25 1xWp2M-0007SC-07 == judy@down.example R=to_down T=smtp_down defer (-54): retry time not reached for any host for 'down.example'`:                                                                                                 true,
		`2026-11-27 06:02:22 1xWp2M-0007SC-07 == judy@down.example R=dnslookup T=remote_smtp defer (110): Connection timed out`:                                                                                                                               false,
		`Nov 27 06:14:38 tx postfix-tx/error[21652]: 6D0F4BE5D4: to=<jim6@down.example>, relay=none, delay=10, delays=10/0.01/0/0.01, dsn=4.4.1, status=deferred (delivery temporarily suspended: connect to 127.0.0.1[127.0.0.1]:12529: Connection refused)`: false,
	} {
		var ev parser.Event
		if res, _ := p.Parse([]byte(line), &ev); res != parser.Matched || ev.InheritCode != want {
			t.Errorf("%.60s...: want matched with InheritCode %v, got %s %v", line, want, res, ev.InheritCode)
		}
	}
}
