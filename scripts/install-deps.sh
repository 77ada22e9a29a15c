#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, only those that are missing.
# Usage: scripts/install-deps.sh build|test
#   build: what compiling secmail needs (libclang for bindgen in sequoia's crypto backends,
#          pkg-config, the OpenSSL and Nettle headers)
#   test:  build + the real peers the tests run against, and Python for the independent checks
set -euo pipefail

want=(pkg-config libclang-dev libssl-dev nettle-dev ca-certificates)
if [[ ${1:-build} == test ]]; then
  # The real peers: gpg, sq and rnp (OpenPGP); openssl and gpgsm (S/MIME). Postfix and
  # Dovecot (transport) are installed by scripts/mailstack.sh, which configures them.
  # expect drives sq, which reads passwords only from a terminal.
  want+=(gnupg gpgsm gpgconf sq rnp openssl expect python3 python3-pip python3-venv)
  # The C side of secmail-ffi: its test suite is compiled with gcc/g++ and run under valgrind.
  want+=(gcc g++ valgrind binutils)
  # Its Kotlin/JVM binding test (JNA + Debian's kotlinc 1.3 on the JDK) and Swift module-map check.
  want+=(openjdk-17-jdk-headless libjna-java kotlin clang)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "scripts/install-deps.sh: installing ${missing[*]}"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
