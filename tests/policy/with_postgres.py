#!/usr/bin/env python3
"""tests/policy/with_postgres.py — runs a test against a private PostgreSQL.

Starts one (tests/e2e/pgtest.py's PostgreSQL: initdb into a temporary
directory, a Unix socket there, run as nobody under root, stopped by its
PID), puts its URI in PG_TEST_PIN_STORE and runs the command, so that the
pin-store tests written for LMDB (test_pins, cli_pins.py) run unchanged
against PostgreSQL too.  Exits with the command's status; 77 (skipped)
when PostgreSQL is not installed.
Usage: with_postgres.py COMMAND [ARGS...]
"""
import os
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import pgtest  # noqa: E402


def main():
    try:
        db = pgtest.PostgreSQL()
    except unittest.SkipTest as e:
        print("skipped: %s" % e)
        return pgtest.SKIP
    try:
        db.start()
        env = dict(os.environ, PG_TEST_PIN_STORE=db.uri())
        return subprocess.run(sys.argv[1:], env=env, timeout=600).returncode
    finally:
        db.stop()
        shutil.rmtree(db.base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
