// Package jsonw appends JSON values exactly as encoding/json writes them,
// without reflection: the daemon's checkpoint writes thousands of counter
// series every 10 s, and encoding/json spent most of a checkpoint's CPU
// walking their structs.
package jsonw

import (
	"encoding/json"
	"math"
	"strconv"
)

// String appends s as a JSON string, escaped as encoding/json escapes it
// (HTML characters included).
func String(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			// Rare in label values: encoding/json's own escaping.
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Array appends a JSON array of xs, each element by add; nil is null.
func Array[T any](b []byte, xs []T, add func([]byte, T) []byte) []byte {
	if xs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = add(b, x)
	}
	return append(b, ']')
}

// Strings appends a JSON array of strings; nil is null.
func Strings(b []byte, ss []string) []byte { return Array(b, ss, String) }

// Uints appends a JSON array of numbers; nil is null.
func Uints(b []byte, us []uint64) []byte { return Array(b, us, appendUint) }

func appendUint(b []byte, u uint64) []byte { return strconv.AppendUint(b, u, 10) }

// Float appends f as encoding/json writes a float64. Like encoding/json, it
// refuses NaN and the infinities, which JSON cannot hold.
func Float(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, &json.UnsupportedValueError{Str: strconv.FormatFloat(f, 'g', -1, 64)}
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 is written 1e-7.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}
