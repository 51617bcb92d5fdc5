//go:build linux

package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"github.com/containerd/log"
	"golang.org/x/sys/unix"
)

// OOMWatcher reports OOM kills in watched cgroups: the kernel raises a
// modify event on memory.events whenever a counter in it changes, and the
// watcher reports a cgroup each time its oom_kill counter grew (what
// containerd's cgroup v2 OOM watcher reports as TaskOOM). One inotify
// descriptor and one goroutine serve every cgroup.
type OOMWatcher struct {
	f      *os.File // the inotify descriptor, non-blocking so Close ends Run
	notify func(id string)

	mu   sync.Mutex
	byWD map[int32]*oomWatch // guarded by mu
	byID map[string]*oomWatch
}

type oomWatch struct {
	id, file string
	wd       int32
	last     uint64 // oom_kill seen last
}

// NewOOMWatcher returns a watcher calling notify with the id of a cgroup
// that had an OOM kill; notify must not block for long. Run must be called
// for events to flow.
func NewOOMWatcher(notify func(id string)) (*OOMWatcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify_init1: %w", err)
	}
	return &OOMWatcher{
		f:      os.NewFile(uintptr(fd), "inotify"),
		notify: notify,
		byWD:   map[int32]*oomWatch{},
		byID:   map[string]*oomWatch{},
	}, nil
}

// Add watches the cgroup directory dir under id. The current oom_kill count
// is the baseline: only later kills are reported.
func (w *OOMWatcher) Add(id, dir string) error {
	file := filepath.Join(dir, "memory.events")
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.byID[id]; ok {
		return fmt.Errorf("oom watch %s: already watched", id)
	}
	// Watch first, read the baseline second: a kill between the two is then
	// seen as an event, not lost.
	wd, err := unix.InotifyAddWatch(int(w.f.Fd()), file, unix.IN_MODIFY)
	if err != nil {
		return fmt.Errorf("watch %s: %w", file, err)
	}
	ow := &oomWatch{id: id, file: file, wd: int32(wd)}
	if ow.last, err = oomKills(file); err != nil {
		_, _ = unix.InotifyRmWatch(int(w.f.Fd()), uint32(wd))
		return err
	}
	w.byWD[ow.wd] = ow
	w.byID[id] = ow
	return nil
}

// Remove stops watching id. Removing an unknown id does nothing.
func (w *OOMWatcher) Remove(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ow := w.byID[id]
	if ow == nil {
		return
	}
	delete(w.byID, id)
	delete(w.byWD, ow.wd)
	// Fails harmlessly when the kernel already dropped the watch because
	// the cgroup was removed.
	_, _ = unix.InotifyRmWatch(int(w.f.Fd()), uint32(ow.wd))
}

// Run reads events until Close. Call it once.
func (w *OOMWatcher) Run() {
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				log.L.WithError(err).Error("oom watcher: read inotify events")
			}
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			off += unix.SizeofInotifyEvent + int(ev.Len)
			w.handle(ev.Wd, ev.Mask)
		}
	}
}

func (w *OOMWatcher) handle(wd int32, mask uint32) {
	w.mu.Lock()
	ow := w.byWD[wd]
	if ow == nil {
		w.mu.Unlock()
		return
	}
	if mask&unix.IN_IGNORED != 0 {
		// The cgroup is gone; the kernel dropped the watch.
		delete(w.byWD, wd)
		delete(w.byID, ow.id)
		w.mu.Unlock()
		return
	}
	// The counter only grows; a read that shows less (a file caught
	// mid-write, in tests) must not lower the baseline.
	n, err := oomKills(ow.file)
	grew := err == nil && n > ow.last
	if grew {
		ow.last = n
	}
	id := ow.id
	w.mu.Unlock()
	if err != nil {
		log.L.WithError(err).WithField("id", id).Debug("oom watcher: read memory.events")
		return
	}
	if grew {
		w.notify(id)
	}
}

// Close stops Run and releases the inotify descriptor.
func (w *OOMWatcher) Close() error { return w.f.Close() }

func oomKills(file string) (uint64, error) {
	data, err := readFile(file)
	if err != nil {
		return 0, err
	}
	m, err := ParseFlatKeyed(data)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", file, err)
	}
	return m["oom_kill"], nil
}
