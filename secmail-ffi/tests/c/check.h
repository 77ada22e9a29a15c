/* A tiny assertion framework for the C test suite of secmail-ffi.
 *
 * CHECK(cond)            a condition that must hold
 * CHECK_OK(expr)         a call that must return SECMAIL_OK (prints the last error if not)
 * CHECK_RC(expr, code)   a call that must return exactly `code`
 * CHECK_EMPTY(buf)       a secmail_buffer_t that a failed call must have left {NULL, 0}
 *
 * Failures are counted and reported with file and line; a test keeps going after one so that
 * one run shows every failure. Each area has its own file with a `void test_<area>(void)`,
 * listed in main.c. */
#ifndef SECMAIL_CHECK_H
#define SECMAIL_CHECK_H

#include <stdio.h>
#include <string.h>

#include "secmail.h"

extern int check_failures;
extern int check_count;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        check_count++;                                                              \
        if (!(cond)) {                                                              \
            check_failures++;                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                           \
    } while (0)

#define CHECK_RC(expr, code)                                                        \
    do {                                                                            \
        secmail_result_t check_rc_ = (expr);                                        \
        check_count++;                                                              \
        if (check_rc_ != (code)) {                                                  \
            check_failures++;                                                       \
            fprintf(stderr, "%s:%d: %s returned %s (%d), expected %s: %s\n",        \
                    __FILE__, __LINE__, #expr, secmail_result_str(check_rc_),       \
                    (int)check_rc_, secmail_result_str(code),                       \
                    secmail_last_error_message());                                  \
        }                                                                           \
    } while (0)

#define CHECK_OK(expr) CHECK_RC(expr, SECMAIL_OK)

#define CHECK_EMPTY(buf) CHECK((buf).data == NULL && (buf).len == 0)

/* Whether buffer `buf` holds exactly the NUL-terminated string `s`. */
#define BUF_IS(buf, s) ((buf).len == strlen(s) && memcmp((buf).data, (s), (buf).len) == 0)

/* Bytes of a string literal, as (pointer, length). */
#define LIT(s) (const uint8_t *)(s), (sizeof(s) - 1)

/* The first occurrence of `needle` (NUL-terminated) in `hay[0..len]`, or NULL. */
static inline uint8_t *find_bytes(const uint8_t *hay, size_t len, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; hay != NULL && n <= len && i <= len - n; i++)
        if (memcmp(hay + i, needle, n) == 0) return (uint8_t *)(hay + i);
    return NULL;
}

/* Runs one named test function. */
#define RUN(fn)                                                                     \
    do {                                                                            \
        int before_ = check_failures;                                               \
        fn();                                                                       \
        printf("%-40s %s\n", #fn, check_failures == before_ ? "ok" : "FAILED");     \
    } while (0)

/* The areas (one file each). */
void test_core(void);
void test_stream(void);
void test_mime(void);
void test_passphrase(void);
void test_verdict(void);
void test_pgp(void);
void test_smime(void);
void test_threads(void);
void test_transport(void);
void test_store(void);

#endif
