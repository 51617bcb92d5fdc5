package stdio

import (
	"context"
	"errors"
	"io"
	"sync"
)

const (
	// DefaultLimit is the default bound of a Stream's buffer.
	DefaultLimit = 1 << 20
	// MaxRead is the most one Read returns, whatever the caller asks.
	MaxRead = 1 << 20
	// chunkSize is the most Fill reads from the source at once: a pipe
	// holds 64 KiB by default, so half of it keeps the syscall count low
	// without holding a large scratch buffer per stream.
	chunkSize = 32 << 10
)

// Stream is one output stream of a process: Fill moves bytes from the
// source into a buffer bounded by the limit, Read takes them out. It is
// safe for concurrent use; concurrent Reads each get distinct bytes.
type Stream struct {
	limit int

	mu      sync.Mutex
	chunks  [][]byte      // buffered data, oldest first; guarded by mu
	size    int           // total bytes in chunks; guarded by mu
	ended   bool          // no more data will be added; guarded by mu
	eofSent bool          // a Read has reported eof; guarded by mu
	changed chan struct{} // closed and replaced whenever the state changes; guarded by mu
}

// NewStream returns an empty stream whose buffer holds at most limit bytes
// (DefaultLimit if limit <= 0).
func NewStream(limit int) *Stream {
	if limit <= 0 {
		limit = DefaultLimit
	}
	return &Stream{limit: limit, changed: make(chan struct{})}
}

// broadcast wakes everyone waiting for a change. Called with mu held.
func (s *Stream) broadcast() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Fill copies src into the stream until src ends or fails, reading only
// while the buffer has room, then ends the stream. It returns the error
// that ended src (nil for io.EOF). Run it on its own goroutine; closing src
// makes it return.
func (s *Stream) Fill(src io.Reader) error {
	scratch := make([]byte, chunkSize)
	for {
		room, ok := s.waitRoom()
		if !ok {
			return nil
		}
		n, err := src.Read(scratch[:min(room, len(scratch))])
		if n > 0 {
			s.add(append([]byte(nil), scratch[:n]...))
		}
		if err != nil {
			s.End()
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// waitRoom blocks until the buffer has room and returns how much, or false
// once the stream has ended.
func (s *Stream) waitRoom() (int, bool) {
	for {
		s.mu.Lock()
		if s.ended {
			s.mu.Unlock()
			return 0, false
		}
		if room := s.limit - s.size; room > 0 {
			s.mu.Unlock()
			return room, true
		}
		ch := s.changed
		s.mu.Unlock()
		<-ch
	}
}

func (s *Stream) add(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.chunks = append(s.chunks, b)
	s.size += len(b)
	s.broadcast()
}

// End marks the stream as ended: no more data will be added, and once the
// buffer is drained Read reports eof. Ending twice is harmless.
func (s *Stream) End() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.ended = true
		s.broadcast()
	}
}

// Discard drops buffered data and ends the stream (the process is being
// removed): waiting readers return eof and a blocked Fill stops once its
// source is closed.
func (s *Stream) Discard() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chunks, s.size = nil, 0
	s.ended = true
	s.broadcast()
}

// Read waits until the stream has data or has ended, then returns at most
// max bytes (MaxRead if max <= 0 or larger) and whether the stream is now
// at its end: ended and drained. It returns ctx's error if ctx ends first;
// a Read whose context has already ended takes nothing, so a caller that
// has gone away does not consume bytes it will never deliver.
func (s *Stream) Read(ctx context.Context, max int) (data []byte, eof bool, err error) {
	if max <= 0 || max > MaxRead {
		max = MaxRead
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		s.mu.Lock()
		if s.size > 0 || s.ended {
			data = s.take(max)
			eof = s.ended && s.size == 0
			if eof {
				s.eofSent = true
			}
			s.mu.Unlock()
			return data, eof, nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// take removes up to max bytes from the front of the buffer. Called with
// mu held.
func (s *Stream) take(max int) []byte {
	n := min(max, s.size)
	if n == 0 {
		return nil
	}
	out := make([]byte, 0, n)
	for len(out) < n {
		c := s.chunks[0]
		k := min(len(c), n-len(out))
		out = append(out, c[:k]...)
		if k == len(c) {
			s.chunks[0] = nil
			s.chunks = s.chunks[1:]
		} else {
			s.chunks[0] = c[k:]
		}
	}
	s.size -= n
	s.broadcast() // room for Fill
	return out
}

// Buffered returns how many bytes wait to be read.
func (s *Stream) Buffered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// Drained reports whether a Read has returned eof: the host has collected
// everything the stream will ever hold.
func (s *Stream) Drained() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eofSent
}

// Done returns a channel closed at the next change of the stream; with
// Drained it lets a caller wait for the stream to be collected.
func (s *Stream) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Finished reports whether the stream has ended and everything in it has
// been read: nothing more can be lost by dropping it.
func (s *Stream) Finished() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended && s.size == 0
}
