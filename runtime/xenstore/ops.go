package xenstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"syscall"
)

// Bounds on reassembling a directory listing from DIRECTORY_PART replies.
const (
	// maxDirectoryBytes caps the total child list (names plus NULs). A
	// real xenstored node with this many children is implausible; a peer
	// sending more is feeding us an endless list.
	maxDirectoryBytes = 16 << 20
	// maxDirectoryRestarts caps restarts caused by the node changing
	// (generation count moving) between parts.
	maxDirectoryRestarts = 16
)

// Read returns the value stored at path.
func (c *Client) Read(ctx context.Context, path string) ([]byte, error) {
	return c.read(ctx, 0, path)
}

// Write stores value at path, creating it and any missing parents (with
// empty values). Values are octet strings; by convention they are short
// printable ASCII without a trailing NUL. len(path)+1+len(value) must not
// exceed PayloadMax (4080 through the xenbus device, see DialPath).
func (c *Client) Write(ctx context.Context, path string, value []byte) error {
	return c.write(ctx, 0, path, value)
}

// Mkdir makes sure path exists, creating it and any missing parents with
// empty values. Existing nodes are left unchanged.
func (c *Client) Mkdir(ctx context.Context, path string) error {
	return c.mkdir(ctx, 0, path)
}

// Rm removes path and everything beneath it. Removing a missing node whose
// parent exists is not an error; a missing parent is (ErrNotExist).
func (c *Client) Rm(ctx context.Context, path string) error {
	return c.rm(ctx, 0, path)
}

// Directory lists the names (not full paths) of path's immediate children.
// Lists too long for one reply are fetched with DIRECTORY_PART.
func (c *Client) Directory(ctx context.Context, path string) ([]string, error) {
	return c.directory(ctx, 0, path)
}

// GetPermissions returns path's permission list; see Permission.
func (c *Client) GetPermissions(ctx context.Context, path string) ([]Permission, error) {
	return c.getPerms(ctx, 0, path)
}

// SetPermissions replaces path's permission list; perms[0] names the owner
// and the default access. Only the owner (or a privileged domain) may do
// this.
func (c *Client) SetPermissions(ctx context.Context, path string, perms []Permission) error {
	return c.setPerms(ctx, 0, path, perms)
}

// GetDomainPath returns the home path of domain domid, normally
// "/local/domain/<domid>".
func (c *Client) GetDomainPath(ctx context.Context, domid uint32) (string, error) {
	d := strconv.FormatUint(uint64(domid), 10)
	p, _, err := c.roundTrip(ctx, "get_domain_path", d, typeGetDomainPath, 0, nulStrings(d), nil)
	if err != nil {
		return "", err
	}
	s, err := parseString(p)
	if err != nil {
		return "", err
	}
	if len(s) == 0 || s[0] != '/' || checkPath("get_domain_path", s) != nil {
		return "", fmt.Errorf("%w: GET_DOMAIN_PATH returned %s, not an absolute path", ErrProtocol, quoteTrunc([]byte(s)))
	}
	return s, nil
}

// Introduce tells xenstored to serve domain domid over the shared page at
// guest frame mfn, signalled through event channel port (in domid). Only
// dom0 may do this; it fires the IntroduceDomain watch.
func (c *Client) Introduce(ctx context.Context, domid uint32, mfn uint64, port uint32) error {
	d := strconv.FormatUint(uint64(domid), 10)
	payload := nulStrings(d, strconv.FormatUint(mfn, 10), strconv.FormatUint(uint64(port), 10))
	_, _, err := c.roundTrip(ctx, "introduce", d, typeIntroduce, 0, payload, nil)
	return err
}

// Release tells xenstored to stop serving domain domid (it also notices
// destruction by itself). Only dom0 may do this; it fires the
// ReleaseDomain watch.
func (c *Client) Release(ctx context.Context, domid uint32) error {
	d := strconv.FormatUint(uint64(domid), 10)
	_, _, err := c.roundTrip(ctx, "release", d, typeRelease, 0, nulStrings(d), nil)
	return err
}

// IsIntroduced reports whether xenstored is serving domain domid.
func (c *Client) IsIntroduced(ctx context.Context, domid uint32) (bool, error) {
	d := strconv.FormatUint(uint64(domid), 10)
	p, _, err := c.roundTrip(ctx, "is_domain_introduced", d, typeIsDomainIntroduced, 0, nulStrings(d), nil)
	if err != nil {
		return false, err
	}
	s, err := parseString(p)
	if err != nil {
		return false, err
	}
	switch s {
	case "T":
		return true, nil
	case "F":
		return false, nil
	}
	return false, fmt.Errorf("%w: IS_DOMAIN_INTRODUCED returned %s", ErrProtocol, quoteTrunc(p))
}

// SetTarget makes domain domid act for domain target (a device model
// stub domain for its guest): domid gets target's access everywhere.
// Only dom0 may do this.
func (c *Client) SetTarget(ctx context.Context, domid, target uint32) error {
	d := strconv.FormatUint(uint64(domid), 10)
	payload := nulStrings(d, strconv.FormatUint(uint64(target), 10))
	_, _, err := c.roundTrip(ctx, "set_target", d, typeSetTarget, 0, payload, nil)
	return err
}

// The implementations below serve both Client (tx 0) and Tx.

func (c *Client) read(ctx context.Context, tx uint32, path string) ([]byte, error) {
	if err := checkPath("read", path); err != nil {
		return nil, err
	}
	p, _, err := c.roundTrip(ctx, "read", path, typeRead, tx, nulStrings(path), nil)
	if err != nil {
		return nil, err
	}
	if p == nil {
		p = []byte{}
	}
	return p, nil
}

func (c *Client) write(ctx context.Context, tx uint32, path string, value []byte) error {
	if err := checkPath("write", path); err != nil {
		return err
	}
	payload := make([]byte, 0, len(path)+1+len(value))
	payload = append(append(append(payload, path...), 0), value...)
	_, _, err := c.roundTrip(ctx, "write", path, typeWrite, tx, payload, nil)
	return err
}

func (c *Client) mkdir(ctx context.Context, tx uint32, path string) error {
	if err := checkPath("mkdir", path); err != nil {
		return err
	}
	_, _, err := c.roundTrip(ctx, "mkdir", path, typeMkdir, tx, nulStrings(path), nil)
	return err
}

func (c *Client) rm(ctx context.Context, tx uint32, path string) error {
	if err := checkPath("rm", path); err != nil {
		return err
	}
	_, _, err := c.roundTrip(ctx, "rm", path, typeRm, tx, nulStrings(path), nil)
	return err
}

func (c *Client) directory(ctx context.Context, tx uint32, path string) ([]string, error) {
	if err := checkPath("directory", path); err != nil {
		return nil, err
	}
	p, _, err := c.roundTrip(ctx, "directory", path, typeDirectory, tx, nulStrings(path), nil)
	if err != nil {
		// xenstored answers E2BIG when the list does not fit one reply.
		var xe *Error
		if errors.As(err, &xe) && xe.Errno == "E2BIG" {
			return c.directoryParts(ctx, tx, path, err)
		}
		return nil, err
	}
	names, err := parseStrings(p)
	if err != nil {
		return nil, err
	}
	return dropEmpty(names), nil
}

// directoryParts reads a long child list piecewise, as libxenstore's
// xs_directory_part does: each DIRECTORY_PART request carries the byte
// offset into the list, each reply the node's generation count and as many
// names as fit; a changed generation means the node changed and the read
// restarts; an empty string after the names marks the end.
func (c *Client) directoryParts(ctx context.Context, tx uint32, path string, e2big error) ([]string, error) {
	var (
		names    []string
		gen      string
		off      int
		restarts int
	)
	for {
		payload := nulStrings(path, strconv.Itoa(off))
		p, _, err := c.roundTrip(ctx, "directory_part", path, typeDirectoryPart, tx, payload, nil)
		if err != nil {
			if errors.Is(err, syscall.ENOSYS) {
				// Older xenstored: the list is simply too long for us.
				return nil, e2big
			}
			return nil, err
		}
		part, err := parseDirectoryPart(p)
		if err != nil {
			return nil, err
		}
		if off == 0 {
			gen = part.gen
		} else if part.gen != gen {
			restarts++
			if restarts > maxDirectoryRestarts {
				return nil, &Error{Op: "directory", Path: path, Errno: "EAGAIN",
					Detail: "node kept changing while its child list was read in parts"}
			}
			names, off, gen = nil, 0, ""
			continue
		}
		names = append(names, part.names...)
		off += part.consumed
		if part.final {
			return dropEmpty(names), nil
		}
		if part.consumed == 0 {
			return nil, fmt.Errorf("%w: DIRECTORY_PART reply made no progress at offset %d", ErrProtocol, off)
		}
		if off > maxDirectoryBytes {
			return nil, fmt.Errorf("%w: child list of %s exceeds %d bytes", ErrProtocol, path, maxDirectoryBytes)
		}
	}
}

// dropEmpty removes empty names, which xenstored never sends in a list but
// a lone trailing NUL would produce.
func dropEmpty(names []string) []string {
	out := names[:0]
	for _, n := range names {
		if n != "" {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return []string{}
	}
	return out
}

func (c *Client) getPerms(ctx context.Context, tx uint32, path string) ([]Permission, error) {
	if err := checkPath("get_perms", path); err != nil {
		return nil, err
	}
	p, _, err := c.roundTrip(ctx, "get_perms", path, typeGetPerms, tx, nulStrings(path), nil)
	if err != nil {
		return nil, err
	}
	return parsePermissions(p)
}

func (c *Client) setPerms(ctx context.Context, tx uint32, path string, perms []Permission) error {
	if err := checkPath("set_perms", path); err != nil {
		return err
	}
	if len(perms) == 0 {
		return invalid("set_perms", path, "EINVAL", "empty permission list (the first entry names the owner)")
	}
	parts := make([]string, 0, 1+len(perms))
	parts = append(parts, path)
	for _, p := range perms {
		if !p.Access.Valid() {
			return invalid("set_perms", path, "EINVAL", fmt.Sprintf("invalid access %v for domain %d", p.Access, p.Domain))
		}
		parts = append(parts, p.String())
	}
	_, _, err := c.roundTrip(ctx, "set_perms", path, typeSetPerms, tx, nulStrings(parts...), nil)
	return err
}
