#!/usr/bin/env python3
"""tests/policy/cli_policy_check.py — `provgate policy check` as users run it.

The shipped conf/policy.ini passes (exit 0); a file with three errors exits 2
and prints each as FILE:LINE: message on stderr.
Usage: cli_policy_check.py PROVGATE CONF_POLICY_INI
"""
import os
import subprocess
import sys
import tempfile


def run(exe, *args):
    return subprocess.run([exe, *args], capture_output=True, text=True,
                          timeout=30)


def main():
    exe, shipped = sys.argv[1], sys.argv[2]
    r = run(exe, "policy", "check", shipped)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert "ok" in r.stdout, r.stdout

    with tempfile.TemporaryDirectory() as d:
        bad = os.path.join(d, "bad.ini")
        with open(bad, "w") as f:
            f.write("[defaults]\n"
                    "mode = maybe\n"
                    "; fine\n"
                    "on_violation = shout\n"
                    "[project:demo]\n"
                    "min_age = later\n")
        r = run(exe, "policy", "check", bad)
        assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        want = [bad + ":2: mode: ", bad + ":4: on_violation: ",
                bad + ":6: min_age: "]
        for w in want:
            assert any(line.startswith(w) for line in lines), (w, lines)
        assert len(lines) == 3, lines

        r = run(exe, "policy", "check", os.path.join(d, "missing.ini"))
        assert r.returncode == 2, r
        assert "missing.ini" in r.stderr, r.stderr

    r = run(exe, "policy", "reference")
    assert r.returncode == 0
    for name in ("mode", "publisher", "on_violation", "legacy", "min_age"):
        assert any(line.startswith(name + " ") for line in
                   r.stdout.splitlines()), (name, r.stdout)
    print("ok")


if __name__ == "__main__":
    main()
