package hooks

import (
	"fmt"
	"sync"
)

// capture keeps the first and the last half of limit bytes of what a hook
// writes, so a chatty or hostile hook costs bounded memory while its error
// message (usually the first or last lines) survives. Safe for the one
// writer goroutine os/exec runs plus a reader after Wait.
type capture struct {
	mu      sync.Mutex
	limit   int
	head    []byte
	tail    []byte // ring of at most limit/2 bytes, oldest at tailPos
	tailPos int
	dropped int64
}

func newCapture(limit int) *capture {
	if limit < 2 {
		limit = 2
	}
	return &capture{limit: limit}
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	headMax := c.limit / 2
	if room := headMax - len(c.head); room > 0 {
		k := min(room, len(p))
		c.head = append(c.head, p[:k]...)
		p = p[k:]
	}
	tailMax := c.limit - headMax
	for len(p) > 0 {
		if len(c.tail) < tailMax {
			k := min(tailMax-len(c.tail), len(p))
			c.tail = append(c.tail, p[:k]...)
			p = p[k:]
			continue
		}
		// Full ring: overwrite the oldest bytes.
		k := min(tailMax-c.tailPos, len(p))
		copy(c.tail[c.tailPos:], p[:k])
		c.tailPos = (c.tailPos + k) % tailMax
		c.dropped += int64(k)
		p = p[k:]
	}
	return n, nil
}

func (c *capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	tail := append(append([]byte(nil), c.tail[c.tailPos:]...), c.tail[:c.tailPos]...)
	if c.dropped == 0 {
		return string(c.head) + string(tail)
	}
	return fmt.Sprintf("%s\n[... %d bytes dropped ...]\n%s", c.head, c.dropped, tail)
}
