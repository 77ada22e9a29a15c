#!/usr/bin/env bash
# Builds the Kotlin/JVM binding of secmail-ffi with Debian's kotlinc (1.3, runs on JDK 17)
# against Debian's JNA, and runs its test against the library in $CARGO_TARGET_DIR/debug
# (built first). Run by scripts/test.sh (section "ffi"); runs alone too.
# Needs: kotlin, libjna-java, a JDK (scripts/install-deps.sh test).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
lib=$target/debug
out=$target/ffi-kotlin
jna=/usr/share/java/jna.jar
die() { echo "ffi-kotlin: $*" >&2; exit 1; }

for tool in kotlinc java; do
  command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh test installs it)"
done
[ -f "$jna" ] || die "$jna is missing (Debian package libjna-java)"
stdlib=$(ls /usr/share/java/kotlin-stdlib.jar 2>/dev/null) || die "kotlin-stdlib.jar is missing"

# The feature set of `cargo test --workspace` (see tests/c/run.sh): no dependency is rebuilt.
(cd "$root" && cargo build --locked --workspace --lib --tests)
[ -f "$lib/libsecmail_ffi.so" ] || die "$lib/libsecmail_ffi.so was not built"

# The test sends through the mail stack of scripts/mailstack.sh, found as tests/c/run.sh finds
# it (started if it is down).
export SECMAIL_MAILSTACK_DIR=${SECMAIL_MAILSTACK_DIR:-/tmp/secmail-mailstack}
"$root/scripts/mailstack.sh" status "$SECMAIL_MAILSTACK_DIR" >/dev/null 2>&1 \
  || "$root/scripts/mailstack.sh" up "$SECMAIL_MAILSTACK_DIR" >/dev/null \
  || die "the mail stack could not be started in $SECMAIL_MAILSTACK_DIR"

rm -rf "$out" && mkdir -p "$out"
echo "-- ffi-kotlin: compile the binding and its test ($(kotlinc -version 2>&1 | grep -o 'kotlinc-jvm [0-9.]*'))"
# -Xverify:none is what Debian's kotlinc script passes; JDK 17 only warns about it.
kotlinc -nowarn -jvm-target 1.8 -cp "$jna" -d "$out/classes" \
  "$here"/src/org/secmail/*.kt "$here"/test/org/secmail/*.kt 2>&1 \
  | grep -v 'Options -Xverify:none and -noverify were deprecated' || true
[ -f "$out/classes/org/secmail/SecmailTestKt.class" ] || die "compilation failed"

echo "-- ffi-kotlin: run the test on $(java -version 2>&1 | head -1)"
java -Djna.library.path="$lib" -Djna.nosys=false -cp "$out/classes:$jna:$stdlib" \
  org.secmail.SecmailTestKt
