package parser_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/bouncewatch/bouncewatch/parser"
)

func TestZZDump(t *testing.T) {
	files, _ := filepath.Glob("testdata/rules/*.yaml")
	for _, f := range files {
		rs, err := parser.Load(f)
		if err != nil {
			fmt.Printf("%s\n    ERR %q\n", f, err.Error())
		} else {
			fmt.Printf("%s\n    OK %d rules %v %+v %q\n", f, len(rs.Rules), rs.Location, rs.Limits, rs.AlwaysDomains)
		}
	}
}
