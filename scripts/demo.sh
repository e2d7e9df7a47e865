#!/usr/bin/env bash
# Vigil in two minutes: build the probe, start a fake censored ISP on loopback, and measure the
# whole built-in battery against it. Nothing leaves this machine: every server is on 127.0.0.0/8.
#
# Usage: scripts/demo.sh            (from any directory; needs cargo)
#        TIMEOUT_MS=10000 scripts/demo.sh   (the probe's real timeouts; default 3000 for a quick demo)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
TIMEOUT_MS="${TIMEOUT_MS:-3000}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/vigil-demo.XXXXXX")"
FAKENET_PID=""

cleanup() {
    if [[ -n "$FAKENET_PID" ]] && kill -0 "$FAKENET_PID" 2>/dev/null; then
        kill "$FAKENET_PID" 2>/dev/null || true
        wait "$FAKENET_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "==> Building vigil-probe and the fake network (release; the first build takes a few minutes)"
cargo build --release --manifest-path "$ROOT/Cargo.toml" --bin vigil-probe --bin vigil-fakenet
PROBE="$TARGET/release/vigil-probe"
FAKENET="$TARGET/release/vigil-fakenet"

echo "==> Starting a fake censored ISP on loopback"
"$PROBE" battery --toml > "$WORK/builtin-battery.toml"
# Besides the trap, the fake world stops when its stdin (a fifo whose only writer is this
# script's fd 3) reaches end of file, i.e. when this script is gone however it ended.
mkfifo "$WORK/keepalive"
exec 3<>"$WORK/keepalive"
"$FAKENET" --battery-toml "$WORK/builtin-battery.toml" --dir "$WORK/world" --profile demo \
    --timeout-ms "$TIMEOUT_MS" < "$WORK/keepalive" 3>&- > "$WORK/fakenet.log" 2>&1 &
FAKENET_PID=$!
for _ in $(seq 1 100); do
    grep -q '^ready$' "$WORK/fakenet.log" 2>/dev/null && break
    if ! kill -0 "$FAKENET_PID" 2>/dev/null; then
        echo "vigil-fakenet stopped:" >&2
        cat "$WORK/fakenet.log" >&2
        exit 1
    fi
    sleep 0.1
done
grep -q '^ready$' "$WORK/fakenet.log" || { echo "vigil-fakenet did not get ready in 10 s" >&2; exit 1; }

echo "==> Measuring the whole battery (timeouts ${TIMEOUT_MS} ms)"
echo
"$PROBE" run --config "$WORK/world/probe.toml" --once
echo
echo "==> What the fake ISP was told to do (the verdicts a correct probe reaches)"
sed -n '/^platform /,$p' "$WORK/fakenet.log"
echo
cat <<'EOF'
What you just saw: vigil-probe measured every platform of its built-in battery (DNS over the ISP's
resolver and over DoH, TCP, TLS with an SNI-swap control, HTTP, and a control server's uncensored
view) against a simulated censored ISP running entirely on this machine's loopback addresses; no
packet went to the internet. The fake ISP answers NXDOMAIN for Facebook (which also takes down
Messenger's shared CDN name), injects forged DNS answers for Instagram, resets TLS handshakes whose
SNI is X/Twitter, silently drops TikTok's, blackholes Telegram's data centres and refuses
web.telegram.org, and sends VK to its blockpage server; everything else is clean. The probe tells
each mechanism apart from the evidence alone, with OONI's blocking/accessible keys plus Vigil's
finer "mechanism", and sums endpoints up per platform: a group of alternative endpoints is blocked
only if all of them are. `cargo bench -p vigil-probe --bench battery` runs the same world with the
probe's real timeouts, checks every verdict and reports time, CPU and memory.
EOF
