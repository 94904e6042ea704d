#!/usr/bin/env python3
"""tests/fuzz/run_fuzz.py — build (if needed) and run the libFuzzer targets.

The ctest fuzz.parsers_60s calls this.  In a gcc build it configures a
second build tree with clang and -DPG_FUZZ=ON (under the build directory)
and builds only the fuzz targets; in a PG_FUZZ build (--prebuilt) it uses the
targets already built.  Seeds are copied at run time from ../shared/vectors
into the fuzz tree (never into the repository); every run starts from a
fresh working corpus.  Each target gets an equal share of the total time
(--seconds, or $PG_FUZZ_SECONDS).

Exit status: 0 no finding; 1 a crash, leak, timeout or sanitizer report (the
reproducer is under <build>/artifacts/), or the fuzz build failed; 77
skipped (no clang, or clang without libFuzzer).

Usage: run_fuzz.py --source SRC --build DIR --shared SHARED --seconds N
                   [--prebuilt BINDIR] [--jobs J] TARGET...
"""
import argparse
import base64
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

BUILD_TIMEOUT = 1200          # seconds for configure + build of the tree
PER_INPUT_TIMEOUT = 20        # libFuzzer -timeout (one input)
RSS_LIMIT_MB = 2048

PUBLISHER_SEEDS = [
    "github:trailofbits/pypi-attestations:release.yml",
    "github:Owner/Repo:release.yml:pypi",
    "gitlab:group/sub/project:ci/release.yml:production",
    "google:release@project.iam.gserviceaccount.com",
]


# equal after parsing (sigstore-verification §5): tag order, name
# normalization, PEP 440 equality; and a few that differ
FILENAME_PAIRS = [
    ("spt3g-1.0-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
     "spt3g-1.0-cp310-cp310-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"),
    ("Foo.Bar-1.0-py3-none-any.whl", "foo_bar-1.0.0-py3-none-any.whl"),
    ("foo-1.0beta1.tar.gz", "foo-1.0b1.zip"),
    ("foo-1.0-1build-py2.py3-none-any.whl",
     "foo-1.0-1build-py3.py2-none-any.whl"),
    ("foo-1!2.0.post1.dev3+local.7.tar.gz", "foo-1!2.0-1.dev3+local.7.tar.gz"),
    ("foo-1.0.tar.gz", "foo-1.1.tar.gz"),
]


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(77)


def have_libfuzzer(clang):
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "t.c")
        with open(src, "w") as f:
            f.write("#include <stddef.h>\n#include <stdint.h>\n"
                    "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
                    "{ (void) d; (void) n; return 0; }\n")
        r = subprocess.run([clang, "-fsanitize=fuzzer,address,undefined",
                            src, "-o", os.path.join(d, "t")],
                           capture_output=True, text=True)
        return r.returncode == 0, r.stderr


def build_tree(args, clang):
    env = dict(os.environ, CC=clang)
    cfg = ["cmake", "-S", args.source, "-B", args.build, "-DPG_FUZZ=ON",
           "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
           "-DPG_SHARED_DIR=" + args.shared]
    targets = []
    for t in args.targets:
        targets += ["--target", "fuzz_" + t]
    steps = [cfg, ["cmake", "--build", args.build, "-j", str(args.jobs)]
             + targets]
    for cmd in steps:
        print("+ " + " ".join(cmd), flush=True)
        try:
            r = subprocess.run(cmd, env=env, capture_output=True, text=True,
                               timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            print("FAIL: fuzz build exceeded %d s" % BUILD_TIMEOUT)
            sys.exit(1)
        if r.returncode != 0:
            print(r.stdout[-6000:])
            print(r.stderr[-6000:])
            print("FAIL: the clang + PG_FUZZ build failed")
            sys.exit(1)
    return os.path.join(args.build, "tests", "fuzz")


def put(seed_dir, name, data):
    with open(os.path.join(seed_dir, name), "wb") as f:
        f.write(data)


def copy_glob(seed_dir, pattern, prefix=""):
    n = 0
    for p in sorted(glob.glob(pattern)):
        parent = os.path.basename(os.path.dirname(p))
        with open(p, "rb") as f:
            put(seed_dir, prefix + parent + "__" + os.path.basename(p),
                f.read())
        n += 1
    return n


def leaf_ders(vec):
    """Every Fulcio leaf in the PyPI vectors, DER."""
    out = []
    for p in sorted(glob.glob(os.path.join(vec, "pypi", "*.pem"))):
        with open(p) as f:
            text = f.read()
        # text before BEGIN (comments) is skipped
        for m in re.finditer(r"-----BEGIN CERTIFICATE-----(.*?)"
                             r"-----END CERTIFICATE-----", text, re.S):
            out.append(base64.b64decode("".join(m.group(1).split())))
    for a in attestations(vec):
        c = a.get("verification_material", {}).get("certificate")
        if c:
            out.append(base64.b64decode(c))
    return out


def attestations(vec):
    """Every attestation object in the PyPI vectors."""
    out = []
    for p in sorted(glob.glob(os.path.join(vec, "pypi", "*.attestation"))
                    + glob.glob(os.path.join(vec, "pypi", "*.provenance"))):
        try:
            doc = json.load(open(p))
        except ValueError:
            continue
        if "attestation_bundles" in doc:
            out += [a for b in doc["attestation_bundles"]
                    for a in b.get("attestations", [])]
        else:
            out.append(doc)
    return out


def statements(vec):
    return [base64.b64decode(a["envelope"]["statement"])
            for a in attestations(vec)
            if a.get("envelope", {}).get("statement")]


def make_seeds(args, target):
    seed_dir = os.path.join(args.build, "seeds", target)
    shutil.rmtree(seed_dir, ignore_errors=True)
    os.makedirs(seed_dir)
    vec = os.path.join(args.shared, "vectors")
    if target == "publisher_spec":
        for i, s in enumerate(PUBLISHER_SEEDS):
            put(seed_dir, "spec%d" % i, s.encode())
        return seed_dir
    if not os.path.isdir(vec):
        print("note: %s missing: %s runs without seeds" % (vec, target))
        return seed_dir
    if target == "sigstore_trust_root":
        copy_glob(seed_dir, os.path.join(vec, "trust", "*trusted_root.json"))
        copy_glob(seed_dir, os.path.join(vec, "conformance", "*",
                                         "trusted_root.json"))
    elif target == "sigstore_bundle":
        copy_glob(seed_dir, os.path.join(vec, "conformance", "*",
                                         "bundle.sigstore.json"))
        copy_glob(seed_dir, os.path.join(vec, "pypi", "*.sigstore"))
    elif target == "pep740_provenance":
        copy_glob(seed_dir, os.path.join(vec, "pypi", "*.provenance"))
    elif target == "pep740_attestation":
        copy_glob(seed_dir, os.path.join(vec, "pypi", "*.attestation"))
    elif target == "pep740_statement":
        for i, st in enumerate(statements(vec)):
            put(seed_dir, "statement%02d.json" % i, st)
    elif target == "pep740_filename":
        names = sorted(os.path.basename(p) for p in
                       glob.glob(os.path.join(vec, "pypi", "*"))
                       if p.endswith((".whl", ".tar.gz", ".zip")))
        pairs = [(n, n) for n in names] + FILENAME_PAIRS
        for i, (a, b) in enumerate(pairs):
            put(seed_dir, "pair%02d" % i, (a + "\n" + b).encode())
    elif target == "sigstore_identity":
        for i, der in enumerate(leaf_ders(vec)):
            put(seed_dir, "leaf%02d.der" % i, der)
    return seed_dir


def stat(text, key):
    m = re.search(r"stat::%s:\s*(\d+)" % key, text)
    return int(m.group(1)) if m else None


def run_target(args, bindir, target, seconds):
    exe = os.path.join(bindir, "fuzz_" + target)
    if not os.access(exe, os.X_OK):
        print("FAIL: %s not built" % exe)
        return False, None
    seeds = make_seeds(args, target)
    corpus = os.path.join(args.build, "corpus", target)
    shutil.rmtree(corpus, ignore_errors=True)
    os.makedirs(corpus)
    arts = os.path.join(args.build, "artifacts")
    os.makedirs(arts, exist_ok=True)
    cmd = [exe, corpus, seeds, "-max_total_time=%d" % seconds,
           "-timeout=%d" % PER_INPUT_TIMEOUT,
           "-rss_limit_mb=%d" % RSS_LIMIT_MB, "-print_final_stats=1",
           "-artifact_prefix=" + os.path.join(arts, target + "-")]
    if target != "sigstore_identity" and target != "publisher_spec":
        cmd.append("-dict=" + os.path.join(os.path.dirname(
            os.path.abspath(__file__)), "sigstore.dict"))
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    print("+ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, env=env, capture_output=True, text=True,
                       errors="replace", timeout=seconds * 4 + 120)
    log = r.stderr
    with open(os.path.join(args.build, "fuzz-%s.log" % target), "w") as f:
        f.write(log)
    runs = stat(log, "number_of_executed_units")
    eps = stat(log, "average_exec_per_sec")
    cov = re.findall(r"cov: (\d+) ft: (\d+) corp: (\d+)", log)
    cov_s = ("cov %s ft %s corpus %s" % cov[-1]) if cov else "cov ?"
    nseeds = len(os.listdir(seeds))
    ok = r.returncode == 0
    print("%-4s %-20s %3d s  %s runs  %s exec/s  %s  (%d seeds)" % (
        "ok" if ok else "FAIL", target, seconds, runs, eps, cov_s, nseeds),
        flush=True)
    if not ok:
        print(log[-8000:])
        print("reproducer under %s (rerun: %s <file>)" % (arts, exe))
    return ok, runs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--prebuilt")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("targets", nargs="+")
    args = ap.parse_args()
    total = int(os.environ.get("PG_FUZZ_SECONDS", args.seconds))

    clang = shutil.which("clang")
    if clang is None:
        skip("clang not found (conf/install-deps.sh --test installs it)")
    ok, why = have_libfuzzer(clang)
    if not ok:
        skip("clang cannot link -fsanitize=fuzzer (libclang-rt-dev "
             "missing?): " + why.strip()[-300:])

    if args.prebuilt:
        bindir = args.prebuilt
    else:
        bindir = build_tree(args, clang)
    os.makedirs(args.build, exist_ok=True)

    per = max(1, total // len(args.targets))
    failed = []
    total_runs = 0
    for t in args.targets:
        ok, runs = run_target(args, bindir, t, per)
        total_runs += runs or 0
        if not ok:
            failed.append(t)
    print("%d targets, %d s each, %d inputs executed; %s" % (
        len(args.targets), per, total_runs,
        "failed: " + " ".join(failed) if failed else "no findings"))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
