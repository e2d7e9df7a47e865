#!/usr/bin/env bash
# Test the built packages (scripts/build-ipk.sh, build-deb.sh): unpack each .ipk and .deb and
# check its container format, layout, modes and owners, control fields and conffiles; `sh -n`
# every shell script; translate a UCI configuration through the OpenWrt init script and have the
# packaged binary accept the TOML it wrote; `systemd-analyze verify` the units; and run each
# packaged binary under qemu-user.
#
# Usage: scripts/package-test.sh [PACKAGE...]   (default: every package in $CARGO_TARGET_DIR/packages)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/cross-common.sh"
PKG_DIR="$TARGET_DIR/packages"

pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
    mapfile -t pkgs < <(find "$PKG_DIR" -maxdepth 1 \( -name '*.ipk' -o -name '*.deb' \) 2>/dev/null | sort)
fi
[ ${#pkgs[@]} -gt 0 ] || { echo "package-test: no packages in $PKG_DIR (scripts/build-ipk.sh, build-deb.sh)" >&2; exit 2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vigil-package-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

failures=0
fail() {
    echo "    FAIL: $*"
    failures=$((failures + 1))
}
ok() { echo "    ok: $*"; }

# field FILE NAME: a control field's value.
field() { sed -n "s/^$2: *//p" "$1" | head -n 1; }

# expect_listing LISTING "mode owner path"...: the tar listing (tar -tvf) has exactly these
# regular files (and only directories besides), each with that mode and owner.
expect_listing() {
    local listing="$1"
    shift
    local want got
    want=$(printf '%s\n' "$@" | sort)
    got=$(awk '$1 !~ /^d/ { p = $6; sub(/^\.\//, "", p); print $1, $2, p }' "$listing" | sort)
    if [ "$want" = "$got" ]; then
        ok "layout, modes and owners ($# files)"
    else
        fail "layout differs:"
        diff <(echo "$want") <(echo "$got") | sed 's/^/      /'
    fi
    if awk '{ print $2 }' "$listing" | grep -qv '^0/0$'; then fail "a file not owned by 0/0"; fi
}

run_packaged() { # run_packaged TARGET BINARY ARGS...: under the target's qemu
    local target="$1" bin="$2"
    shift 2
    $(qemu_cmd "$target") "$bin" "$@"
}

# OpenWrt: source the init script with stand-ins for rc.common's helpers, validate with the
# defaults of its own rules (as validate_data would for an empty section) plus overrides, and
# write the TOML; the packaged binary must accept it.
uci_roundtrip() {
    local init="$1" target="$2" bin="$3" dir="$WORK/uci"
    rm -rf "$dir" && mkdir -p "$dir"
    (
        set +eu
        extra_command() { :; }
        config_load() { :; }
        chown() { :; }
        # uci_load_validate PKG TYPE SECTION CALLBACK RULES...: each option its UCI value, else
        # the rule's default; lists as space-separated words.
        uci_load_validate() {
            local section="$3" callback="$4" rule name rest default
            shift 4
            for rule in "$@"; do
                # name:type[:default], the default being all after the type (URLs hold colons).
                name=${rule%%:*}
                rest=${rule#*:}
                case "$rest" in *:*) default=${rest#*:} ;; *) default="" ;; esac
                eval "[ -n \"\${UCI_$name+x}\" ] && $name=\"\$UCI_$name\" || $name=\"\$default\""
            done
            "$callback" "$section" 0
        }
        # shellcheck disable=SC1090
        . "$init"
        TOML="$dir/vigil-probe.toml"
        UCI_state_dir="$dir/state" UCI_spool_dir="$dir/state/spool" UCI_resolver="9.9.9.9:53 8.8.4.4" \
            UCI_platform="facebook whatsapp" UCI_country="DE" UCI_concurrency=8 \
            validate_probe_section main configure
    ) > "$dir/out" 2>&1 || { fail "init script: configure failed: $(cat "$dir/out")"; return; }
    if ! grep -q '^resolvers = \["9.9.9.9:53", "8.8.4.4"\]$' "$dir/vigil-probe.toml" \
        || ! grep -q '^platforms = \["facebook", "whatsapp"\]$' "$dir/vigil-probe.toml"; then
        fail "UCI lists not translated: $(cat "$dir/vigil-probe.toml")"
        return
    fi
    if run_packaged "$target" "$bin" status --config "$dir/vigil-probe.toml" > "$dir/status" 2>&1; then
        ok "UCI -> TOML accepted by the packaged binary ($(grep -c . "$dir/vigil-probe.toml") lines)"
    else
        fail "the packaged binary refused the TOML the init wrote: $(cat "$dir/status")"
    fi
}

test_ipk() {
    local ipk="$1" name arch target x="$WORK/ipk"
    name=$(basename "$ipk" .ipk)
    arch=${name#vigil-probe_"$VERSION"-r*_}
    rm -rf "$x" && mkdir -p "$x/control" "$x/data"
    echo "==> $(basename "$ipk")"
    # An ipk is a gzipped tar (not ar) of debian-binary, data.tar.gz, control.tar.gz.
    if ! gzip -t "$ipk" 2>/dev/null; then fail "not gzip"; return; fi
    local members
    members=$(tar -tzf "$ipk" | tr '\n' ' ')
    [ "$members" = "./debian-binary ./data.tar.gz ./control.tar.gz " ] && ok "outer tar: $members" \
        || fail "outer members: $members"
    tar -xzf "$ipk" -C "$x"
    [ "$(cat "$x/debian-binary")" = "2.0" ] || fail "debian-binary is not 2.0"
    tar -xzf "$x/control.tar.gz" -C "$x/control"
    tar -xzf "$x/data.tar.gz" -C "$x/data"
    tar -tzvf "$x/data.tar.gz" > "$x/data.list"
    expect_listing "$x/data.list" \
        "-rwxr-xr-x 0/0 usr/bin/vigil-probe" "-rwxr-xr-x 0/0 etc/init.d/vigil-probe" \
        "-rw------- 0/0 etc/config/vigil-probe" "-rw-r--r-- 0/0 lib/upgrade/keep.d/vigil-probe"
    local c="$x/control/control"
    [ "$(field "$c" Package)" = vigil-probe ] || fail "Package: $(field "$c" Package)"
    [ "$(field "$c" Version)" = "$VERSION-r1" ] || fail "Version: $(field "$c" Version)"
    [ "$(field "$c" Architecture)" = "$arch" ] || fail "Architecture $(field "$c" Architecture) != file name's $arch"
    [ "$(field "$c" Require-User)" = "vigil:vigil" ] || fail "Require-User: $(field "$c" Require-User)"
    [[ "$(field "$c" Installed-Size)" =~ ^[0-9]+$ ]] || fail "Installed-Size: $(field "$c" Installed-Size)"
    [ -n "$(field "$c" Description)" ] || fail "no Description"
    [ "$(cat "$x/control/conffiles")" = /etc/config/vigil-probe ] || fail "conffiles: $(cat "$x/control/conffiles")"
    ok "control: $(field "$c" Package) $(field "$c" Version) $(field "$c" Architecture), conffiles"
    # keep.d must keep the key, the pin and the signed probe configuration (its local
    # fingerprints) where the UCI default state_dir puts them.
    local state
    state=$(sed -n "s/^[[:space:]]*option state_dir '\(.*\)'/\1/p" "$x/data/etc/config/vigil-probe")
    [ "$(cat "$x/data/lib/upgrade/keep.d/vigil-probe")" = "$state/probe.key
$state/collector.json
$state/probe-config.json" ] && ok "keep.d keeps $state/probe.key, collector.json and probe-config.json" \
        || fail "keep.d does not match state_dir $state"
    local s
    for s in "$x/data/etc/init.d/vigil-probe" "$x/control/postinst" "$x/control/prerm"; do
        sh -n "$s" || fail "sh -n ${s#"$x"/}"
    done
    head -n 1 "$x/data/etc/init.d/vigil-probe" | grep -q '^#!/bin/sh /etc/rc.common$' || fail "init: no rc.common shebang"
    grep -q 'procd_set_param respawn' "$x/data/etc/init.d/vigil-probe" || fail "init: no respawn"
    grep -q 'procd_set_param user vigil\|RUN_USER=vigil' "$x/data/etc/init.d/vigil-probe" || fail "init: not run as vigil"
    ok "sh -n: init, postinst, prerm"
    target=""
    case "$arch" in
        mipsel_*) target=mipsel-unknown-linux-musl ;;
        mips_*) target=mips-unknown-linux-musl ;;
        aarch64_*) target=aarch64-unknown-linux-musl ;;
        arm_*) target=armv7-unknown-linux-musleabihf ;;
        *) fail "unknown arch $arch"; return ;;
    esac
    local bin="$x/data/usr/bin/vigil-probe" got
    got=$(run_packaged "$target" "$bin" --version 2>&1) || true
    [ "$got" = "vigil-probe $VERSION" ] && ok "packaged binary under $(qemu_cmd "$target"): $got" \
        || fail "packaged binary --version: $got"
    uci_roundtrip "$x/data/etc/init.d/vigil-probe" "$target" "$bin"
}

test_deb() {
    local deb="$1" arch target x="$WORK/deb"
    rm -rf "$x" && mkdir -p "$x"
    echo "==> $(basename "$deb")"
    dpkg-deb --info "$deb" > /dev/null || { fail "not a deb"; return; }
    dpkg-deb --field "$deb" > "$x/control"
    arch=$(field "$x/control" Architecture)
    case "$arch" in
        arm64) target=aarch64-unknown-linux-musl ;;
        armhf) target=armv7-unknown-linux-musleabihf ;;
        *) fail "Architecture $arch"; return ;;
    esac
    [[ "$(basename "$deb")" == *"_$arch.deb" ]] || fail "file name does not end in _$arch.deb"
    [ "$(field "$x/control" Package)" = vigil-probe ] || fail "Package"
    [ "$(field "$x/control" Version)" = "$VERSION-1" ] || fail "Version: $(field "$x/control" Version)"
    [ "$(field "$x/control" Depends)" = systemd ] || fail "Depends: $(field "$x/control" Depends)"
    [ -n "$(field "$x/control" Maintainer)" ] && [ -n "$(field "$x/control" Description)" ] || fail "Maintainer/Description"
    ok "control: vigil-probe $(field "$x/control" Version) $arch"
    # dpkg-deb --contents: mode owner size date time path; as tar -tv with numeric owners.
    dpkg-deb --contents "$deb" | awk '{ o = $2; sub(/^root\/root$/, "0/0", o); print $1, o, $3, $4, $5, $6 }' > "$x/data.list"
    expect_listing "$x/data.list" \
        "-rwxr-xr-x 0/0 usr/bin/vigil-probe" "-rwxr-xr-x 0/0 usr/sbin/vigil-probe-ctl" \
        "-rwxr-xr-x 0/0 usr/lib/vigil-probe/first-boot-enroll" \
        "-rw-r--r-- 0/0 lib/systemd/system/vigil-probe.service" \
        "-rw-r--r-- 0/0 lib/systemd/system/vigil-probe-enroll.service" \
        "-rw-r--r-- 0/0 etc/vigil-probe/vigil-probe.toml" \
        "-rw-r--r-- 0/0 usr/share/doc/vigil-probe/volunteer-guide.md" \
        "-rw-r--r-- 0/0 usr/share/doc/vigil-probe/copyright"
    dpkg-deb --raw-extract "$deb" "$x/root"
    [ "$(cat "$x/root/DEBIAN/conffiles")" = /etc/vigil-probe/vigil-probe.toml ] && ok "conffiles" || fail "conffiles"
    local s
    for s in postinst prerm postrm; do sh -n "$x/root/DEBIAN/$s" || fail "sh -n DEBIAN/$s"; done
    sh -n "$x/root/usr/lib/vigil-probe/first-boot-enroll" || fail "sh -n first-boot-enroll"
    sh -n "$x/root/usr/sbin/vigil-probe-ctl" || fail "sh -n vigil-probe-ctl"
    ok "sh -n: maintainer scripts, first-boot-enroll, vigil-probe-ctl"
    local unit
    for unit in vigil-probe.service vigil-probe-enroll.service; do
        grep -q '^DynamicUser=yes$' "$x/root/lib/systemd/system/$unit" || fail "$unit: no DynamicUser"
        grep -q '^CapabilityBoundingSet=$' "$x/root/lib/systemd/system/$unit" || fail "$unit: capabilities not empty"
        grep -q '^NoNewPrivileges=yes$' "$x/root/lib/systemd/system/$unit" || fail "$unit: NoNewPrivileges"
        grep -q '^ProtectSystem=strict$' "$x/root/lib/systemd/system/$unit" || fail "$unit: ProtectSystem"
    done
    if command -v systemd-analyze >/dev/null; then
        # The units' dependencies (targets) come from the host; any warning (an unknown or
        # misspelt setting is only "ignoring" for systemd) fails the check.
        mkdir -p "$x/verify-root"
        cp -a "$x/root/." "$x/verify-root/"
        cp -n /lib/systemd/system/*.target "$x/verify-root/lib/systemd/system/" 2>/dev/null || true
        if systemd-analyze verify --root="$x/verify-root" \
            /lib/systemd/system/vigil-probe.service /lib/systemd/system/vigil-probe-enroll.service > "$x/verify" 2>&1 \
            && ! [ -s "$x/verify" ]; then
            ok "systemd-analyze verify: both units, no warnings"
        else
            fail "systemd-analyze verify: $(cat "$x/verify")"
        fi
        local exposure
        exposure=$(systemd-analyze security --offline=yes --root="$x/verify-root" vigil-probe.service 2>/dev/null \
            | sed -n 's/.*Overall exposure level for vigil-probe.service: *//p')
        [ -n "$exposure" ] && ok "systemd-analyze security: exposure $exposure"
    else
        echo "    (no systemd-analyze: units not verified)"
    fi
    # The shipped configuration is the probe's defaults; the packaged binary parses it.
    cmp -s "$x/root/etc/vigil-probe/vigil-probe.toml" "$ROOT/probe/vigil-probe.toml" || fail "config differs from probe/vigil-probe.toml"
    local got
    got=$(run_packaged "$target" "$x/root/usr/bin/vigil-probe" --version 2>&1) || true
    [ "$got" = "vigil-probe $VERSION" ] && ok "packaged binary under $(qemu_cmd "$target"): $got" \
        || fail "packaged binary --version: $got"
    # first-boot-enroll reads a Windows-edited vigil-enroll.txt (BOM, CRLF) and calls enroll.
    printf '\357\273\277collector = http://127.0.0.1:9/\r\ntoken=abc\r\n' > "$x/vigil-enroll.txt"
    mkdir -p "$x/state"
    sed "s#/var/lib/vigil-probe#$x/state#" "$ROOT/probe/vigil-probe.toml" > "$x/probe.toml"
    local rc=0
    VIGIL_ENROLL_FILES="$x/vigil-enroll.txt" VIGIL_CONFIG="$x/probe.toml" \
        VIGIL_PROBE="$(qemu_cmd "$target") $x/root/usr/bin/vigil-probe" \
        sh "$x/root/usr/lib/vigil-probe/first-boot-enroll" > "$x/enroll.out" 2>&1 || rc=$?
    # Nothing listens on port 9: exit 3 (collector unreachable, the unit retries) with the URL.
    if [ "$rc" = 3 ] && grep -q 'enrolling with http://127.0.0.1:9/ ' "$x/enroll.out"; then
        ok "first-boot-enroll: parsed vigil-enroll.txt, enroll ran (exit 3: nothing listening)"
    else
        fail "first-boot-enroll: exit $rc: $(cat "$x/enroll.out")"
    fi
    # And against a real collector (host-built) on loopback: enrolled, key 0600, pin written.
    local collector url pid
    collector=$(collector_bin)
    printf '127.0.0.0/8,64511,ZZ\n' > "$x/asn.csv"
    "$collector" serve --data-dir "$x/collector" --listen 127.0.0.1:0 --asn-db "$x/asn.csv" \
        --enroll-token package-test > "$x/collector.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
        grep -q 'listening on' "$x/collector.log" && break
        sleep 0.1
    done
    url="http://$(sed -n 's/^vigil-collector listening on //p' "$x/collector.log")/"
    printf 'collector=%s\r\ntoken=package-test\r\n' "$url" > "$x/vigil-enroll.txt"
    rc=0
    VIGIL_ENROLL_FILES="$x/vigil-enroll.txt" VIGIL_CONFIG="$x/probe.toml" \
        VIGIL_PROBE="$(qemu_cmd "$target") $x/root/usr/bin/vigil-probe" \
        sh "$x/root/usr/lib/vigil-probe/first-boot-enroll" > "$x/enroll.out" 2>&1 || rc=$?
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [ "$rc" = 0 ] && grep -q "\"url\"" "$x/state/collector.json" 2>/dev/null \
        && [ "$(stat -c %a "$x/state/probe.key")" = 600 ]; then
        ok "first-boot-enroll: enrolled with a real collector at $url (key 0600, pin written)"
    else
        fail "first-boot-enroll against $url: exit $rc: $(cat "$x/enroll.out")"
    fi
}

# The host-built collector, built if missing.
collector_bin() {
    local bin
    for bin in "$TARGET_DIR/debug/vigil-collector" "$TARGET_DIR/release/vigil-collector"; do
        [ -x "$bin" ] && { echo "$bin"; return; }
    done
    cargo build --locked --manifest-path "$ROOT/Cargo.toml" -p vigil-collector --bin vigil-collector >&2
    echo "$TARGET_DIR/debug/vigil-collector"
}

for pkg in "${pkgs[@]}"; do
    case "$pkg" in
        *.ipk) test_ipk "$pkg" ;;
        *.deb) test_deb "$pkg" ;;
        *) echo "package-test: $pkg: not an .ipk or .deb" >&2; exit 2 ;;
    esac
done
if [ "$failures" = 0 ]; then
    echo "package-test: ok (${#pkgs[@]} packages)"
else
    echo "package-test: $failures FAILED" >&2
    exit 1
fi
