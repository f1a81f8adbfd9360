package parser_test

import (
	"testing"

	"github.com/bouncewatch/bouncewatch/parser"
)

// TestReasonsExtraWordings: the shipped reasons also catch wordings of the
// same families that replies.tsv does not hold (receivers' published texts
// and MTA defaults, with addresses and IPs replaced by documentation ones),
// and a receiver's host name in Postfix's "host X said:" (spamexperts,
// barracudanetworks, antivirus...) does not decide the reason.
func TestReasonsExtraWordings(t *testing.T) {
	rs := defaultRules(t)
	for _, c := range []struct{ want, code, reply string }{
		{"rate_limited", "4.7.0", "421 4.7.0 This message is suspicious due to the very low reputation of the sending domain. To protect our users from spam, mail sent from your domain has been temporarily rate limited."},
		{"rate_limited", "4.2.1", "450 4.2.1 The user you are trying to contact is receiving mail too quickly. Please resend your message at a later time."},
		{"rate_limited", "4.5.3", "452 4.5.3 Domain policy size per transaction exceeded, please try this recipient in a separate transaction."},
		{"rate_limited", "5.4.5", "550 5.4.5 Daily sending quota exceeded."},
		{"rate_limited", "4.7.0", "421 4.7.0 [TS01] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes"},
		{"rate_limited", "4.7.0", "421 4.7.0 [GL01] Message from (192.0.2.1) temporarily deferred - 4.16.50. Please refer to https://postmaster.yahooinc.com/error-codes"},
		{"rate_limited", "4.7.0", "421 4.7.0 [TSS02] Messages from 198.51.100.1 temporarily deferred due to user complaints or because the IP/domain is in the unverified category."},
		{"rate_limited", "4.7.500", "451 4.7.500 Access denied, please try again later. For more information please go to http://go.microsoft.com/fwlink/?LinkId=526653. (AS843)"},
		{"rate_limited", "5.2.121", "550 5.2.121 Recipient's per hour message receive limit from specific sender exceeded."},
		{"rate_limited", "4.0.0", "421 Too many concurrent SMTP connections from this IP address; please try again later."},
		{"rate_limited", "4.0.0", "421 - [Too many sessions opened]"},
		{"rate_limited", "4.0.0", "421 mwinf5c05 ME Nombre de messages trop important. Too many messages. OFR004_107 [107]"},
		{"rate_limited", "4.3.2", "421 4.3.2 Connection rate limit exceeded."},
		{"rate_limited", "4.0.0", "451 Sender rate overlimit - 120.0 / 1h / per_rcpt"},
		{"rate_limited", "4.0.0", "452 Too many recipients received this hour"},
		{"rate_limited", "4.7.0", "421 4.7.0 Error: too many connections from 192.0.2.7"},
		{"blocked", "5.7.1", "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes"},
		{"blocked", "5.7.1", "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using b.barracudacentral.org; http://www.barracudanetworks.com/reputation/?pr=1&ip=192.0.2.1"},
		{"blocked", "5.7.1", "550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked using Spamhaus. To request removal from this list see https://www.spamhaus.org/query/ip/192.0.2.1 (AS3130)"},
		{"blocked", "5.7.606", "550 5.7.606 Access denied, banned sending IP [192.0.2.1]."},
		{"blocked", "5.7.750", "550 5.7.750 Service unavailable. Client blocked from sending from unregistered domains."},
		{"blocked", "5.7.513", "550 5.7.513 Service unavailable, Client host [192.0.2.1] blocked by contoso.com using Customer Block list (AS16012607)"},
		{"blocked", "5.0.0", "550 DY-001 (BAY0-MC1-F18) Unfortunately, messages from 192.0.2.2 weren't sent. Please contact your Internet service provider. You can tell them that Hotmail does not relay dynamically-assigned IP ranges."},
		{"blocked", "5.0.0", "554-gmx.net (mxgmx104) Nemesis ESMTP Service not available 554-No SMTP service 554-IP address is block listed. 554 For explanation visit https://postmaster.gmx.net/en/case?c=r0201&i=ip&v=198.51.100.42"},
		{"blocked", "5.0.0", "550 mwinf5c10 ME Adresse IP source bloquee pour incident de spam. Client host blocked for spamming issues. OFR006_102 Ref http://csi.cloudmark.com"},
		{"blocked", "5.0.0", "554 imta10.westchester.pa.mail.comcast.net comcast 192.0.2.1 Comcast block for spam. Please see http://postmaster.comcast.net/smtp-error-codes.php#BL000001"},
		{"blocked", "5.0.0", "550 5.7.1 ES000010 You have been blocked from sending to the Comcast network because we have determined that you are sending email from dynamic/residential IP space"},
		{"blocked", "5.7.1", "550 5.7.1 Mail from 192.0.2.1 refused - see http://dsbl.example/"},
		{"blocked", "5.7.1", "554 5.7.1 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.1"},
		{"auth_failed", "5.7.26", "550 5.7.26 This mail has been blocked because the sender is unauthenticated."},
		{"auth_failed", "5.7.1", "550 5.7.1 Unauthenticated email from example.com is not accepted due to domain's DMARC policy."},
		{"auth_failed", "5.7.57", "530 5.7.57 Client not authenticated to send mail."},
		{"auth_failed", "5.7.8", "535 5.7.8 Error: authentication failed: authentication failure"},
		{"auth_failed", "5.7.3", "535 5.7.3 Authentication unsuccessful"},
		{"auth_failed", "5.0.0", "SASL authentication failed; server smtp.example.com[192.0.2.5] said: 535 5.7.8 Error: authentication failed"},
		{"auth_failed", "4.0.0", "421 - [Reverse DNS failure : Try again later]"},
		{"auth_failed", "5.0.0", "550 <example@example.com>: Reject due to SPF policy. The originating IP of the message is not permitted by the domain owner"},
		{"auth_failed", "5.7.23", "550 5.7.23 The message was rejected because of Sender Policy Framework violation"},
		{"auth_failed", "5.7.506", "550 5.7.506 Access Denied, Bad HELO."},
		{"auth_failed", "5.7.1", "550 5.7.1 Your message was rejected due to example.com's DMARC policy."},
		{"auth_failed", "4.1.8", "451 4.1.8 Domain of sender address x@example.invalid does not resolve"},
		{"auth_failed", "5.7.60", "550 5.7.60 SMTP; Client does not have permissions to send as this sender"},
		{"mailbox_full", "5.2.2", "552 5.2.2 <x@icloud.com>: user is over quota"},
		{"mailbox_full", "5.2.2", "552 5.2.2 Mailbox size limit exceeded"},
		{"mailbox_full", "4.2.2", "452 4.2.2 Boite du destinataire pleine. Recipient overquota. OFR_417 [417]"},
		{"mailbox_full", "5.2.2", "The users mailfolder is over the allowed quota (size). (#5.2.2)"},
		{"mailbox_full", "5.2.2", "maildir delivery failed: error writing message: Disk quota exceeded"},
		{"mailbox_full", "5.2.2", "cannot update mailbox /var/mail/bob for user bob. error writing message: File too large"},
		{"user_unknown", "5.1.1", "550 5.1.1 <x@icloud.com>: user does not exist"},
		{"user_unknown", "5.2.1", "550 5.2.1 The email account that you tried to reach is disabled."},
		{"user_unknown", "5.0.0", "554 30 Sorry, your message to x@yahoo.com cannot be delivered. This account has been disabled or discontinued [#102]."},
		{"user_unknown", "5.1.1", "sorry, no mailbox here by that name. (#5.1.1)"},
		{"user_unknown", "5.1.1", "550 5.1.1 x@comcast.net Not our Customer"},
		{"user_unknown", "5.0.0", "552 1 Requested mail action aborted, mailbox not found"},
		{"user_unknown", "5.1.1", "550 5.1.1 <x@example.com>: Recipient address rejected: User unknown in relay recipient table"},
		{"user_unknown", "5.0.0", "550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550"},
		{"host_unknown", "5.4.4", "554 5.4.4 SMTPSEND.DNS.NonExistentDomain; nonexistent domain"},
		{"host_unknown", "5.1.2", "Sorry, I couldn't find any host named example.invalid. (#5.1.2)"},
		{"host_unknown", "5.1.2", "550 5.1.2 x@example.invalid... Host unknown (Name server: example.invalid: host not found)"},
		{"host_unknown", "4.4.3", "Host or domain name not found. Name service error for name=example.com type=MX: Host found but no data record of requested type"},
		{"host_unknown", "5.1.10", "an MX or SRV record indicated no SMTP service"},
		{"policy", "5.7.1", "554 5.7.1 Message rejected under suspicion of SPAM; https://ya.cc/1IrBc"},
		{"policy", "5.7.1", "550 5.7.1 Message contains a virus"},
		{"policy", "5.3.4", "552 5.3.4 Message size exceeds maximum permitted"},
		{"policy", "5.7.0", "530 5.7.0 Must issue a STARTTLS command first"},
		{"policy", "5.7.1", "550 5.7.1 Unable to relay"},
		{"policy", "5.7.64", "550 5.7.64 TenantAttribution; Relay Access Denied"},
		{"policy", "5.7.1", "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"},
		{"policy", "5.7.520", "550 5.7.520 Access denied, Your organization does not allow external forwarding."},
		{"policy", "5.0.0", "TLS is required, but was not offered by host mx.example.com[192.0.2.9]"},
		{"policy", "5.7.1", "550 5.7.1 Messages missing a valid address in From: header, or having no From: header, are not accepted."},
		{"policy", "5.7.1", "554 5.7.1 This message has been blocked because it contains a banned attachment"},
		{"system", "4.3.0", "451 4.3.0 <x@example.com> Internal error occurred. Refer to server log for more information."},
		{"system", "4.4.6", "mail for example.com loops back to myself"},
		{"system", "5.4.14", "554 5.4.14 Hop count exceeded - possible mail loop"},
		{"system", "5.6.0", "554 5.6.0 Message exceeded 50 hops, this may indicate a mail loop"},
		{"system", "4.3.0", "451 4.3.0 Error: queue file write error"},
		{"not_accepting", "4.7.1", "451 4.7.1 Sorry, the service is currently unavailable. Please come back later."},
		{"not_accepting", "4.3.2", "421 4.3.2 Service currently unavailable"},
		{"not_accepting", "4.0.0", "421 Account service is temporarily unavailable"},
		{"network", "4.4.2", "conversation with mx.example.com[192.0.2.3] timed out while receiving the initial server greeting"},
		{"network", "4.4.0", "451 4.4.0 Primary target IP address responded with: \"421 4.4.2 Connection dropped due to SocketError.\" Attempted failover to alternate host, but that did not succeed."},
		{"network", "4.4.1", "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)"},
		{"network", "4.7.5", "Server certificate not trusted"},
		{"network", "4.4.2", "451 4.4.2 Timeout - closing connection."},
		{"greylisted", "4.7.1", "450 4.7.1 <x@example.com>: Recipient address rejected: Greylisting in action, please come back later"},
		{"greylisted", "4.2.0", "451 4.2.0 Deferred due to greylisting"},
		{"expired", "5.4.7", "550 4.4.7 QUEUE.Expired; message expired"},
		{"policy", "5.7.512", "550 5.7.512 Access denied, message must be RFC 5322 section 3.6.2 compliant and include a From address."},
		{"policy", "5.7.510", "550 5.7.510 Access denied, example.com does not accept email over IPv6."},
		{"blocked", "5.7.511", "550 5.7.511 Access denied, banned sender."},
		{"blocked", "5.7.1", "550 5.7.1 <bob@example.com>... Access denied"},
		{"system", "4.3.0", "Command died with status 127: \"/usr/local/bin/filter\". Command output: sh: filter: not found"},
		{"user_unknown", "5.1.1", "host mx.spamexperts.com[192.0.2.4] said: 550 5.1.1 <x@example.com>: Recipient address rejected: User unknown (in reply to RCPT TO command)"},
		{"user_unknown", "5.0.0", "host d12345.a.ess.barracudanetworks.com[192.0.2.4] said: 550 No such user (x@example.com) (in reply to RCPT TO command)"},
		{"network", "4.4.2", "lost connection with antivirus.example.com[192.0.2.5] while sending end of data -- message may be sent more than once"},
		{"policy", "5.7.1", "550 5.7.1 Message classified as spam."},
		{"policy", "5.7.1", "554 5.7.1 Rejected: virus found"},
	} {
		code, ok := parser.ParseCode(c.code)
		if !ok {
			t.Fatalf("bad code %q", c.code)
		}
		if got := rs.ReasonOf(code, []byte(c.reply)).String(); got != c.want {
			t.Errorf("%s %q: got %s, want %s", c.code, c.reply, got, c.want)
		}
	}
}
