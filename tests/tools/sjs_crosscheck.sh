#!/bin/sh
# tests/tools/sjs_crosscheck.sh — the official sigstore-js verifier accepts
# what pg-mint mints under its private root, and rejects each negative
# variant it can detect, for the expected reason.
#
#   sjs_crosscheck.sh PG_MINT SHARED_DIR WORK_DIR
#
# Installs @sigstore/verify@3 @sigstore/bundle@4 @sigstore/protobuf-specs@0.5
# @sigstore/core@3 from the npm registry into WORK_DIR (once; reused while
# present), then runs SHARED_DIR/tools/sjs_verify.mjs.  Exit 0 = all as
# expected, 1 = a mismatch, 77 = skipped (no node/npm, no ../shared, or the
# install failed, e.g. offline).
#
# Not checked by sigstore-js (so not asserted here; provgate must reject
# them, see verify_minted.sh): --no-codesign (EKU), --leaf-p384 (PEP 740
# fixes P-256), --subject-name (sjs_verify compares only the digest).
set -u
mint=$1
shared=$2
work=$3
sjs=$shared/tools/sjs_verify.mjs

skip() { echo "SKIP: $*"; exit 77; }
command -v node >/dev/null 2>&1 || skip "node not found"
command -v npm >/dev/null 2>&1 || skip "npm not found"
[ -f "$sjs" ] || skip "$sjs not found (../shared missing)"

mkdir -p "$work" || exit 1
if [ ! -f "$work/node_modules/@sigstore/verify/package.json" ]; then
    echo "installing sigstore-js into $work (npm registry)"
    if ! timeout 180 npm install --prefix "$work" --no-audit --no-fund \
        --no-save --loglevel=error @sigstore/verify@3 @sigstore/bundle@4 \
        @sigstore/protobuf-specs@0.5 @sigstore/core@3 >"$work/npm.log" 2>&1
    then
        cat "$work/npm.log"
        rm -rf "$work/node_modules"
        skip "npm install failed (offline?)"
    fi
fi
SJS_NODE_MODULES=$work/node_modules
export SJS_NODE_MODULES

root=$work/root
other=$work/other-root
rm -rf "$root" "$other"
"$mint" init "$root" || exit 1
"$mint" init "$other" || exit 1
dist=$work/demo_pkg-1.0.tar.gz
head -c 4096 /dev/urandom >"$dist"
pub=github:acme/demo-pkg:release.yml

failures=0
n=0
# run_sjs ROOT OBJECT: a bare attestation carries no publisher, so the
# publisher policy applies to provenance objects only
run_sjs() {
    policy=--publisher-policy
    grep -q attestation_bundles "$2" || policy=
    node "$sjs" "$1" "$2" "$dist" $policy >"$work/out.txt" 2>&1
}
# accept LABEL PG_MINT_ARGS...
accept() {
    label=$1; shift
    n=$((n + 1))
    if ! "$mint" "$@" -o "$work/obj.json"; then
        echo "FAIL $label: pg-mint failed"; failures=$((failures + 1)); return
    fi
    if run_sjs "$root/trusted_root.json" "$work/obj.json"; then
        echo "ok   $label: accepted"
    else
        echo "FAIL $label: sigstore-js rejected a good object:"
        cat "$work/out.txt"; failures=$((failures + 1))
    fi
}
# reject LABEL REASON_SUBSTRING PG_MINT_ARGS...
reject() {
    label=$1; reason=$2; shift 2
    n=$((n + 1))
    if ! "$mint" "$@" -o "$work/obj.json"; then
        echo "FAIL $label: pg-mint failed"; failures=$((failures + 1)); return
    fi
    if run_sjs "$root/trusted_root.json" "$work/obj.json"; then
        echo "FAIL $label: sigstore-js ACCEPTED a broken object:"
        cat "$work/out.txt"; failures=$((failures + 1))
    elif grep -F -q -- "$reason" "$work/out.txt"; then
        echo "ok   $label: rejected ($reason)"
    else
        echo "FAIL $label: rejected for another reason (want '$reason'):"
        cat "$work/out.txt"; failures=$((failures + 1))
    fi
}

P="provenance --root $root --file $dist"
# shellcheck disable=SC2086
{
accept "github provenance" $P --publisher $pub
accept "github + environment, publish + slsa" $P --slsa \
    --publisher github:acme/demo-pkg:release.yml:pypi
accept "gitlab (subgroup, nested workflow path)" $P \
    --publisher gitlab:grp/sub/demo:ci/release.yml
accept "google service account" $P \
    --publisher google:release@demo.iam.gserviceaccount.com
accept "bare attestation" attestation --root "$root" --file "$dist" \
    --publisher $pub
accept "signed at a past time" $P --publisher $pub --time 1733354041
accept "sigstore bundle v0.3 (dsse)" bundle --root "$root" --file "$dist" \
    --publisher $pub
reject "sigstore bundle, tampered signature" "signature verification failed" \
    bundle --root "$root" --file "$dist" --publisher $pub --tamper-signature

# signing algorithms of the Sigstore algorithm registry, where sigstore-js
# verifies them: it checks every DSSE signature with the key's default
# digest (SHA-256; PKCS#1 v1.5 for RSA), so P-384/P-521 (SHA-384/512 by
# the registry) and RSA-PSS DSSE bundles are provgate's alone
# (tests/sigstore/test_algorithms.c)
B="bundle --root $root --file $dist --publisher $pub"
accept "Ed25519 leaf, DSSE" $B --leaf-key ed25519
accept "RSA-2048 PKCS#1 v1.5 leaf, DSSE" $B --leaf-key rsa2048
accept "RSA-3072 PKCS#1 v1.5 leaf, DSSE" $B --leaf-key rsa3072
accept "RSA-4096 PKCS#1 v1.5 leaf, DSSE" $B --leaf-key rsa4096
accept "P-256 message signature (hashedrekord)" $B --message
accept "RSA-2048 PKCS#1 v1.5 message signature" $B --leaf-key rsa2048 \
    --message
reject "P-256 message signature, tampered" "signature verification failed" \
    $B --message --tamper-signature
# P-384/SHA2_384 and P-521/SHA2_512 message signatures: sigstore-js
# verifies them (signature over the file with messageDigest's hash, the
# hashedrekord entry, the chain); only sjs_verify's own last comparison,
# messageDigest against the file's sha256, cannot hold for another hash
reject "P-384 message signature (SHA2_384), verified by sigstore-js" \
    "FAIL: messageDigest != sha256(DIST)" $B --leaf-key p384 --message
reject "P-521 message signature (SHA2_512), verified by sigstore-js" \
    "FAIL: messageDigest != sha256(DIST)" $B --leaf-key p521 --message
reject "P-384 message signature, tampered" "signature verification failed" \
    $B --leaf-key p384 --message --tamper-signature

reject "expired leaf" "not valid or expired at the specified date" \
    $P --publisher $pub --expired
reject "leaf not yet valid" "not valid or expired at the specified date" \
    $P --publisher $pub --not-yet-valid
reject "untrusted CA" "no valid certificate path found" \
    $P --publisher $pub --untrusted-ca
reject "no SCT" "expected 1 SCTs, got 0" $P --publisher $pub --no-sct
reject "tampered SCT" "SCT verification failed" \
    $P --publisher $pub --tamper-sct
reject "SCT from unknown CT log" "SCT verification failed" \
    $P --publisher $pub --unknown-ctlog
reject "tampered DSSE signature" "signature verification failed" \
    $P --publisher $pub --tamper-signature
reject "log body mismatch" "payload hash mismatch" \
    $P --publisher $pub --body-mismatch
reject "tampered SET" "inclusion promise could not be verified" \
    $P --publisher $pub --tamper-set
reject "no inclusion promise" "expected 1 timestamps, got 0" \
    $P --publisher $pub --no-promise
reject "tampered inclusion proof" "calculated root hash does not match" \
    $P --publisher $pub --tamper-proof
reject "tampered checkpoint" "invalid checkpoint signature" \
    $P --publisher $pub --tamper-checkpoint
reject "checkpoint key hint" "invalid checkpoint signature" \
    $P --publisher $pub --bad-keyhint
reject "unknown Rekor log" "inclusion promise could not be verified" \
    $P --publisher $pub --unknown-log
reject "wrong digest" "subject digest mismatch" \
    $P --publisher $pub --wrong-digest
reject "two subjects" "exactly one subject" \
    $P --publisher $pub --two-subjects
reject "unknown predicate type" "is not a PyPI attestation type" \
    $P --publisher $pub --predicate-type https://example.com/pred/v1
reject "certificate of another repository" "source repository URI" \
    $P --publisher $pub --cert-publisher github:acme/other:release.yml
reject "certificate of another workflow" "build config URI" \
    $P --publisher $pub --cert-publisher github:acme/demo-pkg:other.yml
reject "google certificate, github publisher" "issuer" \
    $P --publisher $pub --cert-publisher google:x@demo.iam.gserviceaccount.com
reject "one good, one tampered attestation" "[b0.a1] FAIL" \
    $P --publisher $pub --slsa --tamper-signature
}

# two publishers in one provenance object (pg-mint combine)
n=$((n + 1))
"$mint" provenance --root "$root" --file "$dist" --publisher $pub \
    -o "$work/a.json" &&
"$mint" provenance --root "$root" --file "$dist" \
    --publisher gitlab:grp/demo:.gitlab-ci.yml -o "$work/b.json" &&
"$mint" combine "$work/a.json" "$work/b.json" -o "$work/obj.json" || exit 1
if run_sjs "$root/trusted_root.json" "$work/obj.json" \
    && grep -q '^\[b1.a0\] OK' "$work/out.txt"; then
    echo "ok   github + gitlab bundles in one object: accepted"
else
    echo "FAIL github + gitlab bundles in one object:"; cat "$work/out.txt"
    failures=$((failures + 1))
fi
n=$((n + 1))
"$mint" provenance --root "$root" --file "$dist" --publisher $pub \
    --cert-publisher github:acme/other:release.yml -o "$work/b.json" &&
"$mint" combine "$work/a.json" "$work/b.json" -o "$work/obj.json" || exit 1
if run_sjs "$root/trusted_root.json" "$work/obj.json"; then
    echo "FAIL good + bad bundle: accepted"; cat "$work/out.txt"
    failures=$((failures + 1))
else
    echo "ok   good + bad bundle in one object: rejected"
fi

# good object, other private root: the chain must not verify
n=$((n + 1))
"$mint" provenance --root "$root" --file "$dist" --publisher $pub \
    -o "$work/obj.json" || exit 1
if run_sjs "$other/trusted_root.json" "$work/obj.json"; then
    echo "FAIL other root: sigstore-js accepted under an unrelated root"
    failures=$((failures + 1))
else
    echo "ok   other root: rejected"
fi

echo "$n checks, $failures failures"
[ "$failures" -eq 0 ]
