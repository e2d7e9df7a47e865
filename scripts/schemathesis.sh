#!/usr/bin/env bash
# Fuzz the collector's HTTP API against its OpenAPI document (collector/openapi.json) with
# schemathesis: a real collector (debug build) on 127.0.0.1, in a temporary data dir loaded with
# the demo's data. Fails on any 5xx and on any answer the document does not describe (status,
# content type, body schema). Bounded: SCHEMATHESIS_EXAMPLES cases per operation (50) and
# SCHEMATHESIS_MAX_TIME seconds in all (240). The control (POST /api/v1/control) is left out: it
# fetches the URLs it is given, and no test touches the internet (its own tests cover it).
# Arguments are passed to `schemathesis run` (e.g. --include-path /api/v1/events).
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.32.5
examples="${SCHEMATHESIS_EXAMPLES:-50}"
max_time="${SCHEMATHESIS_MAX_TIME:-240}"
target="${CARGO_TARGET_DIR:-target}"
venv="$target/schemathesis-$version"

if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi
cargo build --locked -p vigil-collector --bin vigil-collector
bin="$target/debug/vigil-collector"

work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The demo's data (a simulated fleet, its events and disclosures; a fixed end, so every run
# fuzzes the same data), then a collector serving it with an operator token, so the admin routes
# are reached too (port 0: any free one). The per-network read and enrollment limits are lifted:
# every request comes from 127.0.0.1, and 429s would hide the rest (they are tested elsewhere).
"$bin" demo --data-dir "$work/data" --no-serve --days 2 --probes 16 --end 2026-12-01T00:00:00Z \
  >"$work/demo.log" 2>&1 \
  || { cat "$work/demo.log"; echo "schemathesis: the demo did not load" >&2; exit 1; }
token="schemathesis-operator-token-$$"
VIGIL_OPERATOR_TOKEN="$token" "$bin" serve --data-dir "$work/data" --listen 127.0.0.1:0 \
  --enroll-token schemathesis-enroll-token --reads-per-minute 0 --enroll-per-minute 0 \
  >"$work/collector.log" 2>&1 &
pid=$!
base=""
for _ in $(seq 1 100); do
  base="$(sed -n 's/^vigil-collector listening on \([0-9.:]*\)$/http:\/\/\1/p' "$work/collector.log")"
  [ -n "$base" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/collector.log"; echo "schemathesis: the collector did not start" >&2; exit 1; }
  sleep 0.2
done
[ -n "$base" ] || { cat "$work/collector.log"; echo "schemathesis: the collector did not listen in 20 s" >&2; exit 1; }
echo "schemathesis $version against $base (demo data), $examples examples per operation, at most $max_time s"

started=$(date +%s)
status=0
# From the temporary dir: schemathesis keeps its cache (.schemathesis/) in the working directory.
schema="$PWD/collector/openapi.json"
venv="$(cd "$venv" && pwd)"
(cd "$work" && "$venv/bin/schemathesis" run "$schema" \
  --url "$base" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --exclude-path /api/v1/control \
  --max-examples "$examples" \
  --max-time "$max_time" \
  --request-timeout 30 \
  --seed 14 \
  --workers 2 \
  --no-color \
  --report ndjson --report-ndjson-path "$work/events.ndjson" \
  "$@") || status=$?
requests=$(grep -o '"elapsed"' "$work/events.ndjson" 2>/dev/null | wc -l || true)
echo "schemathesis: exit $status after $(( $(date +%s) - started )) s; responses recorded: $requests"
kill -0 "$pid" 2>/dev/null || { tail -50 "$work/collector.log"; echo "schemathesis: the collector died" >&2; exit 1; }
if [ "$status" != 0 ]; then
  echo "--- the collector's log (last 50 lines)"
  tail -50 "$work/collector.log"
fi
exit "$status"
