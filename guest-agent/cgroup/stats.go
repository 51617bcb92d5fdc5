package cgroup

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// maxFileSize bounds how much of one cgroup file is read. memory.stat, the
// largest, is about 2 KiB; io.stat grows with the number of block devices.
const maxFileSize = 1 << 20

// Stats are the figures of one cgroup, in the kernel's units.
type Stats struct {
	CPUUsageUsec, CPUUserUsec, CPUSystemUsec uint64
	MemoryUsage                              uint64 // memory.current
	MemoryLimit                              uint64 // memory.max; Max if unlimited
	MemoryMaxUsage                           uint64 // memory.peak; 0 before Linux 5.19
	MemoryStat                               map[string]uint64
	OOMKills                                 uint64 // memory.events oom_kill
	PidsCurrent                              uint64
	PidsLimit                                uint64 // pids.max; Max if unlimited
	IO                                       IOTotals
}

// ReadStats reads the figures of the cgroup directory dir. A file that does
// not exist (its controller is not enabled for the cgroup, or the kernel is
// too old for memory.peak) leaves its figures zero; a directory that does
// not exist is an error wrapping fs.ErrNotExist.
func ReadStats(dir string) (*Stats, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", dir, err)
	}
	s := &Stats{}
	r := reader{dir: dir}
	if m := r.flat("cpu.stat"); m != nil {
		s.CPUUsageUsec, s.CPUUserUsec, s.CPUSystemUsec = m["usage_usec"], m["user_usec"], m["system_usec"]
	}
	s.MemoryUsage = r.value("memory.current")
	s.MemoryLimit = r.value("memory.max")
	s.MemoryMaxUsage = r.value("memory.peak")
	s.MemoryStat = r.flat("memory.stat")
	if m := r.flat("memory.events"); m != nil {
		s.OOMKills = m["oom_kill"]
	}
	s.PidsCurrent = r.value("pids.current")
	s.PidsLimit = r.value("pids.max")
	if data := r.read("io.stat"); data != nil {
		t, err := ParseIOStat(data)
		r.fail("io.stat", err)
		s.IO = t
	}
	if r.err != nil {
		return nil, r.err
	}
	return s, nil
}

// Procs returns the PIDs in the cgroup directory dir (cgroup.procs).
func Procs(dir string) ([]int, error) {
	data, err := readFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	pids, err := ParsePids(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "cgroup.procs"), err)
	}
	return pids, nil
}

// reader reads files of one directory and keeps the first error.
type reader struct {
	dir string
	err error
}

func (r *reader) fail(name string, err error) {
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("%s: %w", filepath.Join(r.dir, name), err)
	}
}

// read returns the file's content, or nil if it does not exist.
func (r *reader) read(name string) []byte {
	data, err := readFile(filepath.Join(r.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		r.fail(name, err)
		return nil
	}
	return data
}

func (r *reader) flat(name string) map[string]uint64 {
	data := r.read(name)
	if data == nil {
		return nil
	}
	m, err := ParseFlatKeyed(data)
	r.fail(name, err)
	return m
}

func (r *reader) value(name string) uint64 {
	data := r.read(name)
	if data == nil {
		return 0
	}
	v, err := ParseValue(data)
	r.fail(name, err)
	return v
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrMalformed, path, maxFileSize)
	}
	return data, nil
}
