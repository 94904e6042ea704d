/* cache/datafile.c — checks state.lmdb/data.mdb before LMDB maps it.
 *
 * LMDB trusts its file: it maps it and follows page numbers, node offsets
 * and sizes read from it.  A truncated file makes the first read of a
 * missing page fault (SIGBUS); a damaged node offset or size makes a read
 * run off the end of the file (SIGBUS) or of the map (SIGSEGV).  So before
 * the map exists, this file reads the structure itself, with pread, and
 * refuses what LMDB could not survive (issue 10 item 3):
 *  - both meta pages: magic, format version, page size, roots and last
 *    page, and a file that holds every page up to the last page;
 *  - the newest meta's trees (the free list, the main database and every
 *    named database it lists), every branch and leaf page once: its page
 *    number and kind, its bounds (lower/upper), every node inside the page,
 *    every child and overflow page within the file, no page reached twice,
 *    a bounded depth, and no kind of database provgate never creates.
 * Value bytes are not read (a damaged JSON value is the parsers' business:
 * they refuse it); free-list values get their length checked, as LMDB
 * reads them in place.  The cost is one read per branch or leaf page and
 * one 16-byte read per overflow value: milliseconds for a cache of GiBs,
 * whose bytes are mostly overflow pages.
 *
 * The layout is LMDB 0.9's on-disk format, 64-bit (lmdb's MDB_page,
 * MDB_node, MDB_meta, MDB_db); the format version in the meta page says
 * which, and any other version is refused.
 *
 * Owns: nothing past the call.  Runs on: start-up, the CLI.
 * Spec: design §8; issue 10 item 3.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache_int.h"

/* MDB_page header (PAGEHDRSZ 16). */
#define PG_HDR          16
#define PG_FLAGS        10          /* uint16 */
#define PG_LOWER        12          /* uint16 (overflow: uint32 pages) */
#define PG_UPPER        14          /* uint16 */
#define P_BRANCH        0x01
#define P_LEAF          0x02
#define P_OVERFLOW      0x04
#define P_DIRTY         0x10
#define P_KEEP          0x8000
/* MDB_node (NODESIZE 8): lo, hi, flags, ksize, then key and data. */
#define NODE_HDR        8
#define F_BIGDATA       0x01
#define F_SUBDATA       0x02
#define F_DUPDATA       0x04
/* MDB_db (48 bytes) as a leaf value or inside the meta. */
#define DB_LEN          48
#define DB_FLAGS        4           /* uint16 */
#define DB_ROOT         40
#define DB_DUP_FLAGS    0x74        /* DUPSORT, DUPFIXED, INTEGERDUP,
                                       REVERSEDUP: never created here */
/* MDB_meta, after the page header. */
#define META_MAGIC      0           /* uint32 0xBEEFC0DE */
#define META_VERSION    4           /* uint32 1 */
#define META_FREE_DB    24          /* MDB_db of the free list */
#define META_PSIZE      24          /* its md_pad: the page size */
#define META_MAIN_DB    72          /* MDB_db of the main database */
#define META_LAST_PG    120
#define META_TXNID      128
#define META_LEN        136
#define LMDB_MAGIC      0xBEEFC0DEu
#define LMDB_VERSION    1u
#define NO_PAGE         UINT64_MAX  /* P_INVALID: an empty tree */
#define MAX_DEPTH       32          /* 2^32 pages at fan-out 2 */

enum tree_kind { TREE_FREE, TREE_MAIN, TREE_NAMED };

struct walk {
    int fd;
    uint32_t ps;
    uint64_t last;
    unsigned char *seen;            /* bit per page */
    char why[120];
};

static uint16_t
le16(const unsigned char *p)
{
    return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t
le32(const unsigned char *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
        | (uint32_t) p[3] << 24;
}

static uint64_t
le64(const unsigned char *p)
{
    return (uint64_t) le32(p) | (uint64_t) le32(p + 4) << 32;
}

static int
bad(struct walk *w, const char *fmt, unsigned long long a,
    unsigned long long b)
{
    snprintf(w->why, sizeof(w->why), fmt, a, b);
    return -1;
}

static int
read_at(struct walk *w, void *buf, size_t len, uint64_t off)
{
    ssize_t n;

    do {
        n = pread(w->fd, buf, len, (off_t) off);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t) len) {
        return bad(w, "cannot read %llu bytes at offset %llu",
            (unsigned long long) len, (unsigned long long) off);
    }
    return 0;
}

/* An overflow value of dsize bytes at page ov; for the free list, its
 * count (first 8 bytes) must fit in it. */
static int
check_overflow(struct walk *w, uint64_t ov, uint64_t dsize,
    enum tree_kind kind)
{
    unsigned char h[PG_HDR + 8];
    uint32_t pages;

    if (ov < 2 || ov > w->last) {
        return bad(w, "overflow page %llu beyond the last page %llu", ov,
            w->last);
    }
    if (read_at(w, h, sizeof(h), ov * w->ps) != 0) {
        return -1;
    }
    pages = le32(h + PG_LOWER);
    if (le64(h) != ov || !(le16(h + PG_FLAGS) & P_OVERFLOW) || pages == 0
        || ov + pages - 1 > w->last
        || dsize > (uint64_t) pages * w->ps - PG_HDR)
    {
        return bad(w, "overflow page %llu is not the %llu-byte value its "
            "node names", ov, dsize);
    }
    if (kind == TREE_FREE && (dsize < 8 || le64(h + PG_HDR) >= dsize / 8)) {
        return bad(w, "free list at page %llu counts more pages than its "
            "%llu bytes hold", ov, dsize);
    }
    return 0;
}

static int walk_page(struct walk *w, uint64_t pgno, enum tree_kind kind,
    int depth);

/* A leaf node's value: in the page, on overflow pages, or a named
 * database (in the main database only). */
static int
check_leaf_value(struct walk *w, const unsigned char *pg, size_t at,
    uint64_t pgno, enum tree_kind kind, int depth)
{
    const unsigned char *n = pg + at;
    uint16_t nflags = le16(n + 4), ksize = le16(n + 6);
    uint64_t dsize = (uint64_t) le16(n) | (uint64_t) le16(n + 2) << 16;
    size_t data = at + NODE_HDR + ksize;

    if (nflags & F_DUPDATA) {
        return bad(w, "page %llu holds duplicate data (flags %llu), which "
            "provgate never writes", pgno, nflags);
    }
    if (nflags & F_BIGDATA) {
        if (data + 8 > w->ps) {
            return bad(w, "page %llu: a node runs past the page (%llu)",
                pgno, (unsigned long long) data);
        }
        return check_overflow(w, le64(pg + data), dsize, kind);
    }
    if (data + dsize > w->ps) {
        return bad(w, "page %llu: a value runs past the page (%llu bytes)",
            pgno, dsize);
    }
    if (kind == TREE_FREE && (dsize < 8 || le64(pg + data) >= dsize / 8)) {
        return bad(w, "page %llu: a free list counts more pages than its "
            "%llu bytes hold", pgno, dsize);
    }
    if (nflags & F_SUBDATA) {
        uint64_t root;

        if (kind != TREE_MAIN || dsize != DB_LEN) {
            return bad(w, "page %llu: a database record of %llu bytes in "
                "the wrong place", pgno, dsize);
        }
        if (le16(pg + data + DB_FLAGS) & DB_DUP_FLAGS) {
            return bad(w, "page %llu: a database with flags %llu, which "
                "provgate never creates", pgno,
                le16(pg + data + DB_FLAGS));
        }
        root = le64(pg + data + DB_ROOT);
        if (root != NO_PAGE) {
            return walk_page(w, root, TREE_NAMED, depth + 1);
        }
    }
    return 0;
}

static int
walk_page(struct walk *w, uint64_t pgno, enum tree_kind kind, int depth)
{
    unsigned char *pg;
    uint16_t flags, lower, upper;
    unsigned i, nkeys;
    int rc = 0;

    if (depth > MAX_DEPTH) {
        return bad(w, "trees nested deeper than %llu levels (page %llu)",
            MAX_DEPTH, pgno);
    }
    if (pgno < 2 || pgno > w->last) {
        return bad(w, "page %llu beyond the last page %llu", pgno, w->last);
    }
    if (w->seen[pgno / 8] & (1u << (pgno % 8))) {
        return bad(w, "page %llu is reached twice (%llu)", pgno, depth);
    }
    w->seen[pgno / 8] |= (unsigned char) (1u << (pgno % 8));
    pg = malloc(w->ps);
    if (pg == NULL) {
        return bad(w, "out of memory (page %llu, %llu bytes)", pgno, w->ps);
    }
    if (read_at(w, pg, w->ps, pgno * w->ps) != 0) {
        free(pg);
        return -1;
    }
    flags = (uint16_t) (le16(pg + PG_FLAGS) & ~(P_DIRTY | P_KEEP));
    lower = le16(pg + PG_LOWER);
    upper = le16(pg + PG_UPPER);
    if (le64(pg) != pgno) {
        rc = bad(w, "page %llu says it is page %llu", pgno, le64(pg));
    } else if (flags != P_BRANCH && flags != P_LEAF) {
        rc = bad(w, "page %llu has kind %llu, not a branch or leaf", pgno,
            flags);
    } else if (lower < PG_HDR || (lower & 1) || lower > upper
        || upper > w->ps || (flags == P_BRANCH && lower == PG_HDR))
    {
        rc = bad(w, "page %llu has bounds %llu", pgno,
            (unsigned long long) lower << 16 | upper);
    }
    nkeys = (unsigned) (lower - PG_HDR) / 2;
    for (i = 0; rc == 0 && i < nkeys; i++) {
        size_t at = le16(pg + PG_HDR + 2 * i);

        if (at < upper || at + NODE_HDR > w->ps
            || at + NODE_HDR + le16(pg + at + 6) > w->ps)
        {
            rc = bad(w, "page %llu: node %llu lies outside the page", pgno,
                i);
        } else if (flags == P_BRANCH) {
            uint64_t child = (uint64_t) le16(pg + at)
                | (uint64_t) le16(pg + at + 2) << 16
                | (uint64_t) le16(pg + at + 4) << 32;

            rc = walk_page(w, child, kind, depth + 1);
        } else {
            rc = check_leaf_value(w, pg, at, pgno, kind, depth);
        }
    }
    free(pg);
    return rc;
}

/* Meta page i; 0 and its fields, or -1 with why. */
static int
read_meta(struct walk *w, int i, uint64_t fsize, uint32_t *ps,
    uint64_t *last, uint64_t *txnid, uint64_t *roots)
{
    unsigned char b[PG_HDR + META_LEN];
    const unsigned char *m = b + PG_HDR;
    uint32_t v;

    if (read_at(w, b, sizeof(b), (uint64_t) i * w->ps) != 0) {
        return bad(w, "meta page %llu cannot be read (%llu bytes)", i,
            fsize);
    }
    if (le32(m + META_MAGIC) != LMDB_MAGIC) {
        return bad(w, "meta page %llu has no LMDB magic%.0llu", i, 0);
    }
    v = le32(m + META_VERSION);
    if (v != LMDB_VERSION) {
        return bad(w, "meta page %llu has format version %llu", i, v);
    }
    *ps = le32(m + META_PSIZE);
    if (*ps < 512 || *ps > 65536 || (*ps & (*ps - 1)) != 0
        || (i > 0 && *ps != w->ps))
    {
        return bad(w, "meta page %llu has page size %llu", i, *ps);
    }
    *last = le64(m + META_LAST_PG);
    *txnid = le64(m + META_TXNID);
    roots[0] = le64(m + META_FREE_DB + DB_ROOT);
    roots[1] = le64(m + META_MAIN_DB + DB_ROOT);
    if (*last < 1 || *last >= UINT64_MAX / *ps / 2) {
        return bad(w, "meta page %llu names last page %llu", i, *last);
    }
    if ((*last + 1) * *ps > fsize) {
        return bad(w, "%llu bytes, its meta pages need %llu: truncated",
            fsize, (*last + 1) * *ps);
    }
    if ((roots[0] != NO_PAGE && (roots[0] < 2 || roots[0] > *last))
        || (roots[1] != NO_PAGE && (roots[1] < 2 || roots[1] > *last)))
    {
        return bad(w, "meta page %llu names a root beyond its last page "
            "%llu", i, *last);
    }
    return 0;
}

static int
check_fd(struct walk *w, uint64_t fsize)
{
    uint32_t ps0, ps1;
    uint64_t last0, last1, tx0, tx1, r0[2], r1[2], *roots;

    w->ps = 0;
    if (read_meta(w, 0, fsize, &ps0, &last0, &tx0, r0) != 0) {
        return -1;
    }
    w->ps = ps0;
    if (read_meta(w, 1, fsize, &ps1, &last1, &tx1, r1) != 0) {
        return -1;
    }
    /* LMDB reads the newest meta: walk its trees. */
    w->last = tx1 > tx0 ? last1 : last0;
    roots = tx1 > tx0 ? r1 : r0;
    w->seen = calloc((size_t) (w->last / 8 + 1), 1);
    if (w->seen == NULL) {
        return bad(w, "out of memory (%llu pages)%.0llu", w->last, 0);
    }
    if ((roots[0] != NO_PAGE && walk_page(w, roots[0], TREE_FREE, 0) != 0)
        || (roots[1] != NO_PAGE
            && walk_page(w, roots[1], TREE_MAIN, 0) != 0))
    {
        return -1;
    }
    return 0;
}

int
pg_cache_check_file(const char *env_dir, struct pg_cache_err *err)
{
    char path[PG_CACHE_MAX_DIR + 32];
    struct stat st;
    struct walk w;
    int rc;

    memset(&w, 0, sizeof(w));
    snprintf(path, sizeof(path), "%s/data.mdb", env_dir);
    w.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (w.fd < 0) {
        if (errno == ENOENT) {
            return PG_CACHE_OK;
        }
        return pg_cache_fail(err, PG_CACHE_EIO, "open", "%.200s: %s", path,
            strerror(errno));
    }
    if (fstat(w.fd, &st) != 0) {
        rc = errno;
        close(w.fd);
        return pg_cache_fail(err, PG_CACHE_EIO, "open", "%.200s: %s", path,
            strerror(rc));
    }
    rc = st.st_size == 0 ? 0 : check_fd(&w, (uint64_t) st.st_size);
    free(w.seen);
    close(w.fd);
    if (rc != 0) {
        return pg_cache_fail(err, PG_CACHE_EDAMAGED, "open",
            "%.200s: damaged (%s)", path, w.why);
    }
    return PG_CACHE_OK;
}
