#!/usr/bin/env bash
# Installs NVIDIA's runtime compiler NVRTC from Debian's non-free archive:
# enough to compile the CUDA kernels to cubins without a GPU or a driver.
# Idempotent: does nothing when libnvrtc is already on the linker path.
set -euo pipefail
if ldconfig -p 2>/dev/null | grep -q 'libnvrtc\.so'; then
	echo "install-nvrtc: NVRTC already installed"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "install-nvrtc: run as root (apt-get)" >&2
	exit 1
fi
src=/etc/apt/sources.list.d/debian.sources
if [ -f "$src" ] && ! grep -q 'non-free' "$src"; then
	sed -i 's/^Components: main$/Components: main contrib non-free/' "$src"
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnvrtc11.2 libnvrtc-builtins11.8 >/dev/null
echo "install-nvrtc: installed $(ldconfig -p | grep -o 'libnvrtc\.so[.0-9]*' | head -1)"
