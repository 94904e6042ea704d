#!/usr/bin/env python3
"""tests/policy/cli_pins.py — `provgate pins` as an administrator uses it.

approve (with --by and with $USER), show (with the history), list,
list --json, export (pins and history), forget, import of the export (and
of the older array-only export), refusal of a bad publisher and of a
malformed import file, and the audit lines each change writes.  The pins
live in the pin store beside the cache directory (pins.lmdb), never in it;
with PG_TEST_PIN_STORE=URI the same script runs against PostgreSQL through
--pin-store.
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

        store = os.environ.get("PG_TEST_PIN_STORE")
        where = ["--pin-store", store] if store else []

        def pins(*args, ok=(0,)):
            r = subprocess.run([exe, "pins", "--cache-dir", cache,
                                "--audit-log", audit, *where, *args],
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
        # The history: who, from what to what.
        hist = r.stdout.split("history:\n", 1)[1].splitlines()
        assert len(hist) == 2, r.stdout
        assert "approve  by alice: (no pin) -> github:Org/Demo:release.yml" \
            in hist[0], hist
        assert ("by carol: github:Org/Demo:release.yml -> "
                "github:Org/Demo:release.yml, "
                "github:org/demo2:release.yml:pypi") in hist[1], hist
        r = pins("show", "other", ok=(1,))
        assert "no pin" in r.stdout

        r = pins("list", "--json")
        data = json.loads(r.stdout)
        assert [p["project"] for p in data] == ["demo-pkg"], data
        assert [e["how"] for e in data[0]["publishers"]] == ["approved"] * 2

        r = pins("approve", "demo-pkg", "--publisher", "nonsense", ok=(2,))
        assert "--publisher nonsense" in r.stderr, r.stderr

        exported = pins("export").stdout
        ex = json.loads(exported)
        assert ex["pins"] == data, ex
        assert [(e["what"], e["by"]) for e in ex["history"]] == [
            ("approve", "alice"), ("approve", "carol")], ex["history"]
        path = os.path.join(d, "pins.json")
        with open(path, "w") as f:
            f.write(exported)
        r = pins("forget", "demo-pkg", "--why", "moved to a new org")
        assert "forgotten" in r.stdout
        assert "no pins" in pins("list").stdout
        pins("forget", "demo-pkg", ok=(1,))
        r = pins("show", "demo-pkg", ok=(1,))
        assert "no pin" in r.stdout and "forget   by carol" in r.stdout, \
            r.stdout
        assert "why: moved to a new org" in r.stdout, r.stdout

        r = pins("import", path)
        assert "1 projects" in r.stdout, r.stdout
        ex2 = json.loads(pins("export").stdout)
        assert ex2["pins"] == data
        assert [e["what"] for e in ex2["history"]] == [
            "approve", "approve", "forget", "import"], ex2["history"]
        # An export of an older provgate (the array alone) still imports.
        old = os.path.join(d, "old.json")
        with open(old, "w") as f:
            json.dump(data, f)
        assert "1 projects" in pins("import", old).stdout

        # Nothing of it is in the cache directory: the store is beside it.
        if not store:
            assert not os.path.exists(cache), os.listdir(d)
            assert os.path.isdir(os.path.join(d, "pins.lmdb"))

        bad = os.path.join(d, "bad.json")
        with open(bad, "w") as f:
            json.dump([{"project": "Not Normal", "publishers": []}], f)
        r = pins("import", bad, ok=(2,))
        assert "entry 1" in r.stderr, r.stderr

        with open(audit) as f:
            events = [json.loads(line) for line in f]
        kinds = [e["event"] for e in events]
        assert kinds == ["pin-approve", "pin-approve", "pin-forget",
                         "pin-import", "pin-import"], kinds
        assert events[0]["actor"] == "alice"
        assert events[0]["project"] == "demo-pkg"
        assert events[0]["seen"] == "github:Org/Demo:release.yml"
        assert events[1]["actor"] == "carol"
        assert all("time" in e for e in events)
    print("ok")


if __name__ == "__main__":
    main()
