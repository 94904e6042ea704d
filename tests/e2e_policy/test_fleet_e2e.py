#!/usr/bin/env python3
"""tests/e2e_policy/test_fleet_e2e.py — two provgate replicas sharing one
PostgreSQL pin store (issue 12), with the real pip.

Each test starts its own PostgreSQL (tests/e2e/pgtest.py: initdb into a
temporary directory, a Unix socket there, run as nobody under root,
stopped by its PID), fixture upstreams and two `provgate serve` with
pin_store = that database and caches of their own:
  - the TOFU race: both replicas see a project's first attested file at
    the same moment, each from an upstream that names another publisher,
    round after round: exactly one pin, both decide against it;
  - an approval (CLI, against the database) reaches the other replica's
    decisions within 1 s; forget, re-pinned on the next sight;
  - the database down (known pins served, a new project refused with
    "pin store unavailable", /readyz and provgate_pin_store_up say so) and
    back (the new project pinned, no restart); a restart in the middle;
  - bad pin_store values: a malformed URI, wrong credentials, a foreign
    table of the same name: a clear error and exit 2 at start, and the
    password never in the log.

Environment (ctest passes them): PG_PROVGATE, PG_MINT, PG_SHARED_DIR.
Spec: issue 12 "Tests"; design §11.
"""

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import pgtest  # noqa: E402
from test_policy_e2e import (EVIL, GOOD, MOVED, PolicyCase,  # noqa: E402
                             month)

PROPAGATION_S = 1.0         # issue 12: a change reaches every replica


class Fleet(PolicyCase):

    def replicas(self, db, ups, **sets):
        out = []
        for i, up in enumerate(ups):
            s = {"pin_store": db.uri(), "index_ttl": "1s"}
            s.update(sets)
            out.append(self.serve(up, cache_dir=self.new_dir("cache-r%d" % i),
                                  sets=s))
        return out

    def pins_db(self, db, *args):
        return pgtest.run_cli(["pins", "--pin-store", db.uri(),
                               "--audit-log", self.audit] + list(args))

    def status(self, pg, project, filename):
        files = self.files_by_name(self.json_page(pg, project))
        return files[filename]["_provenance"]

    def state(self, pg, project, filename):
        """The file's status, or None while the page does not list it yet
        (a replica may still hold the page from before the release)."""
        files = self.files_by_name(self.json_page(pg, project))
        f = files.get(filename)
        return f["_provenance"]["status"] if f else None

    def test_tofu_race_between_replicas_makes_one_pin(self):
        db = self.start_postgres()
        ua = self.start_fixture(vectors=False)
        ub = self.start_fixture(vectors=False)
        rounds = 8
        for r in range(rounds):
            name = "race%d" % r
            self.release(ua, "1.0", GOOD, month(1), name=name,
                         dist=self.new_dir("dist-a"))
            self.release(ub, "1.0", EVIL, month(1), name=name, salt="b",
                         dist=self.new_dir("dist-b"))
        r1, r2 = self.replicas(db, [ua, ub])
        won = {GOOD: 0, EVIL: 0}
        for r in range(rounds):
            name = "race%d" % r
            fn = "%s-1.0-py3-none-any.whl" % name
            pa, pb = pgtest.run_concurrently([
                lambda: self.status(r1, name, fn),
                lambda: self.status(r2, name, fn)])
            rows = db.psql("SELECT record->'publishers'->0->>'publisher' "
                           "FROM provgate.pins WHERE project = '%s'"
                           % name).stdout.split()
            self.assertEqual(len(rows), 1, rows)
            winner = rows[0]
            self.assertIn(winner, (GOOD, EVIL))
            won[winner] += 1
            tofu = db.psql("SELECT count(*) FROM provgate.pin_events WHERE "
                           "project = '%s' AND what = 'tofu'" % name)
            self.assertEqual(tofu.stdout.strip(), "1")
            # Both replicas decided against the one pin.
            for prov, pub in ((pa, GOOD), (pb, EVIL)):
                if pub == winner:
                    self.assertEqual(prov["status"], "verified", prov)
                else:
                    self.assertEqual(prov["status"], "rejected", prov)
                    self.assertIn(winner, prov["expected"])
        sys.stderr.write("race winners: %r\n" % won)
        # The pins of both replicas' logs agree with the database.
        logs = r1.log_text() + r2.log_text()
        self.assertEqual(logs.count("provenance: pinned race"), rounds, logs)

    def test_approval_reaches_the_other_replica_within_a_second(self):
        db = self.start_postgres()
        up = self.start_fixture(vectors=False)
        self.release(up, "1.0", GOOD, month(1))
        self.release(up, "1.1", MOVED, month(2))
        r1, r2 = self.replicas(db, [up, up])
        w11 = "demo-1.1-py3-none-any.whl"
        self.assertEqual(self.status(r1, "demo", w11)["status"], "rejected")
        self.assertEqual(self.status(r2, "demo", w11)["status"], "rejected")
        p = self.pip_download(r2, "demo==1.1")
        self.assertNotEqual(p.returncode, 0, p.output)
        # Approved from the command line against the database: replica 2
        # decides under the new pin within 1 s (no restart, no TTL).
        r = self.pins_db(db, "approve", "demo", "--publisher", MOVED,
                         "--by", "alice", "--why", "repository moved")
        self.assertEqual(r.returncode, 0, r.output)
        t0 = time.monotonic()
        ok = pgtest.wait_until(lambda: self.status(r2, "demo", w11)
                               ["status"] == "verified", 10, 0.02)
        took = time.monotonic() - t0
        self.assertTrue(ok, "approval never reached replica 2")
        self.assertLess(took, PROPAGATION_S,
                        "approval took %.3f s to reach replica 2" % took)
        p = self.pip_download(r2, "demo==1.1")
        self.assertPipOK(p)
        self.assertEqual(self.downloaded(p), [w11])
        self.assertEqual(self.status(r1, "demo", w11)["status"], "verified")
        # Forget on replica 1's store (same database): the next sight
        # pins the earliest publisher again, on whichever replica.
        r = self.pins_db(db, "forget", "demo", "--why", "start over")
        self.assertEqual(r.returncode, 0, r.output)
        self.assertTrue(pgtest.wait_until(
            lambda: self.state(r2, "demo", w11) == "rejected",
            PROPAGATION_S * 5, 0.02), "forget never reached replica 2")
        r = self.pins_db(db, "show", "demo")
        self.assertEqual(r.returncode, 0, r.output)
        hist = r.output.split("history:\n", 1)[1].splitlines()
        self.assertEqual([h.split()[1] for h in hist],
                         ["tofu", "approve", "forget", "tofu"], r.output)
        self.assertIn("by alice", hist[1])
        self.assertIn("why: repository moved", hist[1])

    def test_database_down_known_pins_served_new_projects_refused(self):
        db = self.start_postgres()
        up = self.start_fixture(vectors=False)
        self.release(up, "1.0", GOOD, month(1))
        r1, r2 = self.replicas(db, [up, up])
        w10 = "demo-1.0-py3-none-any.whl"
        self.assertEqual(self.status(r1, "demo", w10)["status"], "verified")
        self.assertTrue(pgtest.wait_until(
            lambda: self.state(r2, "demo", w10) == "verified",
            5, 0.05))
        # A restart of the database in the middle: a change made after it
        # still reaches both replicas (they reconnect and listen again).
        db.restart()
        self.release(up, "1.1", MOVED, month(2))
        r = self.pins_db(db, "approve", "demo", "--publisher", MOVED)
        self.assertEqual(r.returncode, 0, r.output)
        for pg in (r1, r2):
            self.assertTrue(pgtest.wait_until(
                lambda pg=pg: self.state(pg, "demo",
                                         "demo-1.1-py3-none-any.whl")
                == "verified", 15, 0.1),
                "approval after a database restart never arrived")
        # Down.
        db.stop()
        self.release(up, "1.0", GOOD, month(1), name="fresh",
                     dist=self.new_dir("dist-fresh"))
        # Known pins keep working (pages re-annotated from the local copy
        # after their TTL, files served).
        time.sleep(1.2)
        p = self.pip_download(r2, "demo==1.1")
        self.assertPipOK(p)
        # A project seen for the first time is refused, with the reason.
        fresh = "fresh-1.0-py3-none-any.whl"
        prov = self.status(r1, "fresh", fresh)
        self.assertEqual(prov["status"], "rejected", prov)
        self.assertIn("pin store unavailable", prov["reason"])
        p = self.pip_download(r1, "fresh==1.0")
        self.assertNotEqual(p.returncode, 0, p.output)
        self.assertIn("pin store unavailable", p.output)
        self.assertTrue(pgtest.wait_until(
            lambda: pgtest.metric_sum(r1.metrics(),
                                      r"^provgate_pin_store_up$") == 0,
            10, 0.2), "provgate_pin_store_up never went to 0")
        # Not ready: a balancer's health check takes this replica out
        # while another one can still pin new projects.
        ready = r1.get("/readyz")
        self.assertEqual(ready.status, 503)
        self.assertIn(b"pin store unavailable", ready.body)
        self.assertEqual(r1.get("/healthz").status, 200)
        # Back: no restart of provgate; the new project gets its pin.
        db.start()
        self.assertTrue(pgtest.wait_until(
            lambda: pgtest.metric_sum(r1.metrics(),
                                      r"^provgate_pin_store_up$") == 1,
            40, 0.2), "provgate_pin_store_up never went back to 1")
        self.assertTrue(pgtest.wait_until(
            lambda: self.state(r1, "fresh", fresh) == "verified",
            10, 0.2), "fresh never pinned after the database came back")
        ready = r1.get("/readyz")
        self.assertEqual((ready.status, ready.body), (200, b"ready\n"))
        p = self.pip_download(r2, "fresh==1.0")
        self.assertPipOK(p)
        self.assertIn("pin store", r1.log_text())
        self.assertIn("is available again", r1.log_text())

    def start_bad(self, store):
        """provgate serve with pin_store = store: must exit 2 at start."""
        binary = os.environ["PG_PROVGATE"]
        conf = os.path.join(self.tmp, "bad.conf")
        with open(conf, "w") as f:
            f.write("[policy]\npin_store = %s\n" % store)
        p = subprocess.run([binary, "serve", "--config", conf,
                            "--listen", "127.0.0.1:%d" % pgtest.free_port(),
                            "--cache-dir", self.new_dir("cache-bad"),
                            "--trust-root", self.trust_root],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=120)
        return p.returncode, (p.stdout + p.stderr).decode(errors="replace")

    def test_bad_pin_store_is_refused_at_start_with_exit_2(self):
        db = self.start_postgres()
        rc, out = self.start_bad("postgresql://u:pw@/db?host=%zz")
        self.assertEqual(rc, 2, out)
        self.assertIn("malformed PostgreSQL connection URI", out)
        self.assertNotIn("pw@", out)
        rc, out = self.start_bad("redis://localhost/")
        self.assertEqual(rc, 2, out)
        self.assertIn("pin_store: expected lmdb", out)
        wrong = db.uri(user=pgtest.PG_PIN_USER, password="Wr0ng-pass")
        rc, out = self.start_bad(wrong)
        self.assertEqual(rc, 2, out)
        self.assertIn("password authentication failed", out)
        self.assertNotIn("Wr0ng-pass", out)
        # The right password works, and is not logged either.
        db.psql("CREATE DATABASE pins OWNER %s" % pgtest.PG_PIN_USER)
        up = self.start_fixture(vectors=False)
        pg = self.serve(up, sets={"pin_store": db.uri(
            "pins", pgtest.PG_PIN_USER, pgtest.PG_PIN_PASSWORD)})
        self.assertIn("pins: pin store postgresql://%s@"
                      % pgtest.PG_PIN_USER, pg.log_text())
        # (the test's own "### command line" header holds it, of course)
        written = "\n".join(line for line in pg.log_text().splitlines()
                             if not line.startswith("### "))
        self.assertNotIn(pgtest.PG_PIN_PASSWORD, written)
        self.stop_provgate(pg)
        # A table of the same name that is not ours.
        db.psql("CREATE DATABASE other")
        db.psql("CREATE SCHEMA provgate; CREATE TABLE provgate.pins "
                "(id int)", db="other")
        rc, out = self.start_bad(db.uri("other"))
        self.assertEqual(rc, 2, out)
        self.assertIn("table provgate.pins exists but is not a provgate pin "
                      "store", out)
        self.assertEqual(db.psql("SELECT count(*) FROM provgate.pins",
                                 db="other").stdout.strip(), "0")


if __name__ == "__main__":
    sys.exit(pgtest.main())
