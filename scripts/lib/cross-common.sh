# Shared by scripts/cross-check.sh, cross-bench.sh, package-test.sh, build-ipk.sh and build-deb.sh
# (sourced, not run):
# where the cross-built binaries are, how to run each under qemu-user, the host fake world.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
CROSS_DIR="$TARGET_DIR/cross"
ALL_TARGETS=(mipsel-unknown-linux-musl mips-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf)
VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$ROOT/Cargo.toml")

# qemu_cmd TARGET: the qemu-user command (and CPU) that runs TARGET's binaries. The CPUs are the
# routers' own: 24Kc has no FPU (so the MIPS builds must be soft-float), cortex-a7 and a53.
qemu_cmd() {
    case "$1" in
        mipsel-unknown-linux-musl) echo "qemu-mipsel-static -cpu 24Kc" ;;
        mips-unknown-linux-musl) echo "qemu-mips-static -cpu 24Kc" ;;
        aarch64-unknown-linux-musl) echo "qemu-aarch64-static -cpu cortex-a53" ;;
        armv7-unknown-linux-musleabihf) echo "qemu-arm-static -cpu cortex-a7" ;;
        *) return 1 ;;
    esac
}

# The targets given, or every one already built.
pick_targets() {
    if [ $# -gt 0 ]; then
        printf '%s\n' "$@"
        return
    fi
    local t
    for t in "${ALL_TARGETS[@]}"; do
        [ -x "$CROSS_DIR/vigil-probe-$t" ] && echo "$t"
    done
}

# built_archs MAP ARCH...: of the package architectures ARCH..., those whose cross-built binary
# exists (MAP is a function naming an architecture's Rust target).
built_archs() {
    local map="$1" arch
    shift
    for arch in "$@"; do
        [ -x "$CROSS_DIR/vigil-probe-$("$map" "$arch")" ] && echo "$arch"
    done
    return 0
}

# The host-built fake world (vigil-testkit's vigil-fakenet), built if missing.
fakenet_bin() {
    local bin="${FAKENET:-}"
    if [ -z "$bin" ]; then
        for bin in "$TARGET_DIR/debug/vigil-fakenet" "$TARGET_DIR/release/vigil-fakenet"; do
            [ -x "$bin" ] && break
        done
    fi
    if [ ! -x "$bin" ]; then
        echo "==> building the host fake world (vigil-fakenet)" >&2
        cargo build --locked --manifest-path "$ROOT/Cargo.toml" -p vigil-testkit --bin vigil-fakenet >&2
        bin="$TARGET_DIR/debug/vigil-fakenet"
    fi
    echo "$bin"
}

# start_world DIR BATTERY_TOML [PROFILE] [TIMEOUT_MS]: the fake censored ISP on loopback, its
# files and the expected verdicts (DIR/expect.jsonl) in DIR; sets WORLD_PID. It also ends when
# this shell's fd 9 closes (the fifo trick of scripts/demo.sh), so it never outlives the script.
start_world() {
    local dir="$1" battery="$2" profile="${3:-demo}" timeout="${4:-6000}" fakenet
    fakenet=$(fakenet_bin)
    mkfifo "$dir/keepalive"
    exec 9<>"$dir/keepalive"
    "$fakenet" --battery-toml "$battery" --dir "$dir/world" --profile "$profile" --timeout-ms "$timeout" \
        --expect "$dir/expect.jsonl" < "$dir/keepalive" 9>&- > "$dir/fakenet.log" 2>&1 &
    WORLD_PID=$!
    local _
    for _ in $(seq 1 300); do
        grep -q '^ready$' "$dir/fakenet.log" 2>/dev/null && return 0
        kill -0 "$WORLD_PID" 2>/dev/null || { cat "$dir/fakenet.log" >&2; return 1; }
        sleep 0.1
    done
    echo "vigil-fakenet did not get ready in 30 s" >&2
    return 1
}

stop_world() {
    if [ -n "${WORLD_PID:-}" ] && kill -0 "$WORLD_PID" 2>/dev/null; then
        kill "$WORLD_PID" 2>/dev/null || true
        wait "$WORLD_PID" 2>/dev/null || true
    fi
    WORLD_PID=""
}
