#!/usr/bin/env bash
# Installs the host packages the Xen lab needs, if any is missing. Debian/Ubuntu hosts only; the
# package mirror is whatever the host's apt is configured with.
set -euo pipefail

declare -A need=(
	[qemu-system-x86_64]=qemu-system-x86
	[qemu-img]=qemu-utils
	[debootstrap]=debootstrap
	[mkfs.ext4]=e2fsprogs
	[gunzip]=gzip
	[dpkg-deb]=dpkg
	[apt-get]=apt
)
missing=()
for cmd in "${!need[@]}"; do
	command -v "$cmd" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
[ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "host-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "host-deps: run as root, or install them yourself: apt-get install ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "host-deps: done"
