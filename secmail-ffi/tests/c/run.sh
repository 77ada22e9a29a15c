#!/usr/bin/env bash
# The C side of secmail-ffi (run by scripts/test.sh, section "ffi"; runs alone too):
#  1. the committed header equals a fresh cbindgen run (cbindgen pinned below);
#  2. the library is built (the workspace's debug build, with `cargo test --workspace`'s
#     feature set so that no dependency is rebuilt);
#  3. the header compiles as strict C99 and as C++17;
#  4. the C test suite runs under valgrind: zero memory errors, zero definite leaks;
#  5. the shared library exports only secmail_* symbols;
#  6. the header's worked example, linked statically through secmail.pc, runs.
# Why valgrind rather than AddressSanitizer: it checks the Rust side too (the library as it is
# shipped, no nightly -Zsanitizer rebuild) and needs no special build of anything.
set -euo pipefail
CBINDGEN_VERSION=0.29.2
ffi=$(cd "$(dirname "$0")/../.." && pwd)
root=$(cd "$ffi/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
lib=$target/debug
out=$target/ffi-c
mkdir -p "$out"
step() { printf -- '-- ffi: %s\n' "$*"; }
die() { echo "ffi: $*" >&2; exit 1; }

for tool in cbindgen cc c++ valgrind nm pkg-config; do
  command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh test installs it)"
done
have=$(cbindgen --version | awk '{print $2}')
[ "$have" = "$CBINDGEN_VERSION" ] || die "cbindgen $have found; the header is made with $CBINDGEN_VERSION"

step "header equals a fresh cbindgen $CBINDGEN_VERSION run"
(cd "$ffi" && cbindgen --quiet --config cbindgen.toml --output "$out/secmail.h")
diff -u "$ffi/include/secmail.h" "$out/secmail.h" \
  || die "include/secmail.h is stale: run (cd secmail-ffi && cbindgen --config cbindgen.toml --output include/secmail.h)"

step "build the library (the workspace's feature set: nothing but secmail-ffi is rebuilt)"
# Not `cargo build -p secmail-ffi`: that resolves features for secmail-ffi alone and rebuilds
# every dependency whose features differ from `cargo test --workspace`'s (~2 min in CI).
# `--workspace --lib --tests` resolves them as `cargo test --workspace` does (dev-dependencies
# included), so after it every dependency is Fresh; checked with `cargo build -v`.
(cd "$root" && cargo build --locked --workspace --lib --tests)
[ -f "$lib/libsecmail_ffi.so" ] || die "$lib/libsecmail_ffi.so was not built"

step "the header compiles as C99 and C++17 (warnings are errors)"
printf '#include "secmail.h"\nint main(void) { return secmail_abi_version() == SECMAIL_ABI_VERSION ? 0 : 1; }\n' >"$out/hdr.c"
cp "$out/hdr.c" "$out/hdr.cpp"
cc -std=c99 -Wall -Wextra -Werror -pedantic -I"$ffi/include" -c "$out/hdr.c" -o "$out/hdr.o"
c++ -std=c++17 -Wall -Wextra -Werror -pedantic -I"$ffi/include" -c "$out/hdr.cpp" -o "$out/hdrpp.o"

step "build the C test suite"
cc -std=c99 -Wall -Wextra -Werror -pedantic -g -O0 -pthread -I"$ffi/include" \
  "$ffi"/tests/c/*.c -o "$out/secmail-c-tests" \
  -L"$lib" -lsecmail_ffi -Wl,-rpath,"$lib" -pthread

# The transport tests send and fetch through the Postfix + Dovecot stack of
# scripts/mailstack.sh, found as the Rust transport tests find it (started if it is down).
export SECMAIL_MAILSTACK_DIR=${SECMAIL_MAILSTACK_DIR:-/tmp/secmail-mailstack}
"$root/scripts/mailstack.sh" status "$SECMAIL_MAILSTACK_DIR" >/dev/null 2>&1 \
  || "$root/scripts/mailstack.sh" up "$SECMAIL_MAILSTACK_DIR" >/dev/null \
  || die "the mail stack could not be started in $SECMAIL_MAILSTACK_DIR"

step "run it under valgrind"
# --errors-for-leak-kinds=definite: the Rust runtime's and OpenSSL's process-wide caches are
# "still reachable" at exit, not leaks; anything the program lost is "definitely lost".
(cd "$ffi/tests/c" && valgrind --quiet --error-exitcode=1 --leak-check=full \
  --errors-for-leak-kinds=definite --show-leak-kinds=definite \
  "$out/secmail-c-tests")

step "the shared library exports only secmail_* symbols"
bad=$(nm -D --defined-only "$lib/libsecmail_ffi.so" | awk '$2 ~ /^[A-Z]$/ && $2 != "A" {print $3}' | grep -v '^secmail_' || true)
[ -z "$bad" ] || die "symbols outside the secmail_ namespace are exported: $(echo "$bad" | head -20)"
echo "ffi: $(nm -D --defined-only "$lib/libsecmail_ffi.so" | grep -c ' secmail_') functions exported, all secmail_*"

step "the header's worked example, linked statically with secmail.pc's flags, runs"
sed -n '/^ \* EXAMPLE$/,/^ \*\/$/p' "$ffi/include/secmail.h" | sed -e '1d;$d' -e 's/^ \*     \{0,1\}//' -e 's/^ \*$//' >"$out/example.c"
grep -q 'int main' "$out/example.c" || die "no worked example found in the header"
libs=$(PKG_CONFIG_PATH="$ffi" pkg-config --static --libs --define-variable=libdir="$lib" secmail)
cflags=$(PKG_CONFIG_PATH="$ffi" pkg-config --cflags --define-variable=includedir="$ffi/include" secmail)
# -l:libsecmail_ffi.a: the static library, though the shared one sits beside it.
cc -std=c99 -Wall -Wextra -Werror -pedantic $cflags "$out/example.c" -o "$out/example" \
  ${libs/-lsecmail_ffi/-l:libsecmail_ffi.a}
[ "$("$out/example")" = "hello" ] || die "the header's example did not print hello"
echo "ffi: all checks passed"
