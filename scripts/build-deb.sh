#!/usr/bin/env bash
# Build Debian / Raspberry Pi OS packages of vigil-probe from the cross-built static binaries
# (scripts/cross-build.sh) with dpkg-deb, no network needed (docs/firmware.md):
#   arm64 <- aarch64-unknown-linux-musl        (64-bit Raspberry Pi OS, any 64-bit Pi)
#   armhf <- armv7-unknown-linux-musleabihf    (32-bit Raspberry Pi OS on a Pi 2 or later)
#
# Usage: scripts/build-deb.sh [arm64|armhf...]   (default: each whose binary is built)
# Output: $CARGO_TARGET_DIR/packages/vigil-probe_<version>-1_<arch>.deb
set -euo pipefail
# shellcheck source=lib/cross-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/cross-common.sh"
FILES="$ROOT/firmware/debian"
OUT="$TARGET_DIR/packages"

rust_target() {
    case "$1" in
        arm64) echo aarch64-unknown-linux-musl ;;
        armhf) echo armv7-unknown-linux-musleabihf ;;
        *) return 1 ;;
    esac
}
version="$VERSION"
epoch="${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)}"
export SOURCE_DATE_EPOCH="$epoch"

archs=("$@")
if [ ${#archs[@]} -eq 0 ]; then
    mapfile -t archs < <(built_archs rust_target arm64 armhf)
    [ ${#archs[@]} -gt 0 ] || { echo "build-deb: no arm64/armhf binary in $TARGET_DIR/cross (scripts/cross-build.sh)" >&2; exit 2; }
fi
mkdir -p "$OUT"
for arch in "${archs[@]}"; do
    target=$(rust_target "$arch") || { echo "build-deb: unknown arch $arch (arm64 or armhf)" >&2; exit 2; }
    bin="$CROSS_DIR/vigil-probe-$target"
    [ -x "$bin" ] || { echo "build-deb: $bin missing: scripts/cross-build.sh $target" >&2; exit 2; }
    stage=$(mktemp -d)
    trap 'rm -rf "$stage"' EXIT
    install -D -m 0755 "$bin" "$stage/usr/bin/vigil-probe"
    install -D -m 0755 "$FILES/vigil-probe-ctl" "$stage/usr/sbin/vigil-probe-ctl"
    install -D -m 0755 "$FILES/first-boot-enroll" "$stage/usr/lib/vigil-probe/first-boot-enroll"
    install -D -m 0644 "$FILES/vigil-probe.service" "$stage/lib/systemd/system/vigil-probe.service"
    install -D -m 0644 "$FILES/vigil-probe-enroll.service" "$stage/lib/systemd/system/vigil-probe-enroll.service"
    # The shipped sample equals the defaults, whose paths are the unit's StateDirectory.
    install -D -m 0644 "$ROOT/probe/vigil-probe.toml" "$stage/etc/vigil-probe/vigil-probe.toml"
    install -D -m 0644 "$ROOT/docs/volunteer-guide.md" "$stage/usr/share/doc/vigil-probe/volunteer-guide.md"
    install -D -m 0644 "$FILES/copyright" "$stage/usr/share/doc/vigil-probe/copyright"
    mkdir -p "$stage/DEBIAN"
    installed_kib=$(du -sk --apparent-size "$stage" | cut -f1)
    cat > "$stage/DEBIAN/control" <<CONTROL
Package: vigil-probe
Version: $version-1
Architecture: $arch
Maintainer: Vigil <vigil@example.invalid>
Installed-Size: $installed_kib
Depends: systemd
Section: net
Priority: optional
Homepage: https://example.invalid/vigil
Description: Vigil internet-shutdown and censorship measurement probe
 Measures whether social platforms are reachable from this network (DNS, TCP,
 TLS and HTTP tests), signs the results and uploads them to a Vigil collector,
 which detects shutdowns and blocking. Opens no port; runs as its own dynamic
 user in a hardened systemd sandbox. Static binary ($target).
CONTROL
    echo /etc/vigil-probe/vigil-probe.toml > "$stage/DEBIAN/conffiles"
    install -m 0755 "$FILES/postinst" "$FILES/prerm" "$FILES/postrm" "$stage/DEBIAN/"
    deb="$OUT/vigil-probe_${version}-1_${arch}.deb"
    dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" > /dev/null
    rm -rf "$stage"
    trap - EXIT
    printf '%s %d bytes\n' "$deb" "$(stat -c %s "$deb")"
done
