"""An unmodified Debian Linux kernel on the simulated machine (docs/linux.md):
`fetch` (the packages), `vmlinuz` (the kernel loader), `initramfs`, `dtb`
(device trees), `machine` (the Linux machine's configuration and devices) and
`boot` (the UHI boot and the console driver loop)."""
