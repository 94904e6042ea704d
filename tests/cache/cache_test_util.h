/* tests/cache/cache_test_util.h — temp directories and helpers for the
 * cache tests.
 *
 * Each test makes its own directory under the current directory (ctest runs
 * the tests in the build tree) and removes it at the end, whatever it holds.
 *
 * Owns: the directories it makes.  Runs on: the test's thread.
 */
#ifndef PG_CACHE_TEST_UTIL_H
#define PG_CACHE_TEST_UTIL_H

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline int
ctu_rm_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path);
}

/* Creates ./cachetest.XXXXXX; returns a malloc'd path. */
static inline char *
ctu_mkdtemp(void)
{
    char tmpl[] = "cachetest.XXXXXX";
    char cwd[2048], *out;
    size_t n;

    if (mkdtemp(tmpl) == NULL || getcwd(cwd, sizeof(cwd)) == NULL) {
        return NULL;
    }
    n = strlen(cwd) + 1 + sizeof(tmpl);
    out = malloc(n);
    if (out != NULL) {
        snprintf(out, n, "%s/%s", cwd, tmpl);
    }
    return out;
}

static inline void
ctu_rmtree(char *dir)
{
    if (dir != NULL) {
        nftw(dir, ctu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(dir);
    }
}

/* Regular files directly in dir (-1 if it cannot be read). */
static inline int
ctu_count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    if (d == NULL) {
        return -1;
    }
    for (;;) {
        de = readdir(d);
        if (de == NULL) {
            break;
        }
        if (de->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n;
}

#endif
