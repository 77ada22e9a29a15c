/* S/MIME: the in-house CA, sign, encrypt, sign-then-encrypt, read with trust anchors, and the
 * argument and garbage-input paths. */
#include "check.h"

static const char MAIL[] =
    "From: alice@example.org\r\n"
    "To: bob@example.net\r\n"
    "Subject: S/MIME\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "hello Bob\r\n";

static void round_trip(void) {
    secmail_smime_ca_t *ca = NULL;
    secmail_smime_cert_t *root = NULL, *alice = NULL, *bob = NULL, *bob2 = NULL;
    secmail_smime_key_t *alice_key = NULL, *bob_key = NULL, *bob_key2 = NULL;
    CHECK_OK(secmail_smime_ca_new_root("CN=Test Mail CA,O=secmail tests", 30, &ca));
    CHECK_OK(secmail_smime_ca_certificate(ca, &root));
    CHECK_OK(secmail_smime_ca_issue(ca, "alice@example.org", SECMAIL_SMIME_USAGE_BOTH, 30, &alice,
                                    &alice_key));
    CHECK_OK(secmail_smime_ca_issue(ca, "bob@example.net", SECMAIL_SMIME_USAGE_BOTH, 30, &bob,
                                    &bob_key));
    CHECK_RC(secmail_smime_ca_issue(ca, "x@example.org", 9, 30, &bob2, &bob_key2),
             SECMAIL_ERR_INVALID_ARGUMENT);
    CHECK(bob2 == NULL && bob_key2 == NULL);

    /* PEM out and back in. */
    char *pem = NULL, *kpem = NULL, *f1 = NULL, *f2 = NULL;
    CHECK_OK(secmail_smime_cert_to_pem(bob, &pem));
    CHECK_OK(secmail_smime_key_to_pem(bob_key, &kpem));
    if (pem && kpem) {
        CHECK_OK(secmail_smime_cert_from_bytes((const uint8_t *)pem, strlen(pem), &bob2));
        CHECK_OK(secmail_smime_key_from_bytes((const uint8_t *)kpem, strlen(kpem), &bob_key2));
    }
    CHECK_OK(secmail_smime_cert_fingerprint(bob, &f1));
    CHECK_OK(secmail_smime_cert_fingerprint(bob2, &f2));
    CHECK(f1 && f2 && strcmp(f1, f2) == 0);

    const secmail_smime_cert_t *anchors[] = {root};
    const secmail_smime_cert_t *to[] = {bob2};
    secmail_buffer_t sent = {0}, got = {0};
    secmail_verdict_t *v = NULL;
    uint32_t flags = 0;

    /* Sign (detached), read with the anchor: good, by the sender. */
    CHECK_OK(secmail_smime_sign_message((const uint8_t *)MAIL, sizeof MAIL - 1, alice, alice_key,
                                        NULL, 0, 0, &sent));
    CHECK(find_bytes(sent.data, sent.len, "multipart/signed") != NULL);
    CHECK_OK(secmail_smime_read_message(sent.data, sent.len, NULL, NULL, anchors, 1, true, &got,
                                        &v));
    CHECK_OK(secmail_verdict_flags(v, &flags));
    CHECK(flags & SECMAIL_VERDICT_SIGNED_BY_SENDER);
    secmail_verdict_free(v);
    secmail_buffer_free(&got);
    /* Without the anchor: the signer is untrusted, and requiring a valid signature fails. */
    secmail_signature_status_t st = -1;
    CHECK_OK(secmail_smime_read_message(sent.data, sent.len, NULL, NULL, NULL, 0, false, &got, &v));
    CHECK_OK(secmail_verdict_signature(v, 0, &st, NULL, NULL));
    CHECK(st == SECMAIL_SIGNATURE_UNTRUSTED);
    secmail_verdict_free(v);
    secmail_buffer_free(&got);
    /* Requiring a valid signature without anchors to validate it is a caller's mistake. */
    CHECK_RC(secmail_smime_read_message(sent.data, sent.len, NULL, NULL, NULL, 0, true, &got, &v),
             SECMAIL_ERR_MISUSE);
    CHECK_EMPTY(got);
    CHECK(v == NULL);
    secmail_buffer_free(&sent);

    /* Opaque signing. */
    CHECK_OK(secmail_smime_sign_message((const uint8_t *)MAIL, sizeof MAIL - 1, alice, alice_key,
                                        NULL, 0, SECMAIL_SMIME_OPAQUE, &sent));
    CHECK_OK(secmail_smime_read_message(sent.data, sent.len, NULL, NULL, anchors, 1, true, &got,
                                        &v));
    CHECK(find_bytes(got.data, got.len, "hello Bob") != NULL);
    secmail_verdict_free(v);
    secmail_buffer_free(&got);
    secmail_buffer_free(&sent);

    /* Sign, then encrypt to Bob; Bob reads it; Alice's key cannot open a copy for Bob only. */
    CHECK_OK(secmail_smime_sign_encrypt_message((const uint8_t *)MAIL, sizeof MAIL - 1, alice,
                                                alice_key, to, 1, &sent));
    CHECK_OK(secmail_smime_read_message(sent.data, sent.len, bob2, bob_key2, anchors, 1, true,
                                        &got, &v));
    CHECK(find_bytes(got.data, got.len, "hello Bob") != NULL);
    CHECK_OK(secmail_verdict_flags(v, &flags));
    CHECK((flags & (SECMAIL_VERDICT_FULLY_ENCRYPTED | SECMAIL_VERDICT_SIGNED_BY_SENDER)) ==
          (SECMAIL_VERDICT_FULLY_ENCRYPTED | SECMAIL_VERDICT_SIGNED_BY_SENDER));
    secmail_verdict_free(v);
    secmail_buffer_free(&got);
    secmail_buffer_free(&sent);

    CHECK_OK(secmail_smime_encrypt_message((const uint8_t *)MAIL, sizeof MAIL - 1, to, 1, &sent));
    secmail_result_t rc = secmail_smime_read_message(sent.data, sent.len, alice, alice_key,
                                                     NULL, 0, false, &got, &v);
    CHECK(rc == SECMAIL_ERR_SMIME_NOT_A_RECIPIENT || rc == SECMAIL_ERR_SMIME_DECRYPTION_FAILED);
    CHECK_EMPTY(got);
    CHECK(v == NULL);
    /* A key that does not belong to the certificate: refused before any decryption. */
    CHECK_RC(secmail_smime_read_message(sent.data, sent.len, bob, alice_key, NULL, 0, false, &got,
                                        &v),
             SECMAIL_ERR_MISUSE);
    CHECK_EMPTY(got);
    CHECK_OK(secmail_smime_read_message(sent.data, sent.len, bob, bob_key, NULL, 0, false, &got,
                                        &v));
    CHECK(find_bytes(got.data, got.len, "hello Bob") != NULL);
    secmail_verdict_free(v);
    secmail_buffer_free(&got);
    secmail_buffer_free(&sent);

    secmail_string_free(pem);
    secmail_string_free(kpem);
    secmail_string_free(f1);
    secmail_string_free(f2);
    secmail_smime_cert_free(root);
    secmail_smime_cert_free(alice);
    secmail_smime_cert_free(bob);
    secmail_smime_cert_free(bob2);
    secmail_smime_key_free(alice_key);
    secmail_smime_key_free(bob_key);
    secmail_smime_key_free(bob_key2);
    secmail_smime_ca_free(ca);
}

static void failures(void) {
    secmail_smime_cert_t *c = (secmail_smime_cert_t *)1;
    secmail_smime_key_t *k = (secmail_smime_key_t *)1;
    secmail_smime_ca_t *ca = (secmail_smime_ca_t *)1;
    secmail_buffer_t out = {0};
    secmail_verdict_t *v = (secmail_verdict_t *)1;

    CHECK_RC(secmail_smime_cert_from_bytes(LIT("-----BEGIN CERTIFICATE-----\nAAAA\n"), &c),
             SECMAIL_ERR_SMIME_MALFORMED);
    CHECK(c == NULL);
    secmail_result_t rc = secmail_smime_key_from_bytes(LIT("not a key"), &k);
    CHECK(rc == SECMAIL_ERR_SMIME_MALFORMED || rc == SECMAIL_ERR_SMIME_KEY);
    CHECK(k == NULL);
    CHECK_RC(secmail_smime_cert_from_bytes(NULL, 3, &c), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_smime_ca_new_root(NULL, 30, &ca), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK(ca == NULL);
    CHECK_RC(secmail_smime_ca_issue(NULL, "a@b.example", 0, 30, &c, &k), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_smime_sign_message(LIT("Subject: x\r\n\r\nbody\r\n"), NULL, NULL, NULL, 0, 0,
                                        &out),
             SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_EMPTY(out);
    CHECK_RC(secmail_smime_encrypt_message(LIT("Subject: x\r\n\r\nbody\r\n"), NULL, 0, NULL),
             SECMAIL_ERR_NULL_ARGUMENT);
    /* Half a decryption identity is refused rather than silently ignored. */
    CHECK_RC(secmail_smime_read_message(LIT("Subject: x\r\n\r\nbody\r\n"), NULL,
                                        (const secmail_smime_key_t *)&out, NULL, 0, false, &out,
                                        &v),
             SECMAIL_ERR_NULL_ARGUMENT);
    CHECK(v == NULL);
    /* A garbage pkcs7-mime body. */
    static const char BAD[] =
        "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nAAECAwQF\r\n";
    rc = secmail_smime_read_message((const uint8_t *)BAD, sizeof BAD - 1, NULL, NULL, NULL, 0,
                                    false, &out, &v);
    CHECK(rc / 100 == 5 || rc == SECMAIL_ERR_MISUSE);
    CHECK_EMPTY(out);
    CHECK(v == NULL);
    secmail_smime_cert_free(NULL);
    secmail_smime_key_free(NULL);
    secmail_smime_ca_free(NULL);
}

void test_smime(void) {
    round_trip();
    failures();
}
