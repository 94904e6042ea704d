#!/usr/bin/env python3
"""tests/policy/cli_pins.py — `provgate pins` as an administrator uses it.

approve (with --by and with $USER), show, list, list --json, export, forget,
import of the export, refusal of a bad publisher and of a malformed import
file, and the audit lines each change writes.
Usage: cli_pins.py PROVGATE
"""
import json
import os
import subprocess
import sys
import tempfile


def main():
    exe = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        cache = os.path.join(d, "cache")
        audit = os.path.join(d, "audit.log")
        env = dict(os.environ, USER="carol")

        def pins(*args, ok=(0,)):
            r = subprocess.run([exe, "pins", "--cache-dir", cache,
                                "--audit-log", audit, *args],
                               capture_output=True, text=True, env=env,
                               timeout=60)
            assert r.returncode in ok, (args, r.returncode, r.stdout,
                                        r.stderr)
            return r

        r = pins("approve", "Demo_Pkg", "--publisher",
                 "github:Org/Demo:release.yml", "--by", "alice")
        assert "approved github:Org/Demo:release.yml" in r.stdout, r.stdout
        r = pins("approve", "demo-pkg", "--publisher",
                 "github:org/demo2:release.yml:pypi")
        assert "(by carol)" in r.stdout, r.stdout
        r = pins("approve", "demo-pkg", "--publisher",
                 "github:org/demo2:release.yml:pypi")
        assert "already accepted" in r.stdout, r.stdout

        r = pins("show", "demo.pkg")
        assert "github:Org/Demo:release.yml" in r.stdout
        assert "by alice" in r.stdout and "by carol" in r.stdout, r.stdout
        r = pins("show", "other", ok=(1,))
        assert "no pin" in r.stdout

        r = pins("list", "--json")
        data = json.loads(r.stdout)
        assert [p["project"] for p in data] == ["demo-pkg"], data
        assert [e["how"] for e in data[0]["publishers"]] == ["approved"] * 2

        r = pins("approve", "demo-pkg", "--publisher", "nonsense", ok=(2,))
        assert "--publisher nonsense" in r.stderr, r.stderr

        exported = pins("export").stdout
        path = os.path.join(d, "pins.json")
        with open(path, "w") as f:
            f.write(exported)
        r = pins("forget", "demo-pkg")
        assert "forgotten" in r.stdout
        assert "no pins" in pins("list").stdout
        pins("forget", "demo-pkg", ok=(1,))

        r = pins("import", path)
        assert "1 projects" in r.stdout, r.stdout
        assert json.loads(pins("export").stdout) == data

        bad = os.path.join(d, "bad.json")
        with open(bad, "w") as f:
            json.dump([{"project": "Not Normal", "publishers": []}], f)
        r = pins("import", bad, ok=(2,))
        assert "entry 1" in r.stderr, r.stderr

        with open(audit) as f:
            events = [json.loads(line) for line in f]
        kinds = [e["event"] for e in events]
        assert kinds == ["pin-approve", "pin-approve", "pin-forget",
                         "pin-import"], kinds
        assert events[0]["actor"] == "alice"
        assert events[0]["project"] == "demo-pkg"
        assert events[0]["seen"] == "github:Org/Demo:release.yml"
        assert events[1]["actor"] == "carol"
        assert all("time" in e for e in events)
    print("ok")


if __name__ == "__main__":
    main()
