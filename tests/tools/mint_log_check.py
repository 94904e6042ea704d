#!/usr/bin/env python3
"""tests/tools/mint_log_check.py — pg-mint's log stays one consistent tree.

Mints N provenance objects under one root with N concurrent pg-mint
processes, then checks, independently of pg-mint's code (hashlib only):
every entry's leaf hash is SHA-256(0x00 || canonicalizedBody) and its
inclusion proof (RFC 6962/9162 walk, sigstore-verification V5b) leads to
the rootHash, which equals the checkpoint's root and size; tree indices are
distinct and the global logIndex = offset + tree index; the final tree,
recomputed from rekor.leaves, contains every minted entry at its index.

Usage: mint_log_check.py PG_MINT WORK_DIR [N]
Exit 0 = consistent, 1 = not.
"""
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def walk(index, size, leaf, hashes):
    """RFC 9162 §2.1.3.2 inclusion verification; returns the root."""
    if index >= size:
        raise ValueError("index outside tree")
    fn, sn, r = index, size - 1, leaf
    for p in hashes:
        if sn == 0:
            raise ValueError("proof too long")
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("proof too short")
    return r


def mth(leaves):
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node(mth(leaves[:k]), mth(leaves[k:]))


def main():
    mint, work = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    root = os.path.join(work, "root")
    subprocess.run([mint, "init", root], check=True)
    dist = os.path.join(work, "pkg-1.0.tar.gz")
    with open(dist, "wb") as f:
        f.write(os.urandom(1000))
    procs = []
    for i in range(count):
        out = os.path.join(work, "p%d.json" % i)
        procs.append((out, subprocess.Popen(
            [mint, "provenance", "--root", root, "--file", dist,
             "--publisher", "github:o/r%d:release.yml" % i, "-o", out])))
    bad = 0
    for out, p in procs:
        if p.wait() != 0:
            print("FAIL pg-mint exited %d for %s" % (p.returncode, out))
            bad += 1
    if bad:
        return 1

    conf = dict(l.split("=", 1) for l in
                open(os.path.join(root, "rekor.conf")).read().splitlines())
    offset = int(conf["offset"])
    with open(os.path.join(root, "rekor.leaves"), "rb") as f:
        raw = f.read()
    leaves = [raw[i:i + 32] for i in range(0, len(raw), 32)]
    seen = set()
    for out, _ in procs:
        doc = json.load(open(out))
        e = doc["attestation_bundles"][0]["attestations"][0][
            "verification_material"]["transparency_entries"][0]
        body = base64.b64decode(e["canonicalizedBody"])
        leaf = hashlib.sha256(b"\x00" + body).digest()
        pr = e["inclusionProof"]
        idx, size = int(pr["logIndex"]), int(pr["treeSize"])
        hashes = [base64.b64decode(h) for h in pr["hashes"]]
        root_hash = base64.b64decode(pr["rootHash"])
        note = pr["checkpoint"]["envelope"].split("\n\n")[0].split("\n")
        problems = []
        if walk(idx, size, leaf, hashes) != root_hash:
            problems.append("proof does not lead to rootHash")
        if note[1] != str(size) or base64.b64decode(note[2]) != root_hash:
            problems.append("checkpoint size/root differ from the proof")
        if int(e["logIndex"]) != offset + idx:
            problems.append("logIndex != offset + tree index")
        if idx in seen:
            problems.append("tree index %d used twice" % idx)
        seen.add(idx)
        if idx >= len(leaves) or leaves[idx] != leaf:
            problems.append("leaf not in rekor.leaves at its index")
        elif mth(leaves[:size]) != root_hash:
            problems.append("rootHash is not the tree of that size")
        if problems:
            bad += 1
            print("FAIL %s (index %d, size %d): %s" % (
                out, idx, size, "; ".join(problems)))
        else:
            print("ok   %s: index %d of %d, proof of %d hashes" % (
                os.path.basename(out), idx, size, len(hashes)))
    print("%d entries, %d bad; final tree size %d" % (
        count, bad, len(leaves)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
