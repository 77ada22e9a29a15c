/* The encrypted store: passphrase, OpenPGP and S/MIME owners; adding with the public half,
 * the owner's functions, a damaged message and index, rebuild, reseal, limits, threads. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"

#define PASS LIT("store passphrase")
#define FAST SECMAIL_PASSPHRASE_KDF_MINIMUM

static const char MSG1[] =
    "From: Alice <alice@example.org>\r\n"
    "Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n"
    "Subject: First\r\n"
    "\r\n"
    "hello from the store\r\n";
static const char MSG2[] =
    "From: Bob <bob@example.net>\r\n"
    "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n"
    "\r\n"
    "second\r\n";

static void rm_rf(const char *dir) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* Flips one bit of the byte `from_end` bytes before the end of `dir/name`. */
static void flip(const char *dir, const char *name, long from_end) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (f == NULL) return;
    CHECK(fseek(f, -from_end, SEEK_END) == 0);
    int c = fgetc(f);
    CHECK(c != EOF);
    CHECK(fseek(f, -from_end, SEEK_END) == 0);
    fputc(c ^ 1, f);
    fclose(f);
}

static void write_file(const char *dir, const char *name, const uint8_t *data, size_t len) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f == NULL) return;
    CHECK(fwrite(data, 1, len, f) == len);
    fclose(f);
}

typedef struct {
    uint8_t data[4096];
    size_t len;
    int fail;
} sink_t;

static int32_t sink_write(void *user, const uint8_t *buf, size_t len) {
    sink_t *s = (sink_t *)user;
    if (s->fail || len > sizeof s->data - s->len) return 1;
    memcpy(s->data + s->len, buf, len);
    s->len += len;
    return 0;
}

typedef struct {
    const char *data;
    size_t pos, len;
} source_t;

static int32_t source_read(void *user, uint8_t *buf, size_t len, size_t *read) {
    source_t *s = (source_t *)user;
    size_t n = s->len - s->pos < len ? s->len - s->pos : len;
    if (n > 7) n = 7; /* small reads on purpose */
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    *read = n;
    return 0;
}

/* The number of messages a store handle lists (-1 on failure). */
static long count_of(const secmail_store_t *st) {
    secmail_store_list_t *l = NULL;
    size_t n = 0;
    if (secmail_store_list(st, &l) != SECMAIL_OK) return -1;
    CHECK_OK(secmail_store_list_count(l, &n));
    secmail_store_list_free(l);
    return (long)n;
}

static void passphrase_store(void) {
    char dir[] = "/tmp/secmail-ffi-mstore-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    secmail_store_t *st = NULL, *other = NULL;
    CHECK_OK(secmail_store_init_passphrase(dir, PASS, FAST, &st));
    char *scheme = NULL;
    bool owner = false;
    CHECK_OK(secmail_store_info(st, &scheme, &owner));
    CHECK(scheme != NULL && strcmp(scheme, "passphrase") == 0 && owner);
    secmail_string_free(scheme);

    /* Add: a buffer, a memory stream, a callback stream. */
    char *id1 = NULL, *id2 = NULL, *id3 = NULL;
    CHECK_OK(secmail_store_add(st, LIT(MSG1), &id1));
    CHECK(id1 != NULL && strlen(id1) > 0 && strlen(id1) <= 64);
    secmail_input_t *in = NULL;
    CHECK_OK(secmail_input_from_memory(LIT(MSG2), &in));
    CHECK_OK(secmail_store_add_stream(st, in, &id2));
    secmail_input_free(in);
    source_t src = {MSG1, 0, sizeof MSG1 - 1};
    CHECK_OK(secmail_input_from_callback(source_read, &src, &in));
    CHECK_OK(secmail_store_add_stream(st, in, &id3));
    secmail_input_free(in);
    CHECK(id1 && id2 && id3 && strcmp(id1, id2) != 0 && strcmp(id2, id3) != 0);

    /* List: JSON and accessors. */
    char *json = NULL;
    CHECK_OK(secmail_store_list_json(st, &json));
    CHECK(json != NULL && id1 != NULL && strstr(json, id1) != NULL);
    CHECK(json != NULL && strstr(json, "\"subject\":\"First\"") != NULL);
    CHECK(json != NULL && strstr(json, "\"subject\":\"Gr\xc3\xbc\xc3\x9f" "e\"") != NULL);
    secmail_string_free(json);
    secmail_store_list_t *list = NULL;
    CHECK_OK(secmail_store_list(st, &list));
    size_t n = 0;
    CHECK_OK(secmail_store_list_count(list, &n));
    CHECK(n == 3);
    int seen_first = 0;
    for (size_t i = 0; i < n; i++) {
        secmail_store_entry_t e;
        CHECK_OK(secmail_store_list_entry(list, i, &e));
        CHECK(e.id != NULL && e.from != NULL && e.subject != NULL && e.date != NULL);
        if (e.id != NULL && id1 != NULL && strcmp(e.id, id1) == 0) {
            seen_first = 1;
            CHECK(e.size == sizeof MSG1 - 1);
            CHECK(e.flags == 0);
            CHECK(strcmp(e.subject, "First") == 0);
            CHECK(strcmp(e.date, "Sat, 28 Nov 2026 10:00:00 +0000") == 0);
            CHECK(strstr(e.from, "alice@example.org") != NULL);
            CHECK(e.added > 1700000000u);
        }
    }
    CHECK(seen_first);
    secmail_store_entry_t e;
    CHECK_RC(secmail_store_list_entry(list, 3, &e), SECMAIL_ERR_INVALID_ARGUMENT);
    CHECK(e.id == NULL && e.size == 0);
    CHECK_RC(secmail_store_list_entry(list, 0, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_list_entry(NULL, 0, &e), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_list_count(NULL, &n), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_list_count(list, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    secmail_store_list_free(list);
    secmail_store_list_free(NULL);

    /* Get: a buffer and a write callback; an unknown id. */
    secmail_buffer_t got = {0};
    CHECK_OK(secmail_store_get(st, id1, &got));
    CHECK(BUF_IS(got, MSG1));
    secmail_buffer_free(&got);
    sink_t sink = {{0}, 0, 0};
    secmail_output_t *out = NULL;
    CHECK_OK(secmail_output_to_callback(sink_write, &sink, &out));
    CHECK_OK(secmail_store_get_stream(st, id2, out));
    CHECK(sink.len == sizeof MSG2 - 1 && memcmp(sink.data, MSG2, sink.len) == 0);
    sink.fail = 1;
    CHECK_RC(secmail_store_get_stream(st, id2, out), SECMAIL_ERR_IO);
    secmail_output_free(out);
    CHECK_OK(secmail_output_to_memory(&out));
    CHECK_RC(secmail_store_get_stream(st, "0.nosuchid", out), SECMAIL_ERR_NOT_FOUND);
    CHECK_OK(secmail_output_memory_take(out, &got));
    CHECK_EMPTY(got);
    secmail_output_free(out);
    CHECK_RC(secmail_store_get(st, "0.nosuchid", &got), SECMAIL_ERR_NOT_FOUND);
    CHECK_EMPTY(got);
    CHECK(strstr(secmail_last_error_message(), "0.nosuchid") != NULL);
    /* An id is never a path. */
    CHECK_RC(secmail_store_get(st, "../store.conf", &got), SECMAIL_ERR_NOT_FOUND);
    CHECK_EMPTY(got);

    /* Flags. */
    uint32_t flags = 99;
    CHECK_OK(secmail_store_flag(st, id1, SECMAIL_STORE_SEEN | SECMAIL_STORE_FLAGGED, 0, &flags));
    CHECK(flags == (SECMAIL_STORE_SEEN | SECMAIL_STORE_FLAGGED));
    CHECK_OK(secmail_store_flag(st, id1, 0, SECMAIL_STORE_FLAGGED, &flags));
    CHECK(flags == SECMAIL_STORE_SEEN);
    CHECK_OK(secmail_store_flag(st, id1, SECMAIL_STORE_DRAFT, SECMAIL_STORE_DRAFT, NULL));
    CHECK_RC(secmail_store_flag(st, id1, 0x100, 0, &flags), SECMAIL_ERR_INVALID_ARGUMENT);
    CHECK(flags == 0);
    CHECK_RC(secmail_store_flag(st, id1, 0, 0x20, NULL), SECMAIL_ERR_INVALID_ARGUMENT);
    CHECK_RC(secmail_store_flag(st, "0.nosuchid", SECMAIL_STORE_SEEN, 0, NULL),
             SECMAIL_ERR_NOT_FOUND);
    CHECK_OK(secmail_store_list(st, &list));
    CHECK_OK(secmail_store_list_count(list, &n));
    for (size_t i = 0; i < n; i++) {
        CHECK_OK(secmail_store_list_entry(list, i, &e));
        if (e.id != NULL && id1 != NULL && strcmp(e.id, id1) == 0)
            CHECK(e.flags == SECMAIL_STORE_SEEN);
    }
    secmail_store_list_free(list);

    /* Opening: wrong passphrase, for adding only, an add handle cannot read. */
    CHECK_RC(secmail_store_open_passphrase(dir, LIT("wrong"), &other), SECMAIL_ERR_STORE_WRONG_KEY);
    CHECK(other == NULL);
    CHECK_RC(secmail_store_open_passphrase(dir, NULL, 0, &other), SECMAIL_ERR_MISUSE);
    CHECK_RC(secmail_store_open_add(dir, NULL, 0, &other), SECMAIL_ERR_MISUSE);
    CHECK_RC(secmail_store_open_add(dir, LIT("wrong"), &other), SECMAIL_ERR_STORE_WRONG_KEY);
    CHECK(other == NULL);
    CHECK_OK(secmail_store_open_add(dir, PASS, &other));
    CHECK_OK(secmail_store_info(other, &scheme, &owner));
    CHECK(!owner);
    secmail_string_free(scheme);
    char *id4 = NULL;
    CHECK_OK(secmail_store_add(other, LIT(MSG2), &id4));
    CHECK_RC(secmail_store_list_json(other, &json), SECMAIL_ERR_MISUSE);
    CHECK(json == NULL);
    CHECK_RC(secmail_store_get(other, id1, &got), SECMAIL_ERR_MISUSE);
    CHECK_EMPTY(got);
    CHECK_RC(secmail_store_delete(other, id1), SECMAIL_ERR_MISUSE);
    size_t count = 7;
    CHECK_RC(secmail_store_reseal_passphrase(other, LIT("new"), FAST, &count), SECMAIL_ERR_MISUSE);
    CHECK(count == 0);
    secmail_store_free(other);
    other = NULL;
    CHECK_OK(secmail_store_open_passphrase(dir, PASS, &other));
    CHECK(count_of(other) == 4);
    secmail_store_free(other);
    other = NULL;

    /* Verify, delete. */
    bool clean = false;
    char *report = NULL;
    CHECK_OK(secmail_store_verify(st, &clean, &report));
    CHECK(clean);
    CHECK(report != NULL && strstr(report, "\"ok\":4") != NULL);
    secmail_string_free(report);
    CHECK_OK(secmail_store_delete(st, id4));
    CHECK_RC(secmail_store_delete(st, id4), SECMAIL_ERR_NOT_FOUND);
    CHECK_RC(secmail_store_get(st, id4, &got), SECMAIL_ERR_NOT_FOUND);
    CHECK(count_of(st) == 3);

    /* A damaged message: nothing released, verify says so; the others still open. */
    char name[128];
    snprintf(name, sizeof name, "cur/%s", id1 ? id1 : "x");
    flip(dir, name, 3);
    CHECK_RC(secmail_store_get(st, id1, &got), SECMAIL_ERR_STORE_DAMAGED);
    CHECK_EMPTY(got);
    CHECK_OK(secmail_store_verify(st, &clean, &report));
    CHECK(!clean);
    CHECK(report != NULL && strstr(report, "\"ok\":2") != NULL);
    secmail_string_free(report);
    CHECK_OK(secmail_store_verify(st, &clean, NULL));
    CHECK(!clean);
    flip(dir, name, 3);
    CHECK_OK(secmail_store_verify(st, &clean, NULL));
    CHECK(clean);

    /* A damaged index: list fails, rebuild makes it again. */
    flip(dir, "index", 3);
    CHECK_RC(secmail_store_list_json(st, &json), SECMAIL_ERR_STORE_DAMAGED);
    CHECK(json == NULL);
    char *failed = NULL;
    CHECK_OK(secmail_store_rebuild(st, &failed));
    CHECK(failed != NULL && strcmp(failed, "[]") == 0);
    secmail_string_free(failed);
    CHECK(count_of(st) == 3);
    CHECK_OK(secmail_store_rebuild(st, NULL));

    /* Limits. */
    secmail_string_free(id4); /* out-parameters are overwritten, not freed */
    CHECK_OK(secmail_store_set_limits(st, 16, 0));
    CHECK_RC(secmail_store_add(st, LIT(MSG1), &id4), SECMAIL_ERR_LIMIT_EXCEEDED);
    CHECK(id4 == NULL);
    CHECK_RC(secmail_store_get(st, id1, &got), SECMAIL_ERR_LIMIT_EXCEEDED);
    CHECK_EMPTY(got);
    CHECK_OK(secmail_store_set_limits(st, 1 << 20, 0));
    CHECK_OK(secmail_store_get(st, id1, &got));
    secmail_buffer_free(&got);
    CHECK_OK(secmail_store_set_limits(st, 0, 2));
    CHECK_RC(secmail_store_list_json(st, &json), SECMAIL_ERR_LIMIT_EXCEEDED);
    CHECK_OK(secmail_store_set_limits(st, 0, 1000));
    CHECK_RC(secmail_store_set_limits(NULL, 0, 0), SECMAIL_ERR_NULL_ARGUMENT);

    /* Reseal to a new passphrase: the old one no longer opens it, the messages stay. */
    CHECK_OK(secmail_store_reseal_passphrase(st, LIT("the new one"), FAST, &count));
    CHECK(count >= 3);
    CHECK_OK(secmail_store_get(st, id1, &got));
    CHECK(BUF_IS(got, MSG1));
    secmail_buffer_free(&got);
    CHECK_RC(secmail_store_open_passphrase(dir, PASS, &other), SECMAIL_ERR_STORE_WRONG_KEY);
    CHECK_OK(secmail_store_open_passphrase(dir, LIT("the new one"), &other));
    CHECK(count_of(other) == 3);
    secmail_store_free(other);
    other = NULL;
    CHECK_RC(secmail_store_reseal_passphrase(st, NULL, 0, FAST, &count), SECMAIL_ERR_MISUSE);
    CHECK_RC(secmail_store_reseal_passphrase(st, LIT("x"), 0x40, &count),
             SECMAIL_ERR_INVALID_ARGUMENT);
    CHECK_RC(secmail_store_reseal_passphrase(st, LIT("x"), FAST, NULL), SECMAIL_ERR_NULL_ARGUMENT);

    /* Init refuses a directory that is not empty; open refuses one that is not a store. */
    CHECK_RC(secmail_store_init_passphrase(dir, PASS, FAST, &other), SECMAIL_ERR_STORE_INVALID);
    CHECK(other == NULL);
    CHECK_RC(secmail_store_open_passphrase("/tmp", PASS, &other), SECMAIL_ERR_STORE_INVALID);
    CHECK_RC(secmail_store_open_add("/nonexistent/secmail", NULL, 0, &other),
             SECMAIL_ERR_STORE_INVALID);
    CHECK_RC(secmail_store_init_passphrase(dir, PASS, FAST | SECMAIL_PASSPHRASE_KDF_INTERACTIVE,
                                           &other),
             SECMAIL_ERR_INVALID_ARGUMENT);

    secmail_string_free(id1);
    secmail_string_free(id2);
    secmail_string_free(id3);
    secmail_string_free(id4);
    secmail_store_free(st);
    rm_rf(dir);
}

static void pgp_store(void) {
    secmail_cert_t *alice = NULL, *bob = NULL, *alice_pub = NULL;
    CHECK_OK(secmail_pgp_generate("Alice <alice@example.org>", SECMAIL_PGP_ALGO_CV25519, 0, NULL,
                                  0, &alice, NULL));
    CHECK_OK(secmail_pgp_generate("Bob <bob@example.net>", SECMAIL_PGP_ALGO_CV25519, 0,
                                  LIT("bob's key pass"), &bob, NULL));
    CHECK_OK(secmail_cert_to_public(alice, &alice_pub));
    char dir[] = "/tmp/secmail-ffi-mstore-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);

    /* Made with the public half: a handle for adding. */
    secmail_store_t *st = NULL, *own = NULL;
    CHECK_OK(secmail_store_init_pgp(dir, alice_pub, &st));
    char *scheme = NULL;
    bool owner = true;
    CHECK_OK(secmail_store_info(st, &scheme, &owner));
    CHECK(scheme != NULL && strcmp(scheme, "openpgp") == 0 && !owner);
    secmail_string_free(scheme);
    char *id = NULL, *json = NULL;
    CHECK_OK(secmail_store_add(st, LIT(MSG1), &id));
    CHECK_RC(secmail_store_list_json(st, &json), SECMAIL_ERR_MISUSE);
    secmail_store_free(st);
    st = NULL;
    CHECK_OK(secmail_store_open_add(dir, NULL, 0, &st));
    secmail_store_free(st);
    st = NULL;

    /* The owner: Alice's secret key; not her public certificate, not Bob's key. */
    CHECK_RC(secmail_store_open_pgp(dir, alice_pub, NULL, 0, &own), SECMAIL_ERR_MISUSE);
    CHECK_RC(secmail_store_open_pgp(dir, bob, LIT("bob's key pass"), &own),
             SECMAIL_ERR_STORE_WRONG_KEY);
    CHECK(own == NULL);
    CHECK_RC(secmail_store_open_passphrase(dir, PASS, &own), SECMAIL_ERR_STORE_SCHEME_MISMATCH);
    /* A key passphrase an unprotected key does not need is ignored. */
    CHECK_OK(secmail_store_open_pgp(dir, alice, LIT("not needed"), &own));
    secmail_store_free(own);
    own = NULL;
    CHECK_OK(secmail_store_open_pgp(dir, alice, NULL, 0, &own));
    secmail_buffer_t got = {0};
    CHECK_OK(secmail_store_get(own, id, &got));
    CHECK(BUF_IS(got, MSG1));
    secmail_buffer_free(&got);
    CHECK(count_of(own) == 1);

    /* An index that opens but does not parse: encrypted to Alice, but not an index. */
    const secmail_cert_t *to[] = {alice_pub};
    secmail_buffer_t fake = {0};
    CHECK_OK(secmail_pgp_encrypt(LIT("this is not an index"), to, 1, NULL, 0, NULL, 0, &fake));
    write_file(dir, "index", fake.data, fake.len);
    secmail_buffer_free(&fake);
    CHECK_RC(secmail_store_list_json(own, &json), SECMAIL_ERR_STORE_BAD_INDEX);
    CHECK(strstr(secmail_last_error_message(), "rebuild") != NULL);
    bool clean = true;
    CHECK_RC(secmail_store_verify(own, &clean, NULL), SECMAIL_ERR_STORE_BAD_INDEX);
    CHECK(!clean);
    CHECK_OK(secmail_store_rebuild(own, NULL));
    CHECK_OK(secmail_store_list_json(own, &json));
    CHECK(json != NULL && id != NULL && strstr(json, id) != NULL);
    secmail_string_free(json);

    /* Reseal to Bob's (protected) key: Alice no longer owns it. */
    size_t count = 0;
    CHECK_RC(secmail_store_reseal_pgp(own, bob, LIT("wrong pass"), &count),
             SECMAIL_ERR_STORE_WRONG_KEY);
    CHECK_OK(secmail_store_reseal_pgp(own, bob, LIT("bob's key pass"), &count));
    CHECK(count >= 1);
    secmail_store_free(own);
    own = NULL;
    CHECK_RC(secmail_store_open_pgp(dir, alice, NULL, 0, &own), SECMAIL_ERR_STORE_WRONG_KEY);
    CHECK_RC(secmail_store_open_pgp(dir, bob, NULL, 0, &own), SECMAIL_ERR_STORE_WRONG_KEY);
    CHECK_RC(secmail_store_open_pgp(dir, bob, LIT("wrong pass"), &own),
             SECMAIL_ERR_STORE_WRONG_KEY);
    CHECK(own == NULL);
    CHECK_OK(secmail_store_open_pgp(dir, bob, LIT("bob's key pass"), &own));
    CHECK_OK(secmail_store_get(own, id, &got));
    CHECK(BUF_IS(got, MSG1));
    secmail_buffer_free(&got);
    CHECK_RC(secmail_store_reseal_pgp(own, NULL, NULL, 0, &count), SECMAIL_ERR_NULL_ARGUMENT);
    secmail_store_free(own);

    /* A certificate without an encryption key cannot own a store: nothing is made. */
    CHECK_RC(secmail_store_init_pgp(NULL, alice_pub, &st), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_init_pgp("", alice_pub, &st), SECMAIL_ERR_INVALID_ARGUMENT);
    CHECK_RC(secmail_store_init_pgp(dir, NULL, &st), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_init_pgp(dir, alice_pub, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_init_pgp(dir, alice_pub, &st), SECMAIL_ERR_STORE_INVALID);
    CHECK(st == NULL);

    secmail_string_free(id);
    secmail_cert_free(alice);
    secmail_cert_free(alice_pub);
    secmail_cert_free(bob);
    rm_rf(dir);
}

static void smime_store(void) {
    secmail_smime_ca_t *ca = NULL;
    secmail_smime_cert_t *bob = NULL, *carol = NULL;
    secmail_smime_key_t *bob_key = NULL, *carol_key = NULL;
    CHECK_OK(secmail_smime_ca_new_root("CN=Store CA", 30, &ca));
    CHECK_OK(secmail_smime_ca_issue(ca, "bob@example.net", SECMAIL_SMIME_USAGE_BOTH, 30, &bob,
                                    &bob_key));
    CHECK_OK(secmail_smime_ca_issue(ca, "carol@example.net", SECMAIL_SMIME_USAGE_BOTH, 30, &carol,
                                    &carol_key));
    char dir[] = "/tmp/secmail-ffi-mstore-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    secmail_store_t *st = NULL, *own = NULL;
    CHECK_OK(secmail_store_init_smime(dir, bob, &st));
    char *id = NULL;
    CHECK_OK(secmail_store_add(st, LIT(MSG2), &id));
    secmail_store_free(st);

    CHECK_RC(secmail_store_open_smime(dir, carol, carol_key, &own), SECMAIL_ERR_STORE_WRONG_KEY);
    CHECK_RC(secmail_store_open_smime(dir, bob, NULL, &own), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_open_smime(dir, NULL, bob_key, &own), SECMAIL_ERR_NULL_ARGUMENT);
    secmail_cert_t *k = NULL;
    CHECK_OK(secmail_pgp_generate("K <k@example.org>", SECMAIL_PGP_ALGO_CV25519, 0, NULL, 0, &k,
                                  NULL));
    CHECK_RC(secmail_store_open_pgp(dir, k, NULL, 0, &own), SECMAIL_ERR_STORE_SCHEME_MISMATCH);
    secmail_cert_free(k);
    CHECK_OK(secmail_store_open_smime(dir, bob, bob_key, &own));
    secmail_buffer_t got = {0};
    CHECK_OK(secmail_store_get(own, id, &got));
    CHECK(BUF_IS(got, MSG2));
    secmail_buffer_free(&got);
    bool clean = false;
    CHECK_OK(secmail_store_verify(own, &clean, NULL));
    CHECK(clean);
    size_t count = 0;
    CHECK_OK(secmail_store_reseal_smime(own, carol, carol_key, &count));
    CHECK(count >= 1);
    CHECK_OK(secmail_store_get(own, id, &got));
    CHECK(BUF_IS(got, MSG2));
    secmail_buffer_free(&got);
    secmail_store_free(own);
    own = NULL;
    CHECK_RC(secmail_store_open_smime(dir, bob, bob_key, &own), SECMAIL_ERR_STORE_WRONG_KEY);
    CHECK_OK(secmail_store_open_smime(dir, carol, carol_key, &own));
    CHECK(count_of(own) == 1);
    secmail_store_free(own);

    secmail_string_free(id);
    secmail_smime_cert_free(bob);
    secmail_smime_cert_free(carol);
    secmail_smime_key_free(bob_key);
    secmail_smime_key_free(carol_key);
    secmail_smime_ca_free(ca);
    rm_rf(dir);
}

/* Every function refuses NULL where a pointer is required, and leaves its outputs empty. */
static void null_arguments(void) {
    secmail_store_t *st = (secmail_store_t *)1;
    char *s = (char *)1;
    CHECK_RC(secmail_store_init_passphrase(NULL, PASS, FAST, &st), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK(st == NULL);
    CHECK_RC(secmail_store_init_passphrase("/tmp/x", NULL, 3, FAST, &st),
             SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_init_passphrase("/tmp/x", PASS, FAST, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_init_smime(NULL, NULL, &st), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_init_smime("/tmp/x", NULL, &st), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_open_add(NULL, NULL, 0, &st), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_open_add("/tmp/x", NULL, 0, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_open_pgp("/tmp/x", NULL, NULL, 0, &st), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_open_passphrase(NULL, PASS, &st), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_open_passphrase("/tmp/x", PASS, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_info(NULL, &s, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK(s == NULL);
    bool b = true;
    CHECK_RC(secmail_store_info(NULL, NULL, &b), SECMAIL_ERR_NULL_ARGUMENT);
    s = (char *)1;
    CHECK_RC(secmail_store_add(NULL, LIT(MSG1), &s), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK(s == NULL);
    CHECK_RC(secmail_store_add_stream(NULL, NULL, &s), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_list(NULL, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    secmail_store_list_t *l = (secmail_store_list_t *)1;
    CHECK_RC(secmail_store_list(NULL, &l), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK(l == NULL);
    CHECK_RC(secmail_store_list_json(NULL, &s), SECMAIL_ERR_NULL_ARGUMENT);
    secmail_buffer_t got = {(uint8_t *)1, 1};
    CHECK_RC(secmail_store_get(NULL, "x", &got), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_EMPTY(got);
    CHECK_RC(secmail_store_get_stream(NULL, "x", NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_flag(NULL, "x", 1, 0, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_delete(NULL, "x"), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_verify(NULL, &b, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK(!b);
    CHECK_RC(secmail_store_rebuild(NULL, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    size_t n = 5;
    CHECK_RC(secmail_store_reseal_smime(NULL, NULL, NULL, &n), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK(n == 0);
    secmail_store_free(NULL);

    /* With a live handle: NULL ids, inputs and outputs. */
    char dir[] = "/tmp/secmail-ffi-mstore-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    st = NULL;
    CHECK_OK(secmail_store_init_passphrase(dir, PASS, FAST, &st));
    CHECK_RC(secmail_store_add(st, NULL, 4, &s), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_add(st, LIT(MSG1), NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_add_stream(st, NULL, &s), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_get(st, NULL, &got), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_get(st, "x", NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_get_stream(st, "x", NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_flag(st, NULL, 1, 0, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_delete(st, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_verify(st, NULL, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_list_json(st, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_store_get(st, "bad\xff", &got), SECMAIL_ERR_UTF8);
    secmail_store_free(st);
    rm_rf(dir);
}

#define ADDERS 4
#define PER_ADDER 3

static void *adder(void *arg) {
    const secmail_store_t *st = (const secmail_store_t *)arg;
    long failures = 0;
    for (int i = 0; i < PER_ADDER; i++) {
        char *id = NULL;
        if (secmail_store_add(st, LIT(MSG1), &id) != SECMAIL_OK) failures++;
        secmail_string_free(id);
        char *json = NULL;
        if (secmail_store_list_json(st, &json) != SECMAIL_OK) failures++;
        secmail_string_free(json);
    }
    return (void *)failures;
}

/* One handle shared by several threads adding and listing at once. */
static void threads(void) {
    char dir[] = "/tmp/secmail-ffi-mstore-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    secmail_store_t *st = NULL;
    CHECK_OK(secmail_store_init_passphrase(dir, PASS, FAST, &st));
    pthread_t t[ADDERS];
    for (int i = 0; i < ADDERS; i++) CHECK(pthread_create(&t[i], NULL, adder, st) == 0);
    for (int i = 0; i < ADDERS; i++) {
        void *r = NULL;
        CHECK(pthread_join(t[i], &r) == 0);
        CHECK(r == NULL);
    }
    CHECK(count_of(st) == ADDERS * PER_ADDER);
    bool clean = false;
    CHECK_OK(secmail_store_verify(st, &clean, NULL));
    CHECK(clean);
    secmail_store_free(st);
    rm_rf(dir);
}

void test_store(void) {
    passphrase_store();
    pgp_store();
    smime_store();
    null_arguments();
    threads();
}
