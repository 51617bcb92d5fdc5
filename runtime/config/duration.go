package config

import (
	"fmt"
	"time"
)

// Duration is a time.Duration written in the file as a Go duration string
// ("30s", "2m30s"). A bare number is refused, its unit would be a guess.
// Parsing never fails here: the text is kept and Validate reports it with
// the key's name, which the decoder cannot give for a text value.
type Duration struct {
	time.Duration
	bad string // the text, when it was no duration
}

// Seconds makes a Duration from a number of seconds.
func Seconds(n int) Duration { return Duration{Duration: time.Duration(n) * time.Second} }

// UnmarshalText parses a duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		*d = Duration{bad: string(b)}
		return nil
	}
	*d = Duration{Duration: v}
	return nil
}

// MarshalText writes the duration as a string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// check reports a duration that did not parse or is out of bounds.
func (d Duration) check() error {
	if d.bad != "" {
		return fmt.Errorf("%.80q is not a duration such as \"30s\" or \"2m\"", d.bad)
	}
	if d.Duration < MinTimeout || d.Duration > MaxTimeout {
		return fmt.Errorf("%s is outside [%s, %s]", d.Duration, MinTimeout, MaxTimeout)
	}
	return nil
}
