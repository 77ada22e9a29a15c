/* MIME inspection. */
#include <stdlib.h>

#include "check.h"

static const char MULTIPART[] =
    "From: Alice <alice@example.org>\r\n"
    "Subject: hello\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "hi\r\n"
    "--b1\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAEC\r\n"
    "--b1--\r\n";

static void inspect(void) {
    char *json = NULL;
    CHECK_OK(secmail_mime_inspect_json((const uint8_t *)MULTIPART, sizeof MULTIPART - 1, &json));
    CHECK(json != NULL);
    if (json != NULL) {
        CHECK(strstr(json, "\"subject\":\"hello\"") != NULL);
        CHECK(strstr(json, "\"from\":\"alice@example.org\"") != NULL);
        CHECK(strstr(json, "\"content_type\":\"multipart/mixed\"") != NULL);
        CHECK(strstr(json, "\"path\":\"1\"") != NULL);
        CHECK(strstr(json, "\"path\":\"2\"") != NULL);
        CHECK(strstr(json, "\"transfer_encoding\":\"base64\"") != NULL);
    }
    secmail_string_free(json);
}

static void failures(void) {
    char *json = (char *)1;
    /* The parser is lenient: an empty input is an empty message, not an error. */
    CHECK_OK(secmail_mime_inspect_json(NULL, 0, &json));
    secmail_string_free(json);
    json = (char *)1;
    CHECK_RC(secmail_mime_inspect_json(NULL, 10, &json), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK(json == NULL);
    CHECK_RC(secmail_mime_inspect_json(LIT("Subject: x\r\n\r\n"), NULL), SECMAIL_ERR_NULL_ARGUMENT);

    /* Nesting past the default depth (64) is refused with the limit's code. */
    size_t depth = 80, cap = depth * 64 + 64, n = 0;
    char *deep = (char *)malloc(cap);
    CHECK(deep != NULL);
    if (deep == NULL) return;
    for (size_t i = 0; i < depth; i++)
        n += (size_t)snprintf(deep + n, cap - n,
                              "Content-Type: multipart/mixed; boundary=\"b%zu\"\r\n\r\n--b%zu\r\n",
                              i, i);
    n += (size_t)snprintf(deep + n, cap - n, "\r\nx\r\n");
    CHECK_RC(secmail_mime_inspect_json((const uint8_t *)deep, n, &json), SECMAIL_ERR_LIMIT_EXCEEDED);
    CHECK(json == NULL);
    free(deep);
}

void test_mime(void) {
    inspect();
    failures();
}
