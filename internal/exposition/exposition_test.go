package exposition

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	const text = `# TYPE h histogram
h_bucket{code="4.3.2",le="60"} 1
h_bucket{code="4.3.2",le="300"} 3
h_bucket{code="4.3.2",le="+Inf"} 4
h_sum{code="4.3.2"} 700
h_count{code="4.3.2"} 4
# TYPE c_total counter
c_total{b="2",a="1"} 5
# TYPE g gauge
g 7
`
	s, err := Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := Samples{
		`h_bucket{code="4.3.2",le="60"}`: 1, `h_bucket{code="4.3.2",le="300"}`: 3, `h_bucket{code="4.3.2",le="+Inf"}`: 4,
		`h_sum{code="4.3.2"}`: 700, `h_count{code="4.3.2"}`: 4, `c_total{a="1",b="2"}`: 5, `g`: 7,
	}
	if d := Diff(want, s, nil); len(d) > 0 || len(s) != len(want) {
		t.Errorf("got %v:\n%s", s, strings.Join(d, "\n"))
	}
	if n := len(s.Counters()); n != 6 {
		t.Errorf("counters: want 6 series, got %d", n)
	}
	if v := s.Sum("h_bucket", `code="4.3.2"`); v != 8 {
		t.Errorf("sum: want 8, got %v", v)
	}
	if d := WentDown(Samples{"c_total": 5}, Samples{"c_total": 4}); len(d) != 1 {
		t.Errorf("WentDown: %v", d)
	}
}
