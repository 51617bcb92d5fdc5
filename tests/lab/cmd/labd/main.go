// Command labd is the lab's command server: it runs inside the lab's dom0 and lets the Go test
// harness on the host run commands, move files and open an interactive shell. It is started by
// the dom0 init script and reached through a QEMU port forward on the host's loopback.
package main

import (
	"flag"
	"net/http"
	"os"
	"time"

	"github.com/containerd/log"
)

func main() {
	listen := flag.String("listen", ":7000", "address to listen on")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("/health", handleHealth)
	mux.HandleFunc("/exec", handleExec)
	mux.HandleFunc("/file", handleFile)
	mux.HandleFunc("/shell", handleShell)

	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 30 * time.Second}
	log.L.Infof("labd listening on %s", *listen)
	if err := srv.ListenAndServe(); err != nil {
		log.L.WithError(err).Error("labd stopped")
		os.Exit(1)
	}
}
