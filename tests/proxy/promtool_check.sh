#!/bin/sh
# tests/proxy/promtool_check.sh — a rendered sample exposition must pass
# `promtool check metrics` with no error and no warning.
#   promtool_check.sh TEST_METRICS_BINARY
# Exits 77 (skipped) when promtool (Debian package prometheus) is missing.
set -u
if ! command -v promtool >/dev/null 2>&1; then
    echo "promtool not found (Debian package prometheus): skipped"
    exit 77
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$1" --render "$out" || { echo "rendering the sample failed"; exit 1; }
res=$(promtool check metrics < "$out" 2>&1)
rc=$?
if [ "$rc" -ne 0 ] || [ -n "$res" ]; then
    echo "promtool check metrics (exit $rc):"
    echo "$res"
    exit 1
fi
echo "promtool check metrics: clean ($(grep -vc '^#' "$out") samples)"
