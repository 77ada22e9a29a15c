/* The C test suite of secmail-ffi: runs every area and exits non-zero on any failure. */
#include "check.h"

int check_failures = 0;
int check_count = 0;

int main(void) {
    RUN(test_core);
    RUN(test_stream);
    RUN(test_mime);
    RUN(test_passphrase);
    RUN(test_verdict);
    RUN(test_pgp);
    RUN(test_smime);
    RUN(test_threads);
    RUN(test_transport);
    RUN(test_store);
    printf("%d checks, %d failed\n", check_count, check_failures);
    return check_failures == 0 ? 0 : 1;
}
