/* OpenPGP: keys, certificates, the store, encryption, signatures, PGP/MIME, Autocrypt. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <unistd.h>

#include "check.h"

static secmail_cert_t *alice, *bob, *eve;
static secmail_pgp_signer_t *alice_signer;

static const char MAIL[] =
    "From: Alice <alice@example.org>\r\n"
    "To: Bob <bob@example.net>\r\n"
    "Subject: Merger\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "hi Bob\r\n";

static void keys(void) {
    secmail_buffer_t rev = {0};
    CHECK_OK(secmail_pgp_generate("Alice <alice@example.org>", SECMAIL_PGP_ALGO_CV25519, 0, NULL,
                                  0, &alice, &rev));
    CHECK(rev.len > 0 && memcmp(rev.data, "-----BEGIN PGP", 14) == 0);
    secmail_buffer_free(&rev);
    CHECK_OK(secmail_pgp_generate("Bob <bob@example.net>", SECMAIL_PGP_ALGO_CV25519, 0, NULL, 0,
                                  &bob, NULL));
    CHECK_OK(secmail_pgp_signer_new(alice, NULL, 0, &alice_signer));
    /* Eve's key opens nothing sent to Bob. */
    CHECK_OK(secmail_pgp_generate("Eve <eve@example.com>", SECMAIL_PGP_ALGO_CV25519, 0, NULL, 0,
                                  &eve, NULL));

    char *fpr = NULL, *uid = NULL, *emails = NULL;
    CHECK_OK(secmail_cert_fingerprint(alice, &fpr));
    CHECK(fpr != NULL && strlen(fpr) == 40);
    CHECK_OK(secmail_cert_primary_userid(alice, &uid));
    CHECK(uid != NULL && strcmp(uid, "Alice <alice@example.org>") == 0);
    CHECK_OK(secmail_cert_emails_json(alice, &emails));
    CHECK(emails != NULL && strcmp(emails, "[\"alice@example.org\"]") == 0);
    bool secret = false;
    CHECK_OK(secmail_cert_has_secret(alice, &secret));
    CHECK(secret);

    /* Public part, export and import (armored and binary). */
    secmail_cert_t *pub = NULL, *again = NULL;
    CHECK_OK(secmail_cert_to_public(alice, &pub));
    CHECK_OK(secmail_cert_has_secret(pub, &secret));
    CHECK(!secret);
    secmail_buffer_t armored = {0}, binary = {0}, tsk = {0};
    CHECK_OK(secmail_cert_export(alice, SECMAIL_PGP_ARMOR, &armored));
    CHECK(memcmp(armored.data, "-----BEGIN PGP PUBLIC KEY BLOCK", 31) == 0);
    CHECK_OK(secmail_cert_export(alice, 0, &binary));
    CHECK_OK(secmail_cert_from_bytes(binary.data, binary.len, &again));
    char *fpr2 = NULL;
    CHECK_OK(secmail_cert_fingerprint(again, &fpr2));
    CHECK(fpr2 != NULL && fpr != NULL && strcmp(fpr, fpr2) == 0);
    CHECK_OK(secmail_cert_export_secret(alice, SECMAIL_PGP_ARMOR, &tsk));
    CHECK(memcmp(tsk.data, "-----BEGIN PGP PRIVATE KEY BLOCK", 32) == 0);
    secmail_buffer_free(&binary); /* out-parameters are overwritten, not freed */
    CHECK_RC(secmail_cert_export_secret(pub, 0, &binary), SECMAIL_ERR_MISUSE);
    CHECK_EMPTY(binary);
    CHECK_RC(secmail_cert_export(alice, 0x80, &binary), SECMAIL_ERR_INVALID_ARGUMENT);

    /* Signing needs a secret key; a locked one needs its passphrase. */
    secmail_pgp_signer_t *s = (secmail_pgp_signer_t *)1;
    CHECK_RC(secmail_pgp_signer_new(pub, NULL, 0, &s), SECMAIL_ERR_PGP_UNUSABLE_CERT);
    CHECK(s == NULL);
    secmail_cert_t *locked = NULL;
    CHECK_OK(secmail_pgp_generate("Carol <carol@example.com>", SECMAIL_PGP_ALGO_CV25519,
                                  0, LIT("carol pass"), &locked, NULL));
    CHECK_RC(secmail_pgp_signer_new(locked, LIT("wrong"), &s), SECMAIL_ERR_PGP_KEY_LOCKED);
    CHECK_OK(secmail_pgp_signer_new(locked, LIT("carol pass"), &s));
    secmail_pgp_signer_free(s);
    secmail_cert_free(locked);

    /* Garbage and bad arguments. */
    secmail_cert_t *c = (secmail_cert_t *)1;
    CHECK_RC(secmail_cert_from_bytes(LIT("not a key"), &c), SECMAIL_ERR_PGP_MALFORMED);
    CHECK(c == NULL);
    CHECK_RC(secmail_cert_from_bytes(NULL, 0, &c), SECMAIL_ERR_PGP_MALFORMED);
    CHECK_RC(secmail_pgp_generate(NULL, 0, 0, NULL, 0, &c, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_pgp_generate("x", 9, 0, NULL, 0, &c, NULL), SECMAIL_ERR_INVALID_ARGUMENT);
    CHECK_RC(secmail_pgp_generate("x", 0, 0x40, NULL, 0, &c, NULL), SECMAIL_ERR_INVALID_ARGUMENT);
    CHECK_RC(secmail_pgp_generate("\xff\xfe", 0, 0, NULL, 0, &c, NULL), SECMAIL_ERR_UTF8);
    secmail_string_free(fpr2);
    CHECK_RC(secmail_cert_fingerprint(NULL, &fpr2), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_cert_to_public(alice, NULL), SECMAIL_ERR_NULL_ARGUMENT);

    secmail_string_free(fpr);
    secmail_string_free(fpr2);
    secmail_string_free(uid);
    secmail_string_free(emails);
    secmail_buffer_free(&armored);
    secmail_buffer_free(&binary);
    secmail_buffer_free(&tsk);
    secmail_cert_free(pub);
    secmail_cert_free(again);
    secmail_cert_free(NULL);
    secmail_pgp_signer_free(NULL);
}

static void store(void) {
    secmail_certstore_t *st = NULL;
    CHECK_OK(secmail_certstore_new(&st));
    CHECK_OK(secmail_certstore_insert(st, alice));
    secmail_buffer_t ring = {0};
    CHECK_OK(secmail_cert_export(bob, SECMAIL_PGP_ARMOR, &ring));
    size_t n = 0;
    CHECK_OK(secmail_certstore_import(st, ring.data, ring.len, &n));
    CHECK(n == 1);
    CHECK_OK(secmail_certstore_len(st, &n));
    CHECK(n == 2);

    char *fpr = NULL;
    CHECK_OK(secmail_cert_fingerprint(bob, &fpr));
    secmail_cert_t *got = NULL;
    CHECK_OK(secmail_certstore_get(st, fpr, &got));
    bool secret = true;
    CHECK_OK(secmail_cert_has_secret(got, &secret));
    CHECK(!secret); /* the store keeps public parts only */
    secmail_cert_free(got);
    CHECK_OK(secmail_certstore_recipient(st, "bob@example.net", &got));
    char *fpr2 = NULL;
    CHECK_OK(secmail_cert_fingerprint(got, &fpr2));
    CHECK(fpr != NULL && fpr2 != NULL && strcmp(fpr, fpr2) == 0);
    secmail_cert_free(got);
    got = (secmail_cert_t *)1;
    CHECK_RC(secmail_certstore_get(st, "0000000000000000000000000000000000000000", &got),
             SECMAIL_ERR_NOT_FOUND);
    CHECK(got == NULL);
    CHECK_RC(secmail_certstore_get(st, "not hex", &got), SECMAIL_ERR_INVALID_ARGUMENT);
    secmail_result_t rc = secmail_certstore_recipient(st, "nobody@example.org", &got);
    CHECK(rc / 100 == 4 || rc == SECMAIL_ERR_NOT_FOUND);
    CHECK(got == NULL);
    CHECK_RC(secmail_certstore_import(st, LIT("garbage"), NULL), SECMAIL_ERR_PGP_MALFORMED);
    CHECK_RC(secmail_certstore_insert(st, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_certstore_insert(NULL, alice), SECMAIL_ERR_NULL_ARGUMENT);
    secmail_certstore_free(st);

    /* A directory store keeps what was inserted. */
    char dir[] = "/tmp/secmail-ffi-store-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK_OK(secmail_certstore_open(dir, &st));
    CHECK_OK(secmail_certstore_insert(st, bob));
    secmail_certstore_free(st);
    st = NULL;
    CHECK_OK(secmail_certstore_open(dir, &st));
    CHECK_OK(secmail_certstore_len(st, &n));
    CHECK(n == 1);
    CHECK_OK(secmail_certstore_get(st, fpr, &got));
    secmail_cert_free(got);
    secmail_certstore_free(st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    CHECK_RC(secmail_certstore_open(NULL, &st), SECMAIL_ERR_NULL_ARGUMENT);

    secmail_string_free(fpr);
    secmail_string_free(fpr2);
    secmail_buffer_free(&ring);
    secmail_certstore_free(NULL);
}

static secmail_pgp_decrypt_options_t *options_for(secmail_cert_t *key, secmail_cert_t *verify) {
    secmail_pgp_decrypt_options_t *o = NULL;
    CHECK_OK(secmail_pgp_decrypt_options_new(&o));
    if (key) CHECK_OK(secmail_pgp_decrypt_options_add_cert(o, key, SECMAIL_PGP_ROLE_DECRYPT));
    if (verify) CHECK_OK(secmail_pgp_decrypt_options_add_cert(o, verify, SECMAIL_PGP_ROLE_VERIFY));
    return o;
}

static void encrypt_decrypt(void) {
    const secmail_cert_t *to[] = {bob};
    secmail_buffer_t ct = {0}, pt = {0};
    CHECK_OK(secmail_pgp_encrypt(LIT("the plan"), to, 1, NULL, 0, alice_signer, SECMAIL_PGP_ARMOR,
                                 &ct));
    CHECK(memcmp(ct.data, "-----BEGIN PGP MESSAGE", 22) == 0);

    secmail_pgp_decrypt_options_t *o = options_for(bob, alice);
    /* A plaintext bound below the message's size: nothing released. */
    secmail_pgp_decrypt_options_t *small = options_for(bob, NULL);
    CHECK_RC(secmail_pgp_decrypt_options_set_max_plaintext(small, 0), SECMAIL_ERR_INVALID_ARGUMENT);
    CHECK_RC(secmail_pgp_decrypt_options_set_max_plaintext(NULL, 4), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_OK(secmail_pgp_decrypt_options_set_max_plaintext(small, 4));
    secmail_verdict_t *bounded_v = NULL;
    CHECK_RC(secmail_pgp_decrypt(ct.data, ct.len, small, &pt, &bounded_v), SECMAIL_ERR_PGP_TOO_LARGE);
    CHECK_EMPTY(pt);
    CHECK(bounded_v == NULL);
    CHECK_OK(secmail_pgp_decrypt_options_set_max_plaintext(small, 8));
    CHECK_OK(secmail_pgp_decrypt(ct.data, ct.len, small, &pt, &bounded_v));
    CHECK(BUF_IS(pt, "the plan"));
    secmail_buffer_free(&pt);
    secmail_verdict_free(bounded_v);
    secmail_pgp_decrypt_options_free(small);
    CHECK_OK(secmail_pgp_decrypt_options_set_from(o, "alice@example.org"));
    secmail_verdict_t *v = NULL;
    CHECK_OK(secmail_pgp_decrypt(ct.data, ct.len, o, &pt, &v));
    CHECK(BUF_IS(pt, "the plan"));
    uint32_t flags = 0;
    CHECK_OK(secmail_verdict_flags(v, &flags));
    CHECK(flags & SECMAIL_VERDICT_FULLY_ENCRYPTED);
    CHECK(flags & SECMAIL_VERDICT_FULLY_SIGNED);
    CHECK(flags & SECMAIL_VERDICT_SIGNED_BY_SENDER);
    size_t n = 0;
    CHECK_OK(secmail_verdict_signature_count(v, &n));
    CHECK(n == 1);
    secmail_signature_status_t st = -1;
    bool matches = false;
    char *sfpr = NULL, *afpr = NULL, *json = NULL, *from = NULL, *path = NULL;
    CHECK_OK(secmail_verdict_signature(v, 0, &st, &matches, &sfpr));
    CHECK(st == SECMAIL_SIGNATURE_GOOD && matches);
    CHECK_OK(secmail_cert_fingerprint(alice, &afpr));
    CHECK(sfpr != NULL && afpr != NULL && strcmp(sfpr, afpr) == 0);
    CHECK_RC(secmail_verdict_signature(v, 1, &st, NULL, NULL), SECMAIL_ERR_INVALID_ARGUMENT);
    CHECK_OK(secmail_verdict_part_count(v, &n));
    CHECK(n == 1);
    CHECK_OK(secmail_verdict_part(v, 0, &path, &flags));
    CHECK(flags == (SECMAIL_PART_ENCRYPTED | SECMAIL_PART_SIGNED));
    secmail_string_free(path);
    CHECK_RC(secmail_verdict_part(v, 5, &path, &flags), SECMAIL_ERR_INVALID_ARGUMENT);
    CHECK_OK(secmail_verdict_from(v, &from));
    CHECK(from != NULL && strcmp(from, "alice@example.org") == 0);
    CHECK_OK(secmail_verdict_to_json(v, &json));
    CHECK(json != NULL && strstr(json, "\"status\":\"good\"") != NULL);
    secmail_string_free(sfpr);
    secmail_string_free(afpr);
    secmail_string_free(json);
    secmail_string_free(from);
    secmail_string_free(path);
    secmail_verdict_free(v);
    secmail_buffer_free(&pt);
    secmail_pgp_decrypt_options_free(o);

    /* The wrong key: a code, no plaintext, no verdict. */
    o = options_for(eve, NULL);
    v = (secmail_verdict_t *)1;
    CHECK_RC(secmail_pgp_decrypt(ct.data, ct.len, o, &pt, &v), SECMAIL_ERR_PGP_CANNOT_DECRYPT);
    CHECK_EMPTY(pt);
    CHECK(v == NULL);
    /* Tampered: flip a byte in the middle of the binary message. */
    secmail_buffer_t bin = {0};
    CHECK_OK(secmail_pgp_encrypt(LIT("the plan"), to, 1, NULL, 0, NULL, 0, &bin));
    secmail_pgp_decrypt_options_free(o);
    o = options_for(bob, NULL);
    bin.data[bin.len - 5] ^= 0x40;
    secmail_result_t rc = secmail_pgp_decrypt(bin.data, bin.len, o, &pt, &v);
    CHECK(rc == SECMAIL_ERR_PGP_INTEGRITY || rc == SECMAIL_ERR_PGP_MALFORMED);
    CHECK_EMPTY(pt);
    CHECK(v == NULL);
    CHECK_RC(secmail_pgp_decrypt(LIT("garbage"), o, &pt, &v), SECMAIL_ERR_PGP_MALFORMED);
    CHECK_RC(secmail_pgp_decrypt(ct.data, ct.len, NULL, &pt, &v), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_pgp_decrypt_options_add_cert(o, bob, 77), SECMAIL_ERR_INVALID_ARGUMENT);
    secmail_buffer_free(&bin);
    secmail_pgp_decrypt_options_free(o);

    /* Encrypting to nobody is a misuse; a NULL in the array is a NULL argument. */
    const secmail_cert_t *none[] = {NULL};
    CHECK_RC(secmail_pgp_encrypt(LIT("x"), NULL, 0, NULL, 0, NULL, 0, &bin), SECMAIL_ERR_MISUSE);
    CHECK_RC(secmail_pgp_encrypt(LIT("x"), none, 1, NULL, 0, NULL, 0, &bin),
             SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_EMPTY(bin);

    /* Password encryption. */
    CHECK_OK(secmail_pgp_encrypt(LIT("by password"), NULL, 0, LIT("pw"), NULL, 0, &bin));
    CHECK_OK(secmail_pgp_decrypt_options_new(&o));
    CHECK_OK(secmail_pgp_decrypt_options_add_passphrase(o, LIT("wrong"),
                                                        SECMAIL_PGP_PASSPHRASE_MESSAGE));
    CHECK_RC(secmail_pgp_decrypt(bin.data, bin.len, o, &pt, &v), SECMAIL_ERR_PGP_CANNOT_DECRYPT);
    CHECK_OK(secmail_pgp_decrypt_options_add_passphrase(o, LIT("pw"),
                                                        SECMAIL_PGP_PASSPHRASE_MESSAGE));
    CHECK_OK(secmail_pgp_decrypt(bin.data, bin.len, o, &pt, &v));
    CHECK(BUF_IS(pt, "by password"));
    CHECK_RC(secmail_pgp_decrypt_options_add_passphrase(o, NULL, 0, 0), SECMAIL_ERR_MISUSE);
    secmail_verdict_free(v);
    secmail_buffer_free(&pt);
    secmail_buffer_free(&bin);
    secmail_pgp_decrypt_options_free(o);

    /* Streams. */
    secmail_input_t *in = NULL;
    secmail_output_t *out = NULL;
    CHECK_OK(secmail_input_from_memory(LIT("streamed"), &in));
    CHECK_OK(secmail_output_to_memory(&out));
    CHECK_OK(secmail_pgp_encrypt_stream(in, to, 1, NULL, 0, NULL, 0, out));
    CHECK_OK(secmail_output_memory_take(out, &bin));
    secmail_input_free(in);
    CHECK_OK(secmail_input_from_memory(bin.data, bin.len, &in));
    o = options_for(bob, NULL);
    CHECK_OK(secmail_pgp_decrypt_stream(in, o, out, &v));
    CHECK_OK(secmail_output_memory_take(out, &pt));
    CHECK(BUF_IS(pt, "streamed"));
    secmail_verdict_free(v);
    secmail_buffer_free(&pt);
    secmail_input_free(in);
    /* The wrong key over a stream: nothing in the output. */
    secmail_pgp_decrypt_options_free(o);
    o = options_for(eve, NULL);
    CHECK_OK(secmail_input_from_memory(bin.data, bin.len, &in));
    CHECK_RC(secmail_pgp_decrypt_stream(in, o, out, &v), SECMAIL_ERR_PGP_CANNOT_DECRYPT);
    CHECK_OK(secmail_output_memory_take(out, &pt));
    CHECK_EMPTY(pt);
    secmail_input_free(in);
    secmail_output_free(out);
    secmail_pgp_decrypt_options_free(o);
    secmail_buffer_free(&bin);
    secmail_buffer_free(&ct);
}

static void signatures(void) {
    const secmail_cert_t *certs[] = {alice};
    secmail_buffer_t sig = {0}, content = {0};
    secmail_verdict_t *v = NULL;
    secmail_signature_status_t st = -1;

    CHECK_OK(secmail_pgp_sign(LIT("signed data"), alice_signer,
                              SECMAIL_PGP_DETACHED | SECMAIL_PGP_ARMOR, &sig));
    CHECK_OK(secmail_pgp_verify_detached(LIT("signed data"), sig.data, sig.len, certs, 1,
                                         "alice@example.org", &v));
    CHECK_OK(secmail_verdict_signature(v, 0, &st, NULL, NULL));
    CHECK(st == SECMAIL_SIGNATURE_GOOD);
    secmail_verdict_free(v);
    /* Altered data: the call succeeds, the signature is bad. */
    CHECK_OK(secmail_pgp_verify_detached(LIT("signed dada"), sig.data, sig.len, certs, 1, NULL, &v));
    CHECK_OK(secmail_verdict_signature(v, 0, &st, NULL, NULL));
    CHECK(st == SECMAIL_SIGNATURE_BAD);
    secmail_verdict_free(v);
    /* Unknown signer. */
    CHECK_OK(secmail_pgp_verify_detached(LIT("signed data"), sig.data, sig.len, NULL, 0, NULL, &v));
    CHECK_OK(secmail_verdict_signature(v, 0, &st, NULL, NULL));
    CHECK(st == SECMAIL_SIGNATURE_UNKNOWN_KEY);
    secmail_verdict_free(v);
    v = (secmail_verdict_t *)1;
    CHECK_RC(secmail_pgp_verify_detached(LIT("x"), LIT("garbage"), certs, 1, NULL, &v),
             SECMAIL_ERR_PGP_MALFORMED);
    CHECK(v == NULL);
    secmail_buffer_free(&sig);

    /* Inline. */
    CHECK_OK(secmail_pgp_sign(LIT("inline"), alice_signer, 0, &sig));
    CHECK_OK(secmail_pgp_verify(sig.data, sig.len, certs, 1, NULL, &content, &v));
    CHECK(BUF_IS(content, "inline"));
    CHECK_OK(secmail_verdict_signature(v, 0, &st, NULL, NULL));
    CHECK(st == SECMAIL_SIGNATURE_GOOD);
    secmail_verdict_free(v);
    secmail_buffer_free(&content);
    secmail_buffer_free(&sig);

    /* Streaming: sign detached from an input, verify from an input. */
    secmail_input_t *in = NULL;
    secmail_output_t *out = NULL;
    CHECK_OK(secmail_input_from_memory(LIT("streamed data"), &in));
    CHECK_OK(secmail_output_to_memory(&out));
    CHECK_OK(secmail_pgp_sign_stream(in, alice_signer, SECMAIL_PGP_DETACHED, out));
    CHECK_OK(secmail_output_memory_take(out, &sig));
    secmail_input_free(in);
    CHECK_OK(secmail_input_from_memory(LIT("streamed data"), &in));
    CHECK_OK(secmail_pgp_verify_detached_stream(in, sig.data, sig.len, certs, 1, NULL, &v));
    CHECK_OK(secmail_verdict_signature(v, 0, &st, NULL, NULL));
    CHECK(st == SECMAIL_SIGNATURE_GOOD);
    secmail_verdict_free(v);
    secmail_input_free(in);
    CHECK_OK(secmail_input_from_memory(LIT("streamed dada"), &in));
    CHECK_OK(secmail_pgp_verify_detached_stream(in, sig.data, sig.len, certs, 1, NULL, &v));
    CHECK_OK(secmail_verdict_signature(v, 0, &st, NULL, NULL));
    CHECK(st == SECMAIL_SIGNATURE_BAD);
    secmail_verdict_free(v);
    CHECK_RC(secmail_pgp_sign_stream(in, NULL, 0, out), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_pgp_verify_detached_stream(NULL, sig.data, sig.len, certs, 1, NULL, &v),
             SECMAIL_ERR_NULL_ARGUMENT);
    CHECK(v == NULL);
    secmail_input_free(in);
    secmail_output_free(out);
    secmail_buffer_free(&sig);

    CHECK_RC(secmail_pgp_sign(LIT("x"), NULL, 0, &sig), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_pgp_sign(LIT("x"), alice_signer, 0x10, &sig), SECMAIL_ERR_INVALID_ARGUMENT);
    CHECK_EMPTY(sig);
}

static void mail(void) {
    const secmail_cert_t *to[] = {bob};
    const secmail_cert_t *certs[] = {alice};
    secmail_buffer_t enc = {0}, dec = {0}, signed_mail = {0};
    secmail_verdict_t *v = NULL;
    uint32_t flags = 0;

    CHECK_OK(secmail_pgp_encrypt_mail((const uint8_t *)MAIL, sizeof MAIL - 1, to, 1, alice_signer,
                                      &enc));
    CHECK(enc.len > 0 && find_bytes(enc.data, enc.len, "Subject: [...]") != NULL);
    secmail_pgp_decrypt_options_t *o = options_for(bob, alice);
    CHECK_OK(secmail_pgp_decrypt_mail(enc.data, enc.len, o, &dec, &v));
    CHECK(find_bytes(dec.data, dec.len, "Subject: Merger") != NULL);
    CHECK_OK(secmail_verdict_flags(v, &flags));
    CHECK((flags & (SECMAIL_VERDICT_FULLY_ENCRYPTED | SECMAIL_VERDICT_FULLY_SIGNED |
                    SECMAIL_VERDICT_SIGNED_BY_SENDER)) ==
          (SECMAIL_VERDICT_FULLY_ENCRYPTED | SECMAIL_VERDICT_FULLY_SIGNED |
           SECMAIL_VERDICT_SIGNED_BY_SENDER));
    secmail_verdict_free(v);
    secmail_buffer_free(&dec);
    secmail_pgp_decrypt_options_free(o);
    o = options_for(eve, NULL);
    CHECK_RC(secmail_pgp_decrypt_mail(enc.data, enc.len, o, &dec, &v),
             SECMAIL_ERR_PGP_CANNOT_DECRYPT);
    CHECK_EMPTY(dec);
    secmail_pgp_decrypt_options_free(o);

    CHECK_OK(secmail_pgp_sign_mail((const uint8_t *)MAIL, sizeof MAIL - 1, alice_signer,
                                   &signed_mail));
    CHECK_OK(secmail_pgp_verify_mail(signed_mail.data, signed_mail.len, certs, 1, &v));
    CHECK_OK(secmail_verdict_flags(v, &flags));
    CHECK(flags & SECMAIL_VERDICT_SIGNED_BY_SENDER);
    CHECK(!(flags & SECMAIL_VERDICT_FULLY_ENCRYPTED));
    secmail_verdict_free(v);
    /* Altered body after signing: the signature goes bad. */
    uint8_t *hi = find_bytes(signed_mail.data, signed_mail.len, "hi Bob");
    CHECK(hi != NULL);
    if (hi) {
        hi[0] = 'H';
        CHECK_OK(secmail_pgp_verify_mail(signed_mail.data, signed_mail.len, certs, 1, &v));
        CHECK_OK(secmail_verdict_flags(v, &flags));
        CHECK(!(flags & SECMAIL_VERDICT_FULLY_SIGNED));
        secmail_verdict_free(v);
    }
    CHECK_RC(secmail_pgp_verify_mail(NULL, 0, certs, 1, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    secmail_buffer_free(&enc);
    secmail_buffer_free(&signed_mail);
}

static void autocrypt(void) {
    char *value = NULL, *addr = NULL;
    CHECK_OK(secmail_autocrypt_value(alice, "alice@example.org", true, &value));
    CHECK(value != NULL && strstr(value, "addr=alice@example.org") != NULL);
    bool mutual = false;
    secmail_cert_t *c = NULL;
    CHECK_OK(secmail_autocrypt_parse(value, &addr, &mutual, &c));
    CHECK(addr != NULL && strcmp(addr, "alice@example.org") == 0);
    CHECK(mutual);
    char *f1 = NULL, *f2 = NULL;
    CHECK_OK(secmail_cert_fingerprint(alice, &f1));
    CHECK_OK(secmail_cert_fingerprint(c, &f2));
    CHECK(f1 && f2 && strcmp(f1, f2) == 0);
    secmail_cert_t *bad = (secmail_cert_t *)1;
    char *addr2 = (char *)1;
    CHECK_RC(secmail_autocrypt_parse("addr=x@y; keydata=!!!", &addr2, NULL, &bad),
             SECMAIL_ERR_PGP_MALFORMED);
    CHECK(bad == NULL && addr2 == NULL);

    secmail_buffer_t with = {0};
    CHECK_OK(secmail_autocrypt_add_header((const uint8_t *)MAIL, sizeof MAIL - 1, alice, false,
                                          &with));
    CHECK(find_bytes(with.data, with.len, "Autocrypt: addr=alice@example.org") != NULL);
    /* Read back from the message: the header's address is the From address. */
    char *raddr = NULL;
    secmail_cert_t *rc_cert = NULL;
    CHECK_OK(secmail_autocrypt_read(with.data, with.len, &raddr, NULL, &rc_cert));
    CHECK(raddr != NULL && strcmp(raddr, "alice@example.org") == 0);
    CHECK(rc_cert != NULL);
    secmail_string_free(raddr);
    secmail_cert_free(rc_cert);
    /* None in a message without one: success, and nothing out. */
    raddr = (char *)1;
    rc_cert = (secmail_cert_t *)1;
    CHECK_OK(secmail_autocrypt_read((const uint8_t *)MAIL, sizeof MAIL - 1, &raddr, NULL,
                                    &rc_cert));
    CHECK(raddr == NULL && rc_cert == NULL);
    secmail_buffer_free(&with);
    secmail_string_free(value);
    secmail_string_free(addr);
    secmail_string_free(f1);
    secmail_string_free(f2);
    secmail_cert_free(c);
}

void test_pgp(void) {
    keys();
    store();
    encrypt_decrypt();
    signatures();
    mail();
    autocrypt();
    secmail_pgp_signer_free(alice_signer);
    secmail_cert_free(alice);
    secmail_cert_free(bob);
    secmail_cert_free(eve);
}
