#!/usr/bin/env bash
# Checks the Swift binding's module map against the header with clang, since no Swift
# toolchain runs here: the CSecmail module must build from include/module.modulemap and
# secmail.h laid out as in the XCFramework's Headers directory, be importable from
# Objective-C (`@import CSecmail;`, what Swift's ClangImporter does) and from C with
# -fmodules, with warnings as errors; and a C program using it must link and run against
# the library in $CARGO_TARGET_DIR/debug. Needs clang (scripts/install-deps.sh test).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ffi=$(cd "$here/../.." && pwd)
root=$(cd "$ffi/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
lib=$target/debug
out=$target/ffi-swift
die() { echo "ffi-swift: $*" >&2; exit 1; }
command -v clang >/dev/null || die "clang is missing (scripts/install-deps.sh test installs it)"

rm -rf "$out" && mkdir -p "$out/Headers" "$out/cache"
# The XCFramework layout: Headers/secmail.h + Headers/module.modulemap.
cp "$ffi/include/secmail.h" "$here/include/module.modulemap" "$out/Headers/"
flags=(-fmodules -fmodules-cache-path="$out/cache" -fmodule-map-file="$out/Headers/module.modulemap"
       -Wall -Wextra -Werror -Wno-unused-parameter)

echo "-- ffi-swift: @import CSecmail (Objective-C, as Swift's importer sees it)"
cat >"$out/check.m" <<'M'
@import CSecmail;
int check(void) {
    secmail_buffer_t b = {0};
    secmail_cancel_t *c = 0;
    if (secmail_cancel_new(&c) != SECMAIL_OK) return 1;
    secmail_cancel_free(c);
    secmail_store_t *st = 0;
    secmail_store_entry_t e = {0};
    (void)e;
    if (secmail_store_open_add("/nonexistent", 0, 0, &st) != SECMAIL_ERR_STORE_INVALID) return 1;
    secmail_store_free(st);
    secmail_buffer_free(&b);
    return secmail_abi_version() == SECMAIL_ABI_VERSION ? 0 : 1;
}
M
clang "${flags[@]}" -fsyntax-only -x objective-c "$out/check.m"

echo "-- ffi-swift: the module from C (-fmodules), linked and run"
cat >"$out/check.c" <<'C'
#include <secmail.h>
#include <stdio.h>
#include <string.h>
int main(void) {
    if (secmail_abi_version() != SECMAIL_ABI_VERSION) return 1;
    secmail_buffer_t sealed = {0}, opened = {0};
    if (secmail_passphrase_encrypt((const uint8_t *)"pw", 2, (const uint8_t *)"hi", 2,
                                   SECMAIL_PASSPHRASE_KDF_MINIMUM, &sealed) != SECMAIL_OK) return 1;
    if (secmail_passphrase_decrypt((const uint8_t *)"pw", 2, sealed.data, sealed.len, &opened) != SECMAIL_OK) return 1;
    int ok = opened.len == 2 && memcmp(opened.data, "hi", 2) == 0;
    secmail_buffer_free(&sealed);
    secmail_buffer_free(&opened);
    printf("module CSecmail: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
C
clang -std=c99 "${flags[@]}" -I"$out/Headers" "$out/check.c" -o "$out/check" \
  -L"$lib" -lsecmail_ffi -Wl,-rpath,"$lib"
# -fmodules must have turned the #include into a module import: the module was built.
ls "$out"/cache/*/CSecmail-*.pcm >/dev/null 2>&1 || die "clang did not build the CSecmail module"
"$out/check"
