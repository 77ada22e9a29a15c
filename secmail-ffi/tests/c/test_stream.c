/* Streaming: inputs and outputs over callbacks and memory. */
#include <stdlib.h>

#include "check.h"

/* A reader over a memory region that hands out at most `step` bytes per call. */
typedef struct {
    const uint8_t *data;
    size_t len, pos, step;
    int fail_at; /* fail when pos reaches this (or -1) */
    int lie;     /* report more bytes than the buffer holds */
} reader_t;

static int32_t read_cb(void *user, uint8_t *buf, size_t len, size_t *read) {
    reader_t *r = (reader_t *)user;
    if (r->fail_at >= 0 && r->pos >= (size_t)r->fail_at) return -5;
    if (r->lie) {
        *read = len + 1;
        return 0;
    }
    size_t n = r->len - r->pos;
    if (n > len) n = len;
    if (n > r->step) n = r->step;
    memcpy(buf, r->data + r->pos, n);
    r->pos += n;
    *read = n;
    return 0;
}

/* A writer that appends to a growing heap buffer, or fails. */
typedef struct {
    uint8_t *data;
    size_t len;
    int fail;
} writer_t;

static int32_t write_cb(void *user, const uint8_t *buf, size_t len) {
    writer_t *w = (writer_t *)user;
    if (w->fail) return 7;
    uint8_t *grown = (uint8_t *)realloc(w->data, w->len + len);
    if (grown == NULL) return 1;
    memcpy(grown + w->len, buf, len);
    w->data = grown;
    w->len += len;
    return 0;
}

#define PASS LIT("stream pass")

static void callbacks_round_trip(void) {
    static uint8_t plain[200000];
    for (size_t i = 0; i < sizeof plain; i++) plain[i] = (uint8_t)(i * 7 + 3);
    reader_t r = {plain, sizeof plain, 0, 4093, -1, 0};
    writer_t w = {NULL, 0, 0};
    secmail_input_t *in = NULL;
    secmail_output_t *out = NULL;
    CHECK_OK(secmail_input_from_callback(read_cb, &r, &in));
    CHECK_OK(secmail_output_to_callback(write_cb, &w, &out));
    CHECK_OK(secmail_passphrase_encrypt_stream(PASS, in, SECMAIL_PASSPHRASE_KDF_MINIMUM, out));
    secmail_input_free(in);
    secmail_output_free(out);
    CHECK(w.len > sizeof plain);

    /* Decrypt from memory into a memory output. */
    secmail_input_t *in2 = NULL;
    secmail_output_t *mem = NULL;
    CHECK_OK(secmail_input_from_memory(w.data, w.len, &in2));
    CHECK_OK(secmail_output_to_memory(&mem));
    CHECK_OK(secmail_passphrase_decrypt_stream(PASS, in2, mem));
    secmail_buffer_t got = {0};
    CHECK_OK(secmail_output_memory_take(mem, &got));
    CHECK(got.len == sizeof plain && memcmp(got.data, plain, sizeof plain) == 0);
    secmail_buffer_free(&got);
    secmail_input_free(in2);

    /* Cut short: fails, and the memory output holds nothing afterwards. */
    CHECK_OK(secmail_input_from_memory(w.data, w.len - 10, &in2));
    CHECK_RC(secmail_passphrase_decrypt_stream(PASS, in2, mem),
             SECMAIL_ERR_PASSPHRASE_DECRYPTION_FAILED);
    CHECK_OK(secmail_output_memory_take(mem, &got));
    CHECK_EMPTY(got);
    secmail_input_free(in2);
    secmail_output_free(mem);
    free(w.data);
}

static void callback_failures(void) {
    static const uint8_t plain[1000] = {1, 2, 3};
    secmail_input_t *in = NULL;
    secmail_output_t *out = NULL;

    /* The read callback fails: SECMAIL_ERR_IO. */
    reader_t r = {plain, sizeof plain, 0, 100, 300, 0};
    writer_t w = {NULL, 0, 0};
    CHECK_OK(secmail_input_from_callback(read_cb, &r, &in));
    CHECK_OK(secmail_output_to_callback(write_cb, &w, &out));
    CHECK_RC(secmail_passphrase_encrypt_stream(PASS, in, SECMAIL_PASSPHRASE_KDF_MINIMUM, out),
             SECMAIL_ERR_IO);
    CHECK(strstr(secmail_last_error_message(), "read callback") != NULL);
    secmail_input_free(in);
    secmail_output_free(out);
    free(w.data);

    /* A read callback that claims more than the buffer holds is refused. */
    reader_t liar = {plain, sizeof plain, 0, 100, -1, 1};
    CHECK_OK(secmail_input_from_callback(read_cb, &liar, &in));
    CHECK_OK(secmail_output_to_memory(&out));
    CHECK_RC(secmail_passphrase_encrypt_stream(PASS, in, SECMAIL_PASSPHRASE_KDF_MINIMUM, out),
             SECMAIL_ERR_IO);
    secmail_input_free(in);
    secmail_output_free(out);

    /* The write callback fails: SECMAIL_ERR_IO. */
    reader_t r2 = {plain, sizeof plain, 0, 100, -1, 0};
    writer_t bad = {NULL, 0, 1};
    CHECK_OK(secmail_input_from_callback(read_cb, &r2, &in));
    CHECK_OK(secmail_output_to_callback(write_cb, &bad, &out));
    CHECK_RC(secmail_passphrase_encrypt_stream(PASS, in, SECMAIL_PASSPHRASE_KDF_MINIMUM, out),
             SECMAIL_ERR_IO);
    /* Only a memory output has bytes to take. */
    secmail_buffer_t b = {0};
    CHECK_RC(secmail_output_memory_take(out, &b), SECMAIL_ERR_INVALID_ARGUMENT);
    CHECK_EMPTY(b);
    secmail_input_free(in);
    secmail_output_free(out);
}

static void null_arguments(void) {
    secmail_input_t *in = (secmail_input_t *)1;
    secmail_output_t *out = (secmail_output_t *)1;
    CHECK_RC(secmail_input_from_callback(NULL, NULL, &in), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK(in == NULL); /* cleared on failure */
    CHECK_RC(secmail_input_from_callback(read_cb, NULL, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_input_from_memory(NULL, 5, &in), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK(in == NULL);
    CHECK_RC(secmail_output_to_callback(NULL, NULL, &out), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK(out == NULL);
    CHECK_RC(secmail_output_to_memory(NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_output_memory_take(NULL, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    secmail_buffer_t b = {0};
    CHECK_RC(secmail_output_memory_take(NULL, &b), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_passphrase_encrypt_stream(PASS, NULL, 0, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_passphrase_decrypt_stream(PASS, NULL, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    /* An empty memory input is fine to make (and reads as the end at once). */
    CHECK_OK(secmail_input_from_memory(NULL, 0, &in));
    CHECK_OK(secmail_output_to_memory(&out));
    CHECK_RC(secmail_passphrase_decrypt_stream(PASS, in, out),
             SECMAIL_ERR_PASSPHRASE_INVALID_CONTAINER);
    secmail_input_free(in);
    secmail_output_free(out);
    secmail_input_free(NULL);
    secmail_output_free(NULL);
}

void test_stream(void) {
    callbacks_round_trip();
    callback_failures();
    null_arguments();
}
