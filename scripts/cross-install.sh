#!/usr/bin/env bash
# One-time install of the cross-compiling toolchain for the firmware builds (docs/firmware.md), from
# Debian's packages and PyPI only (no Docker, no rustup downloads): Debian's rustc-web with its own
# std sources (for -Zbuild-std), zig as C compiler, libc and linker (cargo-zigbuild), and
# qemu-user-static to run the results. Idempotent: what is already there is not installed again.
# Needs root (apt-get). Adds the rustup toolchain `debian` (= /usr: `cargo +debian ...`).
set -euo pipefail

apt_need=""
for pkg in rustc-web cargo-web rust-web-src qemu-user-static; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || apt_need="$apt_need $pkg"
done
if [ -n "$apt_need" ]; then
    echo "cross-install: apt-get install$apt_need"
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $apt_need
fi

pip_need=""
python3 -c 'import ziglang' 2>/dev/null || pip_need="$pip_need ziglang"
command -v cargo-zigbuild >/dev/null || pip_need="$pip_need cargo-zigbuild"
if [ -n "$pip_need" ]; then
    echo "cross-install: pip install$pip_need"
    # Debian 12 marks its Python as externally managed; these two are self-contained tools.
    pip install -q $pip_need 2>/dev/null || pip install -q --break-system-packages $pip_need
fi

if command -v rustup >/dev/null; then
    if ! rustup toolchain list | grep -q '^debian'; then
        rustup toolchain link debian /usr
    fi
fi
cargo +debian --version
rustc +debian --version
test -d /usr/lib/rustlib/src/rust/library || { echo "cross-install: rust-web-src has no /usr/lib/rustlib/src/rust/library" >&2; exit 1; }
echo "cross-install: ok"
