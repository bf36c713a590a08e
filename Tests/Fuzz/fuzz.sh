#!/usr/bin/env bash
# Builds and runs a libFuzzer target for one decoder: wire | http | resp | config | envelope.
#   Tests/Fuzz/fuzz.sh TARGET [libFuzzer options, default -max_total_time=60]
# Each target compiles the decoder's sources with the entry point as one module, with coverage
# instrumentation and AddressSanitizer (-sanitize=fuzzer,address). Crashes are written to .build/fuzz/TARGET/.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
target="${1:?usage: fuzz.sh wire|http|resp|config|envelope [libFuzzer options]}"
shift
out="$root/.build/fuzz/$target"
mkdir -p "$out/corpus" "$out/src"
rm -f "$out/src"/*.swift
core=$(find "$root/Sources/SessionClusterCore" -name '*.swift')
extra=()
case "$target" in
    wire) sources="$core" ;;
    http) sources=$(find "$root/Sources/HTTPFrontEnd/HTTP" -name '*.swift') ;;
    resp) sources=$(find "$root/Sources/RESPFrontEnd/RESP" -name '*.swift') ;;
    config) sources="$core $(find "$root/Sources/SessionCluster/Configuration" -name '*.swift')" ;;
    envelope)
        sources="$core $(find "$root/Sources/SessionCluster/Security" -name '*.swift')"
        extra=(-I "$root/Sources/CCrypto" -lcrypto)
        ;;
    *) echo "unknown target $target (wire, http, resp, config, envelope)"; exit 2 ;;
esac
# One module: drop imports of the package's own modules (their sources are compiled in).
for file in $sources; do
    sed -E '/^(@testable )?import (SessionClusterCore|SessionCluster)$/d' "$file" > "$out/src/$(echo "$file" | sed "s|$root/||; s|/|_|g")"
done
[ -d "$root/Tests/Fuzz/seeds/$target" ] && cp -n "$root/Tests/Fuzz/seeds/$target"/* "$out/corpus/" 2>/dev/null || true
echo "building $out/fuzzer"
swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name FuzzTarget "${extra[@]}" \
    "$out"/src/*.swift "$root/Tests/Fuzz/$target.swift" -o "$out/fuzzer" 2> >(grep -v "ld.gold: warning" >&2)
cd "$out"
if [ "$#" -eq 0 ]; then set -- -max_total_time=60; fi
exec ./fuzzer corpus -artifact_prefix="$out/" "$@"
