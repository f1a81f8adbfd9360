//go:build e2e

// Command ratemilter is the rate limit of e2e/outage.sh's receiver: a milter
// for the receiving Postfix that answers RCPT TO for one domain with one fixed
// reply while a flag file exists, and lets everything else through.
//
//	ratemilter -listen 127.0.0.1:12729 -domain ratelimit.example \
//	    -reply '452 4.3.2 Connection rate limit exceeded' -while FILE
//
// Why a milter: Postfix sends a milter's reply to the client as it is, while
// a reply from its own restrictions (check_recipient_access, a policy
// service) always gets the prefix "<address>: Recipient address rejected: ".
// The scenario wants the receiver to say exactly "452 4.3.2 Connection rate
// limit exceeded", as rate-limiting receivers do.
//
// It speaks the Sendmail milter protocol (versions 2 to 6) with the standard
// library only, asks Postfix for no action (it changes nothing in a message),
// and logs each recipient it sees and what it answered on standard output.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strings"
)

// The milter protocol's commands (MTA to milter) and replies (milter to MTA)
// that ratemilter uses (libmilter's mfdef.h).
const (
	cmdOptneg  = 'O'
	cmdMacro   = 'D'
	cmdAbort   = 'A'
	cmdQuit    = 'Q'
	cmdQuitNC  = 'K' // quit, a new SMTP connection follows on this one
	cmdRcpt    = 'R'
	replyCont  = 'c'
	replyCode  = 'y' // a custom SMTP reply
	maxPacket  = 1 << 20
	maxVersion = 6
)

type milter struct {
	domain string // lower case
	reply  string // "452 4.3.2 ..."
	while  string // the flag file
	log    *log.Logger
}

func main() {
	listen := flag.String("listen", "127.0.0.1:12729", "address to listen on")
	domain := flag.String("domain", "", "the recipient domain to answer with -reply")
	reply := flag.String("reply", "452 4.3.2 Connection rate limit exceeded", "the SMTP reply for its recipients (4xx or 5xx)")
	while := flag.String("while", "", "answer with -reply only while this file exists")
	flag.Parse()
	if *domain == "" || *while == "" || len(*reply) < 5 || (*reply)[0] != '4' && (*reply)[0] != '5' || (*reply)[3] != ' ' || strings.Contains(*reply, "%") {
		fmt.Fprintln(os.Stderr, "usage: ratemilter -listen ADDR -domain DOMAIN -reply '4xx x.y.z text' -while FILE")
		os.Exit(2)
	}
	m := &milter{domain: strings.ToLower(*domain), reply: *reply, while: *while, log: log.New(os.Stdout, "", log.LstdFlags|log.Lmicroseconds)}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ratemilter:", err)
		os.Exit(1)
	}
	m.log.Printf("listening on %s: RCPT TO for %s gets %q while %s exists", ln.Addr(), m.domain, m.reply, m.while)
	for {
		c, err := ln.Accept()
		if err != nil {
			m.log.Printf("accept: %v", err)
			os.Exit(1)
		}
		go m.serve(c)
	}
}

// serve answers one MTA connection until it quits.
func (m *milter) serve(c net.Conn) {
	defer c.Close()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	for {
		cmd, data, err := readPacket(r)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				m.log.Printf("read: %v", err)
			}
			return
		}
		switch cmd {
		case cmdOptneg:
			// version, actions, protocol steps: the MTA's version or 6, no
			// action, every step (each answered)
			if len(data) < 12 {
				m.log.Printf("short option negotiation (%d bytes)", len(data))
				return
			}
			out := make([]byte, 12)
			binary.BigEndian.PutUint32(out, min(binary.BigEndian.Uint32(data), maxVersion))
			err = writePacket(w, cmdOptneg, out)
		case cmdMacro, cmdAbort, cmdQuitNC: // no reply
		case cmdQuit:
			return
		case cmdRcpt:
			err = m.rcpt(w, data)
		default: // connect, helo, mail, data, header, end of headers, body, end of message, unknown
			err = writePacket(w, replyCont, nil)
		}
		if err != nil {
			m.log.Printf("write: %v", err)
			return
		}
	}
}

// rcpt answers RCPT TO: data is the address ("<a@b>"), then ESMTP
// arguments, each NUL-terminated.
func (m *milter) rcpt(w *bufio.Writer, data []byte) error {
	addr, _, _ := strings.Cut(string(data), "\x00")
	a := strings.ToLower(strings.Trim(addr, "<>"))
	if i := strings.LastIndexByte(a, '@'); i >= 0 && a[i+1:] == m.domain {
		if _, err := os.Stat(m.while); err == nil {
			m.log.Printf("RCPT TO:%s -> %s", addr, m.reply)
			return writePacket(w, replyCode, append([]byte(m.reply), 0))
		}
		m.log.Printf("RCPT TO:%s -> continue (%s is gone)", addr, m.while)
	}
	return writePacket(w, replyCont, nil)
}

// readPacket reads one packet: a 4-byte length (of what follows), the
// command, its data.
func readPacket(r *bufio.Reader) (byte, []byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return 0, nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size == 0 || size > maxPacket {
		return 0, nil, fmt.Errorf("bad packet length %d", size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, nil, err
	}
	return b[0], b[1:], nil
}

func writePacket(w *bufio.Writer, cmd byte, data []byte) error {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)+1))
	w.Write(n[:])
	w.WriteByte(cmd)
	w.Write(data)
	return w.Flush()
}
