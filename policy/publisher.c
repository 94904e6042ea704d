/* policy/publisher.c — PyPI Trusted Publisher identities: parse, format, match.
 *
 * A publisher is what PyPI names in a provenance object and what an
 * administrator pins in the policy: GitHub (owner/repo + workflow file),
 * GitLab (namespace/project + CI file path), Google (service account
 * e-mail), each with an optional environment.  This file turns the spec
 * strings ("github:OWNER/REPO:WORKFLOW[:ENV]", "gitlab:NS/PROJECT:PATH
 * [:ENV]", "google:EMAIL") and the provenance JSON objects into struct
 * pg_publisher, prints them back, compares them (GitHub owner/repo
 * case-insensitively, environment only when the expectation names one),
 * and maps one onto the verifier's identity policy (struct pg_sig_policy).
 *
 * Owns: nothing.  Borrows: its inputs; a policy made by
 * pg_publisher_policy points into the publisher.  Runs on: either.
 * Spec: sigstore-verification §1.1, §4.2; design §7.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pg_policy.h"

static int
set_field(char *dst, size_t cap, const char *src, size_t len,
    const char *what, char *reason, size_t rlen)
{
    if (len >= cap) {
        snprintf(reason, rlen, "%s too long", what);
        return -1;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

int
pg_publisher_parse(const char *spec, struct pg_publisher *out, char *reason,
    size_t rlen)
{
    const char *rest, *c1, *c2;
    int gitlab;

    memset(out, 0, sizeof(*out));
    if (strncmp(spec, "google:", 7) == 0) {
        rest = spec + 7;
        if (*rest == '\0' || strchr(rest, '@') == NULL
            || strchr(rest, ':') != NULL)
        {
            snprintf(reason, rlen, "google: needs a service account e-mail");
            return -1;
        }
        out->kind = PG_PUB_GOOGLE;
        return set_field(out->email, sizeof(out->email), rest, strlen(rest),
            "email", reason, rlen);
    }
    if (strncmp(spec, "github:", 7) == 0) {
        gitlab = 0;
    } else if (strncmp(spec, "gitlab:", 7) == 0) {
        gitlab = 1;
    } else {
        snprintf(reason, rlen, "publisher must start with github:, gitlab: "
            "or google:");
        return -1;
    }
    rest = spec + 7;
    c1 = strchr(rest, ':');
    if (c1 == NULL || c1 == rest || memchr(rest, '/', (size_t) (c1 - rest))
        == NULL)
    {
        snprintf(reason, rlen, "%s needs OWNER/REPO:WORKFLOW",
            gitlab ? "gitlab:" : "github:");
        return -1;
    }
    if (rest[0] == '/' || c1[-1] == '/') {
        snprintf(reason, rlen, "repository must be OWNER/NAME");
        return -1;
    }
    c2 = strchr(c1 + 1, ':');
    if ((c2 != NULL ? c2 : c1 + 1 + strlen(c1 + 1)) == c1 + 1) {
        snprintf(reason, rlen, "empty workflow");
        return -1;
    }
    if (!gitlab && memchr(c1 + 1, '/', c2 != NULL ? (size_t) (c2 - c1 - 1)
            : strlen(c1 + 1)) != NULL)
    {
        snprintf(reason, rlen, "github: workflow is a file name, not a "
            "path");
        return -1;
    }
    out->kind = gitlab ? PG_PUB_GITLAB : PG_PUB_GITHUB;
    if (set_field(out->repository, sizeof(out->repository), rest,
            (size_t) (c1 - rest), "repository", reason, rlen) != 0
        || set_field(out->workflow, sizeof(out->workflow), c1 + 1,
            c2 != NULL ? (size_t) (c2 - c1 - 1) : strlen(c1 + 1),
            "workflow", reason, rlen) != 0)
    {
        return -1;
    }
    if (c2 != NULL) {
        if (c2[1] == '\0' || strchr(c2 + 1, ':') != NULL) {
            snprintf(reason, rlen, "bad environment");
            return -1;
        }
        return set_field(out->environment, sizeof(out->environment), c2 + 1,
            strlen(c2 + 1), "environment", reason, rlen);
    }
    return 0;
}

int
pg_publisher_format(const struct pg_publisher *p, char *buf, size_t len)
{
    const char *kind = "?";

    switch (p->kind) {
    case PG_PUB_NONE:
        return snprintf(buf, len, "none");
    case PG_PUB_GOOGLE:
        return snprintf(buf, len, "google:%s", p->email);
    case PG_PUB_GITHUB:
        kind = "github";
        break;
    case PG_PUB_GITLAB:
        kind = "gitlab";
        break;
    }
    if (p->environment[0] != '\0') {
        return snprintf(buf, len, "%s:%s:%s:%s", kind, p->repository,
            p->workflow, p->environment);
    }
    return snprintf(buf, len, "%s:%s:%s", kind, p->repository, p->workflow);
}

void
pg_publisher_format_list(const struct pg_publisher *const *p, size_t n,
    char *buf, size_t len)
{
    size_t i, off = 0;
    int w;

    if (len == 0) {
        return;
    }
    buf[0] = '\0';
    for (i = 0; i < n && off + 1 < len; i++) {
        if (i > 0) {
            w = snprintf(buf + off, len - off, ", ");
            off += w > 0 ? (size_t) w : 0;
            if (off >= len) {
                break;
            }
        }
        w = pg_publisher_format(p[i], buf + off, len - off);
        off += w > 0 ? (size_t) w : 0;
    }
}

int
pg_publisher_match(const struct pg_publisher *expected,
    const struct pg_publisher *seen)
{
    if (expected->kind != seen->kind) {
        return 0;
    }
    switch (expected->kind) {
    case PG_PUB_NONE:
        return 1;
    case PG_PUB_GOOGLE:
        return strcmp(expected->email, seen->email) == 0;
    case PG_PUB_GITHUB:
        if (strcasecmp(expected->repository, seen->repository) != 0) {
            return 0;
        }
        break;
    case PG_PUB_GITLAB:
        if (strcmp(expected->repository, seen->repository) != 0) {
            return 0;
        }
        break;
    }
    if (strcmp(expected->workflow, seen->workflow) != 0) {
        return 0;
    }
    return expected->environment[0] == '\0'
        || strcmp(expected->environment, seen->environment) == 0;
}

static int
json_field(const json_t *obj, const char *key, char *dst, size_t cap,
    int required, char *reason, size_t rlen)
{
    json_t *v = json_object_get(obj, key);

    dst[0] = '\0';
    if (v == NULL || json_is_null(v)) {
        if (required) {
            snprintf(reason, rlen, "publisher lacks %s", key);
            return -1;
        }
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) >= cap
        || strlen(json_string_value(v)) != json_string_length(v))
    {
        snprintf(reason, rlen, "publisher %s is not a short string", key);
        return -1;
    }
    if (required && json_string_length(v) == 0) {
        snprintf(reason, rlen, "publisher %s is empty", key);
        return -1;
    }
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

int
pg_publisher_from_json(const json_t *obj, struct pg_publisher *out,
    char *reason, size_t rlen)
{
    const char *kind;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(obj)) {
        snprintf(reason, rlen, "publisher is not an object");
        return -1;
    }
    kind = json_string_value(json_object_get(obj, "kind"));
    if (kind == NULL) {
        snprintf(reason, rlen, "publisher has no kind");
        return -1;
    }
    if (strcmp(kind, "GitHub") == 0) {
        out->kind = PG_PUB_GITHUB;
        return json_field(obj, "repository", out->repository,
                sizeof(out->repository), 1, reason, rlen)
            || json_field(obj, "workflow", out->workflow,
                sizeof(out->workflow), 1, reason, rlen)
            || json_field(obj, "environment", out->environment,
                sizeof(out->environment), 0, reason, rlen) ? -1 : 0;
    }
    if (strcmp(kind, "GitLab") == 0) {
        out->kind = PG_PUB_GITLAB;
        return json_field(obj, "repository", out->repository,
                sizeof(out->repository), 1, reason, rlen)
            || json_field(obj, "workflow_filepath", out->workflow,
                sizeof(out->workflow), 1, reason, rlen)
            || json_field(obj, "environment", out->environment,
                sizeof(out->environment), 0, reason, rlen) ? -1 : 0;
    }
    if (strcmp(kind, "Google") == 0) {
        out->kind = PG_PUB_GOOGLE;
        return json_field(obj, "email", out->email, sizeof(out->email), 1,
            reason, rlen);
    }
    snprintf(reason, rlen, "unsupported publisher kind '%.40s'", kind);
    return -1;
}

void
pg_publisher_policy(const struct pg_publisher *p, struct pg_sig_policy *out)
{
    memset(out, 0, sizeof(*out));
    switch (p->kind) {
    case PG_PUB_NONE:
        /* no publisher: an identity policy nothing satisfies */
        out->kind = PG_SIG_POLICY_SAN_ISSUER;
        return;
    case PG_PUB_GITHUB:
        out->kind = PG_SIG_POLICY_GITHUB;
        break;
    case PG_PUB_GITLAB:
        out->kind = PG_SIG_POLICY_GITLAB;
        break;
    case PG_PUB_GOOGLE:
        out->kind = PG_SIG_POLICY_GOOGLE;
        out->email = p->email;
        return;
    }
    out->repository = p->repository;
    out->workflow = p->workflow;
}
