package metrics

import "github.com/bouncewatch/bouncewatch/parser"

// The event counters, kept in slices indexed by the label indexes rather
// than in maps: counting an event is a few slice indexes, not five hashes.
// A series exists once its counter is above zero (counters only grow, and
// a checkpoint keeps only the ones that exist).

const numStatus = parser.StatusExpired + 1

// grow returns s long enough to index i.
func grow[T any](s []T, i int) []T {
	if i < len(s) {
		return s
	}
	return append(s, make([]T, i+1-len(s))...)
}

// byCode counts by status and code label index.
type byCode [numStatus][]uint64

func (c *byCode) add(st parser.Status, code uint16, n uint64) {
	c[st] = grow(c[st], int(code))
	c[st][code] += n
}

func (c *byCode) each(yield func(eventKey, uint64)) {
	for st := range c {
		for code, v := range c[st] {
			if v > 0 {
				yield(eventKey{parser.Status(st), uint16(code)}, v)
			}
		}
	}
}

// byHour counts by status, code label index and hour.
type byHour [numStatus][]*[24]uint64

func (c *byHour) add(st parser.Status, code uint16, hour uint8, n uint64) {
	c[st] = grow(c[st], int(code))
	if c[st][code] == nil {
		c[st][code] = new([24]uint64)
	}
	c[st][code][hour] += n
}

func (c *byHour) each(yield func(hourKey, uint64)) {
	for st := range c {
		for code, hours := range c[st] {
			if hours == nil {
				continue
			}
			for h, v := range hours {
				if v > 0 {
					yield(hourKey{parser.Status(st), uint16(code), uint8(h)}, v)
				}
			}
		}
	}
}

// byReason counts by status and reason.
type byReason [numStatus][]uint64

func (c *byReason) add(st parser.Status, r parser.Reason, n uint64) {
	c[st] = grow(c[st], int(r))
	c[st][r] += n
}

func (c *byReason) each(yield func(reasonKey, uint64)) {
	for st := range c {
		for r, v := range c[st] {
			if v > 0 {
				yield(reasonKey{parser.Status(st), parser.Reason(r)}, v)
			}
		}
	}
}

// perDomain counts, for each domain label index, by a small key (status and
// code, or status and reason): a domain has a handful, found by a scan.
type perDomain[K comparable] [][]domainCount[K]

type domainCount[K comparable] struct {
	k K
	n uint64
}

func (c *perDomain[K]) add(domain uint32, k K, n uint64) {
	*c = grow(*c, int(domain))
	row := (*c)[domain]
	for i := range row {
		if row[i].k == k {
			row[i].n += n
			return
		}
	}
	if row == nil {
		row = make([]domainCount[K], 0, 4) // most domains see a few keys
	}
	(*c)[domain] = append(row, domainCount[K]{k, n})
}

func (c *perDomain[K]) each(yield func(uint32, K, uint64)) {
	for d, row := range *c {
		for _, e := range row {
			if e.n > 0 {
				yield(uint32(d), e.k, e.n)
			}
		}
	}
}

type statusCode struct {
	status parser.Status
	code   uint16
}

type statusReason struct {
	status parser.Status
	reason parser.Reason
}
