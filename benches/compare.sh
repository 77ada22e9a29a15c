#!/usr/bin/env bash
# compare.sh - the `secmail` command side by side with the tools people know, on the same
# inputs, in one run:
#   pgp-enc / pgp-dec        OpenPGP encrypt to one Curve25519 recipient / decrypt
#   pgp-se  / pgp-dv         sign+encrypt / decrypt+verify
#   pgp-sign / pgp-verify    detached signature / its verification
#     peers: gpg, sq, rnp, all with compression off (gpg -z 0, sq --compression none
#     -- sq's default is "pad", padding not compression -- and rnp -z 0); the same key for all,
#     made by `secmail pgp keygen` (v4, Ed25519 + Cv25519) and imported into gpg and rnp.
#   pass-enc / pass-dec      passphrase encryption: secmail (Argon2id 64 MiB t=3 p=4,
#     AES-256-GCM), `gpg -c` (iterated+salted S2K SHA-256, 65011712 count, AES-256, -z 0),
#     `age -p` (scrypt, log2 N = 18; passphrase typed by an expect pty wrapper, whose start-up
#     is in its figure) and `age -r` (X25519 recipient, no KDF at all: the floor).
#   smime-se / smime-dv      S/MIME sign-then-encrypt / decrypt-then-verify of a MIME message
#     (RSA-2048 certificates from `secmail smime ca`): secmail (AES-256-GCM, its default, and
#     CBC), `openssl cms -sign | openssl cms -encrypt` with and without -stream (AES-256-CBC)
#     and with AES-256-GCM.
# Every figure is a whole process (start-up, key loading, file I/O). The commands of a group
# run alternately, REPS rounds, so a busy machine slows them alike. Decrypt rows read each
# tool's own ciphertext of the same plaintext.
#
# Columns: median wall ms; MB/s = input bytes / median (10^6 B/s; 1 MiB and up); "x secmail"
# = median / secmail's median (above 1: slower than secmail); peak RSS = median of GNU time's
# %M over the rounds (the largest single process: a pipeline's largest stage; gpg-agent's
# share is not included); cpu ms = median user+system time of the process and its children
# (GNU time %U+%S, 10 ms resolution; steadier than wall time on a busy machine).
#
# usage: benches/compare.sh [--quick] [--no-install] [--no-build] [--sizes "1k 1m 64m"]
#                           [--reps N] [--only pgp,pass,smime] [--keep]
#   --quick   3 rounds, sizes 1k and 1m (a smoke test, about a minute)
#   default   7 rounds (64 MiB: REPS_BIG, 5), sizes 1k 1m 64m
# env: SECMAIL (a built binary, skips the build), WORKDIR (default mktemp under /tmp)
set -euo pipefail
export LC_ALL=C
# What a user gets by default: with RUST_BACKTRACE set, every anyhow error made inside
# sequoia's parsers (26 in a 1 KiB sign+encrypt) captures a backtrace (+1.7 M instructions,
# 4.7% of that process under callgrind).
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
cd "$(dirname "$0")/.."

INSTALL=true BUILD=true KEEP=false SIZES="1k 1m 64m" REPS=7 REPS_BIG=${REPS_BIG:-5} ONLY=pgp,pass,smime
while (($#)); do
  case $1 in
    --quick) SIZES="1k 1m" REPS=3 REPS_BIG=2 ;;
    --no-install) INSTALL=false ;;
    --no-build) BUILD=false ;;
    --sizes) SIZES=$2; shift ;;
    --reps) REPS=$2 REPS_BIG=$2; shift ;;
    --only) ONLY=$2; shift ;;
    --keep) KEEP=true ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
want() { [[ ",$ONLY," == *",$1,"* ]]; }
log() { echo "# $*" >&2; }

# ------------------------------------------------------------------ tools
if $INSTALL; then
  missing=()
  for p in gpg:gnupg sq:sq rnp:rnp age:age openssl:openssl expect:expect; do
    command -v "${p%%:*}" >/dev/null || missing+=("${p#*:}")
  done
  [[ -x /usr/bin/time ]] || missing+=(time)
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi
for t in gpg gpgconf gpg-connect-agent sq rnp rnpkeys age age-keygen openssl expect /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "compare.sh: $t is missing (run without --no-install)" >&2; exit 1; }
done
if [[ -z ${SECMAIL:-} ]]; then
  if $BUILD; then
    log "building secmail (release)"
    cargo build --release --locked -p secmail-cli >&2
  fi
  SECMAIL=${CARGO_TARGET_DIR:-target}/release/secmail
fi
[[ -x $SECMAIL ]] || { echo "compare.sh: no secmail binary at $SECMAIL" >&2; exit 1; }
SECMAIL=$(cd "$(dirname "$SECMAIL")" && pwd)/$(basename "$SECMAIL")

# ------------------------------------------------------------------ work dir, data, keys
W=${WORKDIR:-$(mktemp -d /tmp/secmail-compare.XXXXXX)}
mkdir -p "$W"; W=$(cd "$W" && pwd)
D=$W/data K=$W/keys C=$W/ct O=$W/out
mkdir -p "$D" "$K" "$C" "$O"
AGENT=""
cleanup() {
  [[ -n $AGENT ]] && kill "$AGENT" 2>/dev/null
  if $KEEP; then log "work dir kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

declare -A BYTES=([1k]=1024 [1m]=1048576 [64m]=67108864)
log "work dir $W; making inputs ($SIZES)"
for s in $SIZES; do
  n=${BYTES[$s]:?unknown size $s (1k, 1m, 64m)}
  head -c "$n" /dev/urandom > "$D/$s"
  # the S/MIME input: a MIME message of the same total size, a base64 attachment
  { printf 'From: bench@bench.example\r\nTo: bench@bench.example\r\nSubject: bench\r\nMIME-Version: 1.0\r\n'
    printf 'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    head -c $((n * 3 / 4)) /dev/urandom | base64 -w 76 | sed 's/$/\r/'
  } > "$D/$s.eml.tmp"
  head -c "$n" "$D/$s.eml.tmp" > "$D/$s.eml"; rm -f "$D/$s.eml.tmp"
done
PW=bench-passphrase-1; export PW
printf '%s\n' "$PW" > "$K/pw"

log "keys"
$SECMAIL pgp keygen --userid 'Bench <bench@bench.example>' --out "$K/key.asc" 2>/dev/null
$SECMAIL pgp cert --in "$K/key.asc" --out "$K/cert.asc"
GH=$K/gnupg; mkdir -m 700 -p "$GH"
G="gpg --homedir $GH --batch --yes --quiet --no-tty --no-auto-check-trustdb --trust-model always"
$G --import "$K/key.asc" 2>/dev/null
gpgconf --homedir "$GH" --launch gpg-agent
AGENT=$(gpg-connect-agent --homedir "$GH" 'getinfo pid' /bye | awk '/^D/ {print $2}')
RH=$K/rnp; mkdir -p "$RH"
rnpkeys --homedir "$RH" --import "$K/key.asc" >/dev/null 2>&1
R="rnp --homedir $RH --notty"
UID_=bench@bench.example
age-keygen -o "$K/age.key" 2>/dev/null; AGE_PUB=$(age-keygen -y "$K/age.key")
cat > "$W/pw.exp" <<'EOF'
log_user 0
set timeout 900
eval spawn -noecho $argv
expect {
  -re {(?i)(passphrase|password)[^\n]*:\s*$} { send -- "$env(PW)\r"; exp_continue }
  eof
}
lassign [wait] pid spawnid oserr rc
exit $rc
EOF
PWRUN="expect -f $W/pw.exp"
S=$K/smime; mkdir -p "$S"
$SECMAIL smime ca new --subject 'CN=Bench CA' --out-cert "$S/ca.pem" --out-key "$S/ca.key" >/dev/null 2>&1
$SECMAIL smime ca issue --ca-cert "$S/ca.pem" --ca-key "$S/ca.key" --email "$UID_" \
  --out-cert "$S/u.pem" --out-key "$S/u.key" >/dev/null 2>&1
GCM_CMS=$W/gcm-cms.sh
cat > "$GCM_CMS" <<EOF
#!/bin/sh
# openssl cms cannot stream AuthEnvelopedData; sign | encrypt through a pipe
openssl cms -sign -nodetach -binary -in "\$1" -signer $S/u.pem -inkey $S/u.key | openssl cms -encrypt -aes-256-gcm -out "\$2" $S/u.pem
EOF

# ------------------------------------------------------------------ command lines
# cmd GROUP TOOL IN OUT -> a shell command line
cmd() {
  local g=$1 t=$2 in=$3 out=$4
  case $g.$t in
    pgp-enc.secmail) echo "$SECMAIL pgp encrypt --to $K/cert.asc --in $in --out $out" ;;
    pgp-enc.gpg) echo "$G -z 0 -e -r $UID_ -o $out $in" ;;
    pgp-enc.sq) echo "sq -f encrypt -B --compression none --recipient-cert $K/cert.asc -o $out $in" ;;
    pgp-enc.rnp) echo "$R -e -z 0 -r $UID_ --overwrite --output $out $in" ;;
    pgp-dec.secmail) echo "$SECMAIL pgp decrypt --key $K/key.asc --in $in --out $out" ;;
    pgp-dec.gpg) echo "$G -d -o $out $in" ;;
    pgp-dec.sq) echo "sq -f decrypt --recipient-key $K/key.asc -o $out $in" ;;
    pgp-dec.rnp) echo "$R -d --overwrite --output $out $in" ;;
    pgp-se.secmail) echo "$SECMAIL pgp encrypt --to $K/cert.asc --sign-with $K/key.asc --in $in --out $out" ;;
    pgp-se.gpg) echo "$G -z 0 -u $UID_ -s -e -r $UID_ -o $out $in" ;;
    pgp-se.sq) echo "sq -f encrypt -B --compression none --recipient-cert $K/cert.asc --signer-key $K/key.asc -o $out $in" ;;
    pgp-se.rnp) echo "$R -s -e -z 0 -u $UID_ -r $UID_ --overwrite --output $out $in" ;;
    pgp-dv.secmail) echo "$SECMAIL pgp decrypt --key $K/key.asc --signer $K/cert.asc --in $in --out $out" ;;
    pgp-dv.gpg) echo "$G -d -o $out $in" ;;
    pgp-dv.sq) echo "sq -f decrypt --recipient-key $K/key.asc --signer-cert $K/cert.asc -o $out $in" ;;
    pgp-dv.rnp) echo "$R -d --overwrite --output $out $in" ;;
    # detached: for verify, IN is the data and OUT the signature made by sign
    pgp-sign.secmail) echo "$SECMAIL pgp sign --key $K/key.asc --detached --in $in --out $out" ;;
    pgp-sign.gpg) echo "$G -u $UID_ --detach-sign -o $out $in" ;;
    pgp-sign.sq) echo "sq -f sign --detached -B --signer-key $K/key.asc -o $out $in" ;;
    pgp-sign.rnp) echo "$R -s --detach -u $UID_ --overwrite --output $out $in" ;;
    pgp-verify.secmail) echo "$SECMAIL pgp verify --signer $K/cert.asc --signature $out --in $in" ;;
    pgp-verify.gpg) echo "$G --verify $out $in" ;;
    pgp-verify.sq) echo "sq verify --detached $out --signer-cert $K/cert.asc $in" ;;
    pgp-verify.rnp) echo "$R -v --source $in $out" ;;
    pass-enc.secmail) echo "$SECMAIL passphrase encrypt --passphrase-file $K/pw --in $in --out $out" ;;
    pass-enc.gpg-c) echo "$G --pinentry-mode loopback --passphrase $PW --no-symkey-cache -z 0 --s2k-mode 3 --s2k-digest-algo SHA256 --s2k-count 65011712 --cipher-algo AES256 -c -o $out $in" ;;
    pass-enc.age-p) echo "$PWRUN age -p -o $out $in" ;;
    pass-enc.age-x25519) echo "age -r $AGE_PUB -o $out $in" ;;
    pass-dec.secmail) echo "$SECMAIL passphrase decrypt --passphrase-file $K/pw --in $in --out $out" ;;
    pass-dec.gpg-c) echo "$G --pinentry-mode loopback --passphrase $PW --no-symkey-cache -d -o $out $in" ;;
    pass-dec.age-p) echo "$PWRUN age -d -o $out $in" ;;
    pass-dec.age-x25519) echo "age -d -i $K/age.key -o $out $in" ;;
    smime-se.secmail-gcm) echo "$SECMAIL smime sign-encrypt-mail --cert $S/u.pem --key $S/u.key --to $S/u.pem --in $in --out $out" ;;
    smime-se.secmail-cbc) echo "$SECMAIL smime sign-encrypt-mail --cipher aes-256-cbc --cert $S/u.pem --key $S/u.key --to $S/u.pem --in $in --out $out" ;;
    smime-se.openssl-cbc) echo "openssl cms -sign -nodetach -binary -in $in -signer $S/u.pem -inkey $S/u.key | openssl cms -encrypt -aes256 -out $out $S/u.pem" ;;
    smime-se.openssl-cbc-stream) echo "openssl cms -sign -nodetach -binary -stream -in $in -signer $S/u.pem -inkey $S/u.key | openssl cms -encrypt -aes256 -stream -out $out $S/u.pem" ;;
    smime-se.openssl-gcm) echo "sh $GCM_CMS $in $out" ;;
    smime-dv.secmail-*) echo "$SECMAIL smime decrypt-mail --cert $S/u.pem --key $S/u.key --ca $S/ca.pem --in $in --out $out" ;;
    smime-dv.openssl-*) echo "openssl cms -decrypt -in $in -recip $S/u.pem -inkey $S/u.key | openssl cms -verify -CAfile $S/ca.pem -out $out" ;;
    *) echo "compare.sh: no command for $g.$t" >&2; return 1 ;;
  esac
}

# ------------------------------------------------------------------ measuring
TABLE=""
row_head() { printf '%-11s %-5s %-20s %10s %8s %10s %8s %8s\n' group size tool "median ms" "MB/s" "x secmail" "RSS MiB" "cpu ms"; }
median() { sort -g | awk '{a[NR] = $1} END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# measure GROUP SIZE IN-OF-TOOL OUT-SUFFIX TOOL... : REPS alternating rounds of all tools.
# IN-OF-TOOL is a function name printing the input for a tool.
measure() {
  local g=$1 s=$2 inof=$3; shift 3
  local tools=("$@") reps=$REPS t r
  [[ $s == 64m ]] && reps=$REPS_BIG
  log "$g $s: ${#tools[@]} tools x $reps rounds"
  declare -A times=() rss=() cpu=()
  for ((r = 0; r < reps; r++)); do
    for t in "${tools[@]}"; do
      local out=$O/$g.$t
      [[ $g == pgp-verify ]] && out=$O/pgp-sign.$t   # the signature sign wrote
      local c; c=$(cmd "$g" "$t" "$($inof "$t")" "$out")
      local a b
      a=$EPOCHREALTIME
      # no shell in between unless the command is a pipeline (openssl sign | encrypt)
      local -a argv; if [[ $c == *"|"* ]]; then argv=(bash -c "$c"); else read -ra argv <<<"$c"; fi
      if ! /usr/bin/time -f '%M %U %S' -o "$W/rss" "${argv[@]}" >/dev/null 2>"$W/err"; then
        echo "compare.sh: FAILED: $c" >&2; cat "$W/err" >&2; exit 1
      fi
      b=$EPOCHREALTIME
      times[$t]+="$(awk -v a="$a" -v b="$b" 'BEGIN { print (b - a) * 1000 }') "
      local m u sy; read -r m u sy < <(tail -n 1 "$W/rss")
      rss[$t]+="$m "
      cpu[$t]+="$(awk -v u="$u" -v s="$sy" 'BEGIN { print (u + s) * 1000 }') "
      [[ $g == pgp-sign || $g == pgp-verify ]] || rm -f "$out"
    done
  done
  local ref=""
  for t in "${tools[@]}"; do
    local med mrss mcpu
    med=$(printf '%s\n' ${times[$t]} | median)
    mcpu=$(printf '%s\n' ${cpu[$t]} | median)
    mrss=$(printf '%s\n' ${rss[$t]} | sort -n | awk '{a[NR] = $1} END { printf "%.1f", a[int((NR + 1) / 2)] / 1024 }')
    [[ -z $ref ]] && ref=$med
    TABLE+=$(awk -v g="$g" -v s="$s" -v t="$t" -v m="$med" -v r="$ref" -v n="${BYTES[$s]}" -v rss="$mrss" -v c="$mcpu" \
      'BEGIN { mbs = (n >= 1048576) ? sprintf("%.0f", n / m / 1000) : "-";
               printf "%-11s %-5s %-20s %10.2f %8s %10.2f %8s %8.0f", g, s, t, m, mbs, m / r, rss, c }')$'\n'
  done
}
run1() { bash -c "$1" >/dev/null 2>"$W/err" || { echo "compare.sh: FAILED: $1" >&2; cat "$W/err" >&2; exit 1; }; }
# pair ENC DEC SIZE TOOLS...: make each tool's ciphertext once, check its round trip, then
# time the encryption and the decryption groups
pair() {
  local ge=$1 gd=$2 s=$3; shift 3
  local t pt=$D/$s
  [[ $ge == smime-* ]] && pt=$D/$s.eml
  for t in "$@"; do
    run1 "$(cmd "$ge" "$t" "$pt" "$C/$ge.$t.$s")"
    run1 "$(cmd "$gd" "$t" "$C/$ge.$t.$s" "$O/check")"
    if [[ $ge == smime-* ]]; then
      # the message read back: secmail adds Message-ID and Date; compare the bodies
      body() { tr -d '\r' < "$1" | sed '1,/^$/d'; }
      cmp -s <(body "$O/check") <(body "$pt") \
        || { echo "compare.sh: ROUND TRIP MISMATCH: $ge $t $s" >&2; exit 1; }
    else
      cmp -s "$O/check" "$pt" || { echo "compare.sh: ROUND TRIP MISMATCH: $ge $t $s" >&2; exit 1; }
    fi
  done
  PT=$pt; SZ=$s; GE=$ge
  measure "$ge" "$s" in_plain "$@"
  measure "$gd" "$s" in_ct "$@"
  rm -f "$C"/*."$s"
}
in_plain() { echo "$PT"; }
in_ct() { echo "$C/$GE.$1.$SZ"; }
in_data() { echo "$D/$SZ"; }

echo "== compare.sh on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "   rounds $REPS (64 MiB: $REPS_BIG); $("$SECMAIL" --version); $(gpg --version | head -1); $(sq --version 2>&1 | head -1); $(rnp --version | head -1); age $(age --version); $(openssl version | cut -d' ' -f1-2)"
for s in $SIZES; do
  if want pgp; then
    pair pgp-enc pgp-dec "$s" secmail gpg sq rnp
    pair pgp-se pgp-dv "$s" secmail gpg sq rnp
    if [[ $s != 64m ]]; then
      SZ=$s
      for t in secmail gpg sq rnp; do
        run1 "$(cmd pgp-sign "$t" "$D/$s" "$O/pgp-sign.$t")"
        run1 "$(cmd pgp-verify "$t" "$D/$s" "$O/pgp-sign.$t")"
      done
      measure pgp-sign "$s" in_data secmail gpg sq rnp
      measure pgp-verify "$s" in_data secmail gpg sq rnp
      rm -f "$O"/pgp-sign.*
    fi
  fi
  if want pass; then
    pair pass-enc pass-dec "$s" secmail gpg-c age-p age-x25519
  fi
  if want smime; then
    pair smime-se smime-dv "$s" secmail-gcm secmail-cbc openssl-cbc openssl-cbc-stream openssl-gcm
  fi
done
echo
row_head
printf '%s' "$TABLE"
