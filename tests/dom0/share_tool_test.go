//go:build dom0

package dom0

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// The share tests run this test binary as a tool, inside the guest's
// container (it is static, and the tests copy it into the shared root file
// system) and in dom0, to measure and check file I/O the same way in both:
//
//	RUNXEN_SHARE_TOOL=1 dom0.test seqwrite FILE KIB BLOCK
//	RUNXEN_SHARE_TOOL=1 dom0.test seqread FILE BLOCK
//	RUNXEN_SHARE_TOOL=1 dom0.test smallfiles DIR COUNT
//	RUNXEN_SHARE_TOOL=1 dom0.test fsx FILE OPS SEED
//
// Each prints one JSON line (toolResult) and exits 0, or prints what went
// wrong and exits 1. A tool in Go rather than a shell loop measures the
// file system, not busybox's fork and exec, which under emulation cost
// more than the file operations.
const shareToolEnv = "RUNXEN_SHARE_TOOL"

func init() {
	if os.Getenv(shareToolEnv) != "1" {
		return
	}
	res, err := shareTool(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "share tool:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	os.Exit(0)
}

// toolResult is what the tool reports.
type toolResult struct {
	Op    string  `json:"op"`
	Bytes int64   `json:"bytes,omitempty"`
	Secs  float64 `json:"secs,omitempty"`
	// Small files: seconds per phase, and the count.
	Count      int     `json:"count,omitempty"`
	CreateSecs float64 `json:"create_secs,omitempty"`
	StatSecs   float64 `json:"stat_secs,omitempty"`
	UnlinkSecs float64 `json:"unlink_secs,omitempty"`
	// fsx: operations done, by kind.
	Ops map[string]int `json:"ops,omitempty"`
}

func (r toolResult) mibps() float64 { return float64(r.Bytes) / (1 << 20) / r.Secs }

func shareTool(args []string) (toolResult, error) {
	if len(args) == 0 {
		return toolResult{}, errors.New("no operation")
	}
	num := func(i int) (int, error) {
		if i >= len(args) {
			return 0, fmt.Errorf("%s: missing argument %d", args[0], i)
		}
		return strconv.Atoi(args[i])
	}
	switch op := args[0]; op {
	case "seqwrite":
		kib, err1 := num(2)
		bs, err2 := num(3)
		if err := errors.Join(err1, err2); err != nil {
			return toolResult{}, err
		}
		return seqWrite(args[1], int64(kib)<<10, bs)
	case "seqread":
		bs, err := num(2)
		if err != nil {
			return toolResult{}, err
		}
		return seqRead(args[1], bs)
	case "smallfiles":
		n, err := num(2)
		if err != nil {
			return toolResult{}, err
		}
		return smallFiles(args[1], n)
	case "fsx":
		ops, err1 := num(2)
		seed, err2 := num(3)
		if err := errors.Join(err1, err2); err != nil {
			return toolResult{}, err
		}
		return fsx(args[1], ops, uint64(seed))
	default:
		return toolResult{}, fmt.Errorf("unknown operation %q", op)
	}
}

// block returns n pseudo-random bytes, the same for the same n.
func block(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 42))
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// seqWrite writes size bytes in bs-byte writes and fsyncs; the time
// includes the fsync, so a writeback cache cannot flatter it.
func seqWrite(path string, size int64, bs int) (toolResult, error) {
	buf := block(bs)
	start := time.Now()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return toolResult{}, err
	}
	var n int64
	for n < size {
		w, err := f.Write(buf[:min(int64(bs), size-n)])
		n += int64(w)
		if err != nil {
			f.Close()
			return toolResult{}, fmt.Errorf("write at %d: %w", n, err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return toolResult{}, fmt.Errorf("fsync: %w", err)
	}
	if err := f.Close(); err != nil {
		return toolResult{}, err
	}
	return toolResult{Op: "seqwrite", Bytes: n, Secs: time.Since(start).Seconds()}, nil
}

func seqRead(path string, bs int) (toolResult, error) {
	buf := make([]byte, bs)
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return toolResult{}, err
	}
	defer f.Close()
	var n int64
	for {
		r, err := f.Read(buf)
		n += int64(r)
		if err == io.EOF {
			break
		}
		if err != nil {
			return toolResult{}, fmt.Errorf("read at %d: %w", n, err)
		}
	}
	return toolResult{Op: "seqread", Bytes: n, Secs: time.Since(start).Seconds()}, nil
}

// smallFiles creates count files of 1 KiB in dir (which must not exist),
// stats them, and unlinks them, timing each phase.
func smallFiles(dir string, count int) (toolResult, error) {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return toolResult{}, err
	}
	data := block(1024)
	name := func(i int) string { return filepath.Join(dir, "f"+strconv.Itoa(i)) }
	res := toolResult{Op: "smallfiles", Count: count}
	start := time.Now()
	for i := 0; i < count; i++ {
		f, err := os.OpenFile(name(i), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return res, err
		}
		_, err = f.Write(data)
		if err := errors.Join(err, f.Close()); err != nil {
			return res, err
		}
	}
	res.CreateSecs = time.Since(start).Seconds()
	start = time.Now()
	for i := 0; i < count; i++ {
		st, err := os.Lstat(name(i))
		if err != nil {
			return res, err
		}
		if st.Size() != int64(len(data)) {
			return res, fmt.Errorf("%s: size %d, want %d", name(i), st.Size(), len(data))
		}
	}
	res.StatSecs = time.Since(start).Seconds()
	start = time.Now()
	for i := 0; i < count; i++ {
		if err := os.Remove(name(i)); err != nil {
			return res, err
		}
	}
	res.UnlinkSecs = time.Since(start).Seconds()
	return res, os.Remove(dir)
}

// fsx does ops random operations on one file (writes at random offsets,
// reads, truncates that shrink and grow it, fsyncs, mmap reads, closing
// and reopening it) and checks every read and, at the end, the whole file
// against an in-memory model of what it must hold.
func fsx(path string, ops int, seed uint64) (toolResult, error) {
	const maxLen = 4 << 20
	r := rand.New(rand.NewPCG(seed, 7))
	model := []byte{}
	res := toolResult{Op: "fsx", Ops: map[string]int{}}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return res, err
	}
	defer func() { f.Close() }()
	check := func(what string, off int, got []byte) error {
		want := model[off : off+len(got)]
		if !bytes.Equal(got, want) {
			i := 0
			for i < len(got) && got[i] == want[i] {
				i++
			}
			return fmt.Errorf("op %d (%s): byte %d of the file is %#x, the model says %#x (seed %d)", res.Ops["total"], what, off+i, got[i], want[i], seed)
		}
		return nil
	}
	start := time.Now()
	for i := 0; i < ops; i++ {
		res.Ops["total"]++
		switch k := r.IntN(100); {
		case k < 40: // write
			off := r.IntN(maxLen - 65536)
			n := 1 + r.IntN(65536)
			buf := make([]byte, n)
			for j := range buf {
				buf[j] = byte(r.Uint32())
			}
			if _, err := f.WriteAt(buf, int64(off)); err != nil {
				return res, fmt.Errorf("op %d: write %d at %d: %w", i, n, off, err)
			}
			if end := off + n; end > len(model) {
				model = append(model, make([]byte, end-len(model))...)
			}
			copy(model[off:], buf)
			res.Ops["write"]++
		case k < 70: // read
			if len(model) == 0 {
				continue
			}
			off := r.IntN(len(model))
			n := 1 + r.IntN(min(65536, len(model)-off))
			buf := make([]byte, n)
			if _, err := f.ReadAt(buf, int64(off)); err != nil {
				return res, fmt.Errorf("op %d: read %d at %d: %w", i, n, off, err)
			}
			if err := check("read", off, buf); err != nil {
				return res, err
			}
			res.Ops["read"]++
		case k < 80: // truncate, down or up
			size := r.IntN(maxLen)
			if err := f.Truncate(int64(size)); err != nil {
				return res, fmt.Errorf("op %d: truncate to %d: %w", i, size, err)
			}
			if size < len(model) {
				model = model[:size]
			} else {
				model = append(model, make([]byte, size-len(model))...)
			}
			res.Ops["truncate"]++
		case k < 85: // mmap read
			if len(model) == 0 {
				continue
			}
			m, err := syscall.Mmap(int(f.Fd()), 0, len(model), syscall.PROT_READ, syscall.MAP_SHARED)
			if err != nil {
				return res, fmt.Errorf("op %d: mmap %d bytes: %w", i, len(model), err)
			}
			off := r.IntN(len(model))
			n := 1 + r.IntN(min(65536, len(model)-off))
			err = check("mmap read", off, append([]byte(nil), m[off:off+n]...))
			syscall.Munmap(m)
			if err != nil {
				return res, err
			}
			res.Ops["mmap"]++
		case k < 92: // fsync
			if err := f.Sync(); err != nil {
				return res, fmt.Errorf("op %d: fsync: %w", i, err)
			}
			res.Ops["fsync"]++
		default: // close and reopen
			if err := f.Close(); err != nil {
				return res, fmt.Errorf("op %d: close: %w", i, err)
			}
			if f, err = os.OpenFile(path, os.O_RDWR, 0); err != nil {
				return res, fmt.Errorf("op %d: reopen: %w", i, err)
			}
			st, err := f.Stat()
			if err != nil {
				return res, err
			}
			if st.Size() != int64(len(model)) {
				return res, fmt.Errorf("op %d: reopened file has %d bytes, the model %d", i, st.Size(), len(model))
			}
			res.Ops["reopen"]++
		}
	}
	all, err := os.ReadFile(path)
	if err != nil {
		return res, err
	}
	if len(all) != len(model) {
		return res, fmt.Errorf("end: the file has %d bytes, the model %d (seed %d)", len(all), len(model), seed)
	}
	if err := check("final read", 0, all); err != nil {
		return res, err
	}
	res.Bytes = int64(len(model))
	res.Secs = time.Since(start).Seconds()
	return res, nil
}
