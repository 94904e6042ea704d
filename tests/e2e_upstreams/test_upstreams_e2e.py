#!/usr/bin/env python3
"""tests/e2e_upstreams/test_upstreams_e2e.py — several upstreams and the
dependency-confusion guard, end to end (issue 13 items 1-3).

Two fixture upstreams (tests/e2e/fixture_upstream.py): a "public" one as
[upstream] and a "private" one as [upstream:corp] behind one
`provgate serve`, the real pip downloading through it; `provgate upstreams
which`; bad configurations (exit 2 with FILE:LINE).

Environment (ctest passes them): PG_PROVGATE, PG_SHARED_DIR.
Spec: issue 13 "Tests"; design §11.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import pgtest  # noqa: E402


class Cli(pgtest.Case):
    """`provgate upstreams` and the configuration errors."""

    def conf(self, text, name="provgate.conf"):
        path = self.path(name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_bad_upstream_sections_exit_2_with_file_line(self):
        cases = [
            ("no URL", "[upstream:corp]\nprojects = corp-*\n",
             ":1: [upstream:corp]: no upstream URL"),
            ("two upstreams claim one name",
             "[upstream:a]\nupstream = https://a.example/simple/\n"
             "projects = corp-*, tools\n"
             "[upstream:b]\nupstream = https://b.example/simple/\n"
             "projects = Corp_Web\n",
             ":6: [upstream:b]: projects: 'corp-web' overlaps 'corp-*' of "
             "[upstream:a] (line 3)"),
            ("unknown key",
             "[upstream:a]\nupstream = https://a.example/simple/\n"
             "projects = x\nsecret_sauce = on\n",
             ":4: unknown directive 'secret_sauce'"),
        ]
        for what, text, want in cases:
            path = self.conf(text)
            for argv in (["serve", "--config", path],
                         ["upstreams", "which", "x", "--config", path]):
                p = pgtest.run_cli(argv)
                self.assertEqual(p.returncode, 2, "%s: %s: %s"
                                 % (what, argv[0], p.output))
                self.assertIn(path + want, p.output, what)

    def test_upstreams_which_names_the_owner_and_why(self):
        path = self.conf(
            "[upstream:corp]\nupstream = https://pypi.corp.example/simple/\n"
            "projects = corp-*, Internal_Tools\nmode = tofu\n")
        want = [
            ("Corp.Web", 0, "corp-web: corp https://pypi.corp.example/simple/"
             " (prefix corp-*)"),
            ("internal-tools", 0, "internal-tools: corp "
             "https://pypi.corp.example/simple/ (name internal-tools)"),
            ("requests", 0, "requests: default https://pypi.org/simple/ "
             "(no private upstream owns it)"),
            ("corp", 0, "corp: default https://pypi.org/simple/"),
            ("bad name!", 2, "'bad name!' is not a project name"),
        ]
        for name, rc, text in want:
            p = pgtest.run_cli(["upstreams", "which", name, "--config", path])
            self.assertEqual(p.returncode, rc, p.output)
            self.assertIn(text, p.output)
        p = pgtest.run_cli(["upstreams", "list", "--config", path])
        self.assertEqual(p.returncode, 0, p.output)
        self.assertIn("corp https://pypi.corp.example/simple/ mode=tofu "
                      "projects=corp-*,internal-tools", p.output)

    def test_which_for_a_list_upstream_is_unknown_until_cached(self):
        path = self.conf(
            "[upstream:corp]\nupstream = https://pypi.corp.example/simple/\n"
            "projects = @list\n")
        p = pgtest.run_cli(["upstreams", "which", "anything", "--config",
                            path, "--cache-dir", self.path("nocache", "x")])
        self.assertEqual(p.returncode, 1, p.output)
        self.assertIn("anything: unknown ([upstream:corp] owns the names of "
                      "its /simple/ list", p.output)


if __name__ == "__main__":
    sys.exit(pgtest.main())
