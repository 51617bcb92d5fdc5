package agenttest

import (
	"context"
	"errors"
	"io"
	"sync"
)

// Stream is an unbounded in-memory byte stream with an end: writers append,
// one reader takes, Close marks the end.
type Stream struct {
	mu     sync.Mutex
	data   []byte
	closed bool
	wake   chan struct{} // closed and replaced when data arrives or the stream ends
}

// NewStream returns an open, empty stream.
func NewStream() *Stream { return &Stream{wake: make(chan struct{})} }

func (s *Stream) signal() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// Write appends p; it fails once the stream is closed.
func (s *Stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errors.New("agenttest: write to closed stream")
	}
	s.data = append(s.data, p...)
	s.signal()
	return len(p), nil
}

// Close ends the stream; readers get what is left, then EOF.
func (s *Stream) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.signal()
	}
}

// Read blocks until there is data or the stream has ended (io.EOF).
func (s *Stream) Read(p []byte) (int, error) {
	data, eof, err := s.read(context.Background(), len(p))
	n := copy(p, data)
	if n == 0 && eof {
		return 0, io.EOF
	}
	return n, err
}

// read returns up to max bytes once there are some, and whether the stream
// has ended with them.
func (s *Stream) read(ctx context.Context, max int) ([]byte, bool, error) {
	for {
		s.mu.Lock()
		if len(s.data) > 0 || s.closed {
			n := min(max, len(s.data))
			out := append([]byte(nil), s.data[:n]...)
			s.data = s.data[n:]
			eof := s.closed && len(s.data) == 0
			s.mu.Unlock()
			return out, eof, nil
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}
