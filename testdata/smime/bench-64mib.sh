#!/bin/sh
# Whole-command timings, 64 MiB message, OpenSSL and secmail measured the same way:
# `/usr/bin/time -f '%e %U %S %M'` (elapsed, CPU, peak RSS over the process tree), best of $RUNS.
# Usage: testdata/smime/bench-64mib.sh path/to/release/secmail [runs]
set -eu
SECMAIL=$(realpath "$1"); RUNS=${2:-5}
D=$(mktemp -d); trap 'rm -rf "$D"' EXIT; cd "$D"
"$SECMAIL" smime ca new --subject "CN=Bench CA" --out-cert ca.pem --out-key ca.key >/dev/null
for u in alice@example.org bob@example.net; do
  n=${u%@*}
  "$SECMAIL" smime ca issue --ca-cert ca.pem --ca-key ca.key --email "$u" --usage both \
    --out-cert "$n.pem" --out-key "$n.key" >/dev/null
done
python3 - <<'PY'
line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n"
head = (b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: bench\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
n = (64 * 1024 * 1024 - len(head)) // len(line) + 1
open("msg.eml", "wb").write(head + line * n)
PY
best() { # name, command...: the best elapsed time and the best CPU time (user + sys) of
  # $RUNS runs (the machine is shared: CPU time is the steadier number), and the peak RSS.
  name=$1; shift
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f '%e %U %S %M' sh -c "$*" 2>&1 >/dev/null | tail -1
  done | awk -v n="$name" 'NR == 1 || $1 < e { e = $1 } NR == 1 || $2 + $3 < c { c = $2 + $3 }
    $4 > m { m = $4 } END { printf "%-42s %6.2f s  cpu %5.2f s  %5d MiB\n", n, e, c, m / 1024 }'
}
for c in gcm cbc; do
  best "openssl sign -stream | encrypt -stream $c" \
    "openssl smime -sign -stream -signer alice.pem -inkey alice.key -in msg.eml | openssl cms -encrypt -stream -aes-256-$c -recip bob.pem -recip alice.pem -from alice@example.org -to bob@example.net -out o-$c.eml"
  best "openssl sign | encrypt $c (no -stream)" \
    "openssl smime -sign -signer alice.pem -inkey alice.key -in msg.eml | openssl cms -encrypt -aes-256-$c -recip bob.pem -recip alice.pem -from alice@example.org -to bob@example.net -out o2-$c.eml"
  best "secmail sign-encrypt-mail $c" \
    "$SECMAIL smime sign-encrypt-mail --cert alice.pem --key alice.key --to bob.pem --cipher aes-256-$c --in msg.eml --out s-$c.eml"
  best "openssl decrypt | verify $c" \
    "openssl cms -decrypt -recip bob.pem -inkey bob.key -in o-$c.eml | openssl smime -verify -CAfile ca.pem -out od-$c.eml"
  best "secmail decrypt-mail --ca $c" \
    "$SECMAIL smime decrypt-mail --cert bob.pem --key bob.key --ca ca.pem --in s-$c.eml --out sd-$c.eml"
  best "secmail decrypt-mail --ca $c (openssl's)" \
    "$SECMAIL smime decrypt-mail --cert bob.pem --key bob.key --ca ca.pem --in o-$c.eml --out sd2-$c.eml"
done
