#!/usr/bin/env bash
# Vigil in a few minutes: start the collector (SQLite in a fresh data dir), enroll a real probe,
# run it once against a fake censored ISP on loopback and see the signed results the collector
# stored; then load a simulated fleet with known shutdowns, blocks and throttling, see the events
# the collector detected, and open the dashboard on http://127.0.0.1:8080/ (until Ctrl-C).
# Nothing leaves this machine: every server is on 127.0.0.0/8.
#
# Usage: scripts/demo.sh            (from any directory; needs cargo)
#        TIMEOUT_MS=10000 scripts/demo.sh   (the probe's real timeouts; default 3000 for a quick demo)
#        DEMO_DAYS=2 scripts/demo.sh        (a shorter simulated fleet; default 7 days)
#        DEMO_SERVE=0 scripts/demo.sh       (exit after the fleet's table instead of serving the dashboard)
#        DEMO_LISTEN=127.0.0.1:9000 scripts/demo.sh   (serve the dashboard elsewhere; default 127.0.0.1:8080)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
TIMEOUT_MS="${TIMEOUT_MS:-3000}"
DEMO_DAYS="${DEMO_DAYS:-7}"
DEMO_LISTEN="${DEMO_LISTEN:-127.0.0.1:8080}"
DEMO_SERVE="${DEMO_SERVE:-1}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/vigil-demo.XXXXXX")"
FAKENET_PID=""
COLLECTOR_PID=""

cleanup() {
    for pid in "$FAKENET_PID" "$COLLECTOR_PID"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "==> Building vigil-collector, vigil-probe and the fake network (release; the first build takes a few minutes)"
cargo build --release --manifest-path "$ROOT/Cargo.toml" --bin vigil-probe --bin vigil-collector --bin vigil-fakenet
PROBE="$TARGET/release/vigil-probe"
COLLECTOR="$TARGET/release/vigil-collector"
FAKENET="$TARGET/release/vigil-fakenet"

wait_for() { # wait_for FILE PATTERN PID NAME
    for _ in $(seq 1 100); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        if ! kill -0 "$3" 2>/dev/null; then
            echo "$4 stopped:" >&2
            cat "$1" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "$4 did not get ready in 10 s" >&2
    exit 1
}

echo "==> Starting the collector for a real probe (SQLite in $WORK/collector)"
# The operator's IP-to-ASN file maps the submitting address to a network; here, loopback to a
# documentation AS number. The collector stores the AS and country, never the address.
printf '127.0.0.0/8,64511,ZZ\n' > "$WORK/asn.csv"
"$COLLECTOR" serve --data-dir "$WORK/collector" --listen 127.0.0.1:0 --asn-db "$WORK/asn.csv" \
    --enroll-token demo-token > "$WORK/collector.log" 2>&1 &
COLLECTOR_PID=$!
wait_for "$WORK/collector.log" "listening on" "$COLLECTOR_PID" vigil-collector
COLLECTOR_URL="http://$(sed -n 's/^vigil-collector listening on //p' "$WORK/collector.log")"
echo "    $COLLECTOR_URL"

echo "==> Starting a fake censored ISP on loopback"
"$PROBE" battery --toml > "$WORK/builtin-battery.toml"
# Besides the trap, the fake world stops when its stdin (a fifo whose only writer is this
# script's fd 3) reaches end of file, i.e. when this script is gone however it ended.
mkfifo "$WORK/keepalive"
exec 3<>"$WORK/keepalive"
"$FAKENET" --battery-toml "$WORK/builtin-battery.toml" --dir "$WORK/world" --profile demo \
    --timeout-ms "$TIMEOUT_MS" < "$WORK/keepalive" 3>&- > "$WORK/fakenet.log" 2>&1 &
FAKENET_PID=$!
wait_for "$WORK/fakenet.log" '^ready$' "$FAKENET_PID" vigil-fakenet

echo "==> Enrolling the probe (a new Ed25519 key; the collector's key is pinned)"
"$PROBE" enroll --config "$WORK/world/probe.toml" --collector "$COLLECTOR_URL" --token demo-token

echo "==> Running the probe once: measure the whole battery (timeouts ${TIMEOUT_MS} ms), sign, spool, upload"
echo
"$PROBE" run --config "$WORK/world/probe.toml" --once
echo
echo "==> What the collector stored (newest 12 of them; the database is $WORK/collector/vigil.sqlite)"
"$COLLECTOR" measurements --data-dir "$WORK/collector" --limit 0 \
    --export "$WORK/stored.jsonl" --export-keys "$WORK/probe-keys.json" > "$WORK/stored.txt"
head -1 "$WORK/stored.txt"
tail -12 "$WORK/stored.txt"
echo "    ($(($(wc -l < "$WORK/stored.txt") - 1)) measurements stored)"
echo
echo "==> Checking every stored signature offline, with the published probe keys"
"$COLLECTOR" verify "$WORK/stored.jsonl" --keys "$WORK/probe-keys.json" > /dev/null
echo
echo "==> What the fake ISP was told to do (the verdicts a correct probe reaches)"
sed -n '/^platform /,$p' "$WORK/fakenet.log"
echo
cat <<'EOF'
What you just saw: a collector started on an empty SQLite store, a probe enrolled its own key with
it, then vigil-probe measured every platform of its built-in battery (DNS over the ISP's
resolver and over DoH, TCP, TLS with an SNI-swap control, HTTP, and a control server's uncensored
view) against a simulated censored ISP running entirely on this machine's loopback addresses; no
packet went to the internet. The fake ISP answers NXDOMAIN for Facebook (which also takes down
Messenger's shared CDN name), injects forged DNS answers for Instagram, resets TLS handshakes whose
SNI is X/Twitter, silently drops TikTok's, blackholes Telegram's data centres and refuses
web.telegram.org, and sends VK to its blockpage server; everything else is clean. The probe tells
each mechanism apart from the evidence alone, with OONI's blocking/accessible keys plus Vigil's
finer "mechanism", and sums endpoints up per platform: a group of alternative endpoints is blocked
only if all of them are. Every measurement was signed by the probe, written to its spool, uploaded,
acknowledged by the collector's signature, and stored; anyone can check those signatures offline.
`cargo bench -p vigil-probe --bench battery` runs the same world with the
probe's real timeouts, checks every verdict and reports time, CPU and memory.

Next, the simulated fleet shows the other half of Vigil: 40 probes' heartbeats and batteries
over days, with shutdowns (one network, a whole country, a nightly curfew), blocks by DNS,
TCP/IP, TLS/SNI and HTTP, throttling and a block still going on. The collector finds them from
the measurements alone, each with its start and end, scores itself against the truth, and
serves them on its dashboard.
EOF
echo
echo "==> Loading a simulated fleet: 40 probes in 3 demo countries (XA, XB, XC), $DEMO_DAYS days ending now,"
echo "    with known events, replayed through the collector's ingest and detection (SQLite in $WORK/fleet)"
SERVE=(--listen "$DEMO_LISTEN")
[[ "$DEMO_SERVE" == 0 ]] && SERVE=(--no-serve)
# The table of true and detected events, then (unless DEMO_SERVE=0) the dashboard until Ctrl-C.
echo "    The dashboard is then on http://$DEMO_LISTEN/ (countries, timelines, events; English and Arabic); Ctrl-C stops."
"$COLLECTOR" demo "${SERVE[@]}" --days "$DEMO_DAYS" --data-dir "$WORK/fleet"
