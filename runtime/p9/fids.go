package p9

import "sync"

// A fid is the client's handle on a File (or on an extended attribute
// being read or written). The table holds one reference to each fid and
// every request using it holds another; the File is closed when the last
// reference goes, so Close never overlaps another call on the File.
//
// Each request holds its fids' locks for as long as it uses them: shared
// for ordinary calls, exclusive for calls that change what the fid is
// (Tlopen, Tlcreate, Txattrcreate, a walk onto itself) and for Tclunk's
// commit of a written attribute. Requests naming two fids lock them in
// creation order, so no two requests can wait for each other.
type fid struct {
	seq  uint64 // creation order, for lock ordering
	refs int    // guarded by srvConn.fidMu

	mu     sync.RWMutex
	file   File      // nil for an xattr read fid; guarded by mu
	kind   fidKind   // guarded by mu
	opened bool      // Open or Create succeeded; guarded by mu
	flags  OpenFlags // of the open; guarded by mu
	xattr  *xattrFid // kind != fidFile; guarded by mu

	reserved int // xattr bytes reserved by this fid; guarded by srvConn.fidMu
}

type fidKind uint8

const (
	fidFile       fidKind = iota
	fidXattrRead          // Txattrwalk: reads return the value or list
	fidXattrWrite         // Txattrcreate: writes fill the value; clunk sets it
)

// xattrFid is the value behind an xattr fid.
type xattrFid struct {
	mu    sync.Mutex // serialises writes (under the fid's shared lock)
	name  string
	size  uint64 // fidXattrWrite: the size announced
	flags XattrFlags
	data  []byte // fidXattrRead: the value; fidXattrWrite: written so far
}

// lookup returns fid num with a reference the caller releases.
func (c *srvConn) lookup(num uint32) (*fid, error) {
	c.fidMu.Lock()
	defer c.fidMu.Unlock()
	f, ok := c.fids[num]
	if !ok {
		return nil, ebadf
	}
	f.refs++
	return f, nil
}

// release drops a reference; the last one closes the File.
func (c *srvConn) release(f *fid) {
	c.fidMu.Lock()
	f.refs--
	last := f.refs == 0
	if last {
		c.xattrBytes -= f.reserved
		f.reserved = 0
	}
	c.fidMu.Unlock()
	if !last {
		return
	}
	// No request holds f any more, and none can find it: nobody else
	// touches its fields.
	if f.file != nil {
		c.closeFile(f.file)
		f.file = nil
	}
	f.xattr = nil
}

// closeFile closes a File the server is done with. A panic in Close is
// logged, not propagated: Close also runs when the connection ends, outside
// any request.
func (c *srvConn) closeFile(file File) {
	defer func() {
		if v := recover(); v != nil {
			c.log.WithField("panic", v).Error("p9: panic closing a file")
		}
	}()
	if err := file.Close(); err != nil {
		c.log.WithError(err).Debug("p9: closing a file")
	}
}

// insert adds a new fid num for file (taking ownership of it). It fails if
// num is in use or the connection holds MaxFIDs fids; the caller then
// still owns file.
func (c *srvConn) insert(num uint32, file File, kind fidKind, x *xattrFid, reserved int) error {
	c.fidMu.Lock()
	defer c.fidMu.Unlock()
	if err := c.canInsertLocked(num, reserved); err != nil {
		return err
	}
	c.fidSeq++
	c.fids[num] = &fid{seq: c.fidSeq, refs: 1, file: file, kind: kind, xattr: x, reserved: reserved}
	c.xattrBytes += reserved
	return nil
}

// checkFree fails early if a new fid num could not be inserted, so that a
// walk to a fid in use or beyond the limit opens nothing.
func (c *srvConn) checkFree(num uint32) error {
	c.fidMu.Lock()
	defer c.fidMu.Unlock()
	return c.canInsertLocked(num, 0)
}

// canInsertLocked says why fid num (holding reserved xattr bytes) could not
// be added now; the caller holds fidMu.
func (c *srvConn) canInsertLocked(num uint32, reserved int) error {
	switch _, inUse := c.fids[num]; {
	case num == NoFID || inUse:
		return ebadf
	case len(c.fids) >= c.srv.MaxFIDs:
		return emfile
	case reserved > 0 && c.xattrBytes+reserved > c.srv.MaxXattrBytes:
		return enomem
	}
	return nil
}

// remove takes fid num out of the table, handing the table's reference to
// the caller.
func (c *srvConn) remove(num uint32) (*fid, error) {
	c.fidMu.Lock()
	defer c.fidMu.Unlock()
	f, ok := c.fids[num]
	if !ok {
		return nil, ebadf
	}
	delete(c.fids, num)
	return f, nil
}

// reserveXattr takes n bytes of the connection's xattr budget for f.
func (c *srvConn) reserveXattr(f *fid, n int) error {
	c.fidMu.Lock()
	defer c.fidMu.Unlock()
	if c.xattrBytes+n > c.srv.MaxXattrBytes {
		return enomem
	}
	c.xattrBytes += n
	f.reserved += n
	return nil
}

// clunkAll drops every fid: at Tversion and when the connection ends, with
// no request in flight.
func (c *srvConn) clunkAll() {
	c.fidMu.Lock()
	all := make([]*fid, 0, len(c.fids))
	for num, f := range c.fids {
		all = append(all, f)
		delete(c.fids, num)
	}
	c.fidMu.Unlock()
	for _, f := range all {
		c.release(f)
	}
}

// use looks up fid num and locks it shared (or exclusive); done undoes
// both.
func (c *srvConn) use(num uint32, exclusive bool) (f *fid, done func(), err error) {
	f, err = c.lookup(num)
	if err != nil {
		return nil, nil, err
	}
	if exclusive {
		f.mu.Lock()
		return f, func() { f.mu.Unlock(); c.release(f) }, nil
	}
	f.mu.RLock()
	return f, func() { f.mu.RUnlock(); c.release(f) }, nil
}

// useTwo looks up and share-locks two fids (possibly the same one) in
// creation order.
func (c *srvConn) useTwo(a, b uint32) (fa, fb *fid, done func(), err error) {
	fa, err = c.lookup(a)
	if err != nil {
		return nil, nil, nil, err
	}
	fb, err = c.lookup(b)
	if err != nil {
		c.release(fa)
		return nil, nil, nil, err
	}
	if fa == fb {
		fa.mu.RLock()
		return fa, fb, func() { fa.mu.RUnlock(); c.release(fa); c.release(fb) }, nil
	}
	first, second := fa, fb
	if second.seq < first.seq {
		first, second = second, first
	}
	first.mu.RLock()
	second.mu.RLock()
	return fa, fb, func() {
		second.mu.RUnlock()
		first.mu.RUnlock()
		c.release(fa)
		c.release(fb)
	}, nil
}
