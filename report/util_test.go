package report_test

import (
	"fmt"
	"strconv"
)

func fmtSscan(s string, v *float64) (int, error) { return fmt.Sscan(s, v) }

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }
