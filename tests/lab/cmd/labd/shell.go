package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"

	"github.com/containerd/log"
	"github.com/creack/pty"
)

// handleShell hijacks the HTTP connection and joins it to a login shell on a fresh
// pseudo-terminal: the bytes that follow the response header are the terminal's.
func handleShell(w http.ResponseWriter, r *http.Request) {
	rows, _ := strconv.Atoi(r.URL.Query().Get("rows"))
	cols, _ := strconv.Atoi(r.URL.Query().Get("cols"))
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return
	}
	cmd := exec.Command("/bin/bash", "-l")
	cmd.Env = append(os.Environ(), "TERM=xterm")
	ws := &pty.Winsize{Rows: uint16(rows), Cols: uint16(cols)}
	if ws.Rows == 0 || ws.Cols == 0 {
		ws = &pty.Winsize{Rows: 24, Cols: 80}
	}
	tty, err := pty.StartWithSize(cmd, ws)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		tty.Close()
		_ = cmd.Process.Kill()
		return
	}
	defer conn.Close()
	_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: lab-shell\r\nConnection: Upgrade\r\n\r\n")
	_ = buf.Flush()

	go func() { _, _ = io.Copy(tty, buf) }()
	_, _ = io.Copy(conn, tty)
	tty.Close()
	if err := cmd.Wait(); err != nil {
		log.L.WithError(err).Debug("lab shell ended")
	}
}
