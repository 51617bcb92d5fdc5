package main

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/runxen/runxen/tests/lab/labproto"
)

// services maps a service name to the unix socket that answers once it is up.
var services = map[string]string{
	"xenstored":   "/run/xenstored/socket",
	"containerd":  "/run/containerd/containerd.sock",
	"containerd2": "/run/containerd2/containerd.sock",
	"dockerd":     "/run/docker.sock",
}

func handleHealth(w http.ResponseWriter, _ *http.Request) {
	h := labproto.Health{Services: map[string]bool{}}
	for name, sock := range services {
		c, err := net.DialTimeout("unix", sock, time.Second)
		if err == nil {
			c.Close()
		}
		h.Services[name] = err == nil
	}
	if b, err := os.ReadFile("/proc/uptime"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			h.Uptime, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(h)
}
