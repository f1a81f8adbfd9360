package tracker

import (
	"fmt"
	"time"

	"github.com/bouncewatch/bouncewatch/parser"
)

// State is the content of a tracker in a form that survives a restart: the
// daemon writes it into its checkpoint and reads it back on start.
type State struct {
	Now      time.Time      `json:"now"`
	Messages []MessageState `json:"messages"` // least recently heard of first
}

// MessageState is one message with recipients pending.
type MessageState struct {
	ID         string           `json:"id"`
	Last       int64            `json:"last_unix_nano"`
	Recipients []RecipientState `json:"recipients"`
}

// RecipientState is one pending recipient.
type RecipientState struct {
	Recipient string `json:"recipient"`
	Domain    string `json:"domain"`
	First     int64  `json:"first_unix_nano"`
	Code      string `json:"code"`
	Attempts  uint32 `json:"attempts"`
}

// Export returns the tracker's content.
func (t *Tracker) Export() State {
	s := State{Now: t.now, Messages: make([]MessageState, 0, len(t.msgs))}
	for m := t.oldest; m != nil; m = m.next {
		ms := MessageState{ID: m.id, Last: m.last, Recipients: make([]RecipientState, len(m.rcpts))}
		for i, p := range m.rcpts {
			ms.Recipients[i] = RecipientState{Recipient: p.rcpt, Domain: p.domain, First: p.first, Code: p.code.String(), Attempts: p.attempts}
		}
		s.Messages = append(s.Messages, ms)
	}
	return s
}

// Import replaces the tracker's content with s. Entries past the cap are
// dropped, oldest first, without being reported.
func (t *Tracker) Import(s State) error {
	msgs := make(map[string]*message, len(s.Messages))
	var oldest, newest *message
	entries := 0
	for _, ms := range s.Messages {
		if ms.ID == "" || len(ms.Recipients) == 0 {
			return fmt.Errorf("tracker state: message %q without id or recipients", ms.ID)
		}
		if _, dup := msgs[ms.ID]; dup {
			return fmt.Errorf("tracker state: message %q twice", ms.ID)
		}
		m := &message{id: ms.ID, last: ms.Last, rcpts: make([]pending, len(ms.Recipients))}
		for i, r := range ms.Recipients {
			c, ok := parser.ParseCode(r.Code)
			if !ok || r.Recipient == "" {
				return fmt.Errorf("tracker state: message %q: bad recipient %q or code %q", ms.ID, r.Recipient, r.Code)
			}
			m.rcpts[i] = pending{rcpt: r.Recipient, domain: shareSuffix(r.Recipient, []byte(r.Domain)), first: r.First, code: c, attempts: r.Attempts}
		}
		msgs[ms.ID] = m
		m.prev = newest
		if newest != nil {
			newest.next = m
		} else {
			oldest = m
		}
		newest = m
		entries += len(m.rcpts)
	}
	t.msgs, t.oldest, t.newest, t.entries, t.now = msgs, oldest, newest, entries, s.Now
	for t.entries > t.max && t.oldest != nil {
		m := t.oldest
		t.entries -= len(m.rcpts)
		t.unlink(m)
		delete(t.msgs, m.id)
	}
	return nil
}
