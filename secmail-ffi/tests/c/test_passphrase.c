/* The passphrase container: one-shot buffers (streams are in test_stream.c). */
#include "check.h"

#define PASS LIT("correct horse battery staple")
#define FAST SECMAIL_PASSPHRASE_KDF_MINIMUM

static void round_trips(void) {
    const uint32_t variants[] = {FAST, FAST | SECMAIL_PASSPHRASE_ARMOR,
                                 FAST | SECMAIL_PASSPHRASE_CHACHA20,
                                 FAST | SECMAIL_PASSPHRASE_CHACHA20 | SECMAIL_PASSPHRASE_ARMOR};
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        secmail_buffer_t sealed = {0}, opened = {0};
        CHECK_OK(secmail_passphrase_encrypt(PASS, LIT("attack at dawn"), variants[i], &sealed));
        if (variants[i] & SECMAIL_PASSPHRASE_ARMOR)
            CHECK(sealed.len > 10 && memcmp(sealed.data, "-----BEGIN", 10) == 0);
        CHECK_OK(secmail_passphrase_decrypt(PASS, sealed.data, sealed.len, &opened));
        CHECK(BUF_IS(opened, "attack at dawn"));
        secmail_buffer_free(&sealed);
        secmail_buffer_free(&opened);
        CHECK_EMPTY(sealed);
    }
    /* Empty plaintext: an empty buffer back. */
    secmail_buffer_t sealed = {0}, opened = {0};
    CHECK_OK(secmail_passphrase_encrypt(PASS, NULL, 0, FAST, &sealed));
    CHECK_OK(secmail_passphrase_decrypt(PASS, sealed.data, sealed.len, &opened));
    CHECK_EMPTY(opened);
    secmail_buffer_free(&sealed);
}

static void failures(void) {
    secmail_buffer_t sealed = {0}, out = {0};
    CHECK_OK(secmail_passphrase_encrypt(PASS, LIT("secret"), FAST, &sealed));

    CHECK_RC(secmail_passphrase_decrypt(LIT("wrong"), sealed.data, sealed.len, &out),
             SECMAIL_ERR_PASSPHRASE_WRONG);
    CHECK_EMPTY(out);
    CHECK_RC(secmail_passphrase_decrypt(PASS, LIT("garbage, not a container"), &out),
             SECMAIL_ERR_PASSPHRASE_INVALID_CONTAINER);
    CHECK_EMPTY(out);
    /* Altered payload: the last byte (inside the final chunk's tag). */
    sealed.data[sealed.len - 1] ^= 1;
    CHECK_RC(secmail_passphrase_decrypt(PASS, sealed.data, sealed.len, &out),
             SECMAIL_ERR_PASSPHRASE_DECRYPTION_FAILED);
    CHECK_EMPTY(out);
    sealed.data[sealed.len - 1] ^= 1;
    /* Truncated. */
    CHECK_RC(secmail_passphrase_decrypt(PASS, sealed.data, sealed.len - 1, &out),
             SECMAIL_ERR_PASSPHRASE_DECRYPTION_FAILED);
    CHECK_EMPTY(out);
    secmail_buffer_free(&sealed);

    /* Arguments. */
    CHECK_RC(secmail_passphrase_encrypt(PASS, LIT("x"), 0x100, &out), SECMAIL_ERR_INVALID_ARGUMENT);
    CHECK_RC(secmail_passphrase_encrypt(PASS, LIT("x"),
                                        SECMAIL_PASSPHRASE_KDF_MINIMUM |
                                            SECMAIL_PASSPHRASE_KDF_INTERACTIVE,
                                        &out),
             SECMAIL_ERR_INVALID_ARGUMENT);
    CHECK_RC(secmail_passphrase_encrypt(NULL, 0, LIT("x"), FAST, &out), SECMAIL_ERR_MISUSE);
    CHECK_RC(secmail_passphrase_encrypt(NULL, 4, LIT("x"), FAST, &out), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_passphrase_encrypt(PASS, NULL, 4, FAST, &out), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_passphrase_encrypt(PASS, LIT("x"), FAST, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_passphrase_decrypt(PASS, NULL, 4, &out), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_EMPTY(out);
}

void test_passphrase(void) {
    round_trips();
    failures();
}
