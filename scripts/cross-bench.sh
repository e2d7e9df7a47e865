#!/usr/bin/env bash
# Footprint benchmark of the cross-built probes (docs/firmware.md): per target, the stripped
# binary's size, and the peak memory of a full battery (`vigil-probe run --once --no-spool`, every
# platform of the built-in battery) under qemu-user against the host's fake censored ISP on
# loopback, whose platform and endpoint verdicts must all be the expected ones.
# Peak guest RSS is the emulated probe's own (scripts/lib/guest-rss.py); the qemu process's peak
# adds qemu's translator. Goals: <= 3 MB stripped on mipsel, peak RSS <= 16 MB.
#
# Usage: scripts/cross-bench.sh [TARGET...]   (default: every target built by cross-build.sh)
#        TIMEOUT_MS=6000 (the probe's timeouts in the fake world)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/cross-common.sh"
SIZE_GOAL=$((3 * 1000 * 1000))
RSS_GOAL_KIB=$((16 * 1024))

mapfile -t targets < <(pick_targets "$@")
[ ${#targets[@]} -gt 0 ] || { echo "cross-bench: nothing built in $CROSS_DIR (scripts/cross-build.sh)" >&2; exit 2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vigil-cross-bench.XXXXXX")
trap 'stop_world; rm -rf "$WORK"' EXIT

results=()
failed=0
for target in "${targets[@]}"; do
    bin="$CROSS_DIR/vigil-probe-$target"
    qemu=$(qemu_cmd "$target")
    # A 64-bit guest gets a reserved address range too, so its pages can be told from qemu's.
    case "$target" in aarch64-*) qemu="$qemu -R 0x100000000" ;; esac
    if [ -z "${WORLD_PID:-}" ]; then
        $qemu "$bin" battery --toml > "$WORK/battery.toml"
        start_world "$WORK" "$WORK/battery.toml" demo "${TIMEOUT_MS:-6000}"
    fi
    echo "==> $target: full battery under $qemu"
    size=$(stat -c %s "$bin")
    started=$(date +%s%N)
    rc=0
    python3 "$ROOT/scripts/lib/guest-rss.py" "$bin" -- $qemu "$bin" run --once --no-spool --json \
        --config "$WORK/world/probe.toml" > "$WORK/$target.jsonl" 2> "$WORK/$target.err" || rc=$?
    wall_ms=$(( ($(date +%s%N) - started) / 1000000 ))
    if [ "$rc" != 0 ]; then
        echo "    run --once: exit $rc"; tail -5 "$WORK/$target.err" | sed 's/^/      /'
        failed=1
        continue
    fi
    stat_line=$(grep '^peak_guest_rss_kib=' "$WORK/$target.err")
    guest_kib=$(sed 's/.*peak_guest_rss_kib=\([0-9]*\).*/\1/' <<< "$stat_line")
    proc_kib=$(sed 's/.*peak_process_rss_kib=\([0-9]*\).*/\1/' <<< "$stat_line")
    quirk=()
    case "$target" in mips*) quirk=(--qemu-mips-so-error) ;; esac
    if python3 "$ROOT/scripts/lib/compare-verdicts.py" "$WORK/expect.jsonl" "$WORK/$target.jsonl" --platforms "${quirk[@]}" \
        > "$WORK/$target.cmp"; then
        verdicts="as expected"
    else
        verdicts="DIFFER"
        sed 's/^/    /' "$WORK/$target.cmp" | tail -20
        failed=1
    fi
    tail -1 "$WORK/$target.cmp" | sed 's/^/    /'
    line=$(printf '%-32s %6.2f MB %8.1f MiB %10.1f MiB %7.1f s   %s' "$target" \
        "$(awk -v b="$size" 'BEGIN { printf "%.2f", b / 1000000 }')" \
        "$(awk -v k="$guest_kib" 'BEGIN { printf "%.1f", k / 1024 }')" \
        "$(awk -v k="$proc_kib" 'BEGIN { printf "%.1f", k / 1024 }')" \
        "$(awk -v m="$wall_ms" 'BEGIN { printf "%.1f", m / 1000 }')" "$verdicts")
    results+=("$line")
    if [ "$guest_kib" -gt "$RSS_GOAL_KIB" ]; then echo "    peak guest RSS above the 16 MiB goal"; fi
    if [ "$target" = mipsel-unknown-linux-musl ] && [ "$size" -gt "$SIZE_GOAL" ]; then
        echo "    mipsel binary above the 3 MB goal"
    fi
done
echo
printf '%-32s %9s %12s %14s %9s   %s\n' target stripped "guest RSS" "qemu proc RSS" wall verdicts
printf '%s\n' "${results[@]}"
echo "(goals: <= 3.00 MB stripped on mipsel, peak guest RSS <= 16 MiB; one battery: $(grep -c '"endpoint"' "$WORK/expect.jsonl") endpoints)"
exit "$failed"
