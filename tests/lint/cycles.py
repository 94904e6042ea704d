#!/usr/bin/env python3
"""tests/lint/cycles.py — proxy/'s import graph: no cycle over one folder,
no edge up the layers.

  cycles.py check  SRCDIR OBJDIR   fail (exit 1) on a violation
  cycles.py report SRCDIR OBJDIR   print the graph's cycles, exit 0
  cycles.py selftest               the checks on small graphs

A node is a .c file of SRCDIR/proxy (or a header no .c file owns).  A
edges to B when A includes B's header (foo_int.h, foo_priv.h or foo.h in
foo.c's folder is foo.c's) or calls or reads a name that B alone defines
(from `nm` on the object files under OBJDIR, the build's proxy/: an
undefined symbol of A's object defined globally by exactly one other).

The folders are layers, lowest first (LAYERS): util, core, index, ui (the
operator pages' renderers), http, http/threads, routes, proxy/ itself
(server.c, the composition root), cli.  A node may use its own folder and the folders below.  Two checks:
  * every strongly connected component (a cycle) lies in one folder;
  * no edge goes to a higher layer.
Each violation is printed with the edges that make it.
"""

import os
import re
import subprocess
import sys

LAYERS = ("util", "core", "index", "ui", "http", "http/threads", "routes",
          ".", "cli")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def folder(node):
    d = os.path.dirname(node)
    return d if d else "."


def rank(node):
    f = folder(node)
    return LAYERS.index(f) if f in LAYERS else -1


def proxy_files(src):
    out = []
    top = os.path.join(src, "proxy")
    for d, _, names in os.walk(top):
        for n in names:
            if n.endswith((".c", ".h")):
                out.append(os.path.relpath(os.path.join(d, n), top))
    return sorted(out)


def header_owner(h, files):
    """The .c file a header belongs to, or the header itself."""
    d, n = os.path.split(h)
    stem = re.sub(r"(_int|_priv)?\.h$", "", n)
    c = os.path.join(d, stem + ".c")
    return c if c in files else h


def include_edges(src, files):
    """{node: {node: reason}} from #include lines."""
    by_base = {}
    for f in files:
        by_base.setdefault(os.path.basename(f), []).append(f)
    fs = set(files)
    edges = {}
    for f in files:
        with open(os.path.join(src, "proxy", f), encoding="utf-8",
                  errors="replace") as fp:
            text = fp.read()
        a = header_owner(f, fs) if f.endswith(".h") else f
        for inc in INCLUDE.findall(text):
            hits = by_base.get(os.path.basename(inc), [])
            if len(hits) != 1:
                continue
            b = header_owner(hits[0], fs)
            if b != a:
                edges.setdefault(a, {}).setdefault(
                    b, "%s includes %s" % (f, hits[0]))
    return edges


def objects(obj, files):
    """{node: object path} for the .o files under OBJDIR whose source is a
    file of proxy/ today (stale objects of moved files are skipped)."""
    fs = set(files)
    out = {}
    for d, _, names in os.walk(obj):
        for n in names:
            if not n.endswith(".c.o"):
                continue
            p = os.path.join(d, n)
            rel = os.path.relpath(p, obj)
            rel = re.sub(r"CMakeFiles/[^/]+\.dir/", "", rel)[:-2]
            # A stale object of a source that moved to another target
            # may remain in the build tree: the newest one is the build's.
            if rel in fs and (rel not in out or os.path.getmtime(p)
                              > os.path.getmtime(out[rel])):
                out[rel] = p
    return out


def symbol_edges(objs, nm="nm"):
    defs, undefs = {}, {}
    for node, p in objs.items():
        r = subprocess.run([nm, p], capture_output=True, text=True,
                           check=True)
        for line in r.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "U":
                undefs.setdefault(node, set()).add(parts[1])
            elif len(parts) == 3 and parts[1] in "TDBRCVW":
                defs.setdefault(parts[2], set()).add(node)
    edges = {}
    for a, syms in undefs.items():
        for s in sorted(syms):
            owners = defs.get(s, set())
            if len(owners) == 1:
                b = next(iter(owners))
                if b != a:
                    edges.setdefault(a, {}).setdefault(
                        b, "%s uses %s" % (a, s))
    return edges


def merge(*gs):
    out = {}
    for g in gs:
        for a, bs in g.items():
            for b, why in bs.items():
                out.setdefault(a, {}).setdefault(b, why)
    return out


def sccs(g):
    """Tarjan's strongly connected components, iteratively."""
    nodes = sorted(set(g) | {b for bs in g.values() for b in bs})
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(g.get(root, {}))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(g.get(w, {})))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return sorted(out)


def violations(g):
    """(cycles, cross, upward): every cycle, those over more than one
    folder, and the edges to a higher layer, each with its reason."""
    cycles = sccs(g)
    cross = [c for c in cycles if len({folder(n) for n in c}) > 1]
    upward = []
    for a in sorted(g):
        for b in sorted(g[a]):
            if rank(a) >= 0 and rank(b) > rank(a):
                upward.append((a, b, g[a][b]))
    return cycles, cross, upward


def show(g, cycles, cross, upward):
    for c in cycles:
        tag = "CYCLE OVER FOLDERS" if c in cross else "cycle in one folder"
        print("%s (%d files): %s" % (tag, len(c), " ".join(c)))
        members = set(c)
        for a in c:
            for b in sorted(g.get(a, {})):
                if b in members:
                    print("    %s -> %s  (%s)" % (a, b, g[a][b]))
    for a, b, why in upward:
        print("UPWARD EDGE: %s -> %s  (%s)" % (a, b, why))
    if not cycles and not upward:
        print("no cycle, no upward edge")


def graph(src, obj):
    files = proxy_files(src)
    objs = objects(obj, files)
    if not objs:
        print("no object files of proxy/ under %s (build first)" % obj)
        sys.exit(2)
    return merge(include_edges(src, files), symbol_edges(objs))


def selftest():
    cases = [
        # name, edges, cycles over folders, upward edges
        ("layered graph passes",
         {"http/req.c": {"util/time.c": "x"},
          "routes/pages.c": {"http/req.c": "x"}}, 0, 0),
        ("cycle inside one folder is allowed",
         {"http/threads/front.c": {"http/threads/relay.c": "x"},
          "http/threads/relay.c": {"http/threads/front.c": "x"}}, 0, 0),
        ("cycle over two folders fails",
         {"http/req.c": {"routes/files.c": "x"},
          "routes/files.c": {"http/req.c": "x"}}, 1, 1),
        ("edge up the layers fails",
         {"core/log.c": {"http/req.c": "x"}}, 0, 1),
        ("long cycle through three folders fails",
         {"util/a.c": {"core/b.c": "x"}, "core/b.c": {"http/c.c": "x"},
          "http/c.c": {"util/a.c": "x"}}, 1, 2),
        ("composition root may use routes",
         {"server.c": {"routes/pages.c": "x"},
          "cli/cmd_serve.c": {"server.c": "x"}}, 0, 0),
    ]
    bad = 0
    for name, g, ncross, nup in cases:
        _, cross, up = violations(g)
        ok = len(cross) == ncross and len(up) == nup
        bad += not ok
        print("%s: %s" % ("ok" if ok else "FAIL", name))
    print("selftest: %d cases, %d failures" % (len(cases), bad))
    return 1 if bad else 0


def main(argv):
    if len(argv) == 2 and argv[1] == "selftest":
        return selftest()
    if len(argv) != 4 or argv[1] not in ("check", "report"):
        sys.stderr.write("usage: cycles.py check|report SRCDIR OBJDIR | "
                         "selftest\n")
        return 2
    g = graph(argv[2], argv[3])
    cycles, cross, upward = violations(g)
    show(g, cycles, cross, upward)
    if argv[1] == "check" and (cross or upward):
        print("%d cycle(s) over folders, %d upward edge(s)" %
              (len(cross), len(upward)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
