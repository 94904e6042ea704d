/* policy/rules.c — from verification results to a decision per file.
 *
 * One pure function, pg_rules_decide(), applies design §7 to all files of a
 * project at once (the rules need the whole list: the TOFU pin comes from
 * the earliest-uploaded attested file, and a downgrade is a file without
 * provenance uploaded after the first attested upload).  In order:
 *
 *  1. mode off: nothing is decided or annotated.
 *  2. A file the index gives no sha256 for, and provenance that does not
 *     verify, are rejected in every other mode.
 *  3. The accepted publishers: require → the policy's publisher lines;
 *     tofu → the pin set plus any publisher lines.  A tofu project with
 *     neither is pinned now to the publisher of its earliest-uploaded
 *     verified file (upload-time, then index order), unless a file whose
 *     provenance is still pending comes before it: then pinning waits and
 *     the project's attested files stay pending (verified before serving).
 *  4. tofu / require: a verified file must match an accepted publisher.  A
 *     file without provenance in a pinned or required project is a
 *     downgrade when uploaded after the first attested upload (the earliest
 *     of the listed attested files and of the pin's own record, so stripping
 *     every provenance key from a page does not make files "legacy"); older
 *     ones are legacy (allowed unless legacy = deny); with no attested
 *     upload known at all, require (or an approved-only pin) rejects them.
 *     An unknown upload time never counts as old.
 *  5. allow: everything but invalid provenance is allowed.
 *  6. min_age holds back allowed or pending files uploaded less than
 *     min_age before `now` (or at an unknown time).
 *  Rejected files get the project's on_violation as their decision.
 *
 * Owns: nothing.  Borrows: its arguments for the call.  Runs on: either
 * (no I/O, no clock, no globals).  Spec: design §7, issue 4 item 4.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pg_policy.h"

#define RULES_MAX_ACCEPTED (PG_POLICY_MAX_PUBLISHERS + PG_PINS_MAX_PUBLISHERS)

struct rules_ctx {
    const char *project;
    const struct pg_policy_rules *rules;
    const struct pg_publisher *accepted[RULES_MAX_ACCEPTED + 1];
    size_t n_accepted;
    int pinned;             /* downgrades count (tofu pinned, or require) */
    int deferred;           /* tofu pin waits for a pending earlier file */
    int64_t first_attested; /* -1 unknown */
    char expected[PG_RULES_MAX_REASON];
};

const char *
pg_rules_status_name(enum pg_file_status s)
{
    switch (s) {
    case PG_FS_NONE: return "none";
    case PG_FS_VERIFIED: return "verified";
    case PG_FS_UNATTESTED: return "unattested";
    case PG_FS_PENDING: return "pending";
    case PG_FS_REJECTED: return "rejected";
    }
    return "?";
}

const char *
pg_rules_decision_name(enum pg_decision d)
{
    switch (d) {
    case PG_DEC_NONE: return "none";
    case PG_DEC_ALLOW: return "allow";
    case PG_DEC_PENDING: return "pending";
    case PG_DEC_YANK: return "yank";
    case PG_DEC_HIDE: return "hide";
    case PG_DEC_DENY: return "deny";
    }
    return "?";
}

const char *
pg_rules_why_name(enum pg_rules_why w)
{
    switch (w) {
    case PG_WHY_NONE: return "none";
    case PG_WHY_INVALID: return "invalid";
    case PG_WHY_PUBLISHER: return "publisher";
    case PG_WHY_DOWNGRADE: return "downgrade";
    case PG_WHY_LEGACY: return "legacy";
    case PG_WHY_UNATTESTED: return "unattested";
    case PG_WHY_MIN_AGE: return "min_age";
    case PG_WHY_PIN_STORE: return "pin_store_unavailable";
    case PG_WHY_NO_SHA256: return "no_sha256";
    }
    return "?";
}

int
pg_rules_refused(enum pg_decision d)
{
    switch (d) {
    case PG_DEC_YANK:
    case PG_DEC_HIDE:
    case PG_DEC_DENY:
        return 1;
    case PG_DEC_NONE:
    case PG_DEC_ALLOW:
    case PG_DEC_PENDING:
        return 0;
    }
    return 0;
}

static enum pg_decision
violation_decision(enum pg_policy_violation v)
{
    switch (v) {
    case PG_VIOL_HIDE: return PG_DEC_HIDE;
    case PG_VIOL_DENY: return PG_DEC_DENY;
    case PG_VIOL_YANK:
    case PG_VIOL_UNSET:
        return PG_DEC_YANK;
    }
    return PG_DEC_YANK;
}

static void
fmt_date(int64_t t, char *buf, size_t len)
{
    struct tm tm;
    time_t tt = (time_t) t;

    if (gmtime_r(&tt, &tm) == NULL
        || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    {
        snprintf(buf, len, "?");
    }
}

static void
fmt_duration(int64_t s, char *buf, size_t len)
{
    if (s % (7 * 86400) == 0) {
        snprintf(buf, len, "%lldw", (long long) (s / (7 * 86400)));
    } else if (s % 86400 == 0) {
        snprintf(buf, len, "%lldd", (long long) (s / 86400));
    } else if (s % 3600 == 0) {
        snprintf(buf, len, "%lldh", (long long) (s / 3600));
    } else if (s % 60 == 0) {
        snprintf(buf, len, "%lldm", (long long) (s / 60));
    } else {
        snprintf(buf, len, "%llds", (long long) s);
    }
}

static void reasonf(struct pg_rules_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The reason, cut at PG_RULES_MAX_REASON - 1 bytes if it must be. */
static void
reasonf(struct pg_rules_out *o, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(o->reason, sizeof(o->reason), fmt, ap);
    va_end(ap);
}

static void
reject(struct rules_ctx *ctx, struct pg_rules_out *o, enum pg_rules_why why)
{
    o->status = PG_FS_REJECTED;
    o->decision = violation_decision(ctx->rules->on_violation);
    o->why = why;
}

/* Earlier in upload order: known times first, by time, then index. */
static int
earlier(const struct pg_rules_file *files, size_t a, size_t b)
{
    int64_t ta = files[a].upload_time, tb = files[b].upload_time;

    if ((ta < 0) != (tb < 0)) {
        return ta >= 0;
    }
    if (ta >= 0 && ta != tb) {
        return ta < tb;
    }
    return a < b;
}

static void
accepted_add(struct rules_ctx *ctx, const struct pg_publisher *p)
{
    if (ctx->n_accepted < RULES_MAX_ACCEPTED) {
        ctx->accepted[ctx->n_accepted++] = p;
    }
}

/* Step 3 for tofu: pin from the earliest verified file, or wait. */
static void
tofu_pin(struct rules_ctx *ctx, const struct pg_rules_file *files, size_t n,
    struct pg_rules_pin *newpin)
{
    size_t i, best = n;

    for (i = 0; i < n; i++) {
        if (files[i].vres != PG_VRES_VERIFIED
            && files[i].vres != PG_VRES_PENDING)
        {
            continue;
        }
        if (best == n || earlier(files, i, best)) {
            best = i;
        }
    }
    if (best == n) {
        return;                     /* nothing attested that could pin */
    }
    ctx->pinned = 1;
    if (files[best].vres == PG_VRES_PENDING) {
        ctx->deferred = 1;
        return;
    }
    newpin->needed = 1;
    newpin->file = best;
    newpin->publisher = files[best].publisher;
    accepted_add(ctx, &newpin->publisher);
}

static int
is_accepted(const struct rules_ctx *ctx, const struct pg_publisher *seen)
{
    size_t i;

    for (i = 0; i < ctx->n_accepted; i++) {
        if (pg_publisher_match(ctx->accepted[i], seen)) {
            return 1;
        }
    }
    return 0;
}

static void
decide_unattested(struct rules_ctx *ctx, const struct pg_rules_file *f,
    struct pg_rules_out *o)
{
    char date[32];

    o->status = PG_FS_UNATTESTED;
    o->decision = PG_DEC_ALLOW;
    if (!ctx->pinned) {
        return;
    }
    if (ctx->first_attested < 0) {
        reject(ctx, o, PG_WHY_UNATTESTED);
        reasonf(o, "provgate: %s has no "
            "provenance; %s accepts only %s", f->filename, ctx->project,
            ctx->expected[0] != '\0' ? ctx->expected : "attested files");
        return;
    }
    if (f->upload_time < 0) {
        reject(ctx, o, PG_WHY_DOWNGRADE);
        reasonf(o, "provgate: %s has no "
            "provenance and no upload time, but %s publishes with "
            "provenance (downgrade)", f->filename, ctx->project);
        return;
    }
    if (f->upload_time > ctx->first_attested) {
        fmt_date(ctx->first_attested, date, sizeof(date));
        reject(ctx, o, PG_WHY_DOWNGRADE);
        reasonf(o, "provgate: %s has no "
            "provenance, but %s publishes with provenance since %s "
            "(downgrade)", f->filename, ctx->project, date);
        return;
    }
    if (ctx->rules->legacy == PG_LEGACY_DENY) {
        reject(ctx, o, PG_WHY_LEGACY);
        reasonf(o, "provgate: %s has no "
            "provenance (legacy = deny for %s)", f->filename, ctx->project);
    }
}

static void
decide_one(struct rules_ctx *ctx, const struct pg_rules_file *f,
    struct pg_rules_out *o)
{
    char seen[PG_RULES_MAX_REASON];
    enum pg_policy_mode mode = ctx->rules->mode;

    if (mode != PG_MODE_ALLOW) {
        snprintf(o->expected, sizeof(o->expected), "%s", ctx->expected);
    }
    if (f->no_sha256) {
        /* files.c serves a file only when its sha256 equals the index's:
         * without one it would only ever 404, so say why instead */
        reject(ctx, o, PG_WHY_NO_SHA256);
        reasonf(o, "provgate: the index gives no sha256 for %s, so it "
            "cannot be checked and is never served", f->filename);
        return;
    }
    switch (f->vres) {
    case PG_VRES_INVALID:
        reject(ctx, o, PG_WHY_INVALID);
        reasonf(o, "provgate: provenance of %s "
            "does not verify: %s", f->filename, f->invalid_reason != NULL
            && f->invalid_reason[0] != '\0' ? f->invalid_reason : "invalid");
        return;
    case PG_VRES_PENDING:
        o->status = PG_FS_PENDING;
        o->decision = PG_DEC_PENDING;
        reasonf(o, "provgate: provenance of %s "
            "is not verified yet", f->filename);
        return;
    case PG_VRES_NONE:
        if (mode == PG_MODE_ALLOW) {
            o->status = PG_FS_UNATTESTED;
            o->decision = PG_DEC_ALLOW;
            return;
        }
        decide_unattested(ctx, f, o);
        return;
    case PG_VRES_VERIFIED:
        o->status = PG_FS_VERIFIED;
        o->decision = PG_DEC_ALLOW;
        if (mode == PG_MODE_ALLOW) {
            return;
        }
        if (ctx->deferred) {
            o->decision = PG_DEC_PENDING;
            reasonf(o, "provgate: %s waits for "
                "an earlier file's provenance to pin %s", f->filename,
                ctx->project);
            return;
        }
        if (is_accepted(ctx, &f->publisher)) {
            return;
        }
        pg_publisher_format(&f->publisher, seen, sizeof(seen));
        reject(ctx, o, PG_WHY_PUBLISHER);
        reasonf(o, "provgate: publisher %s is "
            "not accepted for %s", seen, ctx->project);
        return;
    }
}

static void
hold_recent(struct rules_ctx *ctx, const struct pg_rules_file *f,
    struct pg_rules_out *o, int64_t now)
{
    char d[32];
    int64_t min_age = ctx->rules->min_age_s;

    if (min_age <= 0
        || (o->decision != PG_DEC_ALLOW && o->decision != PG_DEC_PENDING))
    {
        return;
    }
    if (f->upload_time >= 0 && now - f->upload_time >= min_age) {
        return;
    }
    fmt_duration(min_age, d, sizeof(d));
    o->decision = violation_decision(ctx->rules->on_violation);
    o->why = PG_WHY_MIN_AGE;
    if (f->upload_time < 0) {
        reasonf(o, "provgate: %s has no upload "
            "time (min_age = %s for %s)", f->filename, d, ctx->project);
    } else {
        reasonf(o, "provgate: %s was uploaded "
            "less than %s ago (min_age for %s)", f->filename, d,
            ctx->project);
    }
}

void
pg_rules_decide(const char *project, const struct pg_policy_rules *rules,
    const struct pg_pin_set *pins, const struct pg_rules_file *files,
    size_t n, int64_t now, struct pg_rules_out *out,
    struct pg_rules_pin *newpin)
{
    struct rules_ctx ctx;
    size_t i;
    int64_t since;

    memset(newpin, 0, sizeof(*newpin));
    memset(out, 0, n * sizeof(*out));
    if (rules->mode == PG_MODE_OFF) {
        return;
    }
    memset(&ctx, 0, sizeof(ctx));
    ctx.project = project;
    ctx.rules = rules;
    ctx.first_attested = -1;

    for (i = 0; i < n; i++) {
        if (files[i].vres != PG_VRES_NONE && files[i].upload_time >= 0
            && (ctx.first_attested < 0
                || files[i].upload_time < ctx.first_attested))
        {
            ctx.first_attested = files[i].upload_time;
        }
    }
    if (rules->mode == PG_MODE_REQUIRE) {
        for (i = 0; i < rules->n_publishers; i++) {
            accepted_add(&ctx, &rules->publishers[i]);
        }
        ctx.pinned = 1;
    } else if (rules->mode == PG_MODE_TOFU) {
        for (i = 0; pins != NULL && i < pins->n; i++) {
            accepted_add(&ctx, &pins->e[i].publisher);
        }
        for (i = 0; i < rules->n_publishers; i++) {
            accepted_add(&ctx, &rules->publishers[i]);
        }
        if (pins != NULL) {
            since = pg_pins_since(pins);
            if (since >= 0 && (ctx.first_attested < 0
                || since < ctx.first_attested))
            {
                ctx.first_attested = since;
            }
        }
        if (ctx.n_accepted > 0) {
            ctx.pinned = 1;
        } else {
            tofu_pin(&ctx, files, n, newpin);
        }
    }
    pg_publisher_format_list(ctx.accepted, ctx.n_accepted, ctx.expected,
        sizeof(ctx.expected));
    for (i = 0; i < n; i++) {
        decide_one(&ctx, &files[i], &out[i]);
        hold_recent(&ctx, &files[i], &out[i], now);
    }
}
