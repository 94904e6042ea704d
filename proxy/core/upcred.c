/* proxy/core/upcred.c — an upstream's credentials, from a file or from
 * environment variables (issue 13 item 4).
 *
 * A private index (devpi, Artifactory, a GitLab or GitHub registry) wants
 * HTTP Basic or a bearer token.  The secret never sits in provgate.conf:
 * either credentials_file names a file of "key = value" lines (username
 * and password, or token; '#' comments), which is refused unless only
 * its owner may read it (mode 0600 or 0400, a regular file; the rule ssh
 * and .netrc readers apply, since a secret others can read is already
 * lost), or username_env/password_env or token_env name environment
 * variables (systemd's LoadCredential=, a container's secret).  Resolved
 * once, at start, into struct pg_up_cred; upstream.c sends them only to
 * the upstream's own origin.  Messages name the file, its line and the
 * variables, never a value.
 *
 * Owns: the resolved strings (pg_config_cred_clear wipes and frees them).
 * Runs on: start-up.  Spec: issue 13 item 4.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_int.h"

static void
cred_wipe(char **p)
{
    if (*p != NULL) {
        explicit_bzero(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

void
pg_config_cred_clear(struct pg_up_cred *c)
{
    cred_wipe(&c->username);
    cred_wipe(&c->password);
    cred_wipe(&c->token);
}

static int
cred_set(char **dst, const char *v, size_t n)
{
    size_t i;

    if (n == 0 || n > PG_UP_CRED_MAX_VALUE) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        if ((unsigned char) v[i] < 0x20 || v[i] == 0x7f) {
            return -1;          /* no header injection, no NUL */
        }
    }
    cred_wipe(dst);
    *dst = strndup(v, n);
    return *dst != NULL ? 0 : -1;
}

/* The file's lines into c; -1 with "FILE:LINE: why" in why. */
static int
cred_parse(struct pg_up_cred *c, const char *path, char *buf, size_t len,
    char *why, size_t wlen)
{
    size_t at = 0;
    int line = 0;

    while (at < len) {
        char *nl = memchr(buf + at, '\n', len - at), *s = buf + at, *e, *eq,
            *k, *ke, *v;
        char **dst = NULL;

        e = nl != NULL ? nl : buf + len;
        at = (size_t) (e - buf) + 1;
        line++;
        while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }
        while (s < e && (*s == ' ' || *s == '\t')) {
            s++;
        }
        if (s == e || *s == '#') {
            continue;
        }
        eq = memchr(s, '=', (size_t) (e - s));
        if (eq == NULL) {
            snprintf(why, wlen, "%s:%d: expected username = …, password "
                "= … or token = …", path, line);
            return -1;
        }
        k = s;
        ke = eq;
        while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t')) {
            ke--;
        }
        v = eq + 1;
        while (v < e && (*v == ' ' || *v == '\t')) {
            v++;
        }
        if ((size_t) (ke - k) == 8 && memcmp(k, "username", 8) == 0) {
            dst = &c->username;
        } else if ((size_t) (ke - k) == 8 && memcmp(k, "password", 8) == 0) {
            dst = &c->password;
        } else if ((size_t) (ke - k) == 5 && memcmp(k, "token", 5) == 0) {
            dst = &c->token;
        } else {
            snprintf(why, wlen, "%s:%d: unknown key (expected username, "
                "password or token)", path, line);
            return -1;
        }
        if (*dst != NULL) {
            snprintf(why, wlen, "%s:%d: %.*s given twice", path, line,
                (int) (ke - k), k);
            return -1;
        }
        if (cred_set(dst, v, (size_t) (e - v)) != 0) {
            snprintf(why, wlen, "%s:%d: %.*s is empty, longer than %d "
                "bytes or holds a control character", path, line,
                (int) (ke - k), k, PG_UP_CRED_MAX_VALUE);
            return -1;
        }
    }
    return 0;
}

static int
cred_file(struct pg_up_cred *c, char *why, size_t wlen)
{
    char buf[PG_UP_CRED_MAX_FILE + 1];
    struct stat st;
    ssize_t n;
    size_t len = 0;
    int fd, rc;

    fd = open(c->file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(why, wlen, "%s: %s", c->file, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(why, wlen, "%s: not a regular file", c->file);
        return -1;
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        close(fd);
        snprintf(why, wlen, "%s: group or others may read or write it "
            "(mode %03o); it holds a secret: chmod 600 %s", c->file,
            (unsigned) (st.st_mode & 0777), c->file);
        return -1;
    }
    while (len <= PG_UP_CRED_MAX_FILE
        && (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
    {
        len += (size_t) n;
    }
    close(fd);
    if (len > PG_UP_CRED_MAX_FILE) {
        explicit_bzero(buf, sizeof(buf));
        snprintf(why, wlen, "%s: longer than %d bytes", c->file,
            PG_UP_CRED_MAX_FILE);
        return -1;
    }
    rc = cred_parse(c, c->file, buf, len, why, wlen);
    explicit_bzero(buf, sizeof(buf));
    return rc;
}

static int
cred_env(char **dst, const char *name, char *why, size_t wlen)
{
    const char *v = getenv(name);

    if (v == NULL || v[0] == '\0') {
        snprintf(why, wlen, "environment variable %s is not set", name);
        return -1;
    }
    if (cred_set(dst, v, strlen(v)) != 0) {
        snprintf(why, wlen, "environment variable %s is longer than %d "
            "bytes or holds a control character", name,
            PG_UP_CRED_MAX_VALUE);
        return -1;
    }
    return 0;
}

int
pg_config_cred_resolve(struct pg_up_cred *c, const char **directive,
    char *why, size_t wlen)
{
    int rc = 0;

    pg_config_cred_clear(c);
    *directive = c->file != NULL ? "credentials_file"
        : c->token_env != NULL ? "token_env" : "username_env";
    if (c->file != NULL && (c->username_env != NULL
        || c->password_env != NULL || c->token_env != NULL))
    {
        snprintf(why, wlen, "give the credentials either in the file or "
            "in environment variables, not both");
        return -1;
    }
    if (c->token_env != NULL && (c->username_env != NULL
        || c->password_env != NULL))
    {
        snprintf(why, wlen, "token_env (Bearer) and username_env/"
            "password_env (Basic) exclude each other");
        return -1;
    }
    if ((c->username_env == NULL) != (c->password_env == NULL)) {
        *directive = c->username_env != NULL ? "username_env"
            : "password_env";
        snprintf(why, wlen, "username_env and password_env go together");
        return -1;
    }
    if (c->file != NULL) {
        rc = cred_file(c, why, wlen);
        if (rc == 0 && c->token == NULL
            && (c->username == NULL || c->password == NULL))
        {
            snprintf(why, wlen, "%s: expected username and password, or "
                "token", c->file);
            rc = -1;
        } else if (rc == 0 && c->token != NULL
            && (c->username != NULL || c->password != NULL))
        {
            snprintf(why, wlen, "%s: a token (Bearer) or a username and "
                "password (Basic), not both", c->file);
            rc = -1;
        }
    } else if (c->token_env != NULL) {
        rc = cred_env(&c->token, c->token_env, why, wlen);
    } else if (c->username_env != NULL) {
        rc = cred_env(&c->username, c->username_env, why, wlen);
        if (rc == 0) {
            *directive = "password_env";
            rc = cred_env(&c->password, c->password_env, why, wlen);
        }
    }
    if (rc == 0 && c->username != NULL && strchr(c->username, ':') != NULL) {
        snprintf(why, wlen, "an HTTP Basic user name cannot hold ':'");
        rc = -1;
    }
    if (rc != 0) {
        pg_config_cred_clear(c);
    }
    return rc;
}
