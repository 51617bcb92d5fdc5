package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/runxen/runxen/tests/lab/labproto"
)

// Client talks to labd in a running lab's dom0.
type Client struct {
	base string
	addr string
	http *http.Client
}

func newClient(port int) *Client {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	return &Client{base: "http://" + addr, addr: addr, http: &http.Client{}}
}

// Result is a finished dom0 command.
type Result = labproto.ExecResult

// Health asks which dom0 services answer.
func (c *Client) Health(ctx context.Context) (*labproto.Health, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+labproto.PathHealth, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var h labproto.Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return nil, fmt.Errorf("lab health: %w", err)
	}
	return &h, nil
}

// Exec runs a command in dom0 and returns what it did. The error is about the channel; a command
// that failed is a Result with a non-zero ExitCode.
func (c *Client) Exec(ctx context.Context, r labproto.ExecRequest) (*Result, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+labproto.PathExec, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("lab exec %q: %w", r.Args, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("lab exec %q: %s: %s", r.Args, resp.Status, msg)
	}
	var res Result
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return nil, fmt.Errorf("lab exec %q: decode: %w", r.Args, err)
	}
	return &res, nil
}

// Run runs args in dom0.
func (c *Client) Run(ctx context.Context, args ...string) (*Result, error) {
	return c.Exec(ctx, labproto.ExecRequest{Args: args})
}

// Sh runs a bash script in dom0.
func (c *Client) Sh(ctx context.Context, script string) (*Result, error) {
	return c.Run(ctx, "/bin/bash", "-c", script)
}

// WriteFile writes data to a dom0 path, creating parent directories.
func (c *Client) WriteFile(ctx context.Context, path string, data []byte, mode os.FileMode) error {
	return c.put(ctx, path, bytes.NewReader(data), mode)
}

// CopyIn copies a host file into dom0.
func (c *Client) CopyIn(ctx context.Context, hostPath, dom0Path string) error {
	f, err := os.Open(hostPath)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	return c.put(ctx, dom0Path, f, info.Mode().Perm())
}

func (c *Client) put(ctx context.Context, path string, body io.Reader, mode os.FileMode) error {
	u := c.base + labproto.PathFile + "?path=" + url.QueryEscape(path) + "&mode=" + strconv.FormatUint(uint64(mode.Perm()), 8)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("lab write %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("lab write %s: %s: %s", path, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// ReadFile reads a dom0 file.
func (c *Client) ReadFile(ctx context.Context, path string) ([]byte, error) {
	var buf bytes.Buffer
	if err := c.CopyOut(ctx, path, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// CopyOut streams a dom0 file into w.
func (c *Client) CopyOut(ctx context.Context, path string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+labproto.PathFile+"?path="+url.QueryEscape(path), nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("lab read %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("lab read %s: %s: %s", path, resp.Status, strings.TrimSpace(string(msg)))
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// Shell opens an interactive login shell on a dom0 pseudo-terminal of the given size and returns
// the raw terminal stream.
func (c *Client) Shell(ctx context.Context, rows, cols int) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(conn, "GET %s?rows=%d&cols=%d HTTP/1.1\r\nHost: lab\r\nConnection: Upgrade\r\nUpgrade: lab-shell\r\n\r\n", labproto.PathShell, rows, cols)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("lab shell: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, fmt.Errorf("lab shell: %s", resp.Status)
	}
	return &bufferedConn{Conn: conn, r: br}, nil
}

type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }
