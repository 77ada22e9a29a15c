/* The framework: versions, result codes, the last error, buffers and strings. */
#include "check.h"

static void abi(void) {
    CHECK(secmail_abi_version() == SECMAIL_ABI_VERSION);
    CHECK(strlen(secmail_version()) > 0);
}

static void result_codes(void) {
    CHECK(strcmp(secmail_result_str(SECMAIL_OK), "SECMAIL_OK") == 0);
    CHECK(strcmp(secmail_result_str(SECMAIL_ERR_NULL_ARGUMENT), "SECMAIL_ERR_NULL_ARGUMENT") == 0);
    CHECK(strcmp(secmail_result_str(SECMAIL_ERR_PGP_CANNOT_DECRYPT),
                 "SECMAIL_ERR_PGP_CANNOT_DECRYPT") == 0);
    CHECK(strcmp(secmail_result_str(SECMAIL_ERR_SMIME_VALIDATION),
                 "SECMAIL_ERR_SMIME_VALIDATION") == 0);
    CHECK(strcmp(secmail_result_str(-1), "SECMAIL_ERR_UNKNOWN") == 0);
    CHECK(strcmp(secmail_result_str(12345), "SECMAIL_ERR_UNKNOWN") == 0);
    /* The groups: the hundreds digit is the layer. */
    CHECK(SECMAIL_ERR_NULL_ARGUMENT / 100 == 1);
    CHECK(SECMAIL_ERR_MALFORMED_MESSAGE / 100 == 2);
    CHECK(SECMAIL_ERR_PASSPHRASE_WRONG / 100 == 3);
    CHECK(SECMAIL_ERR_PGP_MALFORMED / 100 == 4);
    CHECK(SECMAIL_ERR_SMIME_MALFORMED / 100 == 5);
}

static void last_error(void) {
    secmail_buffer_t out = {0};
    /* A failure sets a message naming the argument; a success clears it. */
    CHECK_RC(secmail_passphrase_decrypt(NULL, 0, NULL, 0, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK(strstr(secmail_last_error_message(), "out") != NULL);
    CHECK_RC(secmail_passphrase_decrypt(NULL, 3, NULL, 0, &out), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK(strstr(secmail_last_error_message(), "passphrase") != NULL);
    CHECK_EMPTY(out);
    CHECK(secmail_abi_version() == SECMAIL_ABI_VERSION);
    CHECK(strlen(secmail_last_error_message()) > 0); /* plain getters leave it alone */
    secmail_output_t *o = NULL;
    CHECK_OK(secmail_output_to_memory(&o));
    CHECK(strcmp(secmail_last_error_message(), "") == 0);
    secmail_output_free(o);
}

static void buffers_and_strings(void) {
    /* Freeing NULL and empty things does nothing. */
    secmail_buffer_free(NULL);
    secmail_buffer_t empty = {0};
    secmail_buffer_free(&empty);
    secmail_string_free(NULL);

    /* A filled buffer is cleared by its free, so a second free is harmless. */
    secmail_output_t *o = NULL;
    CHECK_OK(secmail_output_to_memory(&o));
    secmail_input_t *in = NULL;
    CHECK_OK(secmail_input_from_memory(LIT("abc"), &in));
    secmail_buffer_t b = {0};
    CHECK_OK(secmail_output_memory_take(o, &b));
    CHECK_EMPTY(b); /* nothing written yet: the empty buffer is {NULL, 0} */
    secmail_buffer_free(&b);
    secmail_input_free(in);
    secmail_output_free(o);

    char *json = NULL;
    CHECK_OK(secmail_mime_inspect_json(LIT("Subject: x\r\n\r\nbody\r\n"), &json));
    CHECK(json != NULL);
    secmail_string_free(json);
}

void test_core(void) {
    abi();
    result_codes();
    last_error();
    buffers_and_strings();
}
