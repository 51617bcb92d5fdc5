package hooks

import (
	"strings"
	"testing"
)

func TestCapture(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limit  int
		writes []string
		want   string
	}{
		{"empty", 8, nil, ""},
		{"fits", 8, []string{"abc", "de"}, "abcde"},
		{"exactly full", 8, []string{"abcdefgh"}, "abcdefgh"},
		{"one over", 8, []string{"abcdefghi"}, "abcd\n[... 1 bytes dropped ...]\nfghi"},
		{"many small writes", 6, []string{"1", "2", "3", "4", "5", "6", "7", "8", "9"}, "123\n[... 3 bytes dropped ...]\n789"},
		{"one huge write", 4, []string{strings.Repeat("x", 1000) + "END"}, "xx\n[... 999 bytes dropped ...]\nND"},
		{"wraps twice", 4, []string{"ab", "cdef", "ghij"}, "ab\n[... 6 bytes dropped ...]\nij"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCapture(tc.limit)
			for _, w := range tc.writes {
				n, err := c.Write([]byte(w))
				if err != nil || n != len(w) {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if got := c.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzCapture: whatever is written, what is kept is bounded, and is the
// input's first and last bytes.
func FuzzCapture(f *testing.F) {
	f.Add(uint8(8), []byte("hello, world"), uint8(3))
	f.Fuzz(func(t *testing.T, limit uint8, data []byte, chunk uint8) {
		c := newCapture(int(limit))
		step := int(chunk)%17 + 1
		for i := 0; i < len(data); i += step {
			c.Write(data[i:min(i+step, len(data))])
		}
		got := c.String()
		lim := max(int(limit), 2)
		if len(data) <= lim {
			if got != string(data) {
				t.Fatalf("kept %q of %q", got, data)
			}
			return
		}
		head, tail := string(data[:lim/2]), string(data[len(data)-(lim-lim/2):])
		if !strings.HasPrefix(got, head) || !strings.HasSuffix(got, tail) {
			t.Fatalf("kept %q; want head %q and tail %q", got, head, tail)
		}
		if len(got) > lim+64 {
			t.Fatalf("kept %d bytes with a limit of %d", len(got), lim)
		}
	})
}
