#!/usr/bin/env bash
# Installs runxen on a Xen dom0 from an already built tree (`make all`): the shim and the runxen
# CLI to $PREFIX/bin, the guest kernel and agent initramfs to $GUESTDIR (where runtime/config
# looks by default), and the example configuration to $SYSCONFDIR/runxen/config.toml unless one
# is there. Everything lands under $DESTDIR when set (packaging). It builds nothing, so that
# `sudo make install` never runs the Go toolchain or the guest build as root.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$SRC/bin}
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
GUESTDIR=${GUESTDIR:-/usr/share/runxen/guest}
SYSCONFDIR=${SYSCONFDIR:-/etc}

die() { echo "install: $*" >&2; exit 1; }

# put installs one file with the given mode, through a temporary name in the target directory
# and a rename, so that a running shim keeps the binary it was started from and nobody ever
# sees a half-written file.
put() {
	local src=$1 dst=$2 mode=$3
	install -d -m 0755 "$(dirname "$dst")"
	install -m "$mode" "$src" "$dst.install-tmp.$$"
	mv -f "$dst.install-tmp.$$" "$dst"
	echo "install: $dst"
}

# Check everything before installing anything, so that a missing piece leaves no half install.
files=() # triples: source, destination, mode
for name in containerd-shim-xen-v1 runxen; do
	# Each binary whose cmd/ directory exists in this tree must have been built.
	if [ ! -d "$SRC/cmd/$name" ]; then
		echo "install: $name: this tree has no cmd/$name yet; skipped"
		continue
	fi
	[ -x "$BIN/$name" ] || die "$BIN/$name is not built: run 'make binaries' (as your user) first"
	files+=("$BIN/$name" "$DESTDIR$PREFIX/bin/$name" 0755)
done
# Guest images, under the names runtime/config's defaults use.
for img in vmlinuz agent.initramfs; do
	[ -f "$BIN/guest/$img" ] || die "$BIN/guest/$img is not built: run 'make guest' (as your user) first"
	files+=("$BIN/guest/$img" "$DESTDIR$GUESTDIR/$img" 0644)
done
# Configuration: never overwrite the operator's.
conf=$DESTDIR$SYSCONFDIR/runxen/config.toml
if [ -e "$conf" ]; then
	echo "install: $conf exists; kept (the example is $SRC/etc/config.toml)"
else
	[ -f "$SRC/etc/config.toml" ] || die "$SRC/etc/config.toml is missing"
	files+=("$SRC/etc/config.toml" "$conf" 0644)
fi

for ((i = 0; i < ${#files[@]}; i += 3)); do
	put "${files[i]}" "${files[i + 1]}" "${files[i + 2]}"
done
