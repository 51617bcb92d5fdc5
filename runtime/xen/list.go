package xen

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// maxListDomains bounds how many rows parseXLList accepts: far more
// domains than Xen allows (DOMID_FIRST_RESERVED).
const maxListDomains = int(MaxDomID) + 1

// parseXLList parses the table `xl list` prints (tools/xl/xl_list.c,
// list_domains):
//
//	Name                                        ID   Mem VCPUs	State	Time(s)
//	Domain-0                                     0  2048     2     r-----      45.3
//
// one row per domain as "%-40s %5d %5lu %5d     %c%c%c%c%c%c  %8.1f": name,
// ID, memory in MiB, online vCPUs, six state flags (running, blocked,
// paused, shutdown, the shutdown reason's letter, dying) and CPU seconds.
// Columns are found from the state flags leftwards, so a name with spaces
// (xl allows them) is kept; its runs of spaces collapse to one.
func parseXLList(out []byte) ([]DomainInfo, error) {
	var doms []DomainInfo
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			if strings.HasPrefix(line, "Name") {
				continue
			}
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		d, err := parseXLListRow(line)
		if err != nil {
			return nil, err
		}
		if len(doms) == maxListDomains {
			return nil, fmt.Errorf("xl list: more than %d rows", maxListDomains)
		}
		doms = append(doms, d)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("xl list: %w", err)
	}
	return doms, nil
}

func parseXLListRow(line string) (DomainInfo, error) {
	f := strings.Fields(line)
	for k := 4; k+1 < len(f); k++ {
		st, reason, ok := parseStateFlags(f[k])
		if !ok {
			continue
		}
		id, err1 := strconv.ParseUint(f[k-3], 10, 32)
		mem, err2 := strconv.ParseUint(f[k-2], 10, 64)
		vcpus, err3 := strconv.ParseUint(f[k-1], 10, 16)
		secs, err4 := strconv.ParseFloat(f[k+1], 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil || id > uint64(MaxDomID) ||
			secs < 0 || math.IsNaN(secs) || math.IsInf(secs, 0) || secs > 1e9 {
			continue
		}
		return DomainInfo{
			ID:        DomID(id),
			Name:      strings.Join(f[:k-3], " "),
			State:     st,
			Reason:    reason,
			MemoryMiB: mem,
			VCPUs:     int(vcpus),
			CPUTime:   time.Duration(secs * float64(time.Second)).Round(time.Millisecond),
		}, nil
	}
	return DomainInfo{}, fmt.Errorf("xl list: cannot parse row %q", clip(line))
}

// parseStateFlags reads xl's six state letters, "r-----" and the like.
func parseStateFlags(s string) (State, ShutdownReason, bool) {
	if len(s) != 6 {
		return 0, 0, false
	}
	for i, want := range []byte("rbps?d") {
		if s[i] != '-' && s[i] != want && i != 4 {
			return 0, 0, false
		}
	}
	// xl's letters for libxl_shutdown_reason 0..5 ("-rscwS"); others
	// print '?'. A domain that is not shut down prints '-'.
	reason := ReasonUnknown
	switch s[4] {
	case '-':
		reason = ReasonPoweroff
	case 'r':
		reason = ReasonReboot
	case 's':
		reason = ReasonSuspend
	case 'c':
		reason = ReasonCrash
	case 'w':
		reason = ReasonWatchdog
	case 'S':
		reason = ReasonSoftReset
	case '?':
	default:
		return 0, 0, false
	}
	if s[3] != 's' {
		reason = ReasonUnknown
	}
	switch {
	case s[5] == 'd':
		return StateDying, reason, true
	case s[3] == 's':
		return StateShutdown, reason, true
	case s[2] == 'p':
		return StatePaused, ReasonUnknown, true
	}
	return StateRunning, ReasonUnknown, true
}
