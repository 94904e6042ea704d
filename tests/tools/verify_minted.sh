#!/bin/sh
# tests/tools/verify_minted.sh — `provgate verify` on pg-mint output: good
# objects verify and print their publisher; each negative variant is
# rejected with exit 1 at the step that owns the broken check (the one-line
# error "provgate: verify: <file>: <step>: <reason>" is matched, not just
# the exit status).
#
#   verify_minted.sh PG_MINT PROVGATE WORK_DIR
#
# Needs nothing from ../shared: the root, the distribution and every object
# are made here.  Exit 0 = all as expected, 1 = a mismatch.
set -u
mint=$1
pg=$2
work=$3

rm -rf "$work"
mkdir -p "$work" || exit 1
root=$work/root
other=$work/other-root
"$mint" init "$root" || exit 1
"$mint" init "$other" || exit 1
tr=$root/trusted_root.json
dist=$work/demo_pkg-1.0.tar.gz
head -c 8192 /dev/urandom >"$dist"
sha=$(sha256sum "$dist" | cut -c1-64)
pub=github:acme/demo-pkg:release.yml

failures=0
n=0
obj=$work/obj.json

mint_obj() {
    if ! "$mint" "$@" -o "$obj"; then
        echo "FAIL: pg-mint $*"
        failures=$((failures + 1))
        return 1
    fi
}

# ok LABEL STDOUT_SUBSTRING -- VERIFY_ARGS... ; the object is $obj
ok() {
    label=$1; want=$2; shift 3
    n=$((n + 1))
    "$pg" verify "$@" >"$work/out" 2>"$work/err"
    rc=$?
    if [ "$rc" -eq 0 ] && grep -F -q -- "$want" "$work/out"; then
        echo "ok   $label: verified ($(head -n 1 "$work/out"))"
    else
        echo "FAIL $label: want exit 0 and '$want', got $rc:"
        cat "$work/out" "$work/err"
        failures=$((failures + 1))
    fi
}

# bad LABEL STEP_REGEX -- VERIFY_ARGS... ; STEP_REGEX is an ERE for <step>
bad() {
    label=$1; step=$2; shift 3
    n=$((n + 1))
    "$pg" verify "$@" >"$work/out" 2>"$work/err"
    rc=$?
    line=$(cat "$work/out" "$work/err" | grep '^provgate: verify: ' | head -n 1)
    if [ "$rc" -ne 1 ]; then
        echo "FAIL $label: want exit 1, got $rc:"
        cat "$work/out" "$work/err"
        failures=$((failures + 1))
    elif printf '%s\n' "$line" \
        | grep -E -q "^provgate: verify: [^:]*: ($step): ."; then
        echo "ok   $label: rejected: ${line#provgate: verify: }"
    else
        echo "FAIL $label: rejected at the wrong step (want $step):"
        cat "$work/out" "$work/err"
        failures=$((failures + 1))
    fi
}

M="provenance --root $root --file $dist"

# ---- accepted
mint_obj $M --publisher $pub &&
ok "github provenance" "acme/demo-pkg" -- \
    --trusted-root "$tr" --provenance "$obj" "$dist"
ok "github, expected publisher, owner/repo case differs" "acme/demo-pkg" -- \
    --trusted-root "$tr" --provenance "$obj" \
    --publisher github:ACME/Demo-Pkg:release.yml "$dist"
ok "github, --sha256 and --name" "acme/demo-pkg" -- \
    --trusted-root "$tr" --provenance "$obj" --sha256 "$sha" \
    --name demo_pkg-1.0.tar.gz
mint_obj $M --slsa --publisher github:acme/demo-pkg:release.yml:pypi &&
ok "github + environment, publish + slsa" "acme/demo-pkg" -- \
    --trusted-root "$tr" --provenance "$obj" "$dist"
mint_obj $M --publisher gitlab:grp/sub/demo:ci/release.yml &&
ok "gitlab" "grp/sub/demo" -- \
    --trusted-root "$tr" --provenance "$obj" "$dist"
mint_obj $M --publisher google:rel@demo.iam.gserviceaccount.com &&
ok "google" "rel@demo.iam.gserviceaccount.com" -- \
    --trusted-root "$tr" --provenance "$obj" "$dist"
mint_obj attestation --root "$root" --file "$dist" --publisher $pub &&
ok "bare attestation + expected publisher" "acme/demo-pkg" -- \
    --trusted-root "$tr" --attestation "$obj" --publisher $pub "$dist"
mint_obj provenance --root "$root" --sha256 "$sha" \
    --name demo_pkg-1.0-py3-none-any.whl --publisher $pub &&
ok "wheel name equal after parsing" "acme/demo-pkg" -- \
    --trusted-root "$tr" --provenance "$obj" --sha256 "$sha" \
    --name Demo.Pkg-1.0.0-py3-none-any.whl
mint_obj $M --publisher $pub --time 1733354041 &&
ok "signed in the past (times from the log, never now)" "acme/demo-pkg" -- \
    --trusted-root "$tr" --provenance "$obj" "$dist"

# ---- rejected, each at its own step
# label | pg-mint flags | step (ERE over the step names of policy/sigstore
# and the PEP 740 layer: bundle chain sct identity time validity tlog set
# inclusion checkpoint signature key binding statement publisher)
while IFS='|' read -r label flags step; do
    [ -n "$label" ] || continue
    # shellcheck disable=SC2086
    mint_obj $M --publisher $pub $flags || continue
    bad "$label" "$step" -- --trusted-root "$tr" --provenance "$obj" "$dist"
done <<'EOF'
expired leaf (integrated time after notAfter)|--expired|chain|validity
leaf not yet valid at integrated time|--not-yet-valid|chain|validity
leaf from a CA not in the root|--untrusted-ca|chain
no SCT|--no-sct|sct
SCT signature invalid|--tamper-sct|sct
SCT from a CT log not in the root|--unknown-ctlog|sct
leaf without codeSigning EKU|--no-codesign|identity|bundle
P-384 leaf (PEP 740 v1 is P-256)|--leaf-p384|signature|key
certificate of another repository|--cert-publisher github:acme/other:r.yml|identity
certificate of another workflow|--cert-publisher github:acme/demo-pkg:o.yml|identity
google certificate for a github publisher|--cert-publisher google:x@d.com|identity
DSSE signature invalid|--tamper-signature|signature
log body payload hash mismatch|--body-mismatch|binding
SET invalid|--tamper-set|set
no inclusion promise (no verified time)|--no-promise|bundle|time
inclusion proof corrupted|--tamper-proof|inclusion
checkpoint signature invalid|--tamper-checkpoint|checkpoint
checkpoint key hint wrong|--bad-keyhint|checkpoint
entry from a log not in the root|--unknown-log|tlog
statement digest wrong|--wrong-digest|statement
statement subject name wrong|--subject-name other_pkg-1.0.tar.gz|statement
statement with two subjects|--two-subjects|statement
unknown predicate type|--predicate-type https://example.com/p/v1|statement
second attestation tampered|--slsa --tamper-signature|signature
EOF

mint_obj $M --publisher $pub &&
bad "expected publisher differs" "publisher|identity" -- \
    --trusted-root "$tr" --provenance "$obj" \
    --publisher github:acme/other:release.yml "$dist"
bad "object from another root" "tlog|chain" -- \
    --trusted-root "$other/trusted_root.json" --provenance "$obj" "$dist"
bad "right bytes, other file name" "statement" -- \
    --trusted-root "$tr" --provenance "$obj" --sha256 "$sha" \
    --name demo_pkg-1.1.tar.gz
head -c 100 /dev/urandom >"$work/other.tar.gz"
bad "right name, other bytes" "statement" -- \
    --trusted-root "$tr" --provenance "$obj" --name demo_pkg-1.0.tar.gz \
    "$work/other.tar.gz"

# two publishers in one object.  Issue 3 words the rule per bundle (each
# bundle against its own publisher, and the expected one if given), which
# sigstore-js + --publisher-policy and pypi-attestations follow; provgate
# fails closed instead (the verdict names one publisher, PyPI emits one
# bundle per upload), so without an expectation this is rejected too.
"$mint" provenance --root "$root" --file "$dist" --publisher $pub \
    -o "$work/a.json" &&
"$mint" provenance --root "$root" --file "$dist" \
    --publisher gitlab:grp/demo:.gitlab-ci.yml -o "$work/b.json" &&
"$mint" combine "$work/a.json" "$work/b.json" -o "$obj" || exit 1
bad "github + gitlab bundles in one object" "publisher" -- \
    --trusted-root "$tr" --provenance "$obj" "$dist"
bad "github + gitlab bundles, expected github" "publisher|identity" -- \
    --trusted-root "$tr" --provenance "$obj" --publisher $pub "$dist"

# ---- Sigstore bundles: provgate verify --bundle and the conformance CLI
san=https://github.com/acme/demo-pkg/.github/workflows/release.yml@refs/heads/main
iss=https://token.actions.githubusercontent.com
mint_obj bundle --root "$root" --file "$dist" --publisher $pub &&
ok "bundle, --identity/--issuer" "" -- --trusted-root "$tr" --bundle "$obj" \
    --identity "$san" --issuer "$iss" "$dist"
bad "bundle, other identity" "identity" -- --trusted-root "$tr" \
    --bundle "$obj" --identity "$san-x" --issuer "$iss" "$dist"
# verify-bundle: exit status only (conformance protocol), path and sha256:
vb() {
    label=$1; want=$2; shift 2
    n=$((n + 1))
    "$pg" verify-bundle "$@" >"$work/out" 2>&1
    rc=$?
    if { [ "$want" = 0 ] && [ "$rc" -eq 0 ]; } \
        || { [ "$want" != 0 ] && [ "$rc" -ne 0 ]; }; then
        echo "ok   verify-bundle $label: exit $rc"
    else
        echo "FAIL verify-bundle $label: exit $rc"; cat "$work/out"
        failures=$((failures + 1))
    fi
}
for art in "$dist" "sha256:$sha"; do
    vb "good ($art)" 0 --bundle "$obj" --certificate-identity "$san" \
        --certificate-oidc-issuer "$iss" --trusted-root "$tr" "$art"
    vb "wrong issuer ($art)" 1 --bundle "$obj" --certificate-identity \
        "$san" --certificate-oidc-issuer https://gitlab.com \
        --trusted-root "$tr" "$art"
done
mint_obj bundle --root "$root" --file "$dist" --publisher $pub --tamper-proof &&
vb "inclusion proof corrupted" 1 --bundle "$obj" --certificate-identity \
    "$san" --certificate-oidc-issuer "$iss" --trusted-root "$tr" "$dist"
mint_obj bundle --root "$root" --file "$dist" --publisher $pub --expired &&
vb "expired leaf" 1 --bundle "$obj" --certificate-identity "$san" \
    --certificate-oidc-issuer "$iss" --trusted-root "$tr" "$dist"

# ---- signing algorithms (Sigstore algorithm registry) through the CLI: a
# message signature by a P-384 / P-521 key signs the file's SHA-384 /
# SHA-512, which verify-bundle computes from the path; a bare sha256:
# digest cannot verify it, and the reason says so
# vbr LABEL REASON_SUBSTRING|"" VERIFY_BUNDLE_ARGS... ("" = must verify)
vbr() {
    label=$1; want=$2; shift 2
    n=$((n + 1))
    "$pg" verify-bundle "$@" >"$work/out" 2>&1
    rc=$?
    if { [ -z "$want" ] && [ "$rc" -eq 0 ]; } || { [ -n "$want" ] \
        && [ "$rc" -eq 1 ] && grep -F -q -- "$want" "$work/out"; }; then
        echo "ok   verify-bundle $label: exit $rc $(cat "$work/out")"
    else
        echo "FAIL verify-bundle $label: exit $rc, want '${want:-0}':"
        cat "$work/out"
        failures=$((failures + 1))
    fi
}
VB="--certificate-identity $san --certificate-oidc-issuer $iss"
VB="$VB --trusted-root $tr"
for alg in p384 p521 rsa2048; do
    mint_obj bundle --root "$root" --file "$dist" --publisher $pub \
        --leaf-key $alg --message || continue
    # shellcheck disable=SC2086
    vbr "$alg message signature, artifact path" "" --bundle "$obj" $VB \
        "$dist"
done
# shellcheck disable=SC2086
mint_obj bundle --root "$root" --file "$dist" --publisher $pub \
    --leaf-key p384 --message &&
vbr "p384 message signature, sha256: only" \
    "needs the artifact's SHA2_384, not only its SHA2_256" \
    --bundle "$obj" $VB "sha256:$sha"
# the same through provgate verify --bundle: DIST gives every digest
ok "p384 message bundle, verify DIST" "" -- --trusted-root "$tr" \
    --bundle "$obj" --identity "$san" --issuer "$iss" "$dist"
bad "p384 message bundle, verify --sha256 only" "signature" -- \
    --trusted-root "$tr" --bundle "$obj" --identity "$san" --issuer "$iss" \
    --sha256 "$sha" --name demo_pkg-1.0.tar.gz
# shellcheck disable=SC2086
mint_obj bundle --root "$root" --file "$dist" --publisher $pub \
    --leaf-key p384 --message --digest-label SHA2_256 &&
vbr "p384 key, messageDigest SHA2_256" \
    "signature: messageDigest is SHA2_256 but an ECDSA P-384 key signs" \
    --bundle "$obj" $VB "$dist"
# shellcheck disable=SC2086
mint_obj bundle --root "$root" --file "$dist" --publisher $pub \
    --leaf-key rsa1024 &&
vbr "RSA-1024 leaf" "signature: signing key (RSA 1024 bits) is not in" \
    --bundle "$obj" $VB "$dist"

# ---- usage errors exit 2
n=$((n + 1))
"$pg" verify --trusted-root "$tr" --provenance "$obj" >/dev/null 2>&1
rc=$?
if [ "$rc" -eq 2 ]; then
    echo "ok   missing DIST: usage error (2)"
else
    echo "FAIL missing DIST: want exit 2, got $rc"
    failures=$((failures + 1))
fi

echo "$n checks, $failures failures"
[ "$failures" -eq 0 ]
