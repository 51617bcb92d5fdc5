package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// keys lists every key of the file as dotted paths, from the toml tags.
func keys(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("toml")
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + tag
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(Duration{}) {
			out = append(out, keys(f.Type, name+".")...)
			continue
		}
		out = append(out, name)
	}
	return out
}

// The example configuration holds every key, at its default.
func TestExampleFileIsTheDefault(t *testing.T) {
	data, err := os.ReadFile("../../etc/config.toml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(data)
	if err != nil {
		t.Fatalf("etc/config.toml: %v", err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("etc/config.toml is not the defaults:\n got %+v\nwant %+v", c, Default())
	}
	// Each key written out, in its table.
	table := ""
	seen := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if m := regexp.MustCompile(`^\[([a-z_.]+)\]$`).FindStringSubmatch(line); m != nil {
			table = m[1] + "."
			continue
		}
		if m := regexp.MustCompile(`^([a-z_]+) =`).FindStringSubmatch(line); m != nil {
			seen[table+m[1]] = true
		}
	}
	for _, k := range keys(reflect.TypeOf(Config{}), "") {
		if !seen[k] {
			t.Errorf("etc/config.toml does not set %s", k)
		}
	}
}

// docs/configuration.md describes every key and every annotation.
func TestEveryKeyDocumented(t *testing.T) {
	data, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, k := range keys(reflect.TypeOf(Config{}), "") {
		if !strings.Contains(doc, "`"+k+"`") {
			t.Errorf("docs/configuration.md does not describe `%s`", k)
		}
	}
	for _, a := range KnownAnnotations() {
		if !strings.Contains(doc, "`"+a+"`") {
			t.Errorf("docs/configuration.md does not describe the annotation `%s`", a)
		}
	}
	for _, s := range []string{DefaultPath, EnvPath, "config_path"} {
		if !strings.Contains(doc, s) {
			t.Errorf("docs/configuration.md does not mention %s", s)
		}
	}
}
