/* A few TAP helpers for the C unit tests (one program per file). */
#ifndef VMLAB_TEST_TAP_H
#define VMLAB_TEST_TAP_H
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

static inline void tap_plan(int n) { printf("1..%d\n", n); }

static inline int tap_okv(int cond, const char *file, int line, const char *fmt, va_list ap)
{
    printf("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
    vprintf(fmt, ap);
    printf("\n");
    if (!cond) {
        tap_failed++;
        printf("#   Failed test at %s line %d.\n", file, line);
    }
    fflush(stdout);
    return cond;
}

static inline int tap_ok_at(int cond, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    int r;
    va_start(ap, fmt);
    r = tap_okv(cond, file, line, fmt, ap);
    va_end(ap);
    return r;
}

#define ok(cond, ...) tap_ok_at(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) do { \
        long long g_ = (long long)(got), w_ = (long long)(want); \
        if (!tap_ok_at(g_ == w_, __FILE__, __LINE__, __VA_ARGS__)) \
            printf("#          got: %lld\n#     expected: %lld\n", g_, w_); \
    } while (0)
#define is_str(got, want, ...) do { \
        const char *g_ = (got), *w_ = (want); \
        if (!tap_ok_at(g_ && w_ && !strcmp(g_, w_), __FILE__, __LINE__, __VA_ARGS__)) \
            printf("#          got: '%s'\n#     expected: '%s'\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
    } while (0)

static inline void tap_skip_all(const char *why) { printf("1..0 # SKIP %s\n", why); exit(0); }
static inline void tap_diag(const char *msg) { printf("# %s\n", msg); }
static inline int tap_done(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed > 254 ? 254 : tap_failed;
}
#endif
