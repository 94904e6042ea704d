/* policy/pins.c — TOFU pins: each project's set of accepted publishers.
 *
 * A pin set is one compact JSON value per project (PEP 503-normalized
 * name), the same in every pin store (pinstore*.c) and in `pins export`:
 *   {"project":"demo","publishers":[
 *     {"publisher":"github:o/demo:release.yml","how":"tofu",
 *      "time":"2026-01-02T03:04:05Z","file":"demo-1.0.tar.gz",
 *      "sha256":"…","upload_time":"2025-…Z"},
 *     {"publisher":"github:o/demo2:release.yml","how":"approved",
 *      "time":"…","by":"alice"}]}
 * A history event (struct pg_pin_event) has a JSON form too:
 *   {"id":3,"time":"…","project":"demo","what":"approve",
 *    "before":"github:o/demo:release.yml",
 *    "after":"github:o/demo:release.yml, github:o/demo2:release.yml",
 *    "by":"alice","why":"repository moved","file":""}
 *
 * Records read back from the store or from `pins import` are untrusted
 * input: every field is bounded and checked (PG_PINS_MAX_*).
 *
 * Owns: nothing past a call (values it returns are caller's buffers).
 * Borrows: nothing.  Runs on: either (no I/O).
 * Spec: design §7 (TOFU pins), issue 4 item 3.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "pg_policy.h"
#include "pinstore_int.h"

/* First failure wins; the reason is cut to fit if it must be. */
void
pg_pins_fail(struct pg_policy_err *err, enum pg_policy_code code,
    const char *step, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || err->code != PG_POLICY_OK) {
        return;
    }
    err->code = code;
    err->step = step;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
    va_end(ap);
}

/* ---- time --------------------------------------------------------------- */

void
pg_pins_fmt_time(int64_t t, char *buf, size_t len)
{
    struct tm tm;
    time_t tt = (time_t) t;

    if (gmtime_r(&tt, &tm) == NULL
        || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    {
        snprintf(buf, len, "1970-01-01T00:00:00Z");
    }
}

int64_t
pg_policy_parse_time(const char *s)
{
    struct tm tm;
    const char *e;

    if (s == NULL) {
        return -1;
    }
    memset(&tm, 0, sizeof(tm));
    e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (e == NULL) {
        return -1;
    }
    if (*e == '.') {
        e++;
        while (*e >= '0' && *e <= '9') {
            e++;
        }
    }
    if (strcmp(e, "Z") != 0 && strcmp(e, "+00:00") != 0) {
        return -1;
    }
    return (int64_t) timegm(&tm);
}

/* ---- JSON form ---------------------------------------------------------- */

int
pg_pins_to_json(const struct pg_pin_set *set, char **out, size_t *len,
    struct pg_policy_err *err)
{
    json_t *root = NULL, *arr = NULL;
    char spec[1024], ts[32];
    size_t i;

    *out = NULL;
    root = json_object();
    arr = json_array();
    if (root == NULL || arr == NULL) {
        goto nomem;
    }
    if (json_object_set_new(root, "project", json_string(set->project)) != 0
        || json_object_set(root, "publishers", arr) != 0)
    {
        goto nomem;
    }
    for (i = 0; i < set->n; i++) {
        const struct pg_pin_entry *e = &set->e[i];
        json_t *o = json_object();

        if (o == NULL || json_array_append_new(arr, o) != 0) {
            goto nomem;
        }
        pg_publisher_format(&e->publisher, spec, sizeof(spec));
        pg_pins_fmt_time(e->time, ts, sizeof(ts));
        if (json_object_set_new(o, "publisher", json_string(spec)) != 0
            || json_object_set_new(o, "how", json_string(
                e->how == PG_PIN_TOFU ? "tofu" : "approved")) != 0
            || json_object_set_new(o, "time", json_string(ts)) != 0)
        {
            goto nomem;
        }
        if (e->how == PG_PIN_TOFU) {
            if (json_object_set_new(o, "file", json_string(e->file)) != 0
                || (e->sha256[0] != '\0' && json_object_set_new(o, "sha256",
                    json_string(e->sha256)) != 0))
            {
                goto nomem;
            }
            if (e->upload_time >= 0) {
                pg_pins_fmt_time(e->upload_time, ts, sizeof(ts));
                if (json_object_set_new(o, "upload_time", json_string(ts))
                    != 0)
                {
                    goto nomem;
                }
            }
        } else if (json_object_set_new(o, "by", json_string(e->by)) != 0) {
            goto nomem;
        }
    }
    *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (*out == NULL) {
        goto nomem;
    }
    *len = strlen(*out);
    json_decref(arr);
    json_decref(root);
    return PG_POLICY_OK;

nomem:
    json_decref(arr);
    json_decref(root);
    pg_pins_fail(err, PG_POLICY_ENOMEM, "pins-json", "%s", "out of memory");
    return PG_POLICY_ENOMEM;
}

int
pg_pins_is_hex64(const char *s)
{
    size_t i;

    for (i = 0; i < 64; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return s[64] == '\0';
}

const char *
pg_pins_str_field(json_t *o, const char *key, size_t max, int required,
    const char **why)
{
    json_t *v = json_object_get(o, key);

    if (v == NULL) {
        if (required) {
            *why = key;
        }
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) > max
        || strlen(json_string_value(v)) != json_string_length(v))
    {
        *why = key;
        return NULL;
    }
    return json_string_value(v);
}

static int
entry_from_json(json_t *o, struct pg_pin_entry *e, const char **why)
{
    const char *spec, *how, *ts, *s;
    char reason[160];

    memset(e, 0, sizeof(*e));
    e->upload_time = -1;
    if (!json_is_object(o)) {
        *why = "publisher entry";
        return -1;
    }
    spec = pg_pins_str_field(o, "publisher", 1000, 1, why);
    how = pg_pins_str_field(o, "how", 16, 1, why);
    ts = pg_pins_str_field(o, "time", 40, 1, why);
    if (spec == NULL || how == NULL || ts == NULL) {
        return -1;
    }
    if (pg_publisher_parse(spec, &e->publisher, reason, sizeof(reason))
        != 0)
    {
        *why = "publisher";
        return -1;
    }
    e->time = pg_policy_parse_time(ts);
    if (e->time < 0) {
        *why = "time";
        return -1;
    }
    if (strcmp(how, "tofu") == 0) {
        e->how = PG_PIN_TOFU;
        s = pg_pins_str_field(o, "file", sizeof(e->file) - 1, 0, why);
        if (s == NULL && *why != NULL) {
            return -1;
        }
        snprintf(e->file, sizeof(e->file), "%s", s != NULL ? s : "");
        s = pg_pins_str_field(o, "sha256", 64, 0, why);
        if (s != NULL && !pg_pins_is_hex64(s)) {
            *why = "sha256";
        }
        if (*why != NULL) {
            return -1;
        }
        snprintf(e->sha256, sizeof(e->sha256), "%s", s != NULL ? s : "");
        s = pg_pins_str_field(o, "upload_time", 40, 0, why);
        if (s != NULL) {
            e->upload_time = pg_policy_parse_time(s);
            if (e->upload_time < 0) {
                *why = "upload_time";
            }
        }
        return *why != NULL ? -1 : 0;
    }
    if (strcmp(how, "approved") == 0) {
        e->how = PG_PIN_APPROVED;
        s = pg_pins_str_field(o, "by", sizeof(e->by) - 1, 0, why);
        if (*why != NULL) {
            return -1;
        }
        snprintf(e->by, sizeof(e->by), "%s", s != NULL ? s : "");
        return 0;
    }
    *why = "how";
    return -1;
}

int
pg_pins_from_json(const char *json, size_t len, struct pg_pin_set *set,
    struct pg_policy_err *err)
{
    json_t *root, *pubs;
    json_error_t jerr;
    const char *project, *why = NULL;
    char norm[PG_POLICY_MAX_NAME + 1];
    size_t i;

    memset(set, 0, sizeof(*set));
    if (len > PG_PINS_MAX_RECORD) {
        pg_pins_fail(err, PG_POLICY_ELIMIT, "pins-json",
            "pin record is larger than %d bytes", PG_PINS_MAX_RECORD);
        return PG_POLICY_ELIMIT;
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        pg_pins_fail(err, PG_POLICY_EPARSE, "pins-json", "not JSON: %s",
            jerr.text);
        return PG_POLICY_EPARSE;
    }
    if (!json_is_object(root)) {
        why = "record";
        goto bad;
    }
    project = pg_pins_str_field(root, "project", PG_POLICY_MAX_NAME, 1, &why);
    if (project == NULL
        || pg_policy_normalize(project, norm, sizeof(norm)) != 0
        || strcmp(norm, project) != 0)
    {
        why = "project";
        goto bad;
    }
    memcpy(set->project, norm, sizeof(set->project));
    pubs = json_object_get(root, "publishers");
    if (!json_is_array(pubs)) {
        why = "publishers";
        goto bad;
    }
    if (json_array_size(pubs) > PG_PINS_MAX_PUBLISHERS) {
        json_decref(root);
        pg_pins_fail(err, PG_POLICY_ELIMIT, "pins-json",
            "more than %d publishers in one pin", PG_PINS_MAX_PUBLISHERS);
        return PG_POLICY_ELIMIT;
    }
    for (i = 0; i < json_array_size(pubs); i++) {
        if (entry_from_json(json_array_get(pubs, i), &set->e[i], &why)
            != 0)
        {
            goto bad;
        }
        set->n++;
    }
    json_decref(root);
    return PG_POLICY_OK;

bad:
    json_decref(root);
    set->n = 0;
    pg_pins_fail(err, PG_POLICY_EPARSE, "pins-json", "bad or missing '%s'",
        why != NULL ? why : "?");
    return PG_POLICY_EPARSE;
}

int64_t
pg_pins_since(const struct pg_pin_set *set)
{
    int64_t since = -1;
    size_t i;

    for (i = 0; i < set->n; i++) {
        const struct pg_pin_entry *e = &set->e[i];

        if (e->how == PG_PIN_TOFU && e->upload_time >= 0
            && (since < 0 || e->upload_time < since))
        {
            since = e->upload_time;
        }
    }
    return since;
}

void
pg_pins_format(const struct pg_pin_set *set, char *buf, size_t len)
{
    const struct pg_publisher *p[PG_PINS_MAX_PUBLISHERS];
    size_t i, n = set->n < PG_PINS_MAX_PUBLISHERS ? set->n
        : PG_PINS_MAX_PUBLISHERS;

    for (i = 0; i < n; i++) {
        p[i] = &set->e[i].publisher;
    }
    pg_publisher_format_list(p, n, buf, len);
}


int
pg_pins_same_publisher(const struct pg_publisher *a,
    const struct pg_publisher *b)
{
    char x[1024], y[1024];

    pg_publisher_format(a, x, sizeof(x));
    pg_publisher_format(b, y, sizeof(y));
    return strcmp(x, y) == 0
        || (pg_publisher_match(a, b) && pg_publisher_match(b, a));
}

int
pg_pins_project_ok(const char *project, struct pg_policy_err *err)
{
    char norm[PG_POLICY_MAX_NAME + 1];

    if (project == NULL || pg_policy_normalize(project, norm, sizeof(norm))
        != 0 || strcmp(norm, project) != 0)
    {
        pg_pins_fail(err, PG_POLICY_EINVAL, "pins", "'%s' is not a normalized "
            "project name", project != NULL ? project : "");
        return -1;
    }
    return 0;
}

/* ---- history events ------------------------------------------------------ */

json_t *
pg_pin_event_to_json(const struct pg_pin_event *ev)
{
    char ts[32];

    pg_pins_fmt_time(ev->time, ts, sizeof(ts));
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
        "id", (json_int_t) ev->id, "time", ts, "project", ev->project,
        "what", ev->what, "before", ev->before, "after", ev->after,
        "by", ev->by, "why", ev->why, "file", ev->file);
}

static int
event_str(json_t *o, const char *key, char *out, size_t size,
    const char **why)
{
    const char *v = pg_pins_str_field(o, key, size - 1, 1, why);

    if (v == NULL) {
        return -1;
    }
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

int
pg_pin_event_from_json(const json_t *o, struct pg_pin_event *ev,
    struct pg_policy_err *err)
{
    static const char *const whats[] = { "tofu", "approve", "forget",
        "import", "migrate" };
    json_t *obj = (json_t *) o, *id;
    const char *why = NULL, *ts;
    size_t i;
    int ok = 0;

    memset(ev, 0, sizeof(*ev));
    if (!json_is_object(obj)) {
        why = "event";
        goto bad;
    }
    id = json_object_get(obj, "id");
    ts = pg_pins_str_field(obj, "time", 40, 1, &why);
    if (!json_is_integer(id) || json_integer_value(id) < 1) {
        why = "id";
        goto bad;
    }
    ev->id = (uint64_t) json_integer_value(id);
    ev->time = pg_policy_parse_time(ts);
    if (ev->time < 0) {
        why = "time";
        goto bad;
    }
    if (event_str(obj, "project", ev->project, sizeof(ev->project), &why)
        != 0 || pg_pins_project_ok(ev->project, NULL) != 0)
    {
        why = "project";
        goto bad;
    }
    if (event_str(obj, "what", ev->what, sizeof(ev->what), &why) != 0
        || event_str(obj, "before", ev->before, sizeof(ev->before), &why)
        != 0 || event_str(obj, "after", ev->after, sizeof(ev->after), &why)
        != 0 || event_str(obj, "by", ev->by, sizeof(ev->by), &why) != 0
        || event_str(obj, "why", ev->why, sizeof(ev->why), &why) != 0
        || event_str(obj, "file", ev->file, sizeof(ev->file), &why) != 0)
    {
        goto bad;
    }
    for (i = 0; i < sizeof(whats) / sizeof(whats[0]); i++) {
        ok |= strcmp(ev->what, whats[i]) == 0;
    }
    if (!ok) {
        why = "what";
        goto bad;
    }
    return PG_POLICY_OK;

bad:
    pg_pins_fail(err, PG_POLICY_EPARSE, "pins-history",
        "bad or missing '%s' in a history event", why != NULL ? why : "?");
    return PG_POLICY_EPARSE;
}
