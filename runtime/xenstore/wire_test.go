package xenstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func hdr(t msgType, req, tx, n uint32) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint32(b[0:], uint32(t))
	binary.LittleEndian.PutUint32(b[4:], req)
	binary.LittleEndian.PutUint32(b[8:], tx)
	binary.LittleEndian.PutUint32(b[12:], n)
	return b
}

func TestAppendMessageGolden(t *testing.T) {
	got := appendMessage(nil, typeWrite, 7, 3, []byte("/a\x00v"))
	want := []byte{
		11, 0, 0, 0, // XS_WRITE
		7, 0, 0, 0, // req_id
		3, 0, 0, 0, // tx_id
		4, 0, 0, 0, // len
		'/', 'a', 0, 'v',
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x\nwant % x", got, want)
	}
}

func TestReadMessage(t *testing.T) {
	big := append(hdr(typeRead, 1, 0, PayloadMax), bytes.Repeat([]byte{'x'}, PayloadMax)...)
	tests := []struct {
		name    string
		in      []byte
		want    message
		wantErr error
	}{
		{"empty stream", nil, message{}, io.EOF},
		{"short header", hdr(typeRead, 1, 0, 0)[:9], message{}, io.ErrUnexpectedEOF},
		{"no payload", hdr(typeWatch, 5, 0, 0), message{header: header{typeWatch, 5, 0, 0}}, nil},
		{"payload", append(hdr(typeRead, 2, 9, 3), "abc"...), message{header{typeRead, 2, 9, 3}, []byte("abc")}, nil},
		{"max payload", big, message{header{typeRead, 1, 0, PayloadMax}, bytes.Repeat([]byte{'x'}, PayloadMax)}, nil},
		{"too long", hdr(typeRead, 1, 0, PayloadMax+1), message{}, ErrProtocol},
		{"huge length", hdr(typeRead, 1, 0, 0xffffffff), message{}, ErrProtocol},
		{"invalid type", hdr(typeInvalid, 1, 0, 0), message{}, ErrProtocol},
		{"truncated payload", append(hdr(typeRead, 1, 0, 10), "abc"...), message{}, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readMessage(bytes.NewReader(tt.in))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseErrorReply(t *testing.T) {
	tests := []struct {
		in         string
		errno      string
		detail     string
		is         error
		wantFailed bool
	}{
		{"ENOENT\x00", "ENOENT", "", fs.ErrNotExist, false},
		{"EACCES\x00", "EACCES", "", fs.ErrPermission, false},
		{"EPERM\x00", "EPERM", "", fs.ErrPermission, false},
		{"EEXIST\x00", "EEXIST", "", fs.ErrExist, false},
		{"EAGAIN\x00", "EAGAIN", "", ErrAgain, false},
		{"E2BIG\x00", "E2BIG", "", syscall.E2BIG, false},
		{"EQUOTA\x00", "EQUOTA", "", syscall.EDQUOT, false},
		{"ENOENT", "ENOENT", "", fs.ErrNotExist, false}, // no NUL: tolerated
		{"EINVAL: Could not convert 'x' to int\x00", "EINVAL", "Could not convert 'x' to int", syscall.EINVAL, false},
		{"EFUTURE\x00", "EFUTURE", "", nil, false},
		{"", "", "", nil, true},
		{"\x00", "", "", nil, true},
		{"OK\x00", "", "", nil, true},
		{"enoent\x00", "", "", nil, true},
		{"E\x00", "", "", nil, true},
		{"E" + strings.Repeat("X", 40) + "\x00", "", "", nil, true},
	}
	for _, tt := range tests {
		e, err := parseErrorReply("read", "/p", []byte(tt.in))
		if tt.wantFailed {
			if !errors.Is(err, ErrProtocol) {
				t.Errorf("%q: err = %v, want ErrProtocol", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if e.Errno != tt.errno || e.Detail != tt.detail || e.Op != "read" || e.Path != "/p" {
			t.Errorf("%q: got %+v", tt.in, e)
		}
		if tt.is != nil && !errors.Is(e, tt.is) {
			t.Errorf("%q: errors.Is(%v, %v) = false", tt.in, e, tt.is)
		}
		if tt.is == nil && e.Unwrap() != nil {
			t.Errorf("%q: unexpected Unwrap %v", tt.in, e.Unwrap())
		}
	}
}

func TestParsers(t *testing.T) {
	t.Run("strings", func(t *testing.T) {
		for in, want := range map[string][]string{
			"":            nil,
			"a\x00":       {"a"},
			"a\x00bc\x00": {"a", "bc"},
			"\x00":        {""},
		} {
			got, err := parseStrings([]byte(in))
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%q: got %q, %v", in, got, err)
			}
		}
		if _, err := parseStrings([]byte("a\x00b")); !errors.Is(err, ErrProtocol) {
			t.Errorf("unterminated: err = %v", err)
		}
	})
	t.Run("string", func(t *testing.T) {
		for in, want := range map[string]string{"x\x00": "x", "x": "x", "": "", "\x00": ""} {
			if got, err := parseString([]byte(in)); err != nil || got != want {
				t.Errorf("%q: got %q, %v", in, got, err)
			}
		}
		if _, err := parseString([]byte("a\x00b\x00")); !errors.Is(err, ErrProtocol) {
			t.Errorf("embedded NUL: err = %v", err)
		}
	})
	t.Run("uint32", func(t *testing.T) {
		for in, want := range map[string]uint32{"1\x00": 1, "4294967295\x00": 1<<32 - 1, "0": 0} {
			if got, err := parseUint32([]byte(in)); err != nil || got != want {
				t.Errorf("%q: got %d, %v", in, got, err)
			}
		}
		for _, in := range []string{"", "\x00", "-1\x00", "+1", "4294967296\x00", "12a\x00", " 1\x00", "99999999999"} {
			if _, err := parseUint32([]byte(in)); !errors.Is(err, ErrProtocol) {
				t.Errorf("%q: err = %v", in, err)
			}
		}
	})
	t.Run("watch event", func(t *testing.T) {
		p, tok, err := parseWatchEvent([]byte("/a/b\x00tok\x00"))
		if err != nil || p != "/a/b" || tok != "tok" {
			t.Errorf("got %q %q %v", p, tok, err)
		}
		p, tok, err = parseWatchEvent([]byte("/a\x00\x00extra\x00"))
		if err != nil || p != "/a" || tok != "" {
			t.Errorf("got %q %q %v", p, tok, err)
		}
		for _, in := range []string{"", "/a", "/a\x00tok", "\x00tok\x00"} {
			if _, _, err := parseWatchEvent([]byte(in)); !errors.Is(err, ErrProtocol) {
				t.Errorf("%q: err = %v", in, err)
			}
		}
	})
	t.Run("permissions", func(t *testing.T) {
		got, err := parsePermissions([]byte("n0\x00r5\x00b4294967295\x00w12\x00"))
		want := []Permission{{0, AccessNone}, {5, AccessRead}, {1<<32 - 1, AccessBoth}, {12, AccessWrite}}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, %v", got, err)
		}
		for _, in := range []string{"", "\x00", "x0\x00", "r\x00", "r-1\x00", "r4294967296\x00", "b0", "r 1\x00"} {
			if _, err := parsePermissions([]byte(in)); !errors.Is(err, ErrProtocol) {
				t.Errorf("%q: err = %v", in, err)
			}
		}
	})
	t.Run("directory part", func(t *testing.T) {
		tests := []struct {
			in   string
			want dirPart
			bad  bool
		}{
			{"7\x00a\x00bb\x00", dirPart{gen: "7", names: []string{"a", "bb"}, consumed: 5}, false},
			{"7\x00a\x00bb\x00\x00", dirPart{gen: "7", names: []string{"a", "bb"}, consumed: 5, final: true}, false},
			{"7\x00\x00", dirPart{gen: "7", final: true}, false},
			{"7\x00", dirPart{}, true},
			{"\x00a\x00", dirPart{}, true},
			{"7\x00a", dirPart{}, true},
			{"7\x00\x00a\x00", dirPart{}, true},
			{"", dirPart{}, true},
		}
		for _, tt := range tests {
			got, err := parseDirectoryPart([]byte(tt.in))
			if tt.bad {
				if !errors.Is(err, ErrProtocol) {
					t.Errorf("%q: err = %v", tt.in, err)
				}
				continue
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%q: got %+v, %v", tt.in, got, err)
			}
		}
	})
}

func TestCheckPath(t *testing.T) {
	tests := []struct {
		path  string
		ok    bool
		watch bool // also/only valid as a watch path
	}{
		{"/", true, true},
		{"/local/domain/0", true, true},
		{"device/vif/0/state", true, true},
		{"a", true, true},
		{"/a-b_c@d/E9", true, true},
		{"/" + strings.Repeat("a", AbsPathMax-1), true, true},
		{"/" + strings.Repeat("a", AbsPathMax), false, false},
		{strings.Repeat("a", RelPathMax), true, true},
		{strings.Repeat("a", RelPathMax+1), false, false},
		{"", false, false},
		{"//", false, false},
		{"/a//b", false, false},
		{"/a/", false, false},
		{"a/", false, false},
		{"/a b", false, false},
		{"/a\x00b", false, false},
		{"/a.b", false, false},
		{"/é", false, false},
		{"@releaseDomain", false, true},
		{"@", false, false},
		{"@" + strings.Repeat("x", RelPathMax), false, false},
		{"@x\x00", false, false},
	}
	for _, tt := range tests {
		err := checkPath("read", tt.path)
		if (err == nil) != tt.ok {
			t.Errorf("checkPath(%.40q) = %v, want ok=%v", tt.path, err, tt.ok)
		}
		if err != nil && !errors.Is(err, syscall.EINVAL) {
			t.Errorf("checkPath(%.40q) = %v, want EINVAL", tt.path, err)
		}
		if err := checkWatchPath("watch", tt.path); (err == nil) != tt.watch {
			t.Errorf("checkWatchPath(%.40q) = %v, want ok=%v", tt.path, err, tt.watch)
		}
	}
}

func TestPermissionString(t *testing.T) {
	for _, p := range []Permission{{0, AccessNone}, {5, AccessRead}, {7, AccessWrite}, {1<<32 - 1, AccessBoth}} {
		q, err := ParsePermission(p.String())
		if err != nil || q != p {
			t.Errorf("%v: round trip gave %v, %v", p, q, err)
		}
	}
	if AccessRead.CanWrite() || !AccessRead.CanRead() || !AccessBoth.CanWrite() || AccessNone.CanRead() {
		t.Error("Can* wrong")
	}
}

func TestErrorMessage(t *testing.T) {
	e := &Error{Op: "read", Path: "/x", Errno: "ENOENT"}
	if got := e.Error(); got != "xenstore read /x: ENOENT" {
		t.Errorf("got %q", got)
	}
	e = &Error{Op: "transaction_start", Errno: "ENOSPC", Detail: "quota"}
	if got := e.Error(); got != "xenstore transaction_start: ENOSPC: quota" {
		t.Errorf("got %q", got)
	}
}
