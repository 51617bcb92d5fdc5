package agentclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/vchan"
	"github.com/runxen/runxen/runtime/xen"
)

// Sentinel errors; the errors this package returns wrap them.
var (
	// ErrDomainGone: the guest's domain shut down or was destroyed.
	ErrDomainGone = errors.New("guest domain is gone")
	// ErrAgentClosed: the agent closed its end of the vchan.
	ErrAgentClosed = errors.New("agent closed the connection")
	// ErrVersion: the agent speaks another API version.
	ErrVersion = errors.New("agent speaks another API version")
	// ErrClosed: the Client was closed by its owner.
	ErrClosed = errors.New("agent client closed")
)

// DefaultCallTimeout bounds a call that Config.CallTimeout does not.
const DefaultCallTimeout = 30 * time.Second

// DomainWaiter tells when a domain dies; xen.Toolstack is one.
type DomainWaiter interface {
	Wait(ctx context.Context, id xen.DomID) (xen.DomainInfo, error)
}

// Config says which guest to connect to, and how.
type Config struct {
	// Domain is the guest's domain ID.
	Domain xen.DomID
	// Store is the xenstore connection the vchan is found through.
	Store vchan.Store
	// Devices gives grants and event channels; nil means Xen's.
	Devices vchan.Devices
	// Waiter tells when the domain dies (the toolstack). Required: a
	// connection to a guest nobody watches could hang forever.
	Waiter DomainWaiter
	// CallTimeout bounds each call that is not meant to block (everything
	// but WaitProcess, ReadStdout, ReadStderr, WriteStdin and
	// GetOOMEvent, which wait for the process); 0 means
	// DefaultCallTimeout. A call's own context can only shorten it.
	CallTimeout time.Duration
	// Interpose, if set, wraps the vchan connection before anything reads
	// or writes it: for tests that play a misbehaving guest over a real
	// vchan, and for tracing. The frame checks sit above it.
	Interpose func(net.Conn) net.Conn
}

// blocking lists the calls that wait for a process rather than for the
// agent, and so get no CallTimeout: they end with their context, the
// process, or the domain.
var blocking = map[string]bool{
	"WaitProcess": true,
	"ReadStdout":  true,
	"ReadStderr":  true,
	"WriteStdin":  true,
	"GetOOMEvent": true,
}

// DomainGoneError is the cause of a connection whose domain died.
type DomainGoneError struct {
	Info xen.DomainInfo
}

func (e *DomainGoneError) Error() string {
	switch e.Info.State {
	case xen.StateShutdown:
		return fmt.Sprintf("%v: domain %d shut down (%s)", ErrDomainGone, e.Info.ID, e.Info.Reason)
	case xen.StateDying, xen.StateGone:
		return fmt.Sprintf("%v: domain %d was destroyed", ErrDomainGone, e.Info.ID)
	}
	return fmt.Sprintf("%v: domain %d is %s", ErrDomainGone, e.Info.ID, e.Info.State)
}

func (e *DomainGoneError) Unwrap() error { return ErrDomainGone }

// Client is a connection to one guest's agent. Its methods are safe for
// concurrent use.
type Client struct {
	id      xen.DomID
	timeout time.Duration
	version *agent.VersionResponse

	ctx    context.Context // ends when the Client closes
	cancel context.CancelFunc

	mu     sync.Mutex
	cause  error       // why the connection ended; nil while it works
	vconn  *vchan.Conn // nil until dialled
	tc     *ttrpc.Client
	closed bool

	dead    chan struct{} // closed once cause is set
	watched chan struct{} // closed when the death watcher has returned

	svc agent.AgentService
}

// Connect waits until the guest's agent publishes its vchan (see
// agent.AgentVchanPath), connects, and checks the agent's API version.
// It returns an error when ctx ends first, or at once when the domain
// dies first. The connection then lives until Close or the domain's
// death, independently of ctx.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Store == nil || cfg.Waiter == nil {
		return nil, fmt.Errorf("connect to agent in domain %d: Config needs a Store and a Waiter", cfg.Domain)
	}
	if cfg.Domain == 0 || cfg.Domain > xen.MaxDomID {
		return nil, fmt.Errorf("connect to agent in domain %d: not a guest domain ID", cfg.Domain)
	}
	c := &Client{
		id:      cfg.Domain,
		timeout: cfg.CallTimeout,
		dead:    make(chan struct{}),
		watched: make(chan struct{}),
	}
	if c.timeout <= 0 {
		c.timeout = DefaultCallTimeout
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.watch(cfg.Waiter)

	start := time.Now()
	vpath := agent.AgentVchanPath(uint32(cfg.Domain))
	dialCtx, cancelDial := context.WithCancel(ctx)
	defer cancelDial()
	go func() {
		select {
		case <-c.dead:
			cancelDial()
		case <-dialCtx.Done():
		}
	}()
	self := uint32(0)
	vc, err := vchan.Dial(dialCtx, vchan.Config{
		Devices:     cfg.Devices,
		Store:       cfg.Store,
		Peer:        uint32(cfg.Domain),
		Path:        vpath,
		LocalDomain: &self,
	})
	if err != nil {
		c.Close()
		if cause := c.deathCause(); cause != nil {
			return nil, fmt.Errorf("connect to agent in domain %d: %w, before its agent published %s", c.id, cause, vpath)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect to agent in domain %d: no agent vchan at %s after %s: %w",
				c.id, vpath, time.Since(start).Round(time.Millisecond), err)
		}
		return nil, fmt.Errorf("connect to agent in domain %d: %w", c.id, err)
	}

	c.mu.Lock()
	if c.cause != nil {
		cause := c.cause
		c.mu.Unlock()
		vc.Close()
		c.Close()
		return nil, fmt.Errorf("connect to agent in domain %d: %w", c.id, cause)
	}
	c.vconn = vc
	var conn net.Conn = vc
	if cfg.Interpose != nil {
		conn = cfg.Interpose(vc)
	}
	guarded := newGuardConn(conn, c.fail)
	c.tc = ttrpc.NewClient(guarded,
		ttrpc.WithUnaryClientInterceptor(c.intercept),
		ttrpc.WithOnClose(func() { c.fail(ErrAgentClosed) }))
	c.svc = agent.NewAgentClient(c.tc)
	c.mu.Unlock()

	v, err := c.svc.Version(ctx, &emptypb.Empty{})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("connect to agent in domain %d: %w", c.id, err)
	}
	if v.ApiVersion != agent.APIVersion {
		c.Close()
		return nil, fmt.Errorf("connect to agent in domain %d: %w: it has %d, runxen %d (agent %q)",
			c.id, ErrVersion, v.ApiVersion, agent.APIVersion, sanitize(v.AgentVersion))
	}
	c.version = v
	return c, nil
}

// watch waits for the domain's death and fails the connection when it
// comes; it returns when the Client closes.
func (c *Client) watch(w DomainWaiter) {
	defer close(c.watched)
	info, err := w.Wait(c.ctx, c.id)
	if c.ctx.Err() != nil {
		return
	}
	if err != nil {
		// Without a watch the connection could hang on a dead guest
		// forever: give it up.
		c.fail(fmt.Errorf("lost track of domain %d: %w", c.id, err))
		return
	}
	c.fail(&DomainGoneError{Info: info})
}

// fail records why the connection ended (the first reason wins) and tears
// it down.
func (c *Client) fail(cause error) {
	c.mu.Lock()
	if c.cause != nil {
		c.mu.Unlock()
		return
	}
	c.cause = cause
	close(c.dead)
	vc, tc := c.vconn, c.tc
	c.mu.Unlock()
	if vc != nil && errors.Is(cause, ErrDomainGone) {
		// Let whatever the guest wrote before it died be read, then fail.
		vc.PeerGone()
	}
	if tc != nil {
		go tc.Close() // Close calls back into fail through OnClose
	} else if vc != nil {
		vc.Close()
	}
}

// deathCause is the cause if the domain died (or could not be watched).
func (c *Client) deathCause() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cause != nil && !errors.Is(c.cause, ErrClosed) && !errors.Is(c.cause, ErrAgentClosed) {
		return c.cause
	}
	return nil
}

// intercept bounds calls by the call timeout and explains failures.
func (c *Client) intercept(ctx context.Context, req *ttrpc.Request, resp *ttrpc.Response, info *ttrpc.UnaryClientInfo, invoke ttrpc.Invoker) error {
	method := path.Base(info.FullMethod)
	callCtx := ctx
	if !blocking[method] {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	err := invoke(callCtx, req, resp)
	if err == nil {
		if resp.Status != nil && resp.Status.Code != int32(codes.OK) {
			// The agent's own error: keep its gRPC status (status.FromError
			// finds it through the wrapping) and say who and what.
			return fmt.Errorf("agent in domain %d: %s: %w", c.id, method, status.ErrorProto(resp.Status))
		}
		return nil
	}
	if errors.Is(err, ttrpc.ErrClosed) {
		// ttrpc fails pending calls just before it reports the closed
		// connection (OnClose): wait for that, to give the cause.
		select {
		case <-c.dead:
		case <-time.After(time.Second):
		}
	}
	if cause := c.Err(); cause != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("agent in domain %d: %s: %w (%v)", c.id, method, cause, err)
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("agent in domain %d did not answer %s within %s: %w", c.id, method, c.timeout, err)
	}
	return fmt.Errorf("agent in domain %d: %s: %w", c.id, method, err)
}

// Agent returns the typed client of the agent's API. Calls bound by the
// call timeout fail with context.DeadlineExceeded when the agent does not
// answer in time; after the connection ended every call fails, with an
// error that wraps its cause (Err).
func (c *Client) Agent() agent.AgentService { return c.svc }

// Version is what the agent answered when the connection was made.
func (c *Client) Version() *agent.VersionResponse { return c.version }

// Domain is the guest's domain ID.
func (c *Client) Domain() xen.DomID { return c.id }

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.dead }

// Err is nil while the connection works; then why it ended: an error
// wrapping ErrDomainGone, ErrAgentClosed, ErrProtocol or ErrClosed.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// Close ends the connection and stops watching the domain. It does not
// touch the domain itself.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.fail(ErrClosed)
	c.cancel()
	<-c.watched
	c.mu.Lock()
	tc, vc := c.tc, c.vconn
	c.mu.Unlock()
	if tc != nil {
		tc.Close()
	}
	if vc != nil {
		// Also closed by ttrpc, maybe still in progress in fail's
		// goroutine: close it here so that it is done when Close returns.
		vc.Close()
	}
	return nil
}

var _ net.Conn = (*guardConn)(nil)

func sanitize(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	b := []byte(s)
	for i, ch := range b {
		if ch < 0x20 || ch > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}
