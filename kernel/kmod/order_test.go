package kmod

import (
	"fmt"
	"slices"
	"testing"
)

func TestLoadOrder(t *testing.T) {
	graph := map[string][]string{
		"ext4":    {"jbd2", "mbcache", "crc16"},
		"jbd2":    {},
		"mbcache": {},
		"crc16":   {},
		"9p":      {"9pnet", "netfs"},
		"9pnet":   {"netfs"},
		"netfs":   {},
		"a":       {"b"},
		"b":       {"a"},
	}
	deps := func(n string) ([]string, error) {
		d, ok := graph[n]
		if !ok {
			return nil, fmt.Errorf("no %s", n)
		}
		return d, nil
	}
	tests := []struct {
		roots   []string
		want    []string
		wantErr bool
	}{
		{[]string{"ext4"}, []string{"jbd2", "mbcache", "crc16", "ext4"}, false},
		{[]string{"9p", "ext4", "9p"}, []string{"netfs", "9pnet", "9p", "jbd2", "mbcache", "crc16", "ext4"}, false},
		{[]string{"crc16", "ext4"}, []string{"crc16", "jbd2", "mbcache", "ext4"}, false},
		{[]string{"a"}, nil, true},
		{[]string{"missing"}, nil, true},
		{nil, nil, false},
	}
	for _, tt := range tests {
		got, err := loadOrder(tt.roots, deps)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("loadOrder(%q) = %q, %v; want %q", tt.roots, got, err, tt.want)
		}
	}
}
