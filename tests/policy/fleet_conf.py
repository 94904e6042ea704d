#!/usr/bin/env python3
"""tests/policy/fleet_conf.py — conf/fleet/ (two replicas behind nginx,
one PostgreSQL pin store) is what the documentation says: replica.conf is
a valid provgate configuration whose pin_store is PostgreSQL, and
nginx.conf passes `nginx -t` (skipped, 77, without nginx).
Usage: fleet_conf.py PROVGATE CONFDIR
"""
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    exe, conf = sys.argv[1], sys.argv[2]
    replica = os.path.join(conf, "fleet", "replica.conf")
    with tempfile.TemporaryDirectory() as d:
        # The configuration loads (every directive valid); the pins command
        # is pointed at a local store so nothing needs the database.
        r = subprocess.run([exe, "pins", "--config", replica, "--pin-store",
                            "lmdb:" + os.path.join(d, "pins.lmdb"), "list"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
        assert "no pins" in r.stdout, r.stdout
        with open(replica) as f:
            text = f.read()
        assert "\npin_store = postgresql://" in text, text
        assert "password" not in text.split("[server]")[1].lower()
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.access(nginx, os.X_OK):
            print("skipped: nginx is not installed")
            return 77
        os.makedirs(os.path.join(d, "logs"))
        r = subprocess.run([nginx, "-t", "-p", d, "-c",
                            os.path.abspath(os.path.join(conf, "fleet",
                                                         "nginx.conf"))],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "syntax is ok" in r.stderr, r.stderr
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
