package xenstoretest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
)

// Default per-connection quotas (C xenstored's defaults).
const (
	DefaultMaxTransactions = 10
	DefaultMaxWatches      = 128
)

// Server is an in-memory xenstored. The zero value is not usable; call New.
// All methods are safe for concurrent use.
type Server struct {
	mu     sync.Mutex
	cond   *sync.Cond // signals stalled -> false and closed
	root   *node
	gen    uint64            // source of node generation counts
	seq    uint64            // modification sequence number
	modSeq map[string]uint64 // path -> seq of its last change (incl. removal)

	conns      map[*conn]struct{}
	listeners  map[net.Listener]struct{}
	nextTxID   uint32
	introduced map[uint32]bool
	targets    map[uint32]uint32

	maxTx, maxWatches int
	failCommits       int
	stalled           bool
	closed            bool

	dom0 *conn // identity for the direct (test-side) helpers
	wg   sync.WaitGroup
}

// Option configures a Server.
type Option func(*Server)

// WithMaxTransactions sets how many transactions one connection may have
// open; one more gets ENOSPC. Default DefaultMaxTransactions.
func WithMaxTransactions(n int) Option { return func(s *Server) { s.maxTx = n } }

// WithMaxWatches sets how many watches one connection may hold; one more
// gets E2BIG. Default DefaultMaxWatches.
func WithMaxWatches(n int) Option { return func(s *Server) { s.maxWatches = n } }

// New returns a running Server whose tree holds "/", "/local",
// "/local/domain" and "/local/domain/0", all with permissions "n0" (owned
// by dom0, no access for anyone else), and where dom0 is introduced.
func New(opts ...Option) *Server {
	s := &Server{
		modSeq:     make(map[string]uint64),
		conns:      make(map[*conn]struct{}),
		listeners:  make(map[net.Listener]struct{}),
		introduced: map[uint32]bool{0: true},
		targets:    make(map[uint32]uint32),
		maxTx:      DefaultMaxTransactions,
		maxWatches: DefaultMaxWatches,
	}
	s.cond = sync.NewCond(&s.mu)
	for _, o := range opts {
		o(s)
	}
	s.root = &node{name: "", perms: []perm{{'n', 0}}, gen: s.nextGen()}
	s.dom0 = &conn{s: s, domid: 0}
	v := s.mainView()
	for _, p := range []string{"/local", "/local/domain", "/local/domain/0"} {
		if errno := v.mkdir(s.dom0, p); errno != "" {
			panic("xenstoretest: init " + p + ": " + errno)
		}
	}
	return s
}

func (s *Server) nextGen() uint64 { s.gen++; return s.gen }

// Conn returns the client end of a new in-memory connection served as
// dom0 (privileged, like xenstored's unix socket). Pass it to
// xenstore.NewClient.
func (s *Server) Conn() net.Conn { return s.ConnAs(0) }

// ConnAs returns the client end of a new in-memory connection from domain
// domid. A non-zero domid is unprivileged, like a guest talking through
// its ring: permissions apply, relative paths resolve beneath
// /local/domain/<domid>, and the domain-management requests are refused.
func (s *Server) ConnAs(domid uint32) net.Conn {
	client, server := net.Pipe()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.ServeConn(server, domid)
	}()
	return client
}

// Serve accepts connections on l, serving each as dom0, until l fails or
// the Server is closed. Close closes l.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return net.ErrClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	for {
		rw, err := l.Accept()
		if err != nil {
			return err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.ServeConn(rw, 0)
		}()
	}
}

// ServeConn speaks the xenstore protocol on rw as domain domid until rw
// fails, the peer breaks the protocol (a payload over 4096 bytes, as
// xenstored does), or the Server is closed. It closes rw. The connection's
// watches and open transactions die with it.
func (s *Server) ServeConn(rw io.ReadWriteCloser, domid uint32) {
	c := &conn{s: s, rw: rw, domid: domid, txs: make(map[uint32]*txn)}
	c.ocond = sync.NewCond(&c.omu)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		rw.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		c.watches, c.txs = nil, nil
		s.mu.Unlock()
		c.closeOutbox()
		rw.Close()
		<-writerDone
	}()

	for {
		h, payload, err := readRequest(rw)
		if err != nil {
			return
		}
		s.mu.Lock()
		for s.stalled && !s.closed {
			s.cond.Wait()
		}
		if s.closed {
			s.mu.Unlock()
			return
		}
		if _, live := s.conns[c]; live {
			s.handle(c, h, payload)
		}
		s.mu.Unlock()
	}
}

// Close closes every connection and listener and waits for the goroutines
// the Server started. Later connections are refused.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.cond.Broadcast()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	for l := range s.listeners {
		l.Close()
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.rw.Close()
	}
	s.wg.Wait()
	return nil
}

// SetStalled makes the Server stop (true) or resume (false) answering.
// While stalled, requests are read but not processed, as with a wedged
// xenstored; they are answered in order once it resumes. Use it to test
// deadlines and cancellation.
func (s *Server) SetStalled(stalled bool) {
	s.mu.Lock()
	s.stalled = stalled
	s.cond.Broadcast()
	s.mu.Unlock()
}

// FailCommits makes the next n commits (TRANSACTION_END T) fail with
// EAGAIN, as if another writer had interfered, discarding the transaction.
func (s *Server) FailCommits(n int) {
	s.mu.Lock()
	s.failCommits = n
	s.mu.Unlock()
}

// ReleaseDomain simulates domain domid dying: it is no longer introduced
// and @releaseDomain watches fire. (Like xenstored, the tree is left
// alone; removing /local/domain/<domid> is the toolstack's job.)
func (s *Server) ReleaseDomain(domid uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.introduced, domid)
	s.fireSpecial("@releaseDomain")
}

// IntroduceDomain simulates the toolstack introducing domain domid:
// @introduceDomain watches fire.
func (s *Server) IntroduceDomain(domid uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.introduced[domid] = true
	s.fireSpecial("@introduceDomain")
}

// NumWatches counts the watches registered over all connections.
func (s *Server) NumWatches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		n += len(c.watches)
	}
	return n
}

// NumTransactions counts the open transactions over all connections.
func (s *Server) NumTransactions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		n += len(c.txs)
	}
	return n
}

// NumConns counts the live connections.
func (s *Server) NumConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// The direct helpers below act on the committed tree as dom0, without the
// wire; writes fire watches like any dom0 write. Paths must be absolute.
// Errors carry the errno name xenstored would have answered.

// Error is the error of a direct helper: the xenstore errno name.
type Error struct {
	Op, Path, Errno string
}

func (e *Error) Error() string {
	return "xenstoretest " + e.Op + " " + e.Path + ": " + e.Errno
}

func helperErr(op, path, errno string) error {
	if errno == "" {
		return nil
	}
	return &Error{Op: op, Path: path, Errno: errno}
}

// Read returns the value at path and whether the node exists.
func (s *Server) Read(path string) ([]byte, bool) {
	if !validNodePath(path) {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, errno := s.mainView().read(s.dom0, path)
	return v, errno == ""
}

// Exists reports whether path exists.
func (s *Server) Exists(path string) bool {
	_, ok := s.Read(path)
	return ok
}

// Write stores value at path, creating parents.
func (s *Server) Write(path string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !validNodePath(path) {
		return helperErr("write", path, "EINVAL")
	}
	return helperErr("write", path, s.mainView().write(s.dom0, path, value))
}

// Mkdir creates path and its parents.
func (s *Server) Mkdir(path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !validNodePath(path) {
		return helperErr("mkdir", path, "EINVAL")
	}
	return helperErr("mkdir", path, s.mainView().mkdir(s.dom0, path))
}

// Rm removes path recursively.
func (s *Server) Rm(path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !validNodePath(path) {
		return helperErr("rm", path, "EINVAL")
	}
	return helperErr("rm", path, s.mainView().rm(s.dom0, path))
}

// Directory lists path's children, nil if it does not exist.
func (s *Server) Directory(path string) []string {
	if !validNodePath(path) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	names, _ := s.mainView().directory(s.dom0, path)
	return names
}

// Permissions returns path's permissions in wire form ("b0", "r5"), nil if
// it does not exist.
func (s *Server) Permissions(path string) []string {
	if !validNodePath(path) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.mainView().lookup(path)
	if n == nil {
		return nil
	}
	out := make([]string, len(n.perms))
	for i, p := range n.perms {
		out[i] = p.String()
	}
	return out
}

// SetPermissions sets path's permissions from wire-form strings; the first
// names the owner and everyone's default access.
func (s *Server) SetPermissions(path string, perms ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps, ok := parsePerms(perms)
	if !ok || !validNodePath(path) {
		return helperErr("set_perms", path, "EINVAL")
	}
	return helperErr("set_perms", path, s.mainView().setPerms(s.dom0, path, ps))
}

// Dump renders the committed tree, one node per line in path order, as
// "path = "value" [perms]", for test failure messages.
func (s *Server) Dump() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lines []string
	s.root.walk("/", func(p string, n *node) {
		ps := make([]string, len(n.perms))
		for i, pm := range n.perms {
			ps[i] = pm.String()
		}
		lines = append(lines, fmt.Sprintf("%s = %q [%s]", p, n.value, strings.Join(ps, " ")))
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// conn is one client connection.
type conn struct {
	s       *Server
	rw      io.ReadWriteCloser
	domid   uint32
	replay  bool
	watches []*watch        // guarded by s.mu
	txs     map[uint32]*txn // guarded by s.mu

	omu     sync.Mutex
	ocond   *sync.Cond
	out     [][]byte
	oclosed bool
}

// privileged connections (dom0, and transaction replay) bypass permission
// checks, as xenstored's domain_is_unprivileged() == false.
func (c *conn) privileged() bool { return c.domid == 0 || c.replay }

// send queues one message. Replies and events share the queue, so they
// reach the client in the order the server produced them.
func (c *conn) send(t msgType, reqID, txID uint32, payload []byte) {
	b := make([]byte, 16+len(payload))
	binary.LittleEndian.PutUint32(b[0:], uint32(t))
	binary.LittleEndian.PutUint32(b[4:], reqID)
	binary.LittleEndian.PutUint32(b[8:], txID)
	binary.LittleEndian.PutUint32(b[12:], uint32(len(payload)))
	copy(b[16:], payload)
	if c.ocond == nil { // the helpers' dom0 identity has no wire
		return
	}
	c.omu.Lock()
	if !c.oclosed {
		c.out = append(c.out, b)
		c.ocond.Signal()
	}
	c.omu.Unlock()
}

func (c *conn) closeOutbox() {
	c.omu.Lock()
	c.oclosed = true
	c.ocond.Broadcast()
	c.omu.Unlock()
}

// writeLoop drains the outbox, so the server never blocks on a slow
// client while holding its lock.
func (c *conn) writeLoop() {
	for {
		c.omu.Lock()
		for len(c.out) == 0 && !c.oclosed {
			c.ocond.Wait()
		}
		if len(c.out) == 0 {
			c.omu.Unlock()
			return
		}
		b := c.out[0]
		c.out[0] = nil
		c.out = c.out[1:]
		c.omu.Unlock()
		if _, err := c.rw.Write(b); err != nil {
			c.rw.Close()
			c.omu.Lock()
			c.oclosed = true
			c.out = nil
			c.omu.Unlock()
			return
		}
	}
}

var errTooLong = errors.New("xenstoretest: payload exceeds XENSTORE_PAYLOAD_MAX")

// readRequest reads one message. A payload length over 4096 is a fatal
// protocol violation, as in xenstored.
func readRequest(r io.Reader) (header, []byte, error) {
	var hb [16]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return header{}, nil, err
	}
	h := header{
		typ:   msgType(binary.LittleEndian.Uint32(hb[0:])),
		reqID: binary.LittleEndian.Uint32(hb[4:]),
		txID:  binary.LittleEndian.Uint32(hb[8:]),
		len:   binary.LittleEndian.Uint32(hb[12:]),
	}
	if h.len > payloadMax {
		return header{}, nil, errTooLong
	}
	p := make([]byte, h.len)
	if _, err := io.ReadFull(r, p); err != nil {
		return header{}, nil, err
	}
	return h, p, nil
}

type header struct {
	typ              msgType
	reqID, txID, len uint32
}
