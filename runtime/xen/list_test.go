package xen

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// xlListSample is `xl list` output in xl's own format (xl_list.c).
const xlListSample = "Name                                        ID   Mem VCPUs\tState\tTime(s)\n" +
	"Domain-0                                     0  2048     2     r-----     123.4\n" +
	"runxen-a                                     3   256     1     -b----       2.5\n" +
	"runxen-paused                                4   128     1     --p---       0.0\n" +
	"runxen-off                                   5   128     1     ---s--       1.0\n" +
	"runxen-crashed                               6   128     2     ---sc-       0.1\n" +
	"runxen-dying                                 7     0     0     ---s-d       0.3\n" +
	"name with spaces                             8    64     1     -b----       0.2\n" +
	"(null)                                       9     0     0     -----d       0.0\n" +
	"runxen-odd                                  10    16     1     ---s?-       0.0\n"

func TestParseXLList(t *testing.T) {
	got, err := parseXLList([]byte(xlListSample))
	if err != nil {
		t.Fatal(err)
	}
	s := func(secs float64) time.Duration { return time.Duration(secs * float64(time.Second)) }
	want := []DomainInfo{
		{ID: 0, Name: "Domain-0", State: StateRunning, Reason: ReasonUnknown, MemoryMiB: 2048, VCPUs: 2, CPUTime: s(123.4)},
		{ID: 3, Name: "runxen-a", State: StateRunning, Reason: ReasonUnknown, MemoryMiB: 256, VCPUs: 1, CPUTime: s(2.5)},
		{ID: 4, Name: "runxen-paused", State: StatePaused, Reason: ReasonUnknown, MemoryMiB: 128, VCPUs: 1},
		{ID: 5, Name: "runxen-off", State: StateShutdown, Reason: ReasonPoweroff, MemoryMiB: 128, VCPUs: 1, CPUTime: s(1)},
		{ID: 6, Name: "runxen-crashed", State: StateShutdown, Reason: ReasonCrash, MemoryMiB: 128, VCPUs: 2, CPUTime: s(0.1)},
		{ID: 7, Name: "runxen-dying", State: StateDying, Reason: ReasonPoweroff, CPUTime: s(0.3)},
		{ID: 8, Name: "name with spaces", State: StateRunning, Reason: ReasonUnknown, MemoryMiB: 64, VCPUs: 1, CPUTime: s(0.2)},
		{ID: 9, Name: "(null)", State: StateDying, Reason: ReasonUnknown},
		{ID: 10, Name: "runxen-odd", State: StateShutdown, Reason: ReasonUnknown, MemoryMiB: 16, VCPUs: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parsed:\n%+v\nwant:\n%+v", got, want)
	}
}

func TestParseXLListRejects(t *testing.T) {
	for _, out := range []string{
		"Name ID Mem VCPUs State Time(s)\ngarbage\n",
		"Domain-0 0 2048 2 r----- 1.0\nx 99999 1 1 r----- 1.0\n", // ID out of range
		"x 1 1 1 rrrrrr 1.0\n",
		"x 1 1 1 r----- NaN\n",
		"x 1 1 1 r----- -1\n",
		"1 1 1 r----- 1.0\n", // no name
	} {
		if doms, err := parseXLList([]byte(out)); err == nil {
			t.Errorf("parseXLList(%q) = %+v, want an error", out, doms)
		}
	}
	doms, err := parseXLList([]byte("Name ID Mem VCPUs State Time(s)\n\n"))
	if err != nil || len(doms) != 0 {
		t.Errorf("header only: %v, %v", doms, err)
	}
}

func FuzzParseXLList(f *testing.F) {
	f.Add([]byte(xlListSample))
	f.Add([]byte("a 1 2 3 ---sc- 4.5\n"))
	f.Add([]byte("Name\n" + strings.Repeat("x ", 100) + "\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		doms, err := parseXLList(out)
		if err != nil {
			return
		}
		for _, d := range doms {
			if d.ID > MaxDomID || d.Name == "" || d.CPUTime < 0 || d.VCPUs < 0 {
				t.Fatalf("parsed an impossible domain %+v from %q", d, out)
			}
			switch d.State {
			case StateRunning, StatePaused, StateShutdown, StateDying:
			default:
				t.Fatalf("parsed state %v from %q", d.State, out)
			}
		}
	})
}
