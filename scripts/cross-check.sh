#!/usr/bin/env bash
# Run the cross-built probes under qemu-user (docs/firmware.md): for each target, `--version`
# prints the workspace version, and a real `vigil-probe check --json` of every endpoint of the
# built-in battery against the host's fake censored ISP on loopback (vigil-testkit's
# vigil-fakenet: resolvers, DoH, platform servers with a lab CA, a control, blackholes) reaches
# the verdict the fake world expects, endpoint by endpoint (blocking, accessible, mechanism).
#
# Usage: scripts/cross-check.sh [TARGET...]   (default: every target built by cross-build.sh)
#        TIMEOUT_MS=6000 (the probe's timeouts in the fake world; emulation is slow)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/cross-common.sh"

mapfile -t targets < <(pick_targets "$@")
[ ${#targets[@]} -gt 0 ] || { echo "cross-check: nothing built in $CROSS_DIR (scripts/cross-build.sh)" >&2; exit 2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vigil-cross-check.XXXXXX")
trap 'stop_world; rm -rf "$WORK"' EXIT

failed=0
first=""
for target in "${targets[@]}"; do
    bin="$CROSS_DIR/vigil-probe-$target"
    [ -x "$bin" ] || { echo "cross-check: $bin missing (scripts/cross-build.sh $target)" >&2; exit 2; }
    qemu=$(qemu_cmd "$target") || { echo "cross-check: unknown target $target" >&2; exit 2; }
    command -v "${qemu%% *}" >/dev/null || { echo "cross-check: ${qemu%% *} missing (scripts/cross-install.sh)" >&2; exit 2; }
    echo "==> $target ($qemu)"
    got=$($qemu "$bin" --version)
    if [ "$got" != "vigil-probe $VERSION" ]; then
        echo "    --version: expected 'vigil-probe $VERSION', got '$got'"
        failed=1
        continue
    fi
    echo "    --version: $got"
    if [ -z "$first" ]; then
        first=$target
        $qemu "$bin" battery --toml > "$WORK/battery.toml"
        start_world "$WORK" "$WORK/battery.toml" demo "${TIMEOUT_MS:-6000}"
        mapfile -t inputs < <(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if "endpoint" in e: print(e["endpoint"])' "$WORK/expect.jsonl")
    fi
    started=$(date +%s%N)
    rc=0
    $qemu "$bin" check --json --config "$WORK/world/probe.toml" "${inputs[@]}" > "$WORK/$target.jsonl" \
        2> "$WORK/$target.err" || rc=$?
    took_ms=$(( ($(date +%s%N) - started) / 1000000 ))
    took="$((took_ms / 1000)).$((took_ms % 1000 / 100))"
    # Exit 1: blocking found (the fake ISP censors several platforms); anything else is a failure.
    if [ "$rc" != 1 ]; then
        echo "    check: exit $rc (expected 1, blocking found):"
        sed 's/^/      /' "$WORK/$target.err" | tail -20
        failed=1
        continue
    fi
    quirk=()
    case "$target" in mips*) quirk=(--qemu-mips-so-error) ;; esac
    if python3 "$ROOT/scripts/lib/compare-verdicts.py" "$WORK/expect.jsonl" "$WORK/$target.jsonl" "${quirk[@]}" \
        | sed 's/^/    /' | tee "$WORK/$target.cmp" | tail -30 && grep -q 'as expected' "$WORK/$target.cmp"; then
        echo "    check: ${#inputs[@]} endpoints in ${took} s under emulation"
    else
        failed=1
    fi
done
[ "$failed" = 0 ] && echo "cross-check: ok (${targets[*]})" || echo "cross-check: FAILED" >&2
exit "$failed"
