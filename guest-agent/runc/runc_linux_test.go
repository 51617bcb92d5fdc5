//go:build linux

package runc

import (
	"strings"
	"testing"
)

func TestParseLastError(t *testing.T) {
	log := `{"level":"warning","msg":"old","time":"x"}
{"level":"error","msg":"first","time":"x"}
not json
{"level":"error","msg":"runc run failed: unable to start container process: exec: \"nope\": executable file not found in $PATH","time":"x"}
{"level":"info","msg":"later info","time":"x"}
`
	got := parseLastError(strings.NewReader(log))
	if !strings.Contains(got, `exec: "nope": executable file not found`) {
		t.Fatalf("parseLastError = %q", got)
	}
	if parseLastError(strings.NewReader("")) != "" {
		t.Fatal("error from an empty log")
	}
}

func TestRuncErrorReadsOnlyNewEntries(t *testing.T) {
	dir := t.TempDir()
	lf := dir + "/log.json"
	write := func(s string) {
		t.Helper()
		f, err := openAppend(lf)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(s)
		f.Close()
	}
	write(`{"level":"error","msg":"stale"}` + "\n")
	mark := logSize(lf)
	err := runcError("kill", errTest, lf, mark)
	if strings.Contains(err.Error(), "stale") {
		t.Fatalf("an earlier command's error leaked in: %v", err)
	}
	write(`{"level":"error","msg":"container not running"}` + "\n")
	err = runcError("kill", errTest, lf, mark)
	if !strings.Contains(err.Error(), "OCI runtime kill failed: container not running") {
		t.Fatalf("err = %v", err)
	}
}
