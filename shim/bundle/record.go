package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// RecordFile is the shim's record in a bundle.
const RecordFile = "runxen.json"

// maxRecordSize bounds what ReadRecord reads: the record is a few hundred
// bytes.
const maxRecordSize = 64 << 10

// Record is what a shim created for a container, written once the
// container exists so that `containerd-shim-xen-v1 delete`, which
// containerd runs when the shim died, can remove it without the shim's
// memory.
type Record struct {
	// Namespace and ID name the container in containerd.
	Namespace string `json:"namespace"`
	ID        string `json:"id"`
	// SandboxID is the sandbox (guest) the container runs in.
	SandboxID string `json:"sandbox_id"`
	// Domain is the Xen domain's name; empty before the domain existed.
	Domain string `json:"domain,omitempty"`
	// ConfigPath and ConfigBody are the runxen configuration the runtime
	// options named, if any: `delete` cleans up with the same settings
	// (the xl binary, the state directory).
	ConfigPath string `json:"config_path,omitempty"`
	ConfigBody []byte `json:"config_body,omitempty"`
	// HolderPid is the network namespace holder's PID, the task's PID
	// that `delete` reports. The holder dies with its shim; runtime/netns
	// finds any that did not by the container's ID.
	HolderPid int `json:"holder_pid,omitempty"`
	// Mounted is the directory the shim mounted the rootfs mounts at, if
	// it did.
	Mounted string `json:"mounted,omitempty"`
}

// WriteRecord replaces the record in dir atomically.
func WriteRecord(dir string, r Record) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode shim record: %w", err)
	}
	return writeAtomic(filepath.Join(dir, RecordFile), data, 0o600)
}

// ReadRecord reads the record in dir; an error wrapping os.ErrNotExist
// means the shim recorded nothing (it died before creating anything, or
// the container was deleted).
func ReadRecord(dir string) (Record, error) {
	var r Record
	data, err := readBounded(filepath.Join(dir, RecordFile), maxRecordSize)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("parse %s: %w", filepath.Join(dir, RecordFile), err)
	}
	return r, nil
}

// RemoveRecord removes the record in dir; a missing record is not an error.
func RemoveRecord(dir string) error {
	err := os.Remove(filepath.Join(dir, RecordFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// AddressFile holds the shim's socket address in a bundle. containerd 1.7
// reconnects through it after a restart (containerd 2.x keeps
// bootstrap.json and falls back to it); both accept a plain address.
const AddressFile = "address"

// WriteAddress writes the shim's socket address into dir.
func WriteAddress(dir, address string) error {
	if address == "" || strings.ContainsAny(address, "\n\x00") {
		return fmt.Errorf("bad shim address %q", address)
	}
	return writeAtomic(filepath.Join(dir, AddressFile), []byte(address), 0o600)
}

func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return data, nil
}

// writeAtomic writes data to a temporary file beside path and renames it
// over path, so that a reader never sees half a file. It does not sync:
// the record must survive its shim, not the host (whose reboot takes the
// guests, mounts and bundles with it).
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
