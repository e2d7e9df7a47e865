#!/usr/bin/env bash
# Run every test of the workspace: unit tests, and integration tests that start real DNS, DoH,
# TLS and HTTP servers on loopback. No test touches the internet.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --all-targets --locked
cargo test --workspace --locked
