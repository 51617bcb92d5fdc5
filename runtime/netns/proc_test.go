package netns

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestSplitNUL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"\x00", nil},
		{"a\x00b\x00", []string{"a", "b"}},
		{"a\x00\x00b", []string{"a", "", "b"}},
		{"no-terminator", []string{"no-terminator"}},
	} {
		got := splitNUL([]byte(tc.in))
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitNUL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParsePPid(t *testing.T) {
	for _, tc := range []struct {
		stat string
		want int
		ok   bool
	}{
		{"42 (runxen-netns) S 7 42 42 0 -1 4194560", 7, true},
		{"42 (a) b) c (d) R 1 2 3", 1, true}, // comm with spaces and parentheses
		{"42 (x) Z 0", 0, true},
		{"42 (x) S", 0, false},
		{"42 x S 1", 0, false},
		{"42 (x) S -1", 0, false},
		{"42 (x) S 1e3", 0, false},
		{"", 0, false},
	} {
		got, err := parsePPid([]byte(tc.stat))
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("parsePPid(%q) = %d, %v; want %d, ok=%v", tc.stat, got, err, tc.want, tc.ok)
		}
	}
}

func TestHolderOf(t *testing.T) {
	env := func(kv ...string) []string { return kv }
	good := env("PATH=/bin", envID+"=c1", envParent+"=99")
	for _, tc := range []struct {
		name    string
		argv    []string
		environ []string
		parent  int
		ok      bool
	}{
		{"holder", []string{holderArgv0, "c1"}, good, 99, true},
		{"other id", []string{holderArgv0, "c2"}, good, 0, false},
		{"other program", []string{"sleep", "c1"}, good, 0, false},
		{"argv only", []string{holderArgv0, "c1"}, env("PATH=/bin"), 0, false},
		{"id variable differs", []string{holderArgv0, "c1"}, env(envID+"=c2", envParent+"=99"), 0, false},
		{"no parent", []string{holderArgv0, "c1"}, env(envID + "=c1"), 0, false},
		{"bad parent", []string{holderArgv0, "c1"}, env(envID+"=c1", envParent+"=x"), 0, false},
		{"zero parent", []string{holderArgv0, "c1"}, env(envID+"=c1", envParent+"=0"), 0, false},
		{"first entry wins", []string{holderArgv0, "c1"}, env(envID+"=c1", envParent+"=5", envParent+"=6"), 5, true},
		{"prefix is not the key", []string{holderArgv0, "c1"}, env(envID+"_X=c1", envParent+"=5"), 0, false},
		{"short argv", []string{holderArgv0}, good, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent, ok := holderOf(tc.argv, tc.environ, "c1")
			if ok != tc.ok || parent != tc.parent {
				t.Errorf("holderOf = %d, %v; want %d, %v", parent, ok, tc.parent, tc.ok)
			}
		})
	}
}

func FuzzProcParsers(f *testing.F) {
	f.Add([]byte("42 (runxen-netns) S 7 42 42"), []byte(holderArgv0+"\x00c1\x00"), []byte(envID+"=c1\x00"+envParent+"=7\x00"))
	f.Add([]byte("1 ()) ) S 0"), []byte("\x00\x00"), []byte("="))
	f.Fuzz(func(t *testing.T, stat, cmdline, environ []byte) {
		if ppid, err := parsePPid(stat); err == nil {
			if ppid < 0 {
				t.Fatalf("negative ppid %d", ppid)
			}
			rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
			f := strings.Fields(rest)
			if len(f) < 2 {
				t.Fatalf("ppid %d from %q, which has fewer than two fields", ppid, rest)
			}
			if n, err := strconv.Atoi(f[1]); err != nil || n != ppid {
				t.Fatalf("ppid %d is not the second field of %q", ppid, rest)
			}
		}
		argv := splitNUL(cmdline)
		if parent, ok := holderOf(argv, splitNUL(environ), "c1"); ok {
			if parent <= 0 || len(argv) < 2 || argv[0] != holderArgv0 || argv[1] != "c1" {
				t.Fatalf("holderOf accepted argv %q with parent %d", argv, parent)
			}
		}
	})
}
