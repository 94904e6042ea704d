#!/usr/bin/env python3
"""tests/proxy/cli_flags.py — every subcommand's flags (parsed with
getopt_long, proxy/cli/cmd_opts.c): --help and -h print the usage and exit 0;
an unknown flag, a flag missing its value or a positional argument too
many exit 2 with the message users have always seen; "--flag=value" is
"--flag value".

  cli_flags.py PROVGATE

A table: argv, exit status, the stream that must hold the text, the text.
Nothing here reaches a server or a store (every case stops at parsing, or
at a store in an empty temporary directory).
"""

import os
import subprocess
import sys
import tempfile

USAGE = {
    "serve": "usage: provgate serve",
    "pins": "usage: provgate pins",
    "cache": "usage: provgate cache",
    "policy": "usage: provgate policy",
    "verify": "usage: provgate verify",
    "verify-bundle": "usage: provgate verify-bundle",
}

CASES = [
    # --help / -h for each subcommand (verify's usage is on stderr, as
    # it always was)
    (["serve", "--help"], 0, "out", USAGE["serve"]),
    (["serve", "-h"], 0, "out", USAGE["serve"]),
    (["pins", "--help"], 0, "out", USAGE["pins"]),
    (["pins", "list", "-h"], 0, "out", USAGE["pins"]),
    (["pins", "migrate", "--help"], 0, "out", USAGE["pins"]),
    (["cache", "--help"], 0, "out", USAGE["cache"]),
    (["cache", "gc", "--help"], 0, "out", USAGE["cache"]),
    (["policy", "--help"], 0, "out", USAGE["policy"]),
    (["policy", "-h"], 0, "out", USAGE["policy"]),
    (["verify", "--help"], 0, "err", USAGE["verify"]),
    (["verify-bundle", "--help"], 0, "err", USAGE["verify-bundle"]),
    # an unknown flag
    (["serve", "--no-such-flag"], 2, "err",
     "provgate serve: unknown argument '--no-such-flag'"),
    (["pins", "--no-such-flag", "list"], 2, "err",
     "provgate: pins: unknown or incomplete option '--no-such-flag'"),
    (["pins", "-x", "list"], 2, "err",
     "provgate: pins: unknown or incomplete option '-x'"),
    (["cache", "stats", "--no-such-flag"], 2, "err",
     "provgate: cache: unknown argument '--no-such-flag'"),
    (["policy", "--no-such-flag"], 2, "err", USAGE["policy"]),
    (["verify", "--no-such-flag"], 2, "err", USAGE["verify"]),
    (["verify-bundle", "--no-such-flag"], 2, "err",
     USAGE["verify-bundle"]),
    # a flag without its value
    (["serve", "--listen"], 2, "err", "--listen: needs a value"),
    (["serve", "--config"], 2, "err", "--config: needs a FILE"),
    (["serve", "--set"], 2, "err", "--set: needs NAME=VALUE"),
    (["serve", "--set", "no-equals"], 2, "err", "--set: needs NAME=VALUE"),
    (["pins", "list", "--cache-dir"], 2, "err",
     "provgate: pins: unknown or incomplete option '--cache-dir'"),
    (["cache", "gc", "--max-bytes"], 2, "err",
     "provgate: cache: --max-bytes needs a value"),
    (["verify", "--bundle"], 2, "err", USAGE["verify"]),
    # positional arguments too many or unexpected
    (["serve", "extra"], 2, "err", "provgate serve: unknown argument "
     "'extra'"),
    (["cache", "gc", "extra"], 2, "err", "provgate: cache: unknown "
     "argument 'extra'"),
    (["pins", "a", "b", "c", "d", "e"], 2, "err", USAGE["pins"]),
    (["policy", "check", "a", "b"], 2, "err", USAGE["policy"]),
    # values: bad ones keep their own messages; --flag=value works
    (["cache", "gc", "--max-bytes=lots"], 2, "err",
     "provgate: cache: --max-bytes: 'lots' is not a size (e.g. 10G)"),
    (["cache", "gc", "--cache-dir="], 2, "err",
     "provgate: cache: empty --cache-dir"),
    (["serve", "--set=listen=nowhere"], 2, "err",
     "expected HOST:PORT: 'nowhere'"),
    (["serve", "--listen=nowhere"], 2, "err",
     "expected HOST:PORT: 'nowhere'"),
    (["serve", "--listen", "nowhere"], 2, "err",
     "expected HOST:PORT: 'nowhere'"),
]


def main():
    provgate = sys.argv[1]
    failures = []
    with tempfile.TemporaryDirectory(prefix="pg-flags-") as tmp:
        for argv, rc, stream, text in CASES:
            p = subprocess.run([provgate] + argv, cwd=tmp,
                               capture_output=True, text=True, timeout=60,
                               stdin=subprocess.DEVNULL)
            got = p.stdout if stream == "out" else p.stderr
            if p.returncode != rc or text not in got:
                failures.append("%s: exit %d (want %d), std%s %r (want %r)"
                                % (" ".join(argv), p.returncode, rc, stream,
                                   got[:300], text))
        # --cache-dir=DIR is --cache-dir DIR: the same directory opened
        d = os.path.join(tmp, "c")
        os.makedirs(d)
        for argv in (["cache", "stats", "--cache-dir=" + d],
                     ["cache", "stats", "--cache-dir", d]):
            p = subprocess.run([provgate] + argv, capture_output=True,
                               text=True, timeout=60,
                               stdin=subprocess.DEVNULL)
            if p.returncode != 1 or "no cache in %s " % d not in p.stderr:
                failures.append("%s: exit %d: %s" % (" ".join(argv),
                                                      p.returncode, p.stderr))
    for f in failures:
        print("FAIL " + f)
    print("%d passed, %d failed" % (len(CASES) + 2 - len(failures),
                                    len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
