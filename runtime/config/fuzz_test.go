package config

import (
	"bytes"
	"os"
	"reflect"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// FuzzParse: any document either fails with ErrInvalid or yields a valid
// configuration that survives a round trip through the encoder.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("../../etc/config.toml"); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		"", "log_level = \"debug\"\n", "[guest]\nvcpus = 2\nmemory_mib = 64\n", "[timeouts]\nboot = \"1m\"\n",
		"guest.kernel = \"/k\"\n", "[shares.io_limits]\nread_bytes_per_sec = 5\n", "[[guest]]\n", "a = {b = 1}\n",
		"[timeouts]\nboot = 30\n", "x = 1979-05-27T07:32:00Z\n", "[guest]\nkernel_params = \"\\u0000\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted an invalid config: %v", err)
		}
		var buf bytes.Buffer
		if err := toml.NewEncoder(&buf).Encode(c); err != nil {
			t.Fatalf("encode %+v: %v", c, err)
		}
		c2, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatalf("re-parse of\n%s: %v", buf.Bytes(), err)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", c2, c)
		}
	})
}

// FuzzApplyAnnotations: never panics, and a success sets only known
// annotations' values.
func FuzzApplyAnnotations(f *testing.F) {
	f.Add(AnnotationReadBPS, "100", "io.runxen.x", "1")
	f.Add(AnnotationWriteIOPS, "0", "other", "")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		got, err := ApplyAnnotations(map[string]string{k1: v1, k2: v2}, IOLimits{})
		if err != nil {
			return
		}
		if got != (IOLimits{}) {
			known := false
			for _, k := range KnownAnnotations() {
				known = known || k == k1 || k == k2
			}
			if !known {
				t.Fatalf("limits %+v set from unknown annotations %q, %q", got, k1, k2)
			}
		}
	})
}
