/* The verdict accessors' argument checks (verdicts themselves come from the OpenPGP and
 * S/MIME areas, which test the accessors on real verdicts). */
#include "check.h"

void test_verdict(void) {
    char *s = (char *)1;
    uint32_t flags = 99;
    size_t count = 99;
    secmail_signature_status_t st = 0;
    CHECK_RC(secmail_verdict_to_json(NULL, &s), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK(s == NULL);
    CHECK_RC(secmail_verdict_flags(NULL, &flags), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK(flags == 0);
    CHECK_RC(secmail_verdict_from(NULL, &s), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_verdict_part_count(NULL, &count), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK(count == 0);
    CHECK_RC(secmail_verdict_part(NULL, 0, &s, &flags), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_verdict_signature_count(NULL, &count), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK_RC(secmail_verdict_signature(NULL, 0, &st, NULL, NULL), SECMAIL_ERR_NULL_ARGUMENT);
    CHECK(st == SECMAIL_SIGNATURE_ERROR);
    secmail_verdict_free(NULL);
}
