#!/usr/bin/env bash
# The test command (README, CI): installs what the tests need, then runs every check.
# Exits non-zero on the first failure. Everything is built once (debug, one target dir) and
# reused; fuzzing is bounded by time.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
FUZZ_SECONDS=${FUZZ_SECONDS:-30}

t0=$SECONDS
section() { printf '\n==== %s (%ds)\n' "$1" $((SECONDS - t0)); }

section "install"
scripts/install-deps.sh test
for tool in gpg gpgsm openssl python3; do
  command -v "$tool" >/dev/null || { echo "test.sh: $tool is still missing after install" >&2; exit 1; }
done
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "test.sh: the nightly toolchain (for cargo-fuzz only) is missing; installing it" >&2
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
# The header generator of secmail-ffi, pinned: a different version writes a different header.
CBINDGEN_VERSION=0.29.2
if [ "$(cbindgen --version 2>/dev/null)" != "cbindgen $CBINDGEN_VERSION" ]; then
  cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --force
fi
# The independent Python reader of the passphrase format, in its own venv (Debian's Python
# refuses system-wide pip installs).
if ! target/pyvenv/bin/python -c "import cryptography, argon2" 2>/dev/null; then
  python3 -m venv target/pyvenv
  target/pyvenv/bin/pip install --quiet cryptography argon2-cffi
fi

section "fmt"
cargo fmt --all -- --check

section "clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings

section "mail stack (Postfix + Dovecot on loopback) for the transport tests"
MAILSTACK_DIR=${SECMAIL_MAILSTACK_DIR:-/tmp/secmail-mailstack}
export SECMAIL_MAILSTACK_DIR=$MAILSTACK_DIR
scripts/mailstack.sh up "$MAILSTACK_DIR"
trap 'scripts/mailstack.sh down "$MAILSTACK_DIR" >/dev/null 2>&1 || true' EXIT

section "tests"
cargo test --locked --workspace

section "ffi: header, C99/C++17, C test suite under valgrind, exported symbols"
secmail-ffi/tests/c/run.sh
secmail-ffi/bindings/kotlin/test.sh
secmail-ffi/bindings/swift/test.sh

section "passphrase format: independent Python implementation reads our vectors"
target/pyvenv/bin/python scripts/passphrase_check.py testdata/passphrase

section "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --workspace

section "instruction counts (callgrind, release build; fails past +20% of benches/callgrind-baseline.txt)"
command -v valgrind >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
benches/callgrind.sh

section "fuzz (${FUZZ_SECONDS}s per target)"
# Every target is built and run for FUZZ_SECONDS with its seeds and, for the text protocols
# and MIME, a dictionary. pgp_decrypt and pgp_mime run too: their one recorded upstream panic
# (fuzz/known-crashes/README.md) is let through to the library's catch_unwind by
# fuzz/fuzz_targets/known_crashes.rs; any other panic fails the run.
FUZZ_JOBS=${FUZZ_JOBS:-2} scripts/fuzz.sh all "$FUZZ_SECONDS"

section "all checks passed"
