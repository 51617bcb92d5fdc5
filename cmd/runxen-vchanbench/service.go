//go:build linux

package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// service answers the bench protocol (proto.go) on connections from any
// transport.
type service struct {
	logf  func(format string, args ...any)
	ttrpc *connListener // connections handed to the ping server
	info  func() string // for the info command
	// shutdown is called when a connection that received "shutdown" ends.
	shutdown func()
	// tmpDir is where the unix command makes its socket.
	tmpDir string

	mu      sync.Mutex
	results map[string]eofResult
	changed chan struct{} // closed and replaced whenever results change
}

type eofResult struct {
	n   int64
	sum string
	err error
}

func newService(logf func(string, ...any)) *service {
	if logf == nil {
		logf = log.Printf
	}
	return &service{
		logf:    logf,
		results: map[string]eofResult{},
		changed: make(chan struct{}),
		tmpDir:  os.TempDir(),
	}
}

func (s *service) file(id string, r eofResult) {
	s.mu.Lock()
	s.results[id] = r
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *service) result(ctx context.Context, id string) (eofResult, error) {
	for {
		s.mu.Lock()
		r, ok := s.results[id]
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return r, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return r, fmt.Errorf("no result %q: %w", id, ctx.Err())
		}
	}
}

// serve runs commands from conn until the client closes it, and closes conn.
// It returns once conn is finished with, including a connection handed to
// the ttrpc server.
func (s *service) serve(conn net.Conn) {
	var handed chan struct{}
	shutdown := false
	defer func() {
		if handed != nil {
			<-handed
		} else {
			conn.Close()
		}
		if shutdown && s.shutdown != nil {
			s.shutdown()
		}
	}()
	r := bufio.NewReaderSize(conn, 64<<10)
	buf := make([]byte, 64<<10)
	reply := func(format string, args ...any) error {
		_, err := fmt.Fprintf(conn, format+"\n", args...)
		return err
	}
	for {
		line, err := readLine(r)
		if err != nil {
			if err != io.EOF {
				s.logf("service: %v", err)
			}
			return
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		cmd, args := f[0], f[1:]
		err = s.command(conn, r, buf, cmd, args, reply)
		switch {
		case errors.Is(err, errEndOfConn):
			return
		case errors.Is(err, errHandedOff):
			handed = make(chan struct{})
			pc := &closeNotifyConn{Conn: &prefixedConn{Conn: conn, r: r}, closed: handed}
			if err := s.ttrpc.hand(pc); err != nil {
				close(handed)
				conn.Close()
			}
			return
		case errors.Is(err, errShutdown):
			shutdown = true
		case err != nil:
			s.logf("service: %s: %v", cmd, err)
			// A failed transfer leaves the stream out of step: give up on
			// the connection rather than read data as commands.
			reply("err %s: %v", cmd, err)
			return
		}
	}
}

var (
	errEndOfConn = errors.New("end of connection")
	errHandedOff = errors.New("handed off")
	errShutdown  = errors.New("shutdown requested")
)

func (s *service) command(conn net.Conn, r *bufio.Reader, buf []byte, cmd string, args []string, reply func(string, ...any) error) error {
	want := map[string]int{"sink": 2, "source": 3, "echo": 1, "ping": 2, "eof": 2, "eofsink": 1,
		"result": 1, "ttrpc": 0, "unix": 1, "info": 0, "shutdown": 0, "sinkframes": 0, "sourcefor": 2}
	n, ok := want[cmd]
	if !ok {
		return reply("err unknown command %q", cmd)
	}
	if len(args) != n {
		return reply("err %s wants %d arguments", cmd, n)
	}
	num := func(i int) (int64, error) { return parseSize(args[i]) }
	switch cmd {
	case "sink":
		size, err := num(0)
		if err != nil {
			return err
		}
		var h hash.Hash
		if args[1] == "1" {
			h = sha256.New()
		}
		if err := readN(r, size, h, buf); err != nil {
			return err
		}
		return reply("ok %d %s", size, sumHex(h))
	case "source":
		size, err := num(0)
		if err != nil {
			return err
		}
		seed, err := num(1)
		if err != nil {
			return err
		}
		var h hash.Hash
		if args[2] == "1" {
			h = sha256.New()
		}
		if err := writeN(conn, size, uint64(seed), h, buf); err != nil {
			return err
		}
		return reply("ok %s", sumHex(h))
	case "sinkframes":
		total, err := readFrames(r, buf)
		if err != nil {
			return err
		}
		return reply("ok %d", total)
	case "sourcefor":
		ms, err := num(0)
		if err != nil {
			return err
		}
		limit, err := num(1)
		if err != nil {
			return err
		}
		total, err := writeFramesFor(conn, time.Duration(ms)*time.Millisecond, limit, buf)
		if err != nil {
			return err
		}
		return reply("ok %d", total)
	case "echo":
		size, err := num(0)
		if err != nil {
			return err
		}
		if _, err := io.CopyBuffer(conn, io.LimitReader(r, size), buf); err != nil {
			return err
		}
		return nil
	case "ping":
		size, err := num(0)
		if err != nil {
			return err
		}
		count, err := num(1)
		if err != nil {
			return err
		}
		if size > int64(len(buf)) {
			return fmt.Errorf("ping size %d over %d", size, len(buf))
		}
		for range count {
			if _, err := io.ReadFull(r, buf[:size]); err != nil {
				return err
			}
			if _, err := conn.Write(buf[:size]); err != nil {
				return err
			}
		}
		return nil
	case "eof":
		size, err := num(0)
		if err != nil {
			return err
		}
		seed, err := num(1)
		if err != nil {
			return err
		}
		if err := writeN(conn, size, uint64(seed), sha256.New(), buf); err != nil {
			return err
		}
		return errEndOfConn
	case "eofsink":
		h := sha256.New()
		n, err := io.CopyBuffer(h, r, buf)
		s.file(args[0], eofResult{n: n, sum: sumHex(h), err: err})
		return errEndOfConn
	case "result":
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		res, err := s.result(ctx, args[0])
		switch {
		case err != nil:
			return reply("err %v", err)
		case res.err != nil:
			return reply("err %s read %d bytes, then %v", args[0], res.n, res.err)
		}
		return reply("ok %d %s", res.n, res.sum)
	case "ttrpc":
		if s.ttrpc == nil {
			return reply("err no ttrpc server")
		}
		if err := reply("ok"); err != nil {
			return err
		}
		return errHandedOff
	case "unix":
		size, err := num(0)
		if err != nil {
			return err
		}
		d, rtt, err := unixTransfer(s.tmpDir, size)
		if err != nil {
			return reply("err %v", err)
		}
		return reply("ok %.6f %.3f", d.Seconds(), rtt)
	case "info":
		info := ""
		if s.info != nil {
			info = s.info()
		}
		return reply("ok %s", info)
	case "shutdown":
		if err := reply("ok"); err != nil {
			return err
		}
		return errShutdown
	}
	return nil
}

// closeNotifyConn closes a channel when closed, so the service knows when
// the ttrpc server is done with a connection.
type closeNotifyConn struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *closeNotifyConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { close(c.closed) })
	return err
}

// unixTransfer sends size bytes over a unix socket within this domain and
// returns how long the receiver took, and the median round trip of a
// 64-byte message: the cost of the extra hop vchan-socket-proxy adds on
// each end.
func unixTransfer(dir string, size int64) (time.Duration, float64, error) {
	path := filepath.Join(dir, "vchanbench-unix-"+strconv.Itoa(os.Getpid())+".sock")
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(path)
	defer l.Close()
	errc := make(chan error, 1)
	go func() {
		c, err := net.Dial("unix", path)
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		if err := writeN(c, size, 0, nil, make([]byte, 64<<10)); err != nil {
			errc <- err
			return
		}
		// then echo 64-byte messages until the other end closes
		_, err = io.Copy(c, c)
		errc <- err
	}()
	c, err := l.Accept()
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	start := time.Now()
	if err := readN(c, size, nil, make([]byte, 64<<10)); err != nil {
		return 0, 0, err
	}
	d := time.Since(start)
	msg := make([]byte, 64)
	var lat []time.Duration
	for range 200 {
		t := time.Now()
		if _, err := c.Write(msg); err != nil {
			return 0, 0, err
		}
		if _, err := io.ReadFull(c, msg); err != nil {
			return 0, 0, err
		}
		lat = append(lat, time.Since(t))
	}
	c.Close()
	return d, percentile(lat, 50), <-errc
}
