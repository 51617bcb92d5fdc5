#!/bin/sh
# The lab dom0's init script, shipped on the per-boot payload disk. It brings up what systemd
# would on a real host (mounts, Xen daemons, containerd 1.7 + dockerd, containerd 2.x, networking)
# and then runs labd, the harness's command server. Progress goes to the console so that the
# host-side harness can show it and spot a boot that went wrong.
set -u
P=/lab/payload
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$P/bin
XENBIN=/usr/lib/xen-4.20/bin

step() { echo "runxen-lab: $*"; }

step "mounting file systems"
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
mount -t mqueue mqueue /dev/mqueue
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
# Container runtimes expect shared mount propagation, as systemd sets it up.
mount --make-rshared /
ln -sf /run /var/run 2>/dev/null || true
mkdir -p /var/log/xen /var/lib/xen /run/xen /run/xenstored /var/lib/xenstored /run/lock
hostname runxen-lab

step "loading modules"
for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-blkback xen-netback \
	virtio_net overlay br_netfilter veth bridge tun 9p 9pnet; do
	modprobe "$m" 2>/dev/null || echo "runxen-lab: modprobe $m failed"
done
mount -t xenfs xenfs /proc/xen
# gntalloc's default of 1024 grants is system-wide; each vchan costs up to 33.
[ -w /sys/module/xen_gntalloc/parameters/limit ] && echo 65536 >/sys/module/xen_gntalloc/parameters/limit

step "starting xenstored and xenconsoled"
$XENBIN/xenstored --pid-file /run/xenstored.pid
$XENBIN/xen-init-dom0
$XENBIN/xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen

step "network"
ip link set lo up
# The NIC is QEMU's user-mode network; its name depends on udev, so take the first non-loopback.
nic=$(ls /sys/class/net | grep -v '^lo$' | head -n1)
ip link set "$nic" up
ip addr add 10.0.2.15/24 dev "$nic"
ip route add default via 10.0.2.2 dev "$nic"

step "starting containerd 1.7, dockerd and containerd 2.x"
containerd --log-level info >/var/log/containerd.log 2>&1 &
dockerd --containerd=/run/containerd/containerd.sock >/var/log/dockerd.log 2>&1 &
if [ -x /opt/containerd2/bin/containerd ]; then
	/opt/containerd2/bin/containerd --config /etc/containerd2/config.toml >/var/log/containerd2.log 2>&1 &
fi

if [ -x $P/lab/local.sh ]; then
	step "running local.sh"
	$P/lab/local.sh
fi

step "starting labd"
echo "RUNXEN_LAB_READY"
exec $P/lab/labd --listen :7000 >>/var/log/labd.log 2>&1
