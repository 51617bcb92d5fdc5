package ocispec

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runxen/runxen/guest-agent/speccheck"
)

func speccheckSpec(s *specs.Spec) ([]string, error) { return speccheck.Spec(s, speccheck.Runc11()) }
