/* proxy/ui/ui_store.c — the operator pages' memory of the audit stream.
 *
 * Every audit event the server writes is also copied here (the audit
 * log's tap, see audit_int.h).  Two structures, both fixed in size:
 *
 *  - a ring of the most recent events with copies of their strings, for
 *    /-/events and the overview's lists.  It is bounded by count
 *    (PG_UI_STORE_MAX_EVENTS) and by the bytes of its strings
 *    (PG_UI_STORE_MAX_BYTES, each field cut at PG_UI_STORE_MAX_FIELD):
 *    the oldest events leave first;
 *  - hourly counts by kind for the last PG_UI_DAYS days (+1 for the
 *    partial first day), so the day bars and the 24-hour totals stay
 *    exact when the ring has forgotten the events themselves.
 *
 * Events arrive in time order from one process; one with a time outside
 * the counted window is kept in the ring and not counted.
 *
 * Owns: the copies.  Runs on: loop (one thread; no lock).  Spec: issue 15
 * item 1 (overview, events).
 */
#include <stdlib.h>
#include <string.h>

#include "ui_int.h"

#define NFIELDS 10
#define HOURS ((PG_UI_DAYS + 1) * 24)

struct slot {
    struct pg_ui_event ev;
    char *buf;                      /* every field, NUL-separated */
    size_t bytes;
};

struct hour {
    int64_t hour;                   /* t / 3600 of this bucket, -1 none */
    uint32_t n[PG_UI_NKINDS];
};

struct pg_ui_store {
    struct slot ring[PG_UI_STORE_MAX_EVENTS];
    size_t head;                    /* next slot written */
    size_t held;
    size_t bytes;
    uint64_t seen;
    struct hour hours[HOURS];
};

const char *
pg_ui_kind_name(enum pg_ui_kind k)
{
    switch (k) {
    case PG_UI_K_YANK: return "yank";
    case PG_UI_K_HIDE: return "hide";
    case PG_UI_K_DENY: return "deny";
    case PG_UI_K_PIN: return "pin";
    case PG_UI_K_APPROVE: return "approve";
    case PG_UI_K_FORGET: return "forget";
    case PG_UI_K_OTHER: return "other";
    case PG_UI_NKINDS: break;
    }
    return "?";
}

enum pg_ui_kind
pg_ui_kind_of(const char *event, const char *decision)
{
    if (event == NULL) {
        return PG_UI_K_OTHER;
    }
    if (strcmp(event, "reject") == 0 && decision != NULL) {
        if (strcmp(decision, "yank") == 0) {
            return PG_UI_K_YANK;
        }
        if (strcmp(decision, "hide") == 0) {
            return PG_UI_K_HIDE;
        }
        if (strcmp(decision, "deny") == 0) {
            return PG_UI_K_DENY;
        }
    }
    if (strcmp(event, "pin-create") == 0) {
        return PG_UI_K_PIN;
    }
    if (strcmp(event, "pin-approve") == 0) {
        return PG_UI_K_APPROVE;
    }
    if (strcmp(event, "pin-forget") == 0
        || strcmp(event, "pin-import") == 0)
    {
        return PG_UI_K_FORGET;
    }
    return PG_UI_K_OTHER;
}

int
pg_ui_store_new(struct pg_ui_store **out)
{
    struct pg_ui_store *st = calloc(1, sizeof(*st));
    size_t i;

    *out = NULL;
    if (st == NULL) {
        return -1;
    }
    for (i = 0; i < HOURS; i++) {
        st->hours[i].hour = -1;
    }
    *out = st;
    return 0;
}

static void
slot_clear(struct pg_ui_store *st, struct slot *s)
{
    if (s->buf == NULL) {
        return;
    }
    st->bytes -= s->bytes;
    st->held--;
    free(s->buf);
    memset(s, 0, sizeof(*s));
}

void
pg_ui_store_free(struct pg_ui_store *st)
{
    size_t i;

    if (st == NULL) {
        return;
    }
    for (i = 0; i < PG_UI_STORE_MAX_EVENTS; i++) {
        free(st->ring[i].buf);
    }
    free(st);
}

/* The oldest held event's slot. */
static struct slot *
oldest(struct pg_ui_store *st)
{
    return &st->ring[(st->head + PG_UI_STORE_MAX_EVENTS - st->held)
        % PG_UI_STORE_MAX_EVENTS];
}

static void
count(struct pg_ui_store *st, int64_t t, enum pg_ui_kind k)
{
    int64_t h = t / 3600;
    struct hour *b;

    if (t < 0) {
        return;
    }
    b = &st->hours[h % HOURS];
    if (b->hour != h) {
        if (b->hour > h) {
            return;                 /* older than the window */
        }
        memset(b, 0, sizeof(*b));
        b->hour = h;
    }
    b->n[k]++;
}

void
pg_ui_store_add(struct pg_ui_store *st, const struct pg_ui_event *ev)
{
    const char *src[NFIELDS] = { ev->event, ev->client, ev->project,
        ev->file, ev->sha256, ev->expected, ev->seen, ev->decision,
        ev->reason, ev->actor };
    const char **dst[NFIELDS];
    size_t len[NFIELDS], total = 0, i, o = 0;
    struct slot *s;
    char *buf;

    st->seen++;
    count(st, ev->time, pg_ui_kind_of(ev->event, ev->decision));
    for (i = 0; i < NFIELDS; i++) {
        len[i] = src[i] != NULL ? strnlen(src[i], PG_UI_STORE_MAX_FIELD)
            : 0;
        total += len[i] + 1;
    }
    buf = malloc(total);
    if (buf == NULL) {
        return;                     /* counted, not kept */
    }
    s = &st->ring[st->head];
    slot_clear(st, s);
    while (st->held > 0 && st->bytes + total > PG_UI_STORE_MAX_BYTES) {
        slot_clear(st, oldest(st));
    }
    s->buf = buf;
    s->bytes = total;
    s->ev.time = ev->time;
    dst[0] = &s->ev.event;
    dst[1] = &s->ev.client;
    dst[2] = &s->ev.project;
    dst[3] = &s->ev.file;
    dst[4] = &s->ev.sha256;
    dst[5] = &s->ev.expected;
    dst[6] = &s->ev.seen;
    dst[7] = &s->ev.decision;
    dst[8] = &s->ev.reason;
    dst[9] = &s->ev.actor;
    for (i = 0; i < NFIELDS; i++) {
        if (src[i] == NULL) {
            *dst[i] = NULL;
            buf[o++] = '\0';
            continue;
        }
        memcpy(buf + o, src[i], len[i]);
        buf[o + len[i]] = '\0';
        *dst[i] = buf + o;
        o += len[i] + 1;
    }
    st->bytes += total;
    st->held++;
    st->head = (st->head + 1) % PG_UI_STORE_MAX_EVENTS;
}

size_t
pg_ui_store_held(const struct pg_ui_store *st)
{
    return st->held;
}

uint64_t
pg_ui_store_seen(const struct pg_ui_store *st)
{
    return st->seen;
}

const struct pg_ui_event *
pg_ui_store_get(const struct pg_ui_store *st, size_t i)
{
    if (i >= st->held) {
        return NULL;
    }
    return &st->ring[(st->head + PG_UI_STORE_MAX_EVENTS - 1 - i)
        % PG_UI_STORE_MAX_EVENTS].ev;
}

void
pg_ui_store_days(const struct pg_ui_store *st, int64_t now,
    struct pg_ui_day days[PG_UI_DAYS], uint64_t last_day[PG_UI_NKINDS],
    uint64_t last_week[PG_UI_NKINDS])
{
    int64_t today = now / 86400, hnow = now / 3600;
    size_t i, d, k;

    memset(last_day, 0, sizeof(uint64_t) * PG_UI_NKINDS);
    memset(last_week, 0, sizeof(uint64_t) * PG_UI_NKINDS);
    for (d = 0; d < PG_UI_DAYS; d++) {
        memset(&days[d], 0, sizeof(days[d]));
        days[d].start = (today - (int64_t) (PG_UI_DAYS - 1 - d)) * 86400;
    }
    for (i = 0; i < HOURS; i++) {
        const struct hour *b = &st->hours[i];
        int64_t day;

        if (b->hour < 0 || b->hour > hnow) {
            continue;
        }
        day = b->hour / 24;
        if (day > today || day < today - (PG_UI_DAYS - 1)) {
            continue;
        }
        d = (size_t) (day - (today - (PG_UI_DAYS - 1)));
        for (k = 0; k < PG_UI_NKINDS; k++) {
            days[d].n[k] += b->n[k];
            last_week[k] += b->n[k];
            if (b->hour > hnow - 24) {
                last_day[k] += b->n[k];
            }
        }
    }
}

int
pg_ui_filter_match(const struct pg_ui_filter *f,
    const struct pg_ui_event *ev)
{
    if (f->since > 0 && ev->time < f->since) {
        return 0;
    }
    if (f->project != NULL && f->project[0] != '\0'
        && (ev->project == NULL || strcmp(f->project, ev->project) != 0))
    {
        return 0;
    }
    if (f->decision != NULL && f->decision[0] != '\0') {
        enum pg_ui_kind k = pg_ui_kind_of(ev->event, ev->decision);

        if (strcmp(f->decision, "refused") == 0) {
            return k == PG_UI_K_YANK || k == PG_UI_K_HIDE
                || k == PG_UI_K_DENY;
        }
        if (strcmp(f->decision, pg_ui_kind_name(k)) != 0
            && (ev->decision == NULL
                || strcmp(f->decision, ev->decision) != 0))
        {
            return 0;
        }
    }
    return 1;
}
