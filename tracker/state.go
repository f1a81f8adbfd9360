package tracker

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/bouncewatch/bouncewatch/parser"
)

// The checkpoint encoding: a version byte, the newest log time, the table of
// group names, the table of reason names, then the messages least recently
// heard of first, each with its recipients, then the latest code (and its
// reason) per domain. Numbers are varints, hashes 8 bytes: about 25 bytes
// per pending recipient, written and read as a stream. Version 1 had no
// reasons; it is still read (every reason then is undefined).
const encodingVersion = 2

// Encode writes the tracker's content to w. name gives the name of a group
// (the metrics' domain label), which Decode turns back into a group.
func (t *Tracker) Encode(w *bufio.Writer, name func(Group) string) error {
	e := encoder{w: w}
	e.byte(encodingVersion)
	e.varint(t.now)
	index := map[Group]uint64{} // group -> position in the table, from 1
	var names []string
	for g := range t.groups {
		if t.groups[g].head != 0 {
			names = append(names, name(Group(g)))
			index[Group(g)] = uint64(len(names))
		}
	}
	e.strings(names)
	// Reasons by name: an index means nothing to a process with other rules.
	reasons := map[parser.Reason]uint64{}
	var reasonNames []string
	reasonIndex := func(r parser.Reason) uint64 {
		i, ok := reasons[r]
		if !ok {
			reasonNames = append(reasonNames, r.String())
			i = uint64(len(reasonNames) - 1)
			reasons[r] = i
		}
		return i
	}
	t.eachMsg(func(_ uint32, m *message) {
		for ri := m.head; ri != 0; ri = t.rcpts.at(ri).mnext {
			reasonIndex(t.rcpts.at(ri).reason)
		}
	})
	for _, m := range []map[uint64]codeReason{t.codes.old, t.codes.cur} {
		for _, c := range m {
			reasonIndex(c.reason)
		}
	}
	e.strings(reasonNames)
	e.uvarint(uint64(t.nm))
	t.eachMsg(func(_ uint32, m *message) {
		e.u64(m.key)
		e.varint(m.last)
		e.uvarint(uint64(m.n))
		// Tail first: Decode adds each at the head, so the order is kept.
		tail := m.head
		for next := m.head; next != 0; next = t.rcpts.at(next).mnext {
			tail = next
		}
		for ri := tail; ri != 0; ri = t.rcpts.at(ri).mprev {
			r := t.rcpts.at(ri)
			e.u64(r.key)
			e.varint(m.last - r.first)
			e.uvarint(uint64(r.code))
			e.uvarint(uint64(r.attempts))
			e.uvarint(index[r.group]) // 0: NoGroup
			e.uvarint(reasons[r.reason])
		}
	})
	// The latest code per domain, older generation first.
	e.uvarint(uint64(len(t.codes.old) + len(t.codes.cur)))
	for _, m := range []map[uint64]codeReason{t.codes.old, t.codes.cur} {
		for k, c := range m {
			e.u64(k)
			e.uvarint(uint64(c.code))
			e.uvarint(reasons[c.reason])
		}
	}
	return e.err
}

// Decode replaces the tracker's content with what Encode wrote, reporting
// every recipient read to sink as pending. group turns a group's name back
// into a group. Recipients past the cap are abandoned, oldest first.
func (t *Tracker) Decode(r *bufio.Reader, group func(name string) Group, sink Sink) error {
	t.reset()
	d := decoder{r: r}
	v := d.byte()
	if d.err == nil && v != encodingVersion && v != 1 {
		return fmt.Errorf("tracker state: encoding version %d, want %d", v, encodingVersion)
	}
	t.now = d.varint()
	groupNames := d.strings(1 << 20)
	groups := make([]Group, len(groupNames))
	for i, n := range groupNames {
		groups[i] = group(n)
	}
	var reasons []parser.Reason
	if v >= 2 {
		for _, n := range d.strings(1 << 10) {
			r, _ := parser.ReasonNamed(n) // undefined when there is no room for a name
			reasons = append(reasons, r)
		}
	}
	reason := func() parser.Reason {
		if v < 2 {
			return parser.ReasonUndefined
		}
		i := d.uvarint()
		if i >= uint64(len(reasons)) {
			if d.err == nil {
				d.err = errors.New("a reason out of range")
			}
			return parser.ReasonUndefined
		}
		return reasons[i]
	}
	nm := d.count(1 << 40)
	for range nm {
		if d.err != nil {
			break
		}
		mk, last, n := d.u64(), d.varint(), d.count(1<<32)
		if d.err != nil {
			break
		}
		if n == 0 || t.findMsg(mk) != 0 {
			return fmt.Errorf("tracker state: message %016x is empty or twice", mk)
		}
		mi := t.newMsg(mk)
		t.msgs.at(mi).last = last
		for range n {
			rk, age, code, attempts, gi := d.u64(), d.varint(), d.uvarint(), d.uvarint(), d.uvarint()
			why := reason()
			if d.err != nil {
				break
			}
			c := parser.Code(code)
			if cc, ok := parser.NewCode(c.Class(), c.Subject(), c.Detail()); !ok || cc != c || gi > uint64(len(groups)) || attempts > 1<<32-1 {
				return fmt.Errorf("tracker state: message %016x: bad recipient record", mk)
			}
			if t.findRcpt(mi, rk) != 0 {
				return fmt.Errorf("tracker state: message %016x: recipient %016x twice", mk, rk)
			}
			g := NoGroup
			if gi > 0 {
				g = groups[gi-1]
			}
			t.addRcpt(mi, rk, g, last-age, codeReason{c, why}, uint32(attempts), discardSink{})
		}
	}
	for range d.count(2 * codeMemoryGen) {
		k, c := d.u64(), parser.Code(d.uvarint())
		why := reason()
		if _, ok := parser.NewCode(c.Class(), c.Subject(), c.Detail()); d.err == nil && !ok {
			return errors.New("tracker state: a bad code in the code memory")
		}
		t.codes.put(k, codeReason{c, why})
	}
	if d.err != nil {
		return fmt.Errorf("tracker state: %w", d.err)
	}
	// Messages come back in the order of their latest news, which is not the
	// order of first deferral that the groups keep.
	t.sortGroups()
	for mi := t.oldest; mi != 0; mi = t.msgs.at(mi).newer {
		for ri := t.msgs.at(mi).head; ri != 0; ri = t.rcpts.at(ri).mnext {
			r := t.rcpts.at(ri)
			sink.Pending(r.code, r.group, 1, t.groupOldest(r.group))
		}
	}
	for t.nr > t.max && t.oldest != 0 {
		t.dropMsg(t.oldest, Abandoned, AbandonCap, t.now, sink)
	}
	return nil
}

// sortGroups puts the recipients of every group in order of first deferral.
func (t *Tracker) sortGroups() {
	var ids []uint32
	for g := range t.groups {
		ids = ids[:0]
		for ri := t.groups[g].head; ri != 0; ri = t.rcpts.at(ri).gnext {
			ids = append(ids, ri)
		}
		slices.SortStableFunc(ids, func(a, b uint32) int { return cmp.Compare(t.rcpts.at(a).first, t.rcpts.at(b).first) })
		var prev uint32
		for _, ri := range ids {
			r := t.rcpts.at(ri)
			r.gprev = prev
			if prev != 0 {
				t.rcpts.at(prev).gnext = ri
			}
			prev = ri
		}
		if prev != 0 {
			t.rcpts.at(prev).gnext = 0
		}
		t.groups[g] = groupList{}
		if len(ids) > 0 {
			t.groups[g] = groupList{head: ids[0], tail: ids[len(ids)-1]}
		}
	}
}

type encoder struct {
	w   *bufio.Writer
	buf [binary.MaxVarintLen64]byte
	err error
}

func (e *encoder) put(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}
func (e *encoder) byte(b byte)      { e.put([]byte{b}) }
func (e *encoder) uvarint(v uint64) { e.put(binary.AppendUvarint(e.buf[:0], v)) }
func (e *encoder) varint(v int64)   { e.put(binary.AppendVarint(e.buf[:0], v)) }
func (e *encoder) u64(v uint64)     { e.put(binary.LittleEndian.AppendUint64(e.buf[:0], v)) }

// decoder reads what encoder wrote; after the first error every read gives
// zero and the error stays.
type decoder struct {
	r   *bufio.Reader
	err error
}

func (d *decoder) byte() (b byte) {
	if d.err == nil {
		b, d.err = d.r.ReadByte()
	}
	return b
}

func (d *decoder) uvarint() (v uint64) {
	if d.err == nil {
		v, d.err = binary.ReadUvarint(d.r)
	}
	return v
}

func (d *decoder) varint() (v int64) {
	if d.err == nil {
		v, d.err = binary.ReadVarint(d.r)
	}
	return v
}

func (d *decoder) u64() uint64 {
	var b [8]byte
	if d.err == nil {
		_, d.err = io.ReadFull(d.r, b[:])
	}
	return binary.LittleEndian.Uint64(b[:])
}

// count reads a length and refuses one above limit, so that a damaged file
// cannot make Decode allocate without bound.
func (d *decoder) count(limit uint64) uint64 {
	n := d.uvarint()
	if d.err == nil && n > limit {
		d.err = errors.New("a count out of range")
	}
	if d.err != nil {
		return 0
	}
	return n
}

// strings writes a table of names.
func (e *encoder) strings(names []string) {
	e.uvarint(uint64(len(names)))
	for _, n := range names {
		e.uvarint(uint64(len(n)))
		if e.err == nil {
			_, e.err = e.w.WriteString(n)
		}
	}
}

// strings reads a table of at most limit names of up to 64 KiB each.
func (d *decoder) strings(limit uint64) []string {
	names := make([]string, d.count(limit))
	for i := range names {
		b := make([]byte, d.count(1<<16))
		if d.err == nil {
			_, d.err = io.ReadFull(d.r, b)
		}
		names[i] = string(b)
	}
	return names
}
