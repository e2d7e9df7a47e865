#!/usr/bin/env bash
# Build installable OpenWrt .ipk packages of vigil-probe straight from the cross-built binaries
# (scripts/cross-build.sh), without the OpenWrt SDK (docs/firmware.md). The files are those of
# the SDK package (firmware/openwrt/vigil-probe): the same init script, UCI config and keep.d list.
#
# Usage: scripts/build-ipk.sh [OPENWRT_ARCH...]   (default: every arch whose binary is built)
# Output: $CARGO_TARGET_DIR/packages/vigil-probe_<version>-r1_<arch>.ipk
#
# An .ipk (as OpenWrt's scripts/ipkg-build makes it) is a gzipped GNU tar of ./debian-binary
# ("2.0"), ./data.tar.gz and ./control.tar.gz, each inner tar gzipped, owned by 0:0. Not ar.
set -euo pipefail
# shellcheck source=lib/cross-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/cross-common.sh"
PKG_FILES="$ROOT/firmware/openwrt/vigil-probe/files"
OUT="$TARGET_DIR/packages"
RELEASE=1

# OpenWrt package architecture -> Rust target whose static binary runs there. The armv7 build
# uses VFP (hard float), so ARM archs without an FPU (plain arm_cortex-a9, e.g. bcm53xx) are not
# listed.
rust_target() {
    case "$1" in
        mipsel_24kc) echo mipsel-unknown-linux-musl ;;
        mips_24kc) echo mips-unknown-linux-musl ;;
        aarch64_cortex-a53 | aarch64_cortex-a72 | aarch64_generic) echo aarch64-unknown-linux-musl ;;
        arm_cortex-a7 | arm_cortex-a7_neon-vfpv4 | arm_cortex-a9_vfpv3-d16 | arm_cortex-a15_neon-vfpv4)
            echo armv7-unknown-linux-musleabihf ;;
        *) return 1 ;;
    esac
}
ALL_ARCHS=(mipsel_24kc mips_24kc aarch64_cortex-a53 aarch64_cortex-a72 aarch64_generic
    arm_cortex-a7 arm_cortex-a7_neon-vfpv4 arm_cortex-a9_vfpv3-d16 arm_cortex-a15_neon-vfpv4)

version="$VERSION"
[ -n "$version" ] || { echo "build-ipk: no [workspace.package] version in Cargo.toml" >&2; exit 2; }
# Reproducible: every file dated at the last commit (or SOURCE_DATE_EPOCH).
epoch="${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)}"
TAR=(tar --format=gnu --numeric-owner --owner=0 --group=0 --sort=name --mtime="@$epoch")

archs=("$@")
if [ ${#archs[@]} -eq 0 ]; then
    mapfile -t archs < <(built_archs rust_target "${ALL_ARCHS[@]}")
    [ ${#archs[@]} -gt 0 ] || { echo "build-ipk: no cross-built binary in $TARGET_DIR/cross (scripts/cross-build.sh)" >&2; exit 2; }
fi

mkdir -p "$OUT"
for arch in "${archs[@]}"; do
    target=$(rust_target "$arch") || { echo "build-ipk: unknown OpenWrt arch $arch (one of: ${ALL_ARCHS[*]})" >&2; exit 2; }
    bin="$CROSS_DIR/vigil-probe-$target"
    [ -x "$bin" ] || { echo "build-ipk: $bin missing: scripts/cross-build.sh $target" >&2; exit 2; }
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    data="$work/data" control="$work/control"
    install -D -m 0755 "$bin" "$data/usr/bin/vigil-probe"
    install -D -m 0755 "$PKG_FILES/vigil-probe.init" "$data/etc/init.d/vigil-probe"
    install -D -m 0600 "$PKG_FILES/vigil-probe.config" "$data/etc/config/vigil-probe"
    install -D -m 0644 "$PKG_FILES/vigil-probe.keep" "$data/lib/upgrade/keep.d/vigil-probe"
    mkdir -p "$control"
    (cd "$data" && "${TAR[@]}" -cf - .) | gzip -9n > "$work/data.tar.gz"
    installed_size=$(du -sb --apparent-size "$data" | cut -f1)
    cat > "$control/control" <<CONTROL
Package: vigil-probe
Version: $version-r$RELEASE
Source: firmware/openwrt/vigil-probe
SourceName: vigil-probe
License: AGPL-3.0-or-later
Section: net
URL: https://example.invalid/vigil
Maintainer: Vigil <vigil@example.invalid>
Require-User: vigil:vigil
Architecture: $arch
Installed-Size: $installed_size
Description: Vigil internet-shutdown and censorship measurement probe. Measures whether social
 platforms are reachable from this network (DNS, TCP, TLS, HTTP), signs the results and uploads
 them to a Vigil collector. Opens no port; runs as the user vigil. Static binary ($target).
CONTROL
    echo /etc/config/vigil-probe > "$control/conffiles"
    # OpenWrt's standard maintainer scripts: default_postinst creates the user from
    # Require-User, then enables and starts the init script; default_prerm stops and disables it.
    cat > "$control/postinst" <<'SCRIPT'
#!/bin/sh
[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_postinst $0 $@
SCRIPT
    cat > "$control/prerm" <<'SCRIPT'
#!/bin/sh
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_prerm $0 $@
SCRIPT
    chmod 0755 "$control/postinst" "$control/prerm"
    chmod 0644 "$control/control" "$control/conffiles"
    (cd "$control" && "${TAR[@]}" -cf - .) | gzip -9n > "$work/control.tar.gz"
    echo 2.0 > "$work/debian-binary"
    ipk="$OUT/vigil-probe_${version}-r${RELEASE}_${arch}.ipk"
    (cd "$work" && "${TAR[@]}" -cf - ./debian-binary ./data.tar.gz ./control.tar.gz) | gzip -9n > "$ipk"
    rm -rf "$work"
    trap - EXIT
    printf '%s %d bytes\n' "$ipk" "$(stat -c %s "$ipk")"
done
