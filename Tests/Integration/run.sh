#!/usr/bin/env bash
# Runs every integration scenario against the release build of session-node, each with a time bound, and
# ends with "N passed, M failed, K skipped". Usage: Tests/Integration/run.sh [SCENARIO-PREFIX...]
set -u
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export SESSION_NODE="${SESSION_NODE:-$root/.build/release/session-node}"
limit="${SCENARIO_TIMEOUT:-240}"
if [ ! -x "$SESSION_NODE" ]; then
    echo "building $SESSION_NODE (swift build -c release --product session-node)"
    (cd "$root" && swift build -c release --product session-node) || { echo "0 passed, 1 failed"; exit 1; }
fi
passed=0; failed=0; skipped=0; failures=()
for script in "$here"/[0-9][0-9]-*.py; do
    name="$(basename "$script" .py)"
    if [ "$#" -gt 0 ]; then
        match=0; for prefix in "$@"; do [[ "$name" == "$prefix"* ]] && match=1; done
        [ "$match" = 1 ] || continue
    fi
    echo "=== $name"
    start=$(date +%s)
    # A scenario may ask for a longer bound in a "# scenario-timeout: SECONDS" line (24: it builds framework apps).
    own="$(sed -n 's/^# scenario-timeout: *\([0-9][0-9]*\).*/\1/p' "$script" | head -n 1)"
    bound="$limit"; [ -n "$own" ] && [ "$own" -gt "$limit" ] && bound="$own"
    timeout --kill-after=10 "$bound" python3 "$script"
    status=$?
    took=$(( $(date +%s) - start ))
    case "$status" in
        0) passed=$((passed + 1)); echo "--- $name passed (${took}s)" ;;
        77) skipped=$((skipped + 1)); echo "--- $name skipped (${took}s)" ;;
        124|137) failed=$((failed + 1)); failures+=("$name (timed out after ${bound}s)"); echo "--- $name TIMED OUT" ;;
        *) failed=$((failed + 1)); failures+=("$name"); echo "--- $name FAILED (${took}s)" ;;
    esac
done
for failure in "${failures[@]}"; do echo "failed: $failure"; done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
