#!/usr/bin/env python3
# tests/sigstore/run_pypi_cases.py — every case of vectors/pypi/cases.json
# through `provgate verify`.
#
# Usage: run_pypi_cases.py PROVGATE SHARED_DIR
# Each case becomes one `provgate verify` command line built from its
# fields (kind -> --provenance/--attestation/--bundle, publisher -> SPEC,
# identity -> --identity/--issuer, instance -> --staging, dist / dist_name /
# sha256 -> DIST [--name] or --sha256 --name).  A case that must verify
# must exit 0 and print the expected publisher (or identity); a case that
# must fail must exit 1 with exactly one line
# "provgate: verify: <file>: <step>: <reason>" whose step is the one in
# EXPECTED_FAIL below and whose reason contains the listed substring.
# Exits 77 (skip) when the shared vectors are absent.
import json
import os
import subprocess
import sys

# case id -> (step, reason substring).  Why each fails is in cases.json
# "note"; the step is where our verifier must catch it.
EXPECTED_FAIL = {
    "rfc8785-attestation-wrong-identity": ("identity", "no SAN equals"),
    # staging leaf + staging Rekor under the production root: the entry's
    # log is unknown (V1 looks the log up to verify the SET first)
    "rfc8785-attestation-against-production": (
        "tlog", "not in the trusted root"),
    "rfc8785-attestation-wrong-filename": ("statement", "is not this file"),
    "pypi-attestation-models-wrong-workflow": (
        "identity", "is not workflow wrong.yml"),
    "gitlab-oidc-project-wrong-workflow": (
        "identity", "is not workflow wrong.yml"),
    "pypi-attestations-0.0.19-against-staging": (
        "tlog", "not in the trusted root"),
    "pypi-attestations-0.0.19-provenance-wrong-repository": (
        "publisher", "is not the expected github:other/repo"),
    "abi3info-wheel-with-other-version-provenance": (
        "statement", "is not this file"),
    "abi3info-wheel-with-sdist-provenance": ("statement", "is not this file"),
    "abi3info-digest-mismatch": ("statement", "sha256 is not the file's"),
    "sampleproject-3.0.0-as-github-publisher": (
        "identity", "is not https://token.actions.githubusercontent.com"),
}


def spec(pub):
    kind = pub["kind"]
    env = pub.get("environment") or ""
    if kind == "GitHub":
        s = "github:%s:%s" % (pub["repository"], pub["workflow"])
    elif kind == "GitLab":
        s = "gitlab:%s:%s" % (pub["repository"], pub["workflow_filepath"])
    else:
        return "google:%s" % pub["email"]
    return s + (":" + env if env else "")


def command(prov, pypi, case):
    argv = [prov, "verify"]
    if (case.get("verify_instance") or case["instance"]) == "staging":
        argv.append("--staging")
    flag = {"provenance": "--provenance", "pep740-attestation":
            "--attestation", "sigstore-bundle": "--bundle"}[case["kind"]]
    argv += [flag, os.path.join(pypi, case["attestation"])]
    if case["publisher"] is not None:
        argv += ["--publisher", spec(case["publisher"])]
    elif case.get("identity"):
        argv += ["--identity", case["identity"]["san"],
                 "--issuer", case["identity"]["issuer"]]
    if case["dist"] is not None:
        argv.append(os.path.join(pypi, case["dist"]))
        if case.get("dist_name"):
            argv += ["--name", case["dist_name"]]
    else:
        argv += ["--sha256", case["sha256"], "--name", case["dist_name"]]
    return argv


def main():
    prov, shared = sys.argv[1], sys.argv[2]
    pypi = os.path.join(shared, "vectors", "pypi")
    if not os.path.isfile(os.path.join(pypi, "cases.json")):
        print("skip: %s/cases.json not found" % pypi)
        return 77
    with open(os.path.join(pypi, "cases.json")) as f:
        cases = json.load(f)
    bad = 0
    ok = 0
    for case in cases:
        argv = command(prov, pypi, case)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        err = r.stderr.strip().splitlines()
        if case["expect"] == "verify":
            want = (spec(case["publisher"]) if case["publisher"]
                    else "identity:%s issuer:%s" % (
                        case["identity"]["san"], case["identity"]["issuer"]))
            good = (r.returncode == 0 and r.stdout.strip() == want
                    and not err)
        else:
            step, sub = EXPECTED_FAIL[case["id"]]
            prefix = "provgate: verify: %s: %s: " % (argv[argv.index(
                {"provenance": "--provenance", "pep740-attestation":
                 "--attestation", "sigstore-bundle": "--bundle"}[
                    case["kind"]]) + 1], step)
            good = (r.returncode == 1 and len(err) == 1
                    and err[0].startswith(prefix) and sub in err[0]
                    and r.stdout == "")
        if good:
            ok += 1
        else:
            bad += 1
            print("FAIL %s (expect %s): rc=%d stdout=%r stderr=%r\n  %s" % (
                case["id"], case["expect"], r.returncode, r.stdout.strip(),
                r.stderr.strip(), " ".join(argv)))
    print("pypi cases: %d/%d as expected" % (ok, len(cases)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
