package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// MaxFileSize bounds the file: a real one is a few hundred bytes.
const MaxFileSize = 1 << 20

// defaultPath is DefaultPath; tests point it elsewhere.
var defaultPath = DefaultPath

// Load reads the configuration: from path if it is not empty (the runtime
// options' config_path), else from $RUNXEN_CONFIG, else from DefaultPath,
// and returns it with the path it came from. A missing file at
// DefaultPath yields Default() and the path "" (built-in defaults); a
// missing file named by path or the environment is an error.
func Load(path string) (Config, string, error) {
	explicit := true
	if path == "" {
		path = os.Getenv(EnvPath)
	}
	if path == "" {
		path, explicit = defaultPath, false
	}
	data, err := readFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return Default(), "", nil
	}
	if err != nil {
		return Config{}, path, fmt.Errorf("runxen config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, path, fmt.Errorf("runxen config %s: %w", path, err)
	}
	return c, path, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, MaxFileSize)
	}
	return data, nil
}

// Parse decodes a TOML document over the defaults and validates the
// result. Unknown keys, wrong types and bad values are errors naming the
// key (and its line when the document has one).
func Parse(data []byte) (Config, error) {
	c := Default()
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, describe(err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// describe turns go-toml's errors into ones that name the key and line.
func describe(err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var errs []error
		for i := range strict.Errors {
			e := &strict.Errors[i]
			line, _ := e.Position()
			errs = append(errs, fmt.Errorf("%w: unknown key %s (line %d)", ErrInvalid, keyName(e.Key()), line))
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, _ := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if k := de.Key(); len(k) > 0 {
			return fmt.Errorf("%w: %s (line %d): %s", ErrInvalid, keyName(k), line, msg)
		}
		return fmt.Errorf("%w: line %d: %s", ErrInvalid, line, msg)
	}
	return fmt.Errorf("%w: %v", ErrInvalid, err)
}

// keyName writes a key path as it would appear in the file.
func keyName(k toml.Key) string {
	parts := make([]string, len(k))
	for i, p := range k {
		if p == "" || strings.IndexFunc(p, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
		}) >= 0 {
			p = fmt.Sprintf("%q", p)
		}
		parts[i] = p
	}
	return strings.Join(parts, ".")
}
