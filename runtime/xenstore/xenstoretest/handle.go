package xenstoretest

import (
	"bytes"
	"strconv"
	"strings"
)

// msgType is enum xsd_sockmsg_type of xs_wire.h.
type msgType uint32

const (
	xsControl            msgType = 0
	xsDirectory          msgType = 1
	xsRead               msgType = 2
	xsGetPerms           msgType = 3
	xsWatch              msgType = 4
	xsUnwatch            msgType = 5
	xsTransactionStart   msgType = 6
	xsTransactionEnd     msgType = 7
	xsIntroduce          msgType = 8
	xsRelease            msgType = 9
	xsGetDomainPath      msgType = 10
	xsWrite              msgType = 11
	xsMkdir              msgType = 12
	xsRm                 msgType = 13
	xsSetPerms           msgType = 14
	xsWatchEvent         msgType = 15
	xsError              msgType = 16
	xsIsDomainIntroduced msgType = 17
	xsResume             msgType = 18
	xsSetTarget          msgType = 19
	xsResetWatches       msgType = 21
	xsDirectoryPart      msgType = 22
)

// watch is one registered watch. path is as the client gave it (relative
// paths stay relative in events); abs is the absolute path, or the special
// "@..." name.
type watch struct {
	path  string
	abs   string
	token string
	base  string // for relative watches: the domain path to strip
}

// event queues a WATCH_EVENT for w about absolute path epath.
func (c *conn) event(w *watch, epath string) {
	if w.base != "" {
		epath = strings.TrimPrefix(epath, w.base+"/")
	}
	payload := make([]byte, 0, len(epath)+len(w.token)+2)
	payload = append(append(append(append(payload, epath...), 0), w.token...), 0)
	if len(payload) > payloadMax {
		return // xenstored cannot send it either
	}
	c.send(xsWatchEvent, 0, 0, payload)
}

// request is one request being handled.
type request struct {
	c       *conn
	h       header
	payload []byte
}

func (r *request) reply(payload []byte) {
	if len(payload) > payloadMax {
		r.fail("E2BIG")
		return
	}
	r.c.send(r.h.typ, r.h.reqID, r.h.txID, payload)
}

func (r *request) ok() { r.reply([]byte("OK\x00")) }

func (r *request) fail(errno string) {
	r.c.send(xsError, r.h.reqID, r.h.txID, append([]byte(errno), 0))
}

// strings splits the payload into NUL-terminated strings; anything after
// the last NUL is returned as tail.
func (r *request) strings() (strs []string, tail []byte) {
	p := r.payload
	for {
		i := bytes.IndexByte(p, 0)
		if i < 0 {
			return strs, p
		}
		strs = append(strs, string(p[:i]))
		p = p[i+1:]
	}
}

// onearg returns the single NUL-terminated string that must make up the
// whole payload, as xenstored's onearg().
func (r *request) onearg() (string, bool) {
	strs, tail := r.strings()
	if len(strs) != 1 || len(tail) != 0 {
		return "", false
	}
	return strs[0], true
}

// canon turns a client path into an absolute one: relative paths resolve
// beneath the connection's domain path. Special "@" paths are allowed only
// where special is set.
func (c *conn) canon(p string, special bool) (abs, base string, ok bool) {
	if p == "" {
		return "", "", false
	}
	if p[0] == '@' {
		return p, "", special && len(p) > 1 && len(p) <= relPathMax
	}
	if p[0] != '/' {
		if len(p) > relPathMax {
			return "", "", false
		}
		base = domainPath(c.domid)
		p = base + "/" + p
	}
	if !validNodePath(p) {
		return "", "", false
	}
	return p, base, true
}

// handle processes one request; called with s.mu held. Every request gets
// exactly one reply.
func (s *Server) handle(c *conn, h header, payload []byte) {
	r := &request{c: c, h: h, payload: payload}

	// Requests inside a transaction work on its snapshot.
	v := s.mainView()
	switch h.typ {
	case xsWatch, xsUnwatch:
		// tx_id is ignored for watches.
	case xsTransactionStart:
		if h.txID != 0 {
			r.fail("EBUSY")
			return
		}
	default:
		if h.txID != 0 {
			t := c.txs[h.txID]
			if t == nil {
				r.fail("ENOENT")
				return
			}
			v = s.txView(t)
		}
	}

	switch h.typ {
	case xsRead:
		abs, ok := r.path()
		if !ok {
			return
		}
		val, errno := v.read(c, abs)
		if errno != "" {
			r.fail(errno)
			return
		}
		r.reply(val)

	case xsWrite:
		i := bytes.IndexByte(payload, 0)
		if i < 0 {
			r.fail("EINVAL")
			return
		}
		abs, _, ok := c.canon(string(payload[:i]), false)
		if !ok {
			r.fail("EINVAL")
			return
		}
		r.done(v.write(c, abs, payload[i+1:]))

	case xsMkdir:
		if abs, ok := r.path(); ok {
			r.done(v.mkdir(c, abs))
		}

	case xsRm:
		if abs, ok := r.path(); ok {
			r.done(v.rm(c, abs))
		}

	case xsDirectory:
		abs, ok := r.path()
		if !ok {
			return
		}
		names, errno := v.directory(c, abs)
		if errno != "" {
			r.fail(errno)
			return
		}
		var b []byte
		for _, n := range names {
			b = append(append(b, n...), 0)
		}
		r.reply(b)

	case xsDirectoryPart:
		s.directoryPart(r, v)

	case xsGetPerms:
		abs, ok := r.path()
		if !ok {
			return
		}
		perms, errno := v.getPerms(c, abs)
		if errno != "" {
			r.fail(errno)
			return
		}
		var b []byte
		for _, p := range perms {
			b = append(append(b, p.String()...), 0)
		}
		r.reply(b)

	case xsSetPerms:
		strs, tail := r.strings()
		if len(strs) < 2 || len(tail) != 0 {
			r.fail("EINVAL")
			return
		}
		abs, _, ok := c.canon(strs[0], false)
		perms, pok := parsePerms(strs[1:])
		if !ok || !pok {
			r.fail("EINVAL")
			return
		}
		r.done(v.setPerms(c, abs, perms))

	case xsWatch:
		s.watch(r)

	case xsUnwatch:
		strs, _ := r.strings()
		if len(strs) < 2 {
			r.fail("EINVAL")
			return
		}
		abs, _, ok := c.canon(strs[0], true)
		if !ok {
			r.fail("EINVAL")
			return
		}
		for i, w := range c.watches {
			if w.abs == abs && w.token == strs[1] {
				c.watches = append(c.watches[:i:i], c.watches[i+1:]...)
				r.ok()
				return
			}
		}
		r.fail("ENOENT")

	case xsTransactionStart:
		if len(c.txs) >= s.maxTx {
			r.fail("ENOSPC")
			return
		}
		s.nextTxID++
		if s.nextTxID == 0 {
			s.nextTxID++
		}
		for c.txs[s.nextTxID] != nil {
			s.nextTxID++
		}
		t := &txn{id: s.nextTxID, root: s.root.clone(), startSeq: s.seq, accessed: make(map[string]struct{})}
		c.txs[t.id] = t
		r.reply([]byte(strconv.FormatUint(uint64(t.id), 10) + "\x00"))

	case xsTransactionEnd:
		if h.txID == 0 {
			r.fail("EINVAL")
			return
		}
		arg, ok := r.onearg()
		if !ok || (arg != "T" && arg != "F") {
			r.fail("EINVAL")
			return
		}
		t := c.txs[h.txID]
		delete(c.txs, h.txID)
		if arg == "T" {
			r.done(s.commit(c, t))
			return
		}
		r.ok()

	case xsGetDomainPath:
		arg, ok := r.onearg()
		domid, dok := parseDomid(arg)
		if !ok || !dok {
			r.fail("EINVAL")
			return
		}
		r.reply([]byte(domainPath(domid) + "\x00"))

	case xsIsDomainIntroduced:
		arg, ok := r.onearg()
		domid, dok := parseDomid(arg)
		if !ok || !dok {
			r.fail("EINVAL")
			return
		}
		if s.introduced[domid] {
			r.reply([]byte("T\x00"))
		} else {
			r.reply([]byte("F\x00"))
		}

	case xsIntroduce:
		if !c.privileged() {
			r.fail("EACCES")
			return
		}
		strs, _ := r.strings()
		if len(strs) < 3 {
			r.fail("EINVAL")
			return
		}
		domid, ok := parseDomid(strs[0])
		if !ok || domid == 0 {
			r.fail("EINVAL")
			return
		}
		for _, num := range strs[1:3] {
			if _, err := strconv.ParseInt(num, 10, 64); err != nil {
				r.fail("EINVAL")
				return
			}
		}
		s.introduced[domid] = true
		r.ok()
		s.fireSpecial("@introduceDomain")

	case xsRelease:
		if !c.privileged() {
			r.fail("EACCES")
			return
		}
		arg, ok := r.onearg()
		domid, dok := parseDomid(arg)
		if !ok || !dok || domid == 0 {
			r.fail("EINVAL")
			return
		}
		if !s.introduced[domid] {
			r.fail("ENOENT")
			return
		}
		delete(s.introduced, domid)
		r.ok()
		s.fireSpecial("@releaseDomain")

	case xsResume:
		if !c.privileged() {
			r.fail("EACCES")
			return
		}
		arg, ok := r.onearg()
		domid, dok := parseDomid(arg)
		if !ok || !dok {
			r.fail("EINVAL")
			return
		}
		if !s.introduced[domid] {
			r.fail("ENOENT")
			return
		}
		r.ok()

	case xsSetTarget:
		if !c.privileged() {
			r.fail("EACCES")
			return
		}
		strs, tail := r.strings()
		if len(strs) != 2 || len(tail) != 0 {
			r.fail("EINVAL")
			return
		}
		domid, ok1 := parseDomid(strs[0])
		target, ok2 := parseDomid(strs[1])
		if !ok1 || !ok2 {
			r.fail("EINVAL")
			return
		}
		s.targets[domid] = target
		r.ok()

	case xsResetWatches:
		c.watches = nil
		c.txs = make(map[uint32]*txn)
		r.ok()

	default:
		// CONTROL is implementation specific; WATCH_EVENT and ERROR are
		// not requests; anything else is unknown. xenstored says ENOSYS.
		r.fail("ENOSYS")
	}
}

// path parses the one-path payload shared by READ, MKDIR, RM, DIRECTORY,
// GET_PERMS; on failure it has already replied EINVAL.
func (r *request) path() (string, bool) {
	arg, ok := r.onearg()
	if ok {
		var abs string
		if abs, _, ok = r.c.canon(arg, false); ok {
			return abs, true
		}
	}
	r.fail("EINVAL")
	return "", false
}

// done replies OK or the errno.
func (r *request) done(errno string) {
	if errno != "" {
		r.fail(errno)
		return
	}
	r.ok()
}

func parsePerms(strs []string) ([]perm, bool) {
	if len(strs) == 0 {
		return nil, false
	}
	perms := make([]perm, len(strs))
	for i, s := range strs {
		p, ok := parsePerm(s)
		if !ok {
			return nil, false
		}
		perms[i] = p
	}
	return perms, true
}

// watch handles WATCH "<wpath>|<token>|?": register, acknowledge, then fire
// once straight away with the watch's own path, in that order, as C
// xenstored does.
func (s *Server) watch(r *request) {
	c := r.c
	strs, _ := r.strings()
	if len(strs) < 2 {
		r.fail("EINVAL")
		return
	}
	abs, base, ok := c.canon(strs[0], true)
	if !ok {
		r.fail("EINVAL")
		return
	}
	token := strs[1]
	for _, w := range c.watches {
		if w.abs == abs && w.token == token {
			r.fail("EEXIST")
			return
		}
	}
	if len(c.watches) >= s.maxWatches {
		r.fail("E2BIG")
		return
	}
	w := &watch{path: strs[0], abs: abs, token: token, base: base}
	c.watches = append(c.watches, w)
	r.ok()
	c.event(w, abs)
}

// directoryPart implements DIRECTORY_PART "<path>|<offset>|" like C
// xenstored: the reply is the node's generation count, then as many child
// names as fit from byte offset <offset> of the child list, then an extra
// NUL if that reached the end.
func (s *Server) directoryPart(r *request, v view) {
	strs, tail := r.strings()
	if len(strs) != 2 || len(tail) != 0 {
		r.fail("EINVAL")
		return
	}
	abs, _, ok := r.c.canon(strs[0], false)
	off, err := strconv.Atoi(strs[1])
	if !ok || err != nil || off < 0 {
		r.fail("EINVAL")
		return
	}
	n, errno := v.readable(r.c, abs)
	if errno != "" {
		r.fail(errno)
		return
	}
	var list []byte
	for _, ch := range n.children {
		list = append(append(list, ch.name...), 0)
	}
	out := append([]byte(strconv.FormatUint(n.gen, 10)), 0)
	if off >= len(list) {
		r.reply(append(out, 0))
		return
	}
	// Take whole names while they fit, leaving room for the end marker.
	max := payloadMax - len(out) - 1
	end := off
	for end < len(list) {
		j := bytes.IndexByte(list[end:], 0)
		if end+j+1-off > max {
			break
		}
		end += j + 1
	}
	out = append(out, list[off:end]...)
	if end == len(list) {
		out = append(out, 0)
	}
	r.reply(out)
}
