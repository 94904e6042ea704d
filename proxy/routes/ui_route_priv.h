/* proxy/routes/ui_route_priv.h — what the files of the operator pages'
 * route share (ui_route.c and its ui_route_*.c parts only).
 *
 * The route is split along its pages: ui_route.c (replies, query strings,
 * administrators, the audit tap, dispatch, life cycle), ui_route_lists.c
 * (the overview and the events), ui_route_project.c (a project's page:
 * its model from the annotated page, the pins, their history and the
 * certificate facts) and ui_route_actions.c (approve, forget, re-verify).
 * The state they share and the few functions they call across files are
 * here; everything else stays static in its file.
 *
 * Owns: nothing.  Runs on: loop.  Spec: issue 15.
 */
#ifndef PG_UI_ROUTE_PRIV_H
#define PG_UI_ROUTE_PRIV_H

#include <stdint.h>

#include <jansson.h>

#include "audit_int.h"
#include "auth_int.h"
#include "config_int.h"
#include "index_int.h"
#include "metrics_int.h"
#include "pg_cache.h"
#include "pg_policy.h"
#include "pg_sigstore.h"
#include "provenance_int.h"
#include "routes_int.h"
#include "server_int.h"
#include "ui_int.h"
#include "ui_route_int.h"
#include "worker_int.h"

#define UI_MAX_ADMINS 16
#define UI_MAX_CHANGES 16       /* new identities shown per project */
#define UI_MAX_HIST 64          /* newest history events shown */
#define UI_MAX_REFUSALS 100     /* projects listed with refusals */
#define UI_MAX_PENDING 50       /* publisher changes on the overview */
#define UI_MAX_PIN_EVENTS 20
#define UI_MAX_FIELD 1024       /* a query value */
#define UI_MAX_TOKEN_FILE (64 * 1024)


struct pg_uisrv {
    struct pg_server *s;
    struct pg_prov *prov;
    struct pg_ui_store *store;
    struct pg_auth_entry admins[UI_MAX_ADMINS];
    size_t nadmins;
    unsigned char secret[32];   /* CSRF tokens' HMAC key */
};

/* Per request (arena). */
struct ui_req {
    struct pg_uisrv *u;
    char project[PG_INDEX_MAX_NAME + 2];
    const char *admin;          /* NULL: read-only */
    char csrf[65];
    const char *flash;
    /* history, read on a worker */
    struct pg_pin_event *hist;  /* malloc'd ring of UI_MAX_HIST */
    size_t nhist_total;
    int hist_rc;
    struct pg_policy_err hist_err;
    json_t *model;              /* a copy of the page's model */
    /* an action, run on a worker */
    int action;                 /* ACT_* */
    struct pg_pin_entry entry;
    char why[PG_PINS_MAX_WHY];
    int changed;
    char (*keys)[160];          /* reverify: stored verdicts to delete */
    size_t nkeys;
    size_t nfiles_reverified;
    int act_rc;
    struct pg_policy_err act_err;
    struct pg_req *r;
};

enum { ACT_NONE, ACT_APPROVE, ACT_FORGET, ACT_REVERIFY };

/* ---- ui_route.c ---------------------------------------------------------- */
void pg_uir_send_html(struct pg_req *r, int code, const char *reason,
    struct pg_buf *b);
void pg_uir_redirect(struct pg_req *r, int code, const char *to);
const char *pg_uir_qget(struct pg_req *r, const char *key);
int64_t pg_uir_parse_since(const char *s, int64_t now);
void pg_uir_unauthorized(struct pg_req *r);

/* ---- ui_route_lists.c ---------------------------------------------------- */
void pg_uir_overview(struct pg_uisrv *u, struct pg_req *r, const char *admin);
void pg_uir_events(struct pg_uisrv *u, struct pg_req *r, const char *admin);

/* ---- ui_route_project.c -------------------------------------------------- */
const char *pg_uir_jstr(const json_t *o, const char *key);
void pg_uir_show_project(struct ui_req *q);

/* ---- ui_route_actions.c -------------------------------------------------- */
const char *pg_uir_flash_of(const char *done);
void pg_uir_action(struct ui_req *q, int action);

#endif
