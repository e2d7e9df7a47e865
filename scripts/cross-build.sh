#!/usr/bin/env bash
# Cross-build the static musl `vigil-probe` for routers and Raspberry Pis (docs/firmware.md).
#
# Usage: scripts/cross-build.sh [TARGET...]     (default: all four targets below)
# Needs scripts/cross-install.sh once. Uses Debian's rustc 1.96 (`cargo +debian`) with
# -Zbuild-std (std rebuilt from rust-web-src with the size flags) and zig as C compiler and
# linker (cargo-zigbuild). Output: $CARGO_TARGET_DIR/<target>/firmware/vigil-probe, and a copy in
# $CARGO_TARGET_DIR/cross/vigil-probe-<target> with its sizes in sizes.txt.
#
# SIZE_FLAGS=0 builds without the nightly size flags (to measure what they give).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export CARGO_TARGET_DIR="$TARGET_DIR"
ALL_TARGETS=(mipsel-unknown-linux-musl mips-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")

# Debian's compiler with its own std sources; nightly features through RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
command -v cargo-zigbuild >/dev/null || { echo "cross-build: cargo-zigbuild missing: run scripts/cross-install.sh" >&2; exit 2; }
cargo +debian --version >/dev/null 2>&1 || { echo "cross-build: no 'debian' toolchain: run scripts/cross-install.sh" >&2; exit 2; }

# Size flags (docs/firmware.md has what each gives). Nightly ones (through RUSTC_BOOTSTRAP): no
# panic machinery at all, no file:line in panics, no Debug formatting code; they apply to std too
# (rebuilt by -Zbuild-std, with std's optimize_for_size feature). Stable ones: no unwind tables
# (nothing unwinds) and sha2's compact SHA-512 rounds (zig's linker has no --icf).
std_features=()
size_flags=()
if [ "${SIZE_FLAGS:-1}" = 1 ]; then
    size_flags=(-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none
        -Cforce-unwind-tables=no '--cfg=sha2_backend_soft="compact"')
    std_features=(-Zbuild-std-features=optimize_for_size)
fi

out="$TARGET_DIR/cross"
mkdir -p "$out"
for target in "${targets[@]}"; do
    case "$target" in
        mipsel-unknown-linux-musl | mips-unknown-linux-musl) base=(-C relocation-model=static) ;;
        aarch64-unknown-linux-musl | armv7-unknown-linux-musleabihf) base=(-C link-self-contained=no) ;;
        *) echo "cross-build: unknown target $target (one of: ${ALL_TARGETS[*]})" >&2; exit 2 ;;
    esac
    echo "==> cross-build: $target"
    started=$(date +%s)
    # RUSTFLAGS replaces .cargo/config.toml's target rustflags, so they are repeated here; with
    # --target they apply to the target only, never to build scripts or the host.
    RUSTFLAGS="${base[*]} ${size_flags[*]}" \
        cargo +debian zigbuild --locked --profile firmware --target "$target" \
        -Zbuild-std=std,panic_abort "${std_features[@]}" -p vigil-probe --bin vigil-probe
    bin="$TARGET_DIR/$target/firmware/vigil-probe"
    cp "$bin" "$out/vigil-probe-$target"
    size=$(stat -c %s "$bin")
    printf '%s %d bytes %ds\n' "$target" "$size" "$(( $(date +%s) - started ))"
    sed -i "/^$target /d" "$out/sizes.txt" 2>/dev/null || true
    printf '%s %d\n' "$target" "$size" >> "$out/sizes.txt"
done
