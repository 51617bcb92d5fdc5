package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// ErrMalformed is wrapped by every parse error.
var ErrMalformed = errors.New("malformed cgroup file")

// Max is how a limit of "max" (no limit) is reported.
const Max = math.MaxUint64

// ParseFlatKeyed parses a flat keyed file (cpu.stat, memory.stat,
// memory.events): one "key value" pair per line. Blank lines are skipped;
// a repeated key is an error, since the kernel never writes one and a
// silent last-wins would hide a misread file.
func ParseFlatKeyed(data []byte) (map[string]uint64, error) {
	out := map[string]uint64{}
	for n, line := range lines(data) {
		f := bytes.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("%w: line %d: want \"key value\", got %q", ErrMalformed, n+1, truncate(line))
		}
		k := string(f[0])
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%w: line %d: key %q repeated", ErrMalformed, n+1, truncate(f[0]))
		}
		v, err := strconv.ParseUint(string(f[1]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: value of %q: %q is not a uint64", ErrMalformed, n+1, truncate(f[0]), truncate(f[1]))
		}
		out[k] = v
	}
	return out, nil
}

// ParseValue parses a single-value file (memory.current, memory.max,
// pids.max): a decimal number or "max", which gives Max.
func ParseValue(data []byte) (uint64, error) {
	s := bytes.TrimSpace(data)
	if string(s) == "max" {
		return Max, nil
	}
	v, err := strconv.ParseUint(string(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is neither a uint64 nor \"max\"", ErrMalformed, truncate(s))
	}
	return v, nil
}

// IOTotals is io.stat summed over every device.
type IOTotals struct {
	ReadBytes, WriteBytes, ReadOps, WriteOps uint64
}

// ParseIOStat parses io.stat, a nested keyed file:
//
//	8:0 rbytes=90112 wbytes=0 rios=5 wios=0 dbytes=0 dios=0
//
// and sums the read and write figures over the devices. Other keys
// (discards, and any the kernel adds later) are ignored; sums saturate at
// math.MaxUint64 rather than wrap.
func ParseIOStat(data []byte) (IOTotals, error) {
	var t IOTotals
	for n, line := range lines(data) {
		f := bytes.Fields(line)
		if len(f) == 0 {
			continue
		}
		if !isDevice(f[0]) {
			return IOTotals{}, fmt.Errorf("%w: line %d: %q is not a MAJ:MIN device", ErrMalformed, n+1, truncate(f[0]))
		}
		for _, kv := range f[1:] {
			k, v, ok := bytes.Cut(kv, []byte("="))
			if !ok || len(k) == 0 {
				return IOTotals{}, fmt.Errorf("%w: line %d: %q is not key=value", ErrMalformed, n+1, truncate(kv))
			}
			var dst *uint64
			switch string(k) {
			case "rbytes":
				dst = &t.ReadBytes
			case "wbytes":
				dst = &t.WriteBytes
			case "rios":
				dst = &t.ReadOps
			case "wios":
				dst = &t.WriteOps
			default:
				continue
			}
			x, err := strconv.ParseUint(string(v), 10, 64)
			if err != nil {
				return IOTotals{}, fmt.Errorf("%w: line %d: %s=%q is not a uint64", ErrMalformed, n+1, k, truncate(v))
			}
			*dst = addSat(*dst, x)
		}
	}
	return t, nil
}

// ParsePids parses cgroup.procs: one decimal PID per line.
func ParsePids(data []byte) ([]int, error) {
	var out []int
	for n, line := range lines(data) {
		s := bytes.TrimSpace(line)
		if len(s) == 0 {
			continue
		}
		v, err := strconv.ParseUint(string(s), 10, 31)
		if err != nil || v == 0 {
			return nil, fmt.Errorf("%w: line %d: %q is not a PID", ErrMalformed, n+1, truncate(s))
		}
		out = append(out, int(v))
	}
	return out, nil
}

func lines(data []byte) [][]byte { return bytes.Split(data, []byte("\n")) }

func isDevice(b []byte) bool {
	maj, min, ok := bytes.Cut(b, []byte(":"))
	return ok && isDigits(maj) && isDigits(min)
}

func isDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func addSat(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

// truncate keeps error messages short when a file is garbage.
func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}
