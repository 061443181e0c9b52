/*
 * tap.h — a minimal TAP producer for the C tests (header-only).
 *
 *   plan_no_plan();  ok(cond, "name %d", i);  is_int(a, b, "name");
 *   skip_all("why")  done_testing();   // exit status: failures > 0
 *
 * Helpers to find the shared fixtures: fixture_path("models/x.gguf") gives
 * NULL when ../shared/fixtures is absent; fixtures_required() is true when
 * CI=true (then absence is a failure, not a skip).
 */
#ifndef LLP_TAP_H
#define LLP_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>

static int tap_n, tap_failed;

static inline int ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int ok(int cond, const char *fmt, ...)
{
    va_list ap;
    tap_n++;
    printf("%sok %d - ", cond ? "" : "not ", tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (!cond) tap_failed++;
    return cond;
}

static inline void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void diag(const char *fmt, ...)
{
    va_list ap;
    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

#define is_int(a, b, ...) \
    (((long long)(a) == (long long)(b)) ? ok(1, __VA_ARGS__) \
     : (diag("got %lld, expected %lld", (long long)(a), (long long)(b)), ok(0, __VA_ARGS__)))

static inline void skip_all(const char *why)
{
    printf("1..0 # SKIP %s\n", why);
    exit(0);
}

static inline int done_testing(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

static inline const char *tmp_dir(void)
{
    const char *t = getenv("LLP_TMP");
    return t && *t ? t : "/tmp";
}

static inline int fixtures_required(void)
{
    const char *ci = getenv("CI");
    return ci && strcmp(ci, "true") == 0;
}

/* Path under the fixtures directory, or NULL when it does not exist. The
 * returned string is static storage reused by the next call. */
static inline const char *fixture_path(const char *rel)
{
    static char buf[4096];
    const char *root = getenv("LLP_FIXTURES");
    if (!root || !*root) root = "../shared/fixtures";
    snprintf(buf, sizeof buf, "%s/%s", root, rel);
    return access(buf, R_OK) == 0 ? buf : NULL;
}

/* For tests that need fixtures: skip when absent, fail under CI=true. */
static inline void require_fixtures(const char *rel)
{
    if (fixture_path(rel)) return;
    if (fixtures_required()) {
        printf("1..1\nnot ok 1 - fixture %s missing and CI=true requires it\n", rel);
        exit(1);
    }
    skip_all("shared fixtures not present");
}

#endif
