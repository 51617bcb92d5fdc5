//go:build linux

package main

import "testing"

func TestParseUptime(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"12.34 40.12\n", "12.34", false},
		{"0.51 0.00", "0.51", false},
		{"", "", true},
		{" \n", "", true},
	}
	for _, tt := range tests {
		got, err := parseUptime(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("parseUptime(%q) = %q, %v", tt.in, got, err)
		}
	}
}
