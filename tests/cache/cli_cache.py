#!/usr/bin/env python3
"""tests/cache/cli_cache.py — `provgate cache stats|gc` on a test directory.

  cli_cache.py PROVGATE HELPER WORKDIR BEHAVIOUR

HELPER is test_cache_blobs, whose `--populate DIR N SIZE` mode commits N
blobs of SIZE bytes (cap 1000000 recorded) plus one index and two files
entries.  Each BEHAVIOUR is one ctest (cache.cli_<behaviour>); the temp
directory lives under WORKDIR and is removed at the end.
"""

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time


def run(argv, timeout=60):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def fields(out):
    d = {}
    for line in out.splitlines():
        if ": " in line:
            k, v = line.split(": ", 1)
            d[k] = v
    return d


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def populate(helper, d, n, size):
    rc, out, err = run([helper, "--populate", d, str(n), str(size)])
    expect(rc == 0, "populate failed: %s" % err)


def stats_reports_blobs_and_entries(pg, helper, d):
    populate(helper, d, 3, 1000)
    rc, out, err = run([pg, "cache", "stats", "--cache-dir", d])
    expect(rc == 0, "stats exit %d: %s" % (rc, err))
    f = fields(out)
    expect(f.get("blob_count") == "3", out)
    expect(f.get("blob_bytes") == "3000", out)
    expect(f.get("max_bytes") == "1000000", out)
    expect(f.get("entries.index") == "1", out)
    expect(f.get("entries.files") == "2", out)
    expect(f.get("entries.blobs") == "3", out)
    expect(f.get("entries.pins") == "0", out)
    # --max-bytes overrides the recorded cap for the report only
    rc, out, err = run([pg, "cache", "stats", "--cache-dir=" + d,
                        "--max-bytes", "0"])
    expect(rc == 0 and fields(out).get("max_bytes") == "unlimited", out)


def stats_on_missing_cache_fails_without_creating(pg, helper, d):
    missing = os.path.join(d, "nothing")
    rc, out, err = run([pg, "cache", "stats", "--cache-dir", missing])
    expect(rc == 1, "exit %d, want 1" % rc)
    expect("no cache" in err, err)
    expect(not os.path.exists(missing), "stats created the directory")


def gc_evicts_to_cap_and_removes_stale_temps(pg, helper, d):
    populate(helper, d, 4, 1000)
    stale = os.path.join(d, "tmp", "blob.stale")
    fresh = os.path.join(d, "tmp", "blob.fresh")
    for p in (stale, fresh):
        with open(p, "wb") as fh:
            fh.write(b"partial")
    old = time.time() - 3 * 3600
    os.utime(stale, (old, old))
    # Hold the lock a running server holds: its fresh temp files are in use.
    lock = os.open(os.path.join(d, "cache.lock"), os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_SH)
    try:
        rc, out, err = run([pg, "cache", "gc", "--cache-dir", d,
                            "--max-bytes", "2500"])
    finally:
        os.close(lock)
    expect(rc == 0, "gc exit %d: %s" % (rc, err))
    f = fields(out)
    expect(f.get("evicted") == "2 blobs, 2000 bytes", out)
    expect(f.get("tmp_removed") == "1", out)
    expect(f.get("blob_count") == "2", out)
    expect(not os.path.exists(stale), "stale temp file kept")
    expect(os.path.exists(fresh), "fresh temp file removed")
    files = sum(len(fs) for _r, _d, fs in os.walk(os.path.join(d, "blobs")))
    expect(files == 2, "%d blob files on disk, want 2" % files)
    # gc without --max-bytes uses the recorded cap (1000000): no eviction
    rc, out, err = run([pg, "cache", "gc", "--cache-dir", d])
    f = fields(out)
    expect(rc == 0 and f.get("evicted") == "0 blobs, 0 bytes", out)
    expect(f.get("max_bytes") == "1000000", out)


def usage_errors_exit_2(pg, helper, d):
    populate(helper, d, 1, 10)
    for argv in (["cache"], ["cache", "frob"],
                 ["cache", "stats", "--bogus"],
                 ["cache", "stats", "--cache-dir"],
                 ["cache", "gc", "--cache-dir", d, "--max-bytes", "ten"],
                 ["cache", "gc", "--cache-dir", d, "--max-bytes", "-1"]):
        rc, out, err = run([pg] + argv)
        expect(rc == 2, "%s: exit %d, want 2" % (argv, rc))
        expect("usage: provgate cache" in err, "%s: no usage" % argv)
    rc, out, err = run([pg, "cache", "--help"])
    expect(rc == 0 and "usage: provgate cache" in out, "--help")


BEHAVIOURS = {f.__name__: f for f in (
    stats_reports_blobs_and_entries,
    stats_on_missing_cache_fails_without_creating,
    gc_evicts_to_cap_and_removes_stale_temps,
    usage_errors_exit_2,
)}


def main(argv):
    if len(argv) != 5 or argv[4] not in BEHAVIOURS:
        sys.stderr.write(__doc__)
        return 2
    pg, helper, work, name = argv[1:]
    for exe in (pg, helper):
        if not os.access(exe, os.X_OK):
            print("FAIL %s: %s was not built" % (name, exe))
            return 1
    d = tempfile.mkdtemp(prefix="clicache.", dir=work)
    try:
        BEHAVIOURS[name](pg, helper, d)
    except (AssertionError, subprocess.TimeoutExpired) as e:
        print("FAIL %s: %s" % (name, e))
        return 1
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print("ok %s" % name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
