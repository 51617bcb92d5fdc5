// Package initramfs builds the guest's initramfs: a newc cpio archive,
// compressed with gzip or zstd, holding our /init, the kernel modules the
// guest needs (decompressed, with their load order in
// /etc/runxen/modules.load), and any extra files, directories and symbolic
// links.
//
// Output is reproducible: the same inputs give the same bytes, whatever the
// host's file times, owners or directory order. We write the cpio format
// ourselves because it is small (a 110-byte ASCII header per entry) and the
// cpio libraries we looked at cannot record device numbers, which the
// /dev/console node needs.
package initramfs
