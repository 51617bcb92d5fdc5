package cgroup

import (
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestParseFlatKeyed(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]uint64
		wantErr string
	}{
		{name: "cpu.stat", in: "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\n", want: map[string]uint64{"usage_usec": 1500, "user_usec": 1000, "system_usec": 500, "nr_periods": 0}},
		{name: "memory.events", in: "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n", want: map[string]uint64{"low": 0, "high": 0, "max": 12, "oom": 3, "oom_kill": 2, "oom_group_kill": 0}},
		{name: "empty", in: "", want: map[string]uint64{}},
		{name: "blank lines and spaces", in: "\n  a   1  \n\n", want: map[string]uint64{"a": 1}},
		{name: "max uint64", in: "a 18446744073709551615", want: map[string]uint64{"a": math.MaxUint64}},
		{name: "overflow", in: "a 18446744073709551616", wantErr: "line 1: value of \"a\""},
		{name: "negative", in: "a -1", wantErr: "not a uint64"},
		{name: "three fields", in: "a 1\nb 2 3", wantErr: "line 2"},
		{name: "one field", in: "a", wantErr: "line 1"},
		{name: "repeated key", in: "a 1\na 2", wantErr: "repeated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFlatKeyed([]byte(tt.in))
			if tt.wantErr != "" {
				if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrMalformed containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseValue(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr bool
	}{
		{"12345\n", 12345, false},
		{"max\n", Max, false},
		{"0", 0, false},
		{"", 0, true},
		{"max max", 0, true},
		{"1.5", 0, true},
		{"-3", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseValue([]byte(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseValue(%q) = %d, %v; want %d, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseIOStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    IOTotals
		wantErr bool
	}{
		{
			name: "two devices summed",
			in: "202:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n" +
				"202:16 rbytes=100 wbytes=200 rios=3 wios=4 dbytes=5 dios=6\n",
			want: IOTotals{ReadBytes: 4196, WriteBytes: 8392, ReadOps: 4, WriteOps: 6},
		},
		{name: "empty", in: "", want: IOTotals{}},
		{name: "unknown keys ignored", in: "8:0 rbytes=1 future=abc\n", want: IOTotals{ReadBytes: 1}},
		{name: "device only", in: "8:0\n", want: IOTotals{}},
		{name: "saturates", in: "8:0 rbytes=18446744073709551615\n8:1 rbytes=5\n", want: IOTotals{ReadBytes: math.MaxUint64}},
		{name: "bad device", in: "sda rbytes=1\n", wantErr: true},
		{name: "bad device minor", in: "8: rbytes=1\n", wantErr: true},
		{name: "no equals", in: "8:0 rbytes\n", wantErr: true},
		{name: "empty key", in: "8:0 =1\n", wantErr: true},
		{name: "bad value", in: "8:0 wbytes=x\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIOStat([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParsePids(t *testing.T) {
	got, err := ParsePids([]byte("1\n42\n\n7\n"))
	if err != nil || !slices.Equal(got, []int{1, 42, 7}) {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"0\n", "x\n", "-1", "99999999999"} {
		if _, err := ParsePids([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParsePids(%q) err = %v", bad, err)
		}
	}
}

// The fuzz targets check that no input panics and that what the parsers
// accept is consistent: a flat keyed file re-rendered parses to the same map,
// and io.stat totals never exceed what one line could say (saturation).

func FuzzParseFlatKeyed(f *testing.F) {
	f.Add([]byte("usage_usec 1\nuser_usec 2\n"))
	f.Add([]byte("a 1\na 2"))
	f.Add([]byte("anon 18446744073709551615\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseFlatKeyed(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		var b strings.Builder
		for _, k := range slices.Sorted(maps.Keys(m)) {
			b.WriteString(k + " " + uitoa(m[k]) + "\n")
		}
		again, err := ParseFlatKeyed([]byte(b.String()))
		if err != nil || !maps.Equal(m, again) {
			t.Fatalf("re-rendered %q parsed to %v, %v; want %v", b.String(), again, err, m)
		}
	})
}

func FuzzParseValue(f *testing.F) {
	f.Add([]byte("max\n"))
	f.Add([]byte("123"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseValue(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if v != Max {
			if got, err := ParseValue([]byte(uitoa(v))); err != nil || got != v {
				t.Fatalf("round trip of %d: %d, %v", v, got, err)
			}
		}
	})
}

func FuzzParseIOStat(f *testing.F) {
	f.Add([]byte("202:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n"))
	f.Add([]byte("8:0 rbytes=18446744073709551615\n8:1 rbytes=5\n"))
	f.Add([]byte("8:0 =\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tot, err := ParseIOStat(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if tot != (IOTotals{}) {
				t.Fatalf("partial totals %+v returned with an error", tot)
			}
		}
	})
}

func FuzzParsePids(f *testing.F) {
	f.Add([]byte("1\n2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pids, err := ParsePids(data)
		if err != nil {
			return
		}
		for _, p := range pids {
			if p <= 0 {
				t.Fatalf("pid %d accepted from %q", p, data)
			}
		}
	})
}

func uitoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for ; v > 0; v /= 10 {
		b = append([]byte{byte('0' + v%10)}, b...)
	}
	return string(b)
}
