package ocispec

import (
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// defaultAppArmorProfiles are the profiles container engines apply when the
// user asked for none. They confine a container on a kernel it shares with
// the host (no mounts, no writes to /proc/sys and /sys, no raw access to
// kernel interfaces); a runxen container has a kernel of its own, and the
// VM boundary is what protects the host. Dropping them changes nothing the
// host relies on. Any other profile is one a user chose on purpose, and
// refusing it is the honest answer.
var defaultAppArmorProfiles = map[string]bool{
	"docker-default":            true, // Docker
	"nerdctl-default":           true, // nerdctl
	"cri-containerd.apparmor.d": true, // containerd's CRI
	"containerd-default":        true, // ctr --apparmor-default-profile
	"crio-default":              true, // CRI-O
	"unconfined":                true, // explicitly none
}

// defaultSELinuxTypes are the SELinux types of container-selinux's default
// policy for containers (process) and their files (mount label). The
// labels they come with separate containers that share one kernel; each
// runxen container has its own kernel and file server, so that separation
// holds without them. Other types are deliberate choices and refused.
var defaultSELinuxTypes = map[string]bool{
	"container_t":          true,
	"container_file_t":     true,
	"svirt_lxc_net_t":      true, // older container-selinux
	"svirt_sandbox_file_t": true,
	"spc_t":                true, // "super privileged", i.e. unconfined
}

// securityLabels strips the host's LSM settings from the guest's spec
// where dropping them keeps what the host relies on, and refuses the rest.
func securityLabels(p *problems, notes *[]string, spec *specs.Spec) {
	if proc := spec.Process; proc != nil {
		if prof := proc.ApparmorProfile; prof != "" {
			if defaultAppArmorProfiles[prof] {
				*notes = append(*notes, fmt.Sprintf("process.apparmorProfile %q dropped: an engine default that guards a shared kernel; the guest has its own", prof))
				proc.ApparmorProfile = ""
			} else {
				p.unsupported("process.apparmorProfile", "%.120q: the guest kernel has no AppArmor; only the engines' default profiles are dropped (the VM is the boundary)", prof)
			}
		}
		if l := proc.SelinuxLabel; l != "" {
			if defaultSELinuxTypes[selinuxType(l)] {
				*notes = append(*notes, fmt.Sprintf("process.selinuxLabel %q dropped: the default container type; the guest has its own kernel", l))
				proc.SelinuxLabel = ""
			} else {
				p.unsupported("process.selinuxLabel", "%.120q: the guest kernel has no SELinux policy; only container-selinux's default types are dropped", l)
			}
		}
	}
	if l := spec.Linux; l != nil && l.MountLabel != "" {
		if defaultSELinuxTypes[selinuxType(l.MountLabel)] {
			*notes = append(*notes, fmt.Sprintf("linux.mountLabel %q dropped: the default container file type; the guest has its own kernel", l.MountLabel))
			l.MountLabel = ""
		} else {
			p.unsupported("linux.mountLabel", "%.120q: the guest kernel has no SELinux policy; only container-selinux's default types are dropped", l.MountLabel)
		}
	}
}

// selinuxType is the type field of user:role:type[:level].
func selinuxType(label string) string {
	parts := strings.SplitN(label, ":", 4)
	if len(parts) < 3 {
		return ""
	}
	return parts[2]
}
