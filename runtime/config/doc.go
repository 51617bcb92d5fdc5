// Package config is runxen's host configuration: the file
// /etc/runxen/config.toml, its built-in defaults, and the annotations a
// container's OCI spec may carry to change runxen's behaviour for that
// container.
//
// What this package owns: the names, types, defaults and limits of every
// setting, where the file is found, decoding it strictly, and checking the
// result. It does not apply the settings (runtime/sandbox and
// runtime/ocispec do) and knows nothing of containerd.
//
// # Where the file is
//
// The first of these that is set wins:
//
//  1. the path the shim passes to Load, taken from the runtime options'
//     config_path (containerd's runtime options, Docker's daemon.json
//     "options");
//  2. the environment variable RUNXEN_CONFIG;
//  3. /etc/runxen/config.toml (DefaultPath).
//
// A file named by 1 or 2 must exist. The default path may be missing: the
// built-in defaults (Default) then apply, so no file is needed on a host
// where runxen is installed to its default locations.
//
// # Strictness
//
// Every key is optional; a key that is set replaces its default. A key
// runxen does not know is an error that names it and its line, as is a
// value of the wrong type or outside its limits: a misspelt setting that
// would silently keep its default is the kind of mistake an operator
// only finds after an outage. docs/configuration.md describes every key
// and etc/config.toml is an example holding every key at its default; the
// tests keep the three in step.
//
// TOML is decoded with github.com/pelletier/go-toml/v2, the library
// containerd uses for its own config.
package config
