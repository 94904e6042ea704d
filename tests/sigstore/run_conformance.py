#!/usr/bin/env python3
# tests/sigstore/run_conformance.py — the sigstore-conformance bundle-verify
# cases through `provgate verify-bundle`, as the conformance suite runs them.
#
# Usage: run_conformance.py PROVGATE SHARED_DIR
# For every case directory of vectors/conformance: identity/issuer from the
# files or the protocol defaults, --key when key.pub exists, --trusted-root
# when the case ships one (production root otherwise), the artifact file or
# ../a.txt, run twice: with the path and with "sha256:<hex>" (140 results).
# A case whose name ends in "fail" must exit non-zero, with exactly one
# stderr line "provgate: verify-bundle: <file>: <step>: <reason>" whose step
# and reason substring are the ones in EXPECTED below (the step the spec's
# §6 table names, in our step vocabulary); every other case must exit 0
# silently.  Exits 77 (skip) when the shared vectors are absent.
import hashlib
import os
import subprocess
import sys

DEFAULT_IDENTITY = ("https://github.com/sigstore-conformance/extremely-"
                    "dangerous-public-oidc-beacon/.github/workflows/"
                    "extremely-dangerous-oidc-beacon.yml@refs/heads/main")
DEFAULT_ISSUER = "https://token.actions.githubusercontent.com"

# Our step names: trust-root (T0), bundle (V0), time/tsa/set (V1), chain
# (V2), sct (V3), identity/key (V4), tlog (V5a), inclusion (V5b),
# checkpoint (V5c), set (V5d), validity (V6), signature (V7), binding (V8).
EXPECTED = {
    "bundle-empty-certificate-chain_fail": (
        "bundle", "empty x509CertificateChain"),
    # spec: V2 staging leaf / V5a staging logId unknown; the SET is checked
    # first (V1), which needs the log
    "bundle-from-wrong-instance_fail": ("tlog", "not in the trusted root"),
    "bundle-invalid-base64-signature_fail": ("bundle", "invalid base64"),
    "bundle-malformed-json_fail": ("bundle", "malformed JSON"),
    "bundle-negative-log-index_fail": ("bundle", "negative logIndex"),
    "bundle-unknown-version_fail": ("bundle", "unknown mediaType"),
    "bundle-with-root-cert_fail": ("bundle", "self-signed root"),
    "checkpoint-bad-keyhint_fail": ("checkpoint", "no signature by the log"),
    "checkpoint-wrong-roothash_fail": ("checkpoint", "root hash differs"),
    "dsse-invalid-sig_fail": ("signature", "DSSE signature does not verify"),
    "dsse-mismatch-envelope_fail": ("binding", "payload hash"),
    "dsse-mismatch-sig_fail": ("binding", "signature does not match"),
    "inclusion-proof-corrupted-hash_fail": (
        "inclusion", "computed root hash differs"),
    # spec: V8, but the altered body also breaks the SET (V5d, checked in V1)
    "incorrect-public-key_fail": ("set", "does not verify"),
    "integrated-time-in-future_fail": ("chain", "not valid at signing time"),
    "intoto-expired-certificate_fail": ("chain", "not valid at signing time"),
    "intoto-log-entry-mismatch_fail": ("binding", "signature does not match"),
    "intoto-missing-inclusion-proof_fail": ("bundle", "no inclusionProof"),
    "intoto-set-outside-signing-cert-validity_fail": (
        "chain", "not valid at signing time"),
    "intoto-tsa-timestamp-outside-cert-validity_fail": (
        "chain", "not valid at signing time"),
    "invalid-checkpoint-signature_fail": ("checkpoint", "does not verify"),
    "invalid-ct-key_fail": ("sct", "SCT log is not in the trusted root"),
    "invalid-inclusion-proof_fail": ("bundle", "has no checkpoint"),
    "managed-key-no-key_fail": ("identity", "managed key"),
    "managed-key-wrong-key_fail": ("key", "not a PEM"),
    "message-digest-mismatch_fail": ("signature", "messageDigest differs"),
    "rekor2-checkpoint-missing-log-signature_fail": (
        "checkpoint", "no signature lines"),
    "rekor2-checkpoint-missing-origin_fail": ("checkpoint", "bad tree size"),
    "rekor2-checkpoint-missing-root-hash_fail": (
        "checkpoint", "needs origin, size and root hash"),
    "rekor2-checkpoint-missing-size_fail": ("checkpoint", "bad tree size"),
    "rekor2-checkpoint-no-matching-signature_fail": (
        "checkpoint", "no signature by the log"),
    "rekor2-dsse-invalid-sig_fail": (
        "signature", "DSSE signature does not verify"),
    "rekor2-dsse-mismatch-envelope_fail": (
        "binding", "signature does not match"),
    "rekor2-dsse-mismatch-sig_fail": ("binding", "signature does not match"),
    "rekor2-no-inclusion-proof_fail": ("bundle", "no inclusionProof"),
    # spec: V1 "no verified time"; the V0 shape rule (>= 0.2 needs a
    # promise or a timestamp) already rejects it
    "rekor2-no-timestamp_fail": ("bundle", "no RFC 3161 timestamp"),
    "rekor2-timestamp-outside-trust-root-tsa-validity_fail": (
        "tsa", "outside the TSA's validFor"),
    "rekor2-timestamp-outside-tsa-cert-validity_fail": (
        "tsa", "no trusted TSA verifies"),
    "rekor2-timestamp-payload-mismatch_fail": (
        "tsa", "imprint is not the hash"),
    "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail": (
        "tsa", "no trusted TSA verifies"),
    "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail": (
        "tsa", "no trusted TSA verifies"),
    "rekor2-timestamp-with-incorrect-time_fail": (
        "chain", "not valid at signing time"),
    "set-invalid-signature_fail": ("set", "does not verify"),
    "signature-mismatch_fail": ("signature", "does not verify"),
    "trust-root-tlog-missing-validity-start_fail": (
        "trust-root", "validFor without start"),
    "wrong-hashedrekord-artifact_fail": (
        "binding", "signature does not match"),
    "wrong-hashedrekord-cert-and-sig_fail": (
        "binding", "signature does not match"),
    "wrong-hashedrekord-entry_fail": ("binding", "signature does not match"),
    "wrong-material_fail": ("signature", "messageDigest differs"),
}


def read(path):
    with open(path) as f:
        return f.read().strip()


def main():
    prov, shared = sys.argv[1], sys.argv[2]
    root = os.path.join(shared, "vectors", "conformance")
    if not os.path.isfile(os.path.join(root, "a.txt")):
        print("skip: %s not found" % root)
        return 77
    cases = sorted(d for d in os.listdir(root)
                   if os.path.isfile(os.path.join(root, d,
                                                  "bundle.sigstore.json")))
    ok = bad = 0
    for case in cases:
        d = os.path.join(root, case)
        bundle = os.path.join(d, "bundle.sigstore.json")
        argv = [prov, "verify-bundle", "--bundle", bundle]
        if os.path.isfile(os.path.join(d, "key.pub")):
            argv += ["--key", os.path.join(d, "key.pub")]
        else:
            ident = (read(os.path.join(d, "identity"))
                     if os.path.isfile(os.path.join(d, "identity"))
                     else DEFAULT_IDENTITY)
            iss = (read(os.path.join(d, "issuer"))
                   if os.path.isfile(os.path.join(d, "issuer"))
                   else DEFAULT_ISSUER)
            argv += ["--certificate-identity", ident,
                     "--certificate-oidc-issuer", iss]
        tr = os.path.join(d, "trusted_root.json")
        if os.path.isfile(tr):
            argv += ["--trusted-root", tr]
        art = os.path.join(d, "artifact")
        if not os.path.isfile(art):
            art = os.path.join(root, "a.txt")
        with open(art, "rb") as f:
            digest = "sha256:" + hashlib.sha256(f.read()).hexdigest()
        must_fail = case.endswith("fail")
        for form in (art, digest):
            r = subprocess.run(argv + [form], capture_output=True,
                               text=True, timeout=60)
            err = r.stderr.strip().splitlines()
            if not must_fail:
                good = r.returncode == 0 and not err
            else:
                step, sub = EXPECTED[case]
                where = tr if step == "trust-root" else bundle
                prefix = "provgate: verify-bundle: %s: %s: " % (where, step)
                good = (r.returncode == 1 and len(err) == 1
                        and err[0].startswith(prefix) and sub in err[0])
            if good:
                ok += 1
            else:
                bad += 1
                print("FAIL %s [%s]: rc=%d stderr=%r" % (
                    case, "digest" if form == digest else "path",
                    r.returncode, r.stderr.strip()))
    print("conformance: %d/%d results as expected (%d cases x 2 forms)" % (
        ok, ok + bad, len(cases)))
    return 1 if bad or ok != 2 * len(cases) else 0


if __name__ == "__main__":
    sys.exit(main())
