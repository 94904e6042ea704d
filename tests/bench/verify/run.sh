#!/bin/sh
# tests/bench/verify/run.sh — verifier throughput next to its crypto bound.
#
# Builds pg-bench-verify in its own Release tree (no sanitizers), verifies
# pypi_attestations-0.0.19.tar.gz.provenance (production root, one thread)
# for SECONDS seconds, and measures ECDSA verify speed in the same run with
# `openssl speed -seconds 3 ecdsap256 ecdsap384`.  One attestation needs at
# least one P-384 verify (leaf signed by the Fulcio intermediate) and four
# P-256 verifies (SCT, SET, checkpoint, DSSE), so the bound is
#     1 / (1/p384 + 4/p256)  attestation verifications per second.
# Prints verifications/s, the bound and the ratio (goal: >= 0.8).
#
# Then the multi-worker row: the same verification on 1 thread and on
# THREADS threads (default: the number of cores), both by wall time, in the
# same run; prints THREADS-thread throughput / (THREADS x 1-thread) (goal:
# >= 0.9: nothing shared serializes the verifiers).  Run it on an otherwise
# idle machine: wall time counts every other process.
#
# Usage: tests/bench/verify/run.sh
# Environment: PG_SHARED_DIR (default ../shared beside the checkout),
#   BENCH_BUILD (default /tmp/pg-bench-verify-build), SECONDS_RUN (5),
#   REPEATS (3: bench and openssl alternate; the best of each is used),
#   THREADS (default: nproc).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)
shared=${PG_SHARED_DIR:-$src/../shared}
build=${BENCH_BUILD:-/tmp/pg-bench-verify-build}
secs=${SECONDS_RUN:-5}
repeats=${REPEATS:-3}
threads=${THREADS:-$(nproc)}
prov=$shared/vectors/pypi/pypi_attestations-0.0.19.tar.gz.provenance
dist=$shared/vectors/pypi/pypi_attestations-0.0.19.tar.gz
[ -f "$prov" ] || { echo "run.sh: $prov not found" >&2; exit 2; }

cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPG_SANITIZE=OFF \
    -DPG_FUZZ=OFF >"$build.cmake.log" 2>&1 \
    || { cat "$build.cmake.log"; exit 1; }
cmake --build "$build" -j2 --target pg-bench-verify >"$build.build.log" 2>&1 \
    || { tail -40 "$build.build.log"; exit 1; }
bench=$build/tests/bench/verify/pg-bench-verify

max() { awk -v a="$1" -v b="$2" 'BEGIN { print (b > a) ? b : a }'; }
best_v=0 best_256=0 best_384=0
i=0
while [ "$i" -lt "$repeats" ]; do
    i=$((i + 1))
    v=$("$bench" "$prov" "$dist" --seconds "$secs" \
        | awk -F= '$1 == "attestations_per_s" { print $2 }')
    speed=$(openssl speed -seconds 3 ecdsap256 ecdsap384 2>/dev/null)
    p256=$(printf '%s\n' "$speed" | awk '/ecdsa \(nistp256\)/ { print $NF }')
    p384=$(printf '%s\n' "$speed" | awk '/ecdsa \(nistp384\)/ { print $NF }')
    echo "run $i: verifications/s $v, openssl verify/s P-256 $p256" \
        "P-384 $p384"
    best_v=$(max "$best_v" "$v")
    best_256=$(max "$best_256" "$p256")
    best_384=$(max "$best_384" "$p384")
done
awk -v v="$best_v" -v p256="$best_256" -v p384="$best_384" 'BEGIN {
    bound = 1 / (1 / p384 + 4 / p256)
    printf "verifications/s (single thread, best of runs): %.0f\n", v
    printf "openssl verify/s: P-256 %.0f, P-384 %.0f\n", p256, p384
    printf "bound 1/(1/p384 + 4/p256): %.0f/s\n", bound
    printf "ratio: %.2f\n", v / bound
}'

# The multi-worker row: 1 thread and THREADS threads, wall time, alternated.
best_1=0 best_n=0
i=0
while [ "$i" -lt "$repeats" ]; do
    i=$((i + 1))
    one=$("$bench" "$prov" "$dist" --seconds "$secs" --threads 1 \
        | awk -F= '$1 == "attestations_per_s" { print $2 }')
    many=$("$bench" "$prov" "$dist" --seconds "$secs" --threads "$threads" \
        | awk -F= '$1 == "attestations_per_s" { print $2 }')
    echo "run $i: wall verifications/s 1 thread $one, $threads threads $many"
    best_1=$(max "$best_1" "$one")
    best_n=$(max "$best_n" "$many")
done
awk -v one="$best_1" -v many="$best_n" -v n="$threads" 'BEGIN {
    printf "verifications/s (wall, best of runs): 1 thread %.0f, %d threads %.0f\n", one, n, many
    printf "scaling: %d threads / (%d x 1 thread) = %.2f (goal >= 0.90)\n", n, n, many / (n * one)
}'
