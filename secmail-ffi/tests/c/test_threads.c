/* Threads: the last error is per thread; an immutable handle (a certificate) is read from
 * several threads at once. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>

#include "check.h"

#define THREADS 4

typedef struct {
    const secmail_cert_t *cert;
    int index;
    int failures;
} job_t;

static void *worker(void *arg) {
    job_t *job = (job_t *)arg;
    char name[32];
    snprintf(name, sizeof name, "thread-%d", job->index);
    for (int round = 0; round < 3; round++) {
        /* A failure whose message names this thread's own bad argument... */
        char *s = NULL;
        if (secmail_cert_fingerprint(NULL, &s) != SECMAIL_ERR_NULL_ARGUMENT) job->failures++;
        const char *msg = secmail_last_error_message();
        if (strstr(msg, "cert is NULL") == NULL) job->failures++;
        /* ...a success on the shared certificate, which clears this thread's message only. */
        secmail_buffer_t out = {0};
        if (secmail_cert_export(job->cert, SECMAIL_PGP_ARMOR, &out) != SECMAIL_OK) job->failures++;
        if (strcmp(secmail_last_error_message(), "") != 0) job->failures++;
        secmail_buffer_free(&out);
        if (secmail_certstore_open(NULL, NULL) != SECMAIL_ERR_NULL_ARGUMENT) job->failures++;
        if (strstr(secmail_last_error_message(), "store is NULL") == NULL) job->failures++;
    }
    (void)name;
    return NULL;
}

void test_threads(void) {
    secmail_cert_t *cert = NULL;
    CHECK_OK(secmail_pgp_generate("Threads <t@example.org>", SECMAIL_PGP_ALGO_CV25519, 0, NULL, 0,
                                  &cert, NULL));
    /* This thread's message stays what it was while the others work. */
    CHECK_RC(secmail_input_from_memory(NULL, 1, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    pthread_t t[THREADS];
    job_t jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i].cert = cert;
        jobs[i].index = i;
        jobs[i].failures = 0;
        CHECK(pthread_create(&t[i], NULL, worker, &jobs[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        CHECK(pthread_join(t[i], NULL) == 0);
        CHECK(jobs[i].failures == 0);
    }
    CHECK(strstr(secmail_last_error_message(), "out is NULL") != NULL);
    secmail_cert_free(cert);
}
