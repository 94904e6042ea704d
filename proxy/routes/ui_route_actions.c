/* proxy/routes/ui_route_actions.c — an administrator's actions on a
 * project: approve a new publisher, forget the pin, re-verify.  Each is
 * confirmed first (GET, no effect), then POSTed with the CSRF token; it
 * runs on a worker against the pin store as `provgate pins approve|forget`
 * does, or drops the project's verdicts, is audited with the
 * administrator's name and re-annotates every page.
 *
 * Owns: the action's state in the request's arena.  Borrows: the route's
 * state, the provenance engine.  Runs on: loop (pin store writes and
 * verdict deletes on workers).  Spec: issue 15 item 2.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "ui_route_priv.h"

/* ---- actions ------------------------------------------------------------- */

static void
act_work(void *arg)
{
    struct ui_req *q = arg;
    struct pg_pinstore *ps = pg_prov_pinstore(q->u->prov);

    memset(&q->act_err, 0, sizeof(q->act_err));
    q->act_rc = PG_POLICY_OK;
    switch (q->action) {
    case ACT_APPROVE:
        q->act_rc = pg_pins_approve(ps, q->project, &q->entry, q->why,
            &q->changed, &q->act_err);
        break;
    case ACT_FORGET:
        q->act_rc = pg_pins_forget(ps, q->project, q->entry.by, q->why,
            &q->changed, &q->act_err);
        break;
    case ACT_REVERIFY: {
        struct pg_cache_op ops[64];
        struct pg_cache_err cerr;
        size_t i = 0, n;

        while (i < q->nkeys) {
            for (n = 0; n < 64 && i < q->nkeys; n++, i++) {
                ops[n].db = PG_CACHE_DB_VERDICTS;
                ops[n].key = q->keys[i];
                ops[n].klen = strlen(q->keys[i]);
                ops[n].val = NULL;
                ops[n].len = 0;
            }
            memset(&cerr, 0, sizeof(cerr));
            if (pg_cache_put_many(q->u->s->cache, ops, n, &cerr)
                != PG_CACHE_OK)
            {
                q->act_rc = PG_POLICY_ESTORE;
                q->act_err.code = PG_POLICY_ESTORE;
                snprintf(q->act_err.reason, sizeof(q->act_err.reason),
                    "cache: %.150s", cerr.reason);
                return;
            }
        }
        break;
    }
    case ACT_NONE:
        break;
    }
}

static void
act_done(void *arg)
{
    struct ui_req *q = arg;
    struct pg_req *r = q->r;
    struct pg_audit_event ev;
    char spec[1024], to[PG_INDEX_MAX_NAME + 64];
    const char *what = "reverified";

    if (q->act_rc != PG_POLICY_OK) {
        pg_log(r->s, "ui: %s by %s on %s failed: %s", q->action
            == ACT_APPROVE ? "approve" : q->action == ACT_FORGET ? "forget"
            : "reverify", q->admin, q->project, q->act_err.reason);
        pg_req_refuse(r, PG_REFUSE_UNAVAILABLE, "the change could not "
            "be made: %s", q->act_err.reason);
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.project = q->project;
    ev.actor = q->admin;
    ev.reason = q->why;
    ev.client = r->client;
    ev.user = r->user;
    if (q->action == ACT_APPROVE && q->changed) {
        pg_publisher_format(&q->entry.publisher, spec, sizeof(spec));
        ev.event = "pin-approve";
        ev.seen = spec;
        ev.decision = "approved";
        pg_audit_log(pg_prov_audit(q->u->prov), &ev);
        what = "approved";
    } else if (q->action == ACT_APPROVE) {
        what = "already-accepted";
    } else if (q->action == ACT_FORGET && q->changed) {
        ev.event = "pin-forget";
        ev.decision = "forgotten";
        pg_audit_log(pg_prov_audit(q->u->prov), &ev);
        what = "forgotten";
    } else if (q->action == ACT_FORGET) {
        what = "no-pin";
    } else {
        char n[32];

        snprintf(n, sizeof(n), "%zu files", q->nkeys);
        ev.event = "reverify";
        ev.decision = "reverify";
        ev.file = n;
        pg_audit_log(pg_prov_audit(q->u->prov), &ev);
    }
    pg_prov_pins_changed(q->u->prov);
    snprintf(to, sizeof(to), "/-/project/%s?done=%s", q->project, what);
    pg_uir_redirect(r, 303, to);
}

static void
free_keys(void *arg)
{
    struct ui_req *q = arg;

    free(q->keys);
    q->keys = NULL;
}

static void
add_key(struct ui_req *q, const char *sha)
{
    if (sha == NULL || strlen(sha) != 64
        || pg_prov_verdict_key(q->u->prov, sha, q->keys[q->nkeys],
            sizeof(q->keys[0])) < 0)
    {
        return;
    }
    pg_prov_forget_verdict(q->u->prov, sha);
    q->nkeys++;
}

/* Re-verify: every file of the page forgets its verdict (memory now, LMDB
 * on a worker); the next annotation verifies each provenance again. */
static void
on_reverify_page(struct pg_req *r, struct pg_page *page, int status,
    const char *reason)
{
    struct ui_req *q = r->route_state;
    json_t *model, *files, *hidden, *fo;
    size_t i;

    if (page == NULL) {
        pg_req_refuse(r, status == 404 ? PG_REFUSE_NOT_FOUND
            : PG_REFUSE_BAD_GATEWAY, "%s", reason != NULL ? reason
            : "index page unavailable");
        return;
    }
    model = pg_page_model(page);
    files = json_object_get(model, "files");
    hidden = json_object_get(model, "_provenance_hidden");
    q->keys = calloc(json_array_size(files) + json_array_size(hidden) + 1,
        sizeof(*q->keys));
    if (q->keys == NULL || pg_req_cleanup_add(r, free_keys, q) != 0) {
        free(q->keys);
        q->keys = NULL;
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return;
    }
    json_array_foreach(files, i, fo) {
        add_key(q, pg_uir_jstr(json_object_get(fo, "hashes"), "sha256"));
    }
    json_array_foreach(hidden, i, fo) {
        add_key(q, pg_uir_jstr(fo, "sha256"));
    }
    if (pg_workers_submit(r->s->workers, act_work, act_done, q) != 0) {
        pg_req_refuse(r, PG_REFUSE_RETRY, "no worker could take the change; "
            "try again");
    }
}

const char *
pg_uir_flash_of(const char *done)
{
    static const struct {
        const char *key, *text;
    } t[] = {
        { "approved", "Approved: the publisher is accepted, the pages are "
          "annotated again." },
        { "already-accepted", "That publisher was already accepted." },
        { "forgotten", "Forgotten: the next attested upload seen will be "
          "pinned again." },
        { "no-pin", "There was no pin to forget." },
        { "reverified", "Re-verify: the project's verdicts were dropped; "
          "its provenance is verified again as the page loads." },
    };
    size_t i;

    for (i = 0; done != NULL && i < sizeof(t) / sizeof(t[0]); i++) {
        if (strcmp(done, t[i].key) == 0) {
            return t[i].text;
        }
    }
    return NULL;
}

/* GET: the confirmation page; POST (CSRF checked): the action. */
void
pg_uir_action(struct ui_req *q, int action)
{
    struct pg_req *r = q->r;
    const char *spec = pg_uir_qget(r, "publisher"), *why = pg_uir_qget(r, "why");
    const char *csrf = pg_uir_qget(r, "csrf");
    const char *verb = action == ACT_APPROVE ? "approve" : action
        == ACT_FORGET ? "forget" : "reverify";
    char reason[160];
    struct pg_buf b;

    if (q->admin == NULL) {
        pg_uir_unauthorized(r);
        return;
    }
    memset(&q->entry, 0, sizeof(q->entry));
    if (action == ACT_APPROVE && (spec == NULL || pg_publisher_parse(spec,
            &q->entry.publisher, reason, sizeof(reason)) != 0))
    {
        pg_req_refuse(r, PG_REFUSE_BAD_REQUEST, "publisher: %s", spec == NULL
            ? "missing" : reason);
        return;
    }
    snprintf(q->why, sizeof(q->why), "%s", why != NULL ? why : "");
    if (strcmp(r->method, "POST") != 0) {
        pg_buf_init(&b, 8192, 1 << 20);
        pg_ui_page_begin(&b, "Confirm", 1);
        pg_buf_puts(&b, "<h1>Confirm: ");
        pg_buf_puts(&b, verb);
        pg_buf_puts(&b, " for ");
        pg_ui_text(&b, q->project);
        pg_buf_puts(&b, "</h1>");
        if (action == ACT_APPROVE) {
            pg_buf_puts(&b, "<p>Accept <code>");
            pg_ui_text(&b, spec);
            pg_buf_puts(&b, "</code> as a publisher of ");
            pg_ui_text(&b, q->project);
            pg_buf_puts(&b, ", as <code>provgate pins approve</code> "
                "would.</p>");
        } else if (action == ACT_FORGET) {
            pg_buf_puts(&b, "<p>Remove the pin: the next attested upload "
                "seen is pinned again.</p>");
        } else {
            pg_buf_puts(&b, "<p>Drop the project's cached verdicts: each "
                "file's provenance is verified again, and every page "
                "decided again under the current pins and policy.</p>");
        }
        pg_buf_puts(&b, "<p>Why: ");
        pg_ui_text(&b, q->why);
        pg_buf_puts(&b, "</p><form method=\"post\" action=\"/-/project/");
        pg_ui_urlpart(&b, q->project);
        pg_buf_putf(&b, "/%s?csrf=%s&amp;why=", verb, q->csrf);
        pg_ui_urlpart(&b, q->why);
        if (spec != NULL) {
            pg_buf_puts(&b, "&amp;publisher=");
            pg_ui_urlpart(&b, spec);
        }
        pg_buf_puts(&b, "\"><button type=\"submit\">Yes, ");
        pg_buf_puts(&b, verb);
        pg_buf_puts(&b, "</button></form><p><a href=\"/-/project/");
        pg_ui_urlpart(&b, q->project);
        pg_buf_puts(&b, "\">Cancel</a></p>");
        pg_ui_page_end(&b);
        pg_uir_send_html(r, 200, "OK", &b);
        return;
    }
    if (csrf == NULL || strlen(csrf) != 64
        || CRYPTO_memcmp(csrf, q->csrf, 64) != 0)
    {
        pg_req_refuse(r, PG_REFUSE_FORBIDDEN, "missing or wrong CSRF token: "
            "use the form on the project page");
        return;
    }
    q->action = action;
    q->entry.how = PG_PIN_APPROVED;
    q->entry.time = (int64_t) time(NULL);
    q->entry.upload_time = -1;
    snprintf(q->entry.by, sizeof(q->entry.by), "%s", q->admin);
    r->route_state = q;
    if (action == ACT_REVERIFY) {
        pg_pages_load(r->s->pages, r, q->project,
            on_reverify_page);
        return;
    }
    if (pg_workers_submit(r->s->workers, act_work, act_done, q) != 0) {
        pg_req_refuse(r, PG_REFUSE_RETRY, "no worker could take the change; "
            "try again");
    }
}
