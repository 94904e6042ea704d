#!/bin/sh
# tests/build/run_deps_only.sh — the README's run command on a machine with
# only the run packages: configure and build provgate in a scratch directory
# with the test-only packages hidden, then run it.
#
#   run_deps_only.sh SOURCE_DIR SCRATCH_DIR
#
# Hidden: cmocka from pkg-config (PKG_CONFIG_LIBDIR points at a copy of the
# system's .pc directories without cmocka.pc) and from CMake
# (CMAKE_DISABLE_FIND_PACKAGE_cmocka), and Python 3 from CMake
# (CMAKE_DISABLE_FIND_PACKAGE_Python3; a bare Debian has none).  Asserts:
#   1. configure with the README's flags (PG_TESTS left at AUTO) succeeds and
#      says the tests are not built; ctest then lists no test;
#   2. the build (Release, -j2, provgate only as the README builds it)
#      succeeds, and `provgate --help` and `provgate serve --reference` run;
#   3. the same configure with -DPG_TESTS=ON fails, naming libcmocka-dev:
#      with PG_TESTS=ON a missing test package is an error, never a skip.
set -eu
src=$1
scratch=$2
fail() { echo "FAIL: $*"; exit 1; }

rm -rf "$scratch"
mkdir -p "$scratch/pc"
# The pkg-config search path, without cmocka.pc.
pcpath=$(pkg-config --variable pc_path pkg-config)
old_ifs=$IFS
IFS=:
for d in $pcpath ${PKG_CONFIG_PATH:-}; do
    [ -d "$d" ] || continue
    for f in "$d"/*.pc; do
        [ -e "$f" ] || continue
        b=$(basename "$f")
        [ "$b" = cmocka.pc ] && continue
        [ -e "$scratch/pc/$b" ] || ln -s "$f" "$scratch/pc/$b"
    done
done
IFS=$old_ifs
PKG_CONFIG_LIBDIR=$scratch/pc
PKG_CONFIG_PATH=
export PKG_CONFIG_LIBDIR PKG_CONFIG_PATH
if pkg-config --exists cmocka; then
    fail "cmocka is still visible to pkg-config"
fi
pkg-config --exists libevent jansson libcurl inih lmdb libh2o-evloop \
    || fail "the overlay hides a run package"

hide="-DCMAKE_DISABLE_FIND_PACKAGE_cmocka=ON -DCMAKE_DISABLE_FIND_PACKAGE_Python3=ON"

# 1. Configure as the README's run command does.
# shellcheck disable=SC2086
if ! cmake -S "$src" -B "$scratch/build" -DCMAKE_BUILD_TYPE=Release $hide \
        >"$scratch/configure.log" 2>&1; then
    cat "$scratch/configure.log"
    fail "configure with the run packages only failed"
fi
grep -q "Tests are not built" "$scratch/configure.log" \
    || { cat "$scratch/configure.log"; fail "configure did not say the tests are not built"; }
ntests=$(ctest --test-dir "$scratch/build" -N 2>/dev/null \
    | sed -n 's/^Total Tests: //p')
[ "${ntests:-0}" = 0 ] || fail "ctest lists $ntests tests without the test packages"

# 2. Build and run.
if ! cmake --build "$scratch/build" -j2 >"$scratch/build.log" 2>&1; then
    tail -50 "$scratch/build.log"
    fail "build with the run packages only failed"
fi
pg=$scratch/build/proxy/provgate
"$pg" --help >"$scratch/help.txt" 2>&1 || fail "provgate --help exited $?"
grep -q "^usage: provgate" "$scratch/help.txt" || fail "provgate --help: $(cat "$scratch/help.txt")"
"$pg" serve --reference >"$scratch/reference.txt" 2>&1 \
    || fail "provgate serve --reference exited $?"
grep -q "index_ttl" "$scratch/reference.txt" \
    || fail "serve --reference lists no index_ttl: $(head -5 "$scratch/reference.txt")"

# 3. Asking for the tests without their packages is a configure error.
# shellcheck disable=SC2086
if cmake -S "$src" -B "$scratch/build-tests" -DCMAKE_BUILD_TYPE=Release \
        -DPG_TESTS=ON $hide >"$scratch/configure-on.log" 2>&1; then
    cat "$scratch/configure-on.log"
    fail "configure with -DPG_TESTS=ON succeeded without cmocka"
fi
grep -q "libcmocka-dev" "$scratch/configure-on.log" \
    || { cat "$scratch/configure-on.log"; fail "the PG_TESTS=ON error does not name libcmocka-dev"; }

echo "run packages only: configure, build, --help and --reference OK;" \
     "PG_TESTS=ON without cmocka stops configure"
rm -rf "$scratch"
