#!/usr/bin/env bash
# Every test: unit tests, simulations, shell and CLI tests (swift test), then the multi-node integration
# scenarios against the release build (Tests/Integration/run.sh). This is the README's test command.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# One test at a time: tests that run real nodes must not compete for the two cooperative threads with
# CPU-bound tests (fuzzing, simulations); the simulations still use every core internally.
swift test --no-parallel
swift build -c release --product session-node
Tests/Integration/run.sh
