#!/bin/sh
# conf/install-deps.sh — install the Debian 12 packages provgate needs.
#
#   conf/install-deps.sh          build + run dependencies
#   conf/install-deps.sh --test   also what the test suite uses
#
# Installs only what is missing (dpkg -s), so it is quick when all is there.
# Needs root (or sudo) only when something must be installed.
set -eu
pkgs="build-essential cmake pkg-config libevent-dev libssl-dev liblmdb-dev
      libjansson-dev libcurl4-openssl-dev libinih-dev zlib1g-dev
      libh2o-evloop-dev libpq-dev
      ca-certificates"
if [ "${1:-}" = "--test" ]; then
    pkgs="$pkgs libcmocka-dev clang libclang-rt-14-dev python3 python3-pip
          prometheus nginx-light wrk lmdb-utils openssl python3-poetry
          pipenv python3-webob postgresql chromium"
fi
missing=""
for p in $pkgs; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
