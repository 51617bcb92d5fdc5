//go:build dom0

package dom0

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// interposer sits between the vchan and the agent client in dom0 and plays
// a misbehaving guest over the real vchan: it can swallow everything the
// agent sends (a guest that never answers) or slip bytes of its own into
// the stream (a guest that sends garbage). Writes pass through untouched.
type interposer struct {
	net.Conn
	pr   *io.PipeReader
	pw   *io.PipeWriter
	mu   sync.Mutex // one writer into the pipe at a time
	mute atomic.Bool
}

func newInterposer(c net.Conn, mute bool) *interposer {
	pr, pw := io.Pipe()
	i := &interposer{Conn: c, pr: pr, pw: pw}
	i.mute.Store(mute)
	go i.pump()
	return i
}

// pump copies what the agent sends into the pipe the client reads, unless
// muted.
func (i *interposer) pump() {
	buf := make([]byte, 64<<10)
	for {
		n, err := i.Conn.Read(buf)
		if n > 0 && !i.mute.Load() {
			i.mu.Lock()
			_, werr := i.pw.Write(buf[:n])
			i.mu.Unlock()
			if werr != nil {
				return
			}
		}
		if err != nil {
			i.pw.CloseWithError(err)
			return
		}
	}
}

func (i *interposer) Read(p []byte) (int, error) { return i.pr.Read(p) }

// inject hands the client bytes as if the guest had sent them. Call it
// while the agent is quiet, so that they land between its frames.
func (i *interposer) inject(b []byte) {
	i.mu.Lock()
	defer i.mu.Unlock()
	_, _ = i.pw.Write(b)
}

func (i *interposer) Close() error {
	i.pr.Close()
	return i.Conn.Close()
}
