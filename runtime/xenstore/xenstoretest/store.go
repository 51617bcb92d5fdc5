package xenstoretest

// This file is the data model: operations on a tree (the committed one or a
// transaction's snapshot), with xenstored's permission rules, change
// tracking for conflict detection, and watch firing.

// txn is an open transaction: a snapshot of the whole tree taken at start
// (as docs/misc/xenstore.txt describes), the paths it touched, and the
// mutations to replay on commit.
type txn struct {
	id       uint32
	root     *node
	startSeq uint64
	accessed map[string]struct{}
	ops      []txop
}

type txopKind int

const (
	opWrite txopKind = iota
	opMkdir
	opRm
	opSetPerms
)

type txop struct {
	kind  txopKind
	path  string
	value []byte
	perms []perm
}

// view is the tree an operation works on: the committed tree (tx nil) or a
// transaction's snapshot.
type view struct {
	s    *Server
	root *node
	tx   *txn
}

func (s *Server) mainView() view { return view{s: s, root: s.root} }

func (s *Server) txView(t *txn) view { return view{s: s, root: t.root, tx: t} }

// accessed records that the transaction depends on path. Commit fails with
// EAGAIN if any such path changed in the committed tree meanwhile, which is
// modern C xenstored's conflict rule (older ones failed on any intervening
// write; both are allowed by the protocol).
func (v view) accessed(path string) {
	if v.tx != nil {
		v.tx.accessed[path] = struct{}{}
	}
}

// modified records a change to path: in a transaction, a dependency; in the
// committed tree, a new modification sequence number.
func (v view) modified(path string) {
	if v.tx != nil {
		v.tx.accessed[path] = struct{}{}
		return
	}
	v.s.seq++
	v.s.modSeq[path] = v.s.seq
}

func (v view) fire(path string, recursive bool, perms []perm) {
	if v.tx == nil {
		v.s.fire(path, recursive, perms)
	}
}

func (v view) record(op txop) {
	if v.tx != nil {
		v.tx.ops = append(v.tx.ops, op)
	}
}

func (v view) lookup(abs string) *node {
	n := v.root
	for _, name := range components(abs) {
		if n = n.child(name); n == nil {
			return nil
		}
	}
	return n
}

// access computes what c may do with a node carrying perms, by
// xenstored's perm_for_conn: privileged connections and the owner (first
// entry) get everything; otherwise the first later entry naming c's domain
// (or the domain it targets) decides; otherwise the first entry's access.
func (s *Server) access(c *conn, perms []perm) int {
	if c.privileged() || len(perms) == 0 {
		return permAll
	}
	tgt, hasTgt := s.targets[c.domid]
	if perms[0].domid == c.domid || hasTgt && perms[0].domid == tgt {
		return permAll
	}
	for _, p := range perms[1:] {
		if p.domid == c.domid || hasTgt && p.domid == tgt {
			return accessBits(p.access)
		}
	}
	return accessBits(perms[0].access)
}

// missing is the errno for a node that does not exist: ENOENT, unless c
// cannot read the nearest existing ancestor, in which case it may not even
// learn that (EACCES), as xenstored's errno_from_parents.
func (v view) missing(c *conn, abs string) string {
	p := abs
	for p != "/" {
		p = parentOf(p)
		if n := v.lookup(p); n != nil {
			if v.s.access(c, n.perms)&permRead == 0 {
				return "EACCES"
			}
			return "ENOENT"
		}
	}
	return "ENOENT"
}

func (v view) read(c *conn, abs string) ([]byte, string) {
	v.accessed(abs)
	n := v.lookup(abs)
	if n == nil {
		return nil, v.missing(c, abs)
	}
	if v.s.access(c, n.perms)&permRead == 0 {
		return nil, "EACCES"
	}
	return append([]byte{}, n.value...), ""
}

// create makes abs and any missing parents. Each new node inherits its
// parent's permissions, except that an unprivileged creator becomes the
// owner. Creating needs write access to the nearest existing ancestor.
func (v view) create(c *conn, abs string) (*node, string) {
	n, path := v.root, "/"
	names := components(abs)
	i := 0
	for ; i < len(names); i++ {
		ch := n.child(names[i])
		if ch == nil {
			break
		}
		n, path = ch, join(path, names[i])
	}
	if v.s.access(c, n.perms)&permWrite == 0 {
		return nil, "EACCES"
	}
	if i == len(names) {
		return n, ""
	}
	n.gen = v.s.nextGen()
	v.modified(path)
	for ; i < len(names); i++ {
		ch := &node{name: names[i], perms: append([]perm(nil), n.perms...), gen: v.s.nextGen()}
		if c.domid != 0 {
			ch.perms[0].domid = c.domid
		}
		n.children = append(n.children, ch)
		n, path = ch, join(path, names[i])
		v.modified(path)
	}
	return n, ""
}

func (v view) write(c *conn, abs string, value []byte) string {
	n := v.lookup(abs)
	if n == nil {
		var errno string
		if n, errno = v.create(c, abs); errno != "" {
			return errno
		}
	} else if v.s.access(c, n.perms)&permWrite == 0 {
		return "EACCES"
	}
	n.value = append([]byte{}, value...)
	n.gen = v.s.nextGen()
	v.modified(abs)
	v.record(txop{kind: opWrite, path: abs, value: n.value})
	v.fire(abs, false, n.perms)
	return ""
}

func (v view) mkdir(c *conn, abs string) string {
	v.accessed(abs)
	if n := v.lookup(abs); n != nil {
		// Already there: fine, but like xenstored only if c may write it.
		if v.s.access(c, n.perms)&permWrite == 0 {
			return "EACCES"
		}
		return ""
	}
	n, errno := v.create(c, abs)
	if errno != "" {
		return errno
	}
	v.record(txop{kind: opMkdir, path: abs})
	v.fire(abs, false, n.perms)
	return ""
}

func (v view) rm(c *conn, abs string) string {
	if abs == "/" {
		return "EINVAL"
	}
	v.accessed(abs)
	n := v.lookup(abs)
	if n == nil {
		// Not an error if the parent exists.
		parent := parentOf(abs)
		v.accessed(parent)
		if pn := v.lookup(parent); pn != nil {
			if v.s.access(c, pn.perms)&permRead == 0 {
				return "EACCES"
			}
			return ""
		}
		return v.missing(c, abs)
	}
	if v.s.access(c, n.perms)&permWrite == 0 {
		return "EACCES"
	}
	parent := v.lookup(parentOf(abs))
	parent.removeChild(n.name)
	parent.gen = v.s.nextGen()
	v.modified(parentOf(abs))
	n.walk(abs, func(p string, _ *node) { v.modified(p) })
	v.record(txop{kind: opRm, path: abs})
	v.fire(abs, true, n.perms)
	return ""
}

func (v view) directory(c *conn, abs string) ([]string, string) {
	n, errno := v.readable(c, abs)
	if errno != "" {
		return nil, errno
	}
	names := make([]string, len(n.children))
	for i, ch := range n.children {
		names[i] = ch.name
	}
	return names, ""
}

func (v view) readable(c *conn, abs string) (*node, string) {
	v.accessed(abs)
	n := v.lookup(abs)
	if n == nil {
		return nil, v.missing(c, abs)
	}
	if v.s.access(c, n.perms)&permRead == 0 {
		return nil, "EACCES"
	}
	return n, ""
}

func (v view) getPerms(c *conn, abs string) ([]perm, string) {
	n, errno := v.readable(c, abs)
	if errno != "" {
		return nil, errno
	}
	return append([]perm(nil), n.perms...), ""
}

// setPerms needs owner rights (write and owner bits); an unprivileged
// owner may not give the node away (EPERM).
func (v view) setPerms(c *conn, abs string, perms []perm) string {
	v.accessed(abs)
	n := v.lookup(abs)
	if n == nil {
		return v.missing(c, abs)
	}
	if v.s.access(c, n.perms)&(permWrite|permOwner) != permWrite|permOwner {
		return "EACCES"
	}
	if !c.privileged() && perms[0].domid != n.perms[0].domid {
		return "EPERM"
	}
	n.perms = append([]perm(nil), perms...)
	n.gen = v.s.nextGen()
	v.modified(abs)
	v.record(txop{kind: opSetPerms, path: abs, perms: n.perms})
	v.fire(abs, false, n.perms)
	return ""
}

// commit applies t to the committed tree, or reports EAGAIN.
func (s *Server) commit(c *conn, t *txn) string {
	if s.failCommits > 0 {
		s.failCommits--
		return "EAGAIN"
	}
	for p := range t.accessed {
		if s.modSeq[p] > t.startSeq {
			return "EAGAIN"
		}
	}
	v, r := s.mainView(), replayAs(c)
	for _, op := range t.ops {
		// Permission checks passed on the snapshot and nothing the
		// transaction touched has changed since, so replaying cannot
		// fail; it also fires the watches, at commit time only.
		switch op.kind {
		case opWrite:
			v.write(r, op.path, op.value)
		case opMkdir:
			v.mkdir(r, op.path)
		case opRm:
			v.rm(r, op.path)
		case opSetPerms:
			v.setPerms(r, op.path, op.perms)
		}
	}
	return ""
}

// replayAs returns a privileged stand-in for c that keeps c's domid: replay
// must not re-check permissions, but a node an unprivileged domain created
// in its transaction is still owned by it.
func replayAs(c *conn) *conn {
	return &conn{s: c.s, domid: c.domid, replay: true}
}

// fire sends WATCH_EVENTs for a change to abs, per docs/misc/xenstore.txt:
// every watch on abs or an ancestor of it fires with abs; if recursive (a
// removal), every watch beneath abs fires with its own path. Unprivileged
// watchers only hear of nodes they may read.
func (s *Server) fire(abs string, recursive bool, perms []perm) {
	for c := range s.conns {
		for _, w := range c.watches {
			var epath string
			switch {
			case isChild(abs, w.abs):
				epath = abs
			case recursive && isChild(w.abs, abs):
				epath = w.abs
			default:
				continue
			}
			if s.access(c, perms)&permRead == 0 {
				continue
			}
			c.event(w, epath)
		}
	}
}

// fireSpecial fires the watches on a special path such as @releaseDomain.
func (s *Server) fireSpecial(name string) {
	for c := range s.conns {
		for _, w := range c.watches {
			if w.abs == name {
				c.event(w, name)
			}
		}
	}
}
