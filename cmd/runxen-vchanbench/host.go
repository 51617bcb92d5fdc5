//go:build linux

package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/ttrpc"

	"github.com/runxen/runxen/runtime/vchan"
	"github.com/runxen/runxen/runtime/xenstore"
)

type hostConfig struct {
	domid     uint32
	proxy     string
	interop   bool
	bench     bool
	shutdown  bool
	checkSize int64
	benchSize int64
	benchTime time.Duration // per transfer
	rttCount  int
	rttTime   time.Duration // per latency figure
	rounds    int
	pingSize  int
	only      string // comma-separated pair names, empty: all
	sockDir   string
	timeout   time.Duration
	devices   vchan.Devices // nil: Xen's
}

func hostMain(args []string) error {
	fs := flag.NewFlagSet("host", flag.ContinueOnError)
	domid := fs.Int("domid", -1, "the bench guest's domain ID (required; 0 for a guest role run in dom0 itself)")
	proxy := fs.String("proxy", "", "vchan-socket-proxy binary (default: found under /usr/lib/xen-*/bin)")
	interop := fs.Bool("interop", false, "run the interop checks")
	bench := fs.Bool("bench", false, "run the throughput and latency benchmark")
	shutdown := fs.Bool("shutdown", false, "at the end, tell the guest to withdraw its endpoints and power off, and check it left nothing in xenstore")
	checkMiB := fs.Float64("check-mib", 4, "MiB per interop transfer")
	benchMiB := fs.Float64("bench-mib", 256, "most MiB per throughput transfer")
	benchTime := fs.Duration("bench-time", 10*time.Second, "most time per throughput transfer")
	rtt := fs.Int("rtt-count", 2000, "most round trips per latency figure")
	rttTime := fs.Duration("rtt-time", 10*time.Second, "most time per latency figure")
	rounds := fs.Int("rounds", 1, "benchmark rounds; the table shows medians")
	pingSize := fs.Int("ping-size", 64, "payload bytes per round trip")
	only := fs.String("pairs", "", "comma-separated pairs to run (e.g. go>go-2K,c>c); default all")
	sockDir := fs.String("sock-dir", "", "directory for the host-side proxies' unix sockets (default: a temporary one)")
	timeout := fs.Duration("timeout", 40*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil || *domid < 0 {
		if err == nil {
			fmt.Fprintln(os.Stderr, "host: --domid is required")
		}
		return errUsage
	}
	cfg := hostConfig{
		domid: uint32(*domid), proxy: findProxy(*proxy), interop: *interop, bench: *bench, shutdown: *shutdown,
		checkSize: int64(*checkMiB * (1 << 20)), benchSize: int64(*benchMiB * (1 << 20)), benchTime: *benchTime,
		rttCount: *rtt, rttTime: *rttTime, rounds: max(1, *rounds), pingSize: *pingSize, only: *only, sockDir: *sockDir, timeout: *timeout,
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	xs, err := xenstore.Dial(ctx)
	if err != nil {
		return err
	}
	defer xs.Close()
	h, err := newHost(ctx, cfg, xs, os.Stdout)
	if err != nil {
		return err
	}
	defer h.close()
	return h.run(ctx)
}

// endpoint is one of the guest's servers.
type endpoint struct {
	name string // "go-2K", "go-64K", "c"
	path string // xenstore path of its vchan
}

func (e endpoint) isC() bool { return e.name == cName }

// pair is a client kind talking to an endpoint.
type pair struct {
	client string // "go" or "c"
	ep     endpoint
}

func (p pair) name() string { return p.client + ">" + p.ep.name }

// hops is how many unix-socket hops vchan-socket-proxy adds.
func (p pair) hops() int {
	n := 0
	if p.client == "c" {
		n++
	}
	if p.ep.isC() {
		n++
	}
	return n
}

type host struct {
	cfg   hostConfig
	xs    *xenstore.Client
	out   io.Writer
	eps   []endpoint
	pairs []pair

	mu      sync.Mutex
	proxies map[string]*exec.Cmd // endpoint name -> client-mode proxy
	sockDir string
	tmp     bool

	dialGo func(ctx context.Context, path string) (net.Conn, error)

	report report
}

// report is what the host prints as JSON at the end.
type report struct {
	Domid   uint32        `json:"domid"`
	Checks  []checkResult `json:"checks,omitempty"`
	Bench   []benchResult `json:"bench,omitempty"`
	Unix    *unixResult   `json:"unix,omitempty"`
	Ratios  []ratio       `json:"ratios,omitempty"`
	Cleanup *cleanup      `json:"cleanup,omitempty"`
	Failed  int           `json:"failed"`
}

type checkResult struct {
	Pair  string `json:"pair"`
	Check string `json:"check"`
	OK    bool   `json:"ok"`
	// Known marks a failure that is vchan-socket-proxy's documented
	// behaviour, not a fault of either vchan implementation.
	Known bool   `json:"known,omitempty"`
	Note  string `json:"note,omitempty"`
}

type benchResult struct {
	Pair      string  `json:"pair"`
	Hops      int     `json:"hops"`
	Ring      string  `json:"ring"`
	H2GMiBps  float64 `json:"h2g_mibps"`
	G2HMiBps  float64 `json:"g2h_mibps"`
	RawP50us  float64 `json:"raw_p50_us"`
	RawP99us  float64 `json:"raw_p99_us"`
	RPCP50us  float64 `json:"ttrpc_p50_us"`
	RPCP99us  float64 `json:"ttrpc_p99_us"`
	H2GMiB    float64 `json:"h2g_mib"`
	G2HMiB    float64 `json:"g2h_mib"`
	RawN      int     `json:"raw_n"`
	RPCN      int     `json:"ttrpc_n"`
	Rounds    int     `json:"rounds"`
	Note      string  `json:"note,omitempty"`
	HostEvPMB float64 `json:"host_events_per_mib,omitempty"`
	Err       string  `json:"error,omitempty"`
}

type unixResult struct {
	Dom0MiBps  float64 `json:"dom0_mibps"`
	GuestMiBps float64 `json:"guest_mibps"`
	Dom0RTTus  float64 `json:"dom0_rtt_us"`
	GuestRTTus float64 `json:"guest_rtt_us"`
}

type ratio struct {
	Go, C    string
	H2G, G2H float64
	RPCP50   float64 `json:"ttrpc_p50"`
}

type cleanup struct {
	GuestLeft []string `json:"guest_left"`
	Note      string   `json:"note"`
}

func newHost(ctx context.Context, cfg hostConfig, xs *xenstore.Client, out io.Writer) (*host, error) {
	h := &host{cfg: cfg, xs: xs, out: out, proxies: map[string]*exec.Cmd{}}
	h.report.Domid = cfg.domid
	h.dialGo = func(ctx context.Context, path string) (net.Conn, error) {
		self := uint32(0)
		dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		return vchan.Dial(dctx, vchan.Config{Store: xs, Peer: cfg.domid, Path: path, LocalDomain: &self, Devices: cfg.devices})
	}
	if err := h.discover(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

// discover lists the guest's endpoints from its session counters.
func (h *host) discover(ctx context.Context) error {
	names, err := h.xs.Directory(ctx, dataDir(h.cfg.domid))
	if err != nil {
		return fmt.Errorf("guest %d has no bench endpoints (%s): %w", h.cfg.domid, dataDir(h.cfg.domid), err)
	}
	slices.SortFunc(names, func(a, b string) int { return cmpEndpoint(a, b) })
	for _, n := range names {
		path := vchan.DefaultPath(h.cfg.domid, 0, endpointPrefix+n)
		if _, err := h.xs.Read(ctx, path+"/event-channel"); err != nil {
			fmt.Fprintf(h.out, "endpoint %s: not published (%v), skipped\n", n, err)
			continue
		}
		h.eps = append(h.eps, endpoint{name: n, path: path})
	}
	var want map[string]bool
	if h.cfg.only != "" {
		want = map[string]bool{}
		for _, p := range strings.Split(h.cfg.only, ",") {
			want[strings.TrimSpace(p)] = true
		}
	}
	for _, client := range []string{"go", "c"} {
		if client == "c" && h.cfg.proxy == "" {
			fmt.Fprintln(h.out, "no vchan-socket-proxy in this domain: C client pairs skipped")
			continue
		}
		for _, ep := range h.eps {
			p := pair{client: client, ep: ep}
			if want == nil || want[p.name()] {
				h.pairs = append(h.pairs, p)
			}
		}
	}
	if len(h.pairs) == 0 {
		return errors.New("no pairs to run")
	}
	return nil
}

// cmpEndpoint orders go-2K, go-64K, go-1M, c.
func cmpEndpoint(a, b string) int {
	key := func(s string) int {
		if s == cName {
			return 1 << 40
		}
		r := strings.TrimPrefix(s, "go-")
		mult := 1
		switch {
		case strings.HasSuffix(r, "K"):
			mult = 1 << 10
		case strings.HasSuffix(r, "M"):
			mult = 1 << 20
		}
		n, _ := strconv.Atoi(strings.TrimRight(r, "KM"))
		return n * mult
	}
	return key(a) - key(b)
}

func (h *host) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, cmd := range h.proxies {
		cmd.Process.Kill()
		cmd.Wait()
	}
	h.proxies = map[string]*exec.Cmd{}
	if h.tmp {
		os.RemoveAll(h.sockDir)
	}
}

func (h *host) logf(format string, args ...any) { fmt.Fprintf(h.out, format+"\n", args...) }

// clientSocket starts (once) vchan-socket-proxy in client mode for ep and
// returns its unix socket.
func (h *host) clientSocket(ep endpoint) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sockDir == "" {
		if h.cfg.sockDir != "" {
			h.sockDir = h.cfg.sockDir
			if err := os.MkdirAll(h.sockDir, 0o755); err != nil {
				return "", err
			}
		} else {
			d, err := os.MkdirTemp("", "vchanbench-")
			if err != nil {
				return "", err
			}
			h.sockDir, h.tmp = d, true
		}
	}
	sock := filepath.Join(h.sockDir, ep.name+".sock")
	if _, ok := h.proxies[ep.name]; ok {
		return sock, nil
	}
	os.Remove(sock)
	cmd := exec.Command(h.cfg.proxy, "-m", "client", strconv.Itoa(int(h.cfg.domid)), ep.path, sock)
	cmd.Stdout = prefixLines(h.out, "vchan-socket-proxy["+ep.name+"]: ")
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", h.cfg.proxy, err)
	}
	h.proxies[ep.name] = cmd
	return sock, nil
}

// killProxy ends the client-mode proxy of ep (a new one starts on the next
// dial). Its libxenvchan mapping carries an unmap notification, so the
// kernel closes its vchan: the guest sees the client gone.
func (h *host) killProxy(ep endpoint) {
	h.mu.Lock()
	cmd := h.proxies[ep.name]
	delete(h.proxies, ep.name)
	h.mu.Unlock()
	if cmd != nil {
		cmd.Process.Kill()
		cmd.Wait()
	}
}

func (h *host) dial(ctx context.Context, p pair) (net.Conn, error) {
	if p.client == "go" {
		return h.dialGo(ctx, p.ep.path)
	}
	sock, err := h.clientSocket(p.ep)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *host) sessions(ctx context.Context, ep endpoint) (int, error) {
	b, err := h.xs.Read(ctx, counterPath(h.cfg.domid, ep.name))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(b))
}

// session is one connection to an endpoint.
type session struct {
	h      *host
	p      pair
	conn   net.Conn
	r      *bufio.Reader
	before int
	closed bool
}

// open connects to p's endpoint. The previous connection to it must be
// finished on the guest's side first: vchan-socket-proxy (either mode)
// attaches to whatever state it finds, so connecting while the guest still
// tears the last connection down would lose data or kill the proxy.
func (h *host) open(ctx context.Context, p pair) (*session, error) {
	before, err := h.sessions(ctx, p.ep)
	if err != nil {
		return nil, fmt.Errorf("%s: session count: %w", p.ep.name, err)
	}
	c, err := h.dial(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("%s: connect: %w", p.name(), err)
	}
	if d, ok := ctx.Deadline(); ok {
		// A peer that stops moving data fails the check at the deadline
		// instead of blocking a read or write for ever.
		c.SetDeadline(d)
	}
	return &session{h: h, p: p, conn: c, r: bufio.NewReaderSize(c, 64<<10), before: before}, nil
}

// close closes the connection and waits until the guest has finished with
// it.
func (s *session) close(ctx context.Context) error { return s.closeWithin(ctx, 60*time.Second) }

func (s *session) closeWithin(ctx context.Context, d time.Duration) error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.conn.Close()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		n, err := s.h.sessions(ctx, s.p.ep)
		if err == nil && n > s.before {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: the guest did not finish the connection: %w", s.p.name(), ctx.Err())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s.p.ep.isC() {
		// vchan-socket-proxy drains the ring (discard_buffers) just after
		// it closed the socket: give it that moment.
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func (s *session) cmd(format string, args ...any) error {
	_, err := fmt.Fprintf(s.conn, format+"\n", args...)
	return err
}

func (h *host) run(ctx context.Context) error {
	h.logf("vchanbench host: guest domain %d, endpoints %s, pairs %s", h.cfg.domid, names(h.eps), pairNames(h.pairs))
	h.logf("proxy: %s", orNone(h.cfg.proxy))
	if h.cfg.interop {
		h.interop(ctx)
	}
	if h.cfg.bench {
		h.benchmark(ctx)
	}
	if h.cfg.shutdown {
		h.shutdownGuest(ctx)
	}
	b, _ := json.Marshal(h.report)
	fmt.Fprintf(h.out, "VCHANBENCH_RESULT %s\n", b)
	if h.report.Failed > 0 {
		return fmt.Errorf("%d checks failed", h.report.Failed)
	}
	return nil
}

func names(eps []endpoint) string {
	var s []string
	for _, e := range eps {
		s = append(s, e.name)
	}
	return strings.Join(s, ",")
}

func pairNames(ps []pair) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.name())
	}
	return strings.Join(s, ",")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// ---- interop ----

func (h *host) check(p pair, name string, err error, known bool, note string) {
	r := checkResult{Pair: p.name(), Check: name, OK: err == nil, Note: note}
	if err == nil && known {
		r.Note = "no loss this time, but " + note
	}
	status := "PASS"
	if err != nil {
		r.Note = strings.TrimSpace(err.Error() + "; " + note)
		r.Note = strings.TrimSuffix(r.Note, ";")
		r.Known = known
		if known {
			status = "KNOWN"
		} else {
			status = "FAIL"
			h.report.Failed++
		}
	}
	h.report.Checks = append(h.report.Checks, r)
	h.logf("%-5s %-12s %-18s %s", status, p.name(), name, r.Note)
}

// checkTimeout bounds one attempt at an interop check. vchan-socket-proxy
// has been seen to stall with libxenvchan on BOTH ends (the c>c pair: a
// source check stopped moving data until the deadline) and, as a client,
// to wait after its last write for an event nobody owes it; without a
// bound such a check hangs the run instead of failing on its own.
const checkTimeout = 150 * time.Second

// stallNote says why a check through vchan-socket-proxy passed only on its
// second attempt.
const stallNote = "first attempt stalled in vchan-socket-proxy (seen with libxenvchan on both ends too); passed with a fresh proxy"

// bounded runs one check within checkTimeout. A check that involves
// vchan-socket-proxy and stalls (its deadline passed) is tried once more
// with a fresh client proxy, and the note says so; any other failure, or a
// second stall, is the check's result. After a failure through a client
// proxy, that proxy is replaced so later checks of the pair start clean.
func (h *host) bounded(ctx context.Context, p pair, seed uint64, f func(context.Context, pair, uint64) error) (note string, err error) {
	attempt := func() error {
		ctx, cancel := context.WithTimeout(ctx, checkTimeout)
		defer cancel()
		err := f(ctx, p, seed)
		if err != nil && p.client == "c" {
			h.killProxy(p.ep)
		}
		return err
	}
	err = attempt()
	stalled := errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded)
	if stalled && (p.client == "c" || p.ep.isC()) && ctx.Err() == nil {
		h.logf("RETRY %-12s stalled (%v); again with a fresh proxy", p.name(), err)
		if err = attempt(); err == nil {
			return stallNote, nil
		}
	}
	return "", err
}

// checkRef marks failures of the reference pair (libxenvchan on both ends,
// no code of ours) as known: they measure vchan-socket-proxy, not us.
func (h *host) checkRef(p pair, name string, note string, err error, known bool, why string) {
	if p.client == "c" && p.ep.isC() && err != nil && !known {
		known, why = true, "libxenvchan on both ends (the reference pair, none of our code)"
	}
	h.check(p, name, err, known, joinNotes(why, note))
}

func joinNotes(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

func (h *host) interop(ctx context.Context) {
	h.logf("\n== interop: %s per transfer, SHA-256 checked ==", mib(h.cfg.checkSize))
	seed := uint64(time.Now().UnixNano())
	for _, p := range h.pairs {
		seed++
		note, err := h.bounded(ctx, p, seed, h.checkSink)
		h.checkRef(p, "sink h->g", note, err, false, "")
		seed++
		note, err = h.bounded(ctx, p, seed, h.checkSource)
		h.checkRef(p, "source g->h", note, err, false, "")
		seed++
		note, err = h.bounded(ctx, p, seed, h.checkEcho)
		h.checkRef(p, "echo both ways", note, err, false, "")
		note, err = h.bounded(ctx, p, seed, h.checkTTRPC)
		h.checkRef(p, "ttrpc ping", note, err, false, "")
		seed++
		switch {
		case p.ep.isC():
			h.logf("%-5s %-12s %-18s %s", "SKIP", p.name(), "eof g->h",
				"vchan-socket-proxy in server mode does not pass the service's close on: it reconnects to the socket (a TODO in its source)")
		case p.client == "c":
			note, err = h.bounded(ctx, p, seed, h.checkServerEOF)
			h.checkRef(p, "eof g->h", note, err, true,
				"vchan-socket-proxy in client mode may drop what is still in the ring when it sees the server gone (discard_buffers)")
		default:
			note, err = h.bounded(ctx, p, seed, h.checkServerEOF)
			h.checkRef(p, "eof g->h", note, err, false, "server closes after N bytes: client reads N bytes, then EOF")
		}
		seed++
		var hung string
		retried, err := h.bounded(ctx, p, seed, func(ctx context.Context, p pair, seed uint64) error {
			var err error
			hung, err = h.checkClientEOF(ctx, p, seed)
			return err
		})
		note = "client closes after N bytes: server reads N bytes, then EOF"
		if p.ep.isC() {
			note = "vchan-socket-proxy in server mode may drop what is still in the ring when it sees the client gone (discard_buffers)"
		}
		note = joinNotes(note, retried)
		if hung != "" {
			note += "; " + hung
		}
		h.checkRef(p, "eof h->g", "", err, p.ep.isC(), note)
	}
}

func (h *host) checkSink(ctx context.Context, p pair, seed uint64) error {
	s, err := h.open(ctx, p)
	if err != nil {
		return err
	}
	defer s.close(ctx)
	if err := s.cmd("sink %d 1", h.cfg.checkSize); err != nil {
		return err
	}
	hs := sha256.New()
	if err := writeN(s.conn, h.cfg.checkSize, seed, hs, make([]byte, 64<<10)); err != nil {
		return err
	}
	f, err := okFields(s.r)
	if err != nil {
		return err
	}
	if len(f) != 2 || f[0] != strconv.FormatInt(h.cfg.checkSize, 10) || f[1] != sumHex(hs) {
		return fmt.Errorf("guest got %v, host sent %d bytes with SHA-256 %s", f, h.cfg.checkSize, sumHex(hs))
	}
	return nil
}

func (h *host) checkSource(ctx context.Context, p pair, seed uint64) error {
	s, err := h.open(ctx, p)
	if err != nil {
		return err
	}
	defer s.close(ctx)
	if err := s.cmd("source %d %d 1", h.cfg.checkSize, seed); err != nil {
		return err
	}
	hs := sha256.New()
	if err := readN(s.r, h.cfg.checkSize, hs, make([]byte, 64<<10)); err != nil {
		return err
	}
	f, err := okFields(s.r)
	if err != nil {
		return err
	}
	want := streamSum(seed, h.cfg.checkSize)
	if got := sumHex(hs); got != want || len(f) != 1 || f[0] != want {
		return fmt.Errorf("host read SHA-256 %s, guest sent %v, want %s", got, f, want)
	}
	return nil
}

func (h *host) checkEcho(ctx context.Context, p pair, seed uint64) error {
	s, err := h.open(ctx, p)
	if err != nil {
		return err
	}
	defer s.close(ctx)
	if err := s.cmd("echo %d", h.cfg.checkSize); err != nil {
		return err
	}
	sent := sha256.New()
	werr := make(chan error, 1)
	go func() { werr <- writeN(s.conn, h.cfg.checkSize, seed, sent, make([]byte, 48<<10)) }()
	got := sha256.New()
	if err := readN(s.r, h.cfg.checkSize, got, make([]byte, 64<<10)); err != nil {
		return err
	}
	if err := <-werr; err != nil {
		return err
	}
	if sumHex(got) != sumHex(sent) {
		return fmt.Errorf("echoed SHA-256 %s, sent %s", sumHex(got), sumHex(sent))
	}
	return nil
}

// ttrpcSession switches a session to ttrpc.
func (s *session) ttrpc() (*ttrpc.Client, error) {
	if err := s.cmd("ttrpc"); err != nil {
		return nil, err
	}
	if _, err := okFields(s.r); err != nil {
		return nil, err
	}
	return ttrpc.NewClient(&prefixedConn{Conn: s.conn, r: s.r}), nil
}

func (h *host) checkTTRPC(ctx context.Context, p pair, seed uint64) error {
	s, err := h.open(ctx, p)
	if err != nil {
		return err
	}
	defer s.close(ctx)
	c, err := s.ttrpc()
	if err != nil {
		return err
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := range 50 {
		payload := make([]byte, rng.IntN(8<<10))
		for j := range payload {
			payload[j] = byte(rng.Uint32())
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := pingCheck(cctx, c, payload)
		cancel()
		if err != nil {
			return fmt.Errorf("call %d (%d bytes): %w", i, len(payload), err)
		}
	}
	return nil
}

func (h *host) checkServerEOF(ctx context.Context, p pair, seed uint64) error {
	s, err := h.open(ctx, p)
	if err != nil {
		return err
	}
	defer s.close(ctx)
	if err := s.cmd("eof %d %d", h.cfg.checkSize, seed); err != nil {
		return err
	}
	hs := sha256.New()
	s.conn.SetReadDeadline(time.Now().Add(5 * time.Minute))
	n, err := io.Copy(hs, s.r)
	if err != nil {
		return fmt.Errorf("after %d bytes: %w", n, err)
	}
	if want := streamSum(seed, h.cfg.checkSize); n != h.cfg.checkSize || sumHex(hs) != want {
		return fmt.Errorf("read %d bytes (SHA-256 %s) before EOF, want %d (%s)", n, sumHex(hs), h.cfg.checkSize, want)
	}
	return nil
}

func (h *host) checkClientEOF(ctx context.Context, p pair, seed uint64) (note string, _ error) {
	id := strconv.FormatUint(seed, 10)
	s, err := h.open(ctx, p)
	if err != nil {
		return "", err
	}
	if err := s.cmd("eofsink %s", id); err != nil {
		s.close(ctx)
		return "", err
	}
	if err := writeN(s.conn, h.cfg.checkSize, seed, sha256.New(), make([]byte, 64<<10)); err != nil {
		s.close(ctx)
		return "", err
	}
	// libxenvchan has no half-close: the Go client ends the stream by
	// closing; through the client-mode proxy, shutting our side of the
	// unix socket makes it flush what it holds and close the vchan.
	if cw, ok := s.conn.(*net.UnixConn); ok {
		cw.CloseWrite()
	}
	if p.client == "c" {
		if err := s.closeWithin(ctx, 20*time.Second); err != nil {
			// Seen in the lab: after the socket's EOF the proxy writes
			// its last bytes, then blocks in libxenvchan_wait for an
			// event nobody owes it (its final write needed no
			// notification). Killing it closes the vchan through its
			// unmap notification.
			note = "vchan-socket-proxy (client) hung after its last write (waits for an event nobody owes it); killed, its unmap notification closed the vchan"
			h.killProxy(p.ep)
			s.closed = false
			if err := s.close(ctx); err != nil {
				return note, err
			}
		}
	} else if err := s.close(ctx); err != nil {
		return "", err
	}
	s2, err := h.open(ctx, p)
	if err != nil {
		return note, err
	}
	defer s2.close(ctx)
	if err := s2.cmd("result %s", id); err != nil {
		return note, err
	}
	f, err := okFields(s2.r)
	if err != nil {
		return note, err
	}
	want := streamSum(seed, h.cfg.checkSize)
	if len(f) != 2 || f[0] != strconv.FormatInt(h.cfg.checkSize, 10) || f[1] != want {
		return note, fmt.Errorf("guest read %v before EOF, want %d bytes with SHA-256 %s", f, h.cfg.checkSize, want)
	}
	return note, nil
}

// ---- benchmark ----

func (h *host) benchmark(ctx context.Context) {
	h.logf("\n== benchmark: %d round(s); transfers of %s or %s, whichever ends first; up to %d round trips of %d bytes or %s ==",
		h.cfg.rounds, mib(h.cfg.benchSize), h.cfg.benchTime, h.cfg.rttCount, h.cfg.pingSize, h.cfg.rttTime)
	// Pairs take turns, round after round, so that a change in the
	// machine's load (the lab shares its CPUs) hits them all alike; the
	// table shows each figure's median over the rounds.
	runs := make([][]benchResult, len(h.pairs))
	for round := 1; round <= h.cfg.rounds; round++ {
		for k := range h.pairs {
			// Every other round goes backwards: a load that grows or
			// shrinks during the run then favours no pair.
			i := k
			if round%2 == 0 {
				i = len(h.pairs) - 1 - k
			}
			p := h.pairs[i]
			r := h.benchPair(ctx, p)
			runs[i] = append(runs[i], r)
			if r.Err != "" {
				h.logf("round %d %-12s error: %s", round, p.name(), r.Err)
			} else {
				h.logf("round %d %-12s h->g %8.2f MiB/s  g->h %8.2f MiB/s  raw rtt p50 %8.1f us  ttrpc p50 %8.1f us",
					round, p.name(), r.H2GMiBps, r.G2HMiBps, r.RawP50us, r.RPCP50us)
			}
		}
	}
	for _, rs := range runs {
		h.report.Bench = append(h.report.Bench, medianResult(rs))
	}
	h.unixBaseline(ctx)
	h.ratios()
	h.printTable()
}

// medianResult combines one pair's rounds: each figure is the median of
// the rounds that succeeded; Rounds counts them.
func medianResult(rs []benchResult) benchResult {
	var ok []benchResult
	for _, r := range rs {
		if r.Err == "" {
			ok = append(ok, r)
		}
	}
	if len(ok) == 0 {
		return rs[len(rs)-1]
	}
	med := func(f func(benchResult) float64) float64 {
		v := make([]float64, len(ok))
		for i, r := range ok {
			v[i] = f(r)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	m := ok[0]
	m.H2GMiBps = med(func(r benchResult) float64 { return r.H2GMiBps })
	m.G2HMiBps = med(func(r benchResult) float64 { return r.G2HMiBps })
	m.RawP50us = med(func(r benchResult) float64 { return r.RawP50us })
	m.RawP99us = med(func(r benchResult) float64 { return r.RawP99us })
	m.RPCP50us = med(func(r benchResult) float64 { return r.RPCP50us })
	m.RPCP99us = med(func(r benchResult) float64 { return r.RPCP99us })
	m.HostEvPMB = med(func(r benchResult) float64 { return r.HostEvPMB })
	m.H2GMiB, m.G2HMiB, m.RawN, m.RPCN = 0, 0, 0, 0
	for _, r := range ok {
		m.H2GMiB += r.H2GMiB
		m.G2HMiB += r.G2HMiB
		m.RawN += r.RawN
		m.RPCN += r.RPCN
	}
	m.Rounds = len(ok)
	if len(ok) < len(rs) {
		m.Err = ""
		m.Note = fmt.Sprintf("%d of %d rounds failed, e.g.: %s", len(rs)-len(ok), len(rs), firstErr(rs))
	}
	return m
}

func firstErr(rs []benchResult) string {
	for _, r := range rs {
		if r.Err != "" {
			return r.Err
		}
	}
	return ""
}

func (h *host) benchPair(ctx context.Context, p pair) benchResult {
	r := benchResult{Pair: p.name(), Hops: p.hops(), Ring: ringOf(p.ep)}
	fail := func(err error) benchResult { r.Err = err.Error(); return r }
	s, err := h.open(ctx, p)
	if err != nil {
		return fail(err)
	}
	defer s.close(ctx) // on failure; closing twice is a no-op
	buf := make([]byte, 4+frameSize)
	var evBefore uint64
	vc, isVchan := s.conn.(*vchan.Conn)
	if isVchan {
		evBefore = vc.Notifications()
	}
	// host -> guest, for benchTime or benchSize bytes
	start := time.Now()
	if err := s.cmd("sinkframes"); err != nil {
		return fail(err)
	}
	sent, err := writeFramesFor(s.conn, h.cfg.benchTime, h.cfg.benchSize, buf)
	if err != nil {
		return fail(err)
	}
	f, err := okFields(s.r)
	if err != nil {
		return fail(err)
	}
	if len(f) != 1 || f[0] != strconv.FormatInt(sent, 10) {
		return fail(fmt.Errorf("sent %d bytes, guest got %v", sent, f))
	}
	r.H2GMiB = float64(sent) / (1 << 20)
	r.H2GMiBps = r.H2GMiB / time.Since(start).Seconds()
	if isVchan && sent > 0 {
		r.HostEvPMB = float64(vc.Notifications()-evBefore) / r.H2GMiB
	}
	// guest -> host
	start = time.Now()
	if err := s.cmd("sourcefor %d %d", h.cfg.benchTime.Milliseconds(), h.cfg.benchSize); err != nil {
		return fail(err)
	}
	got, err := readFrames(s.r, buf)
	if err != nil {
		return fail(err)
	}
	if f, err = okFields(s.r); err != nil {
		return fail(err)
	}
	if len(f) != 1 || f[0] != strconv.FormatInt(got, 10) {
		return fail(fmt.Errorf("got %d bytes, guest sent %v", got, f))
	}
	r.G2HMiB = float64(got) / (1 << 20)
	r.G2HMiBps = r.G2HMiB / time.Since(start).Seconds()
	// raw round trips, in batches until rttCount or rttTime
	msg := make([]byte, h.cfg.pingSize)
	var lat []time.Duration
	for start := time.Now(); len(lat) < h.cfg.rttCount && time.Since(start) < h.cfg.rttTime; {
		batch := min(50, h.cfg.rttCount-len(lat))
		if err := s.cmd("ping %d %d", h.cfg.pingSize, batch); err != nil {
			return fail(err)
		}
		for range batch {
			t := time.Now()
			if _, err := s.conn.Write(msg); err != nil {
				return fail(err)
			}
			if _, err := io.ReadFull(s.r, msg); err != nil {
				return fail(err)
			}
			lat = append(lat, time.Since(t))
		}
	}
	r.RawN = len(lat)
	r.RawP50us, r.RawP99us = percentile(lat, 50), percentile(lat, 99)
	if err := s.close(ctx); err != nil {
		return fail(err)
	}
	// ttrpc round trips
	s, err = h.open(ctx, p)
	if err != nil {
		return fail(err)
	}
	defer func() {
		if err := s.close(ctx); err != nil {
			h.logf("%s: %v", p.name(), err)
		}
	}()
	c, err := s.ttrpc()
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	payload := make([]byte, h.cfg.pingSize)
	lat = lat[:0]
	for start := time.Now(); len(lat) < h.cfg.rttCount && time.Since(start) < h.cfg.rttTime; {
		t := time.Now()
		if err := ping(ctx, c, payload); err != nil {
			return fail(err)
		}
		lat = append(lat, time.Since(t))
	}
	r.RPCN = len(lat)
	r.RPCP50us, r.RPCP99us = percentile(lat, 50), percentile(lat, 99)
	return r
}

func ringOf(ep endpoint) string {
	if ep.isC() {
		return "1K/2K"
	}
	r := strings.TrimPrefix(ep.name, "go-")
	if r == "2K" {
		return "1K/2K"
	}
	return r + "/" + r
}

// unixBaseline measures the hop vchan-socket-proxy adds: a unix-socket
// transfer within dom0 and within the guest.
func (h *host) unixBaseline(ctx context.Context) {
	u := &unixResult{}
	size := min(h.cfg.benchSize, 64<<20)
	if d, rtt, err := unixTransfer(os.TempDir(), size); err == nil {
		u.Dom0MiBps = float64(size) / (1 << 20) / d.Seconds()
		u.Dom0RTTus = rtt
	} else {
		h.logf("unix baseline in dom0: %v", err)
	}
	for _, p := range h.pairs {
		if p.client != "go" || p.ep.isC() {
			continue
		}
		s, err := h.open(ctx, p)
		if err != nil {
			break
		}
		if err := s.cmd("unix %d", size); err == nil {
			if f, err := okFields(s.r); err == nil && len(f) == 2 {
				if sec, err := strconv.ParseFloat(f[0], 64); err == nil && sec > 0 {
					u.GuestMiBps = float64(size) / (1 << 20) / sec
				}
				u.GuestRTTus, _ = strconv.ParseFloat(f[1], 64)
			}
		}
		s.close(ctx)
		break
	}
	h.report.Unix = u
}

// ratios compares each Go-to-Go pair with the C-to-C pair (and the mixed
// pairs with it too).
func (h *host) ratios() {
	var cc *benchResult
	for i := range h.report.Bench {
		if h.report.Bench[i].Pair == "c>c" && h.report.Bench[i].Err == "" {
			cc = &h.report.Bench[i]
		}
	}
	if cc == nil {
		return
	}
	for _, b := range h.report.Bench {
		if b.Err != "" || b.Pair == cc.Pair {
			continue
		}
		h.report.Ratios = append(h.report.Ratios, ratio{
			Go: b.Pair, C: cc.Pair,
			H2G: b.H2GMiBps / cc.H2GMiBps, G2H: b.G2HMiBps / cc.G2HMiBps,
			RPCP50: cc.RPCP50us / b.RPCP50us,
		})
	}
}

func (h *host) printTable() {
	w := h.out
	fmt.Fprintf(w, "\n%-12s %-4s %-11s %11s %11s %19s %19s %9s\n", "pair", "hops", "ring c>s/s>c", "h->g MiB/s", "g->h MiB/s", "raw rtt p50/p99 us", "ttrpc p50/p99 us", "ev/MiB")
	for _, b := range h.report.Bench {
		if b.Err != "" {
			fmt.Fprintf(w, "%-12s error: %s\n", b.Pair, b.Err)
			continue
		}
		ev := "-"
		if b.HostEvPMB > 0 {
			ev = fmt.Sprintf("%.0f", b.HostEvPMB)
		}
		fmt.Fprintf(w, "%-12s %-4d %-11s %11.2f %11.2f %9.0f/%-9.0f %9.0f/%-9.0f %9s\n", b.Pair, b.Hops, b.Ring,
			b.H2GMiBps, b.G2HMiBps, b.RawP50us, b.RawP99us, b.RPCP50us, b.RPCP99us, ev)
	}
	for _, b := range h.report.Bench {
		if b.Note != "" {
			fmt.Fprintf(w, "%s: %s\n", b.Pair, b.Note)
		}
	}
	if h.cfg.rounds > 1 {
		fmt.Fprintf(w, "each figure is the median over %d rounds (pairs take turns each round)\n", h.cfg.rounds)
	}
	if u := h.report.Unix; u != nil {
		fmt.Fprintf(w, "unix socket alone (the hop vchan-socket-proxy adds): dom0 %.2f MiB/s, rtt p50 %.0f us; guest %.2f MiB/s, rtt p50 %.0f us\n",
			u.Dom0MiBps, u.Dom0RTTus, u.GuestMiBps, u.GuestRTTus)
	}
	fmt.Fprintln(w, "pairs are client>server: go = runtime/vchan in this process (host) or in the guest's bench;")
	fmt.Fprintln(w, "c = libxenvchan through Xen's vchan-socket-proxy, which bridges the vchan to a unix socket:")
	fmt.Fprintln(w, "each c end adds a unix-socket hop and a proxy process (hops column); c>c is libxenvchan on both ends.")
	fmt.Fprintln(w, "ev/MiB: events the host's Go end sent per MiB from host to guest.")
	if len(h.report.Ratios) > 0 {
		fmt.Fprintln(w, "\nratio X / c>c (throughput: higher is better for X; ttrpc p50: c>c latency / X latency):")
		for _, r := range h.report.Ratios {
			fmt.Fprintf(w, "  %-12s h->g %5.2fx  g->h %5.2fx  ttrpc p50 %5.2fx\n", r.Go, r.H2G, r.G2H, r.RPCP50)
		}
	}
}

func percentile(d []time.Duration, p int) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return float64(s[i].Nanoseconds()) / 1e3
}

func mib(n int64) string { return fmt.Sprintf("%.4g MiB", float64(n)/(1<<20)) }

// ---- shutdown ----

// shutdownGuest asks the guest to withdraw its endpoints and power off,
// and reports what it left in xenstore.
func (h *host) shutdownGuest(ctx context.Context) {
	cl := &cleanup{}
	h.report.Cleanup = cl
	var p *pair
	for i := range h.pairs {
		if h.pairs[i].client == "go" {
			p = &h.pairs[i]
			break
		}
	}
	if p == nil {
		cl.Note = "no Go pair to send shutdown over"
		return
	}
	// The host-side proxies go first: they hold nothing in xenstore, but
	// a client proxy left connected would keep the guest's service busy.
	h.close()
	s, err := h.open(ctx, *p)
	if err != nil {
		cl.Note = err.Error()
		h.report.Failed++
		return
	}
	if err = s.cmd("shutdown"); err == nil {
		_, err = okFields(s.r)
	}
	s.conn.Close()
	if err != nil {
		cl.Note = "shutdown: " + err.Error()
		h.report.Failed++
		return
	}
	// Until the domain is gone, its vchan directory must empty.
	base := fmt.Sprintf("/local/domain/%d/data/vchan", h.cfg.domid)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := h.xs.Read(ctx, fmt.Sprintf("/local/domain/%d", h.cfg.domid)); errors.Is(err, xenstore.ErrNotExist) {
			cl.Note = "domain gone before its vchan directory could be read"
			return
		}
		left := h.leaves(ctx, base)
		cl.GuestLeft = left
		if len(left) == 0 {
			cl.Note = "guest vchan directory empty"
			return
		}
		if time.Now().After(deadline) {
			cl.Note = "guest left vchan entries in xenstore"
			h.report.Failed++
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leaves returns the vchan entries (ring-ref, event-channel) beneath p.
func (h *host) leaves(ctx context.Context, p string) []string {
	return vchanEntries(ctx, h.xs, p)
}

// vchanEntries returns the paths of ring-ref and event-channel nodes
// beneath p: what a vchan server publishes. Empty directories above them
// are not counted.
func vchanEntries(ctx context.Context, xs *xenstore.Client, p string) []string {
	kids, err := xs.Directory(ctx, p)
	if err != nil {
		return nil
	}
	var out []string
	for _, k := range kids {
		if k == "ring-ref" || k == "event-channel" {
			out = append(out, p+"/"+k)
			continue
		}
		out = append(out, vchanEntries(ctx, xs, p+"/"+k)...)
	}
	slices.Sort(out)
	return out
}

// prefixLines writes each line it gets to w with a prefix.
func prefixLines(w io.Writer, prefix string) io.Writer {
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Fprintf(w, "%s%s\n", prefix, sc.Text())
		}
	}()
	return pw
}
