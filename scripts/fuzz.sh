#!/usr/bin/env bash
# fuzz.sh - build the cargo-fuzz targets (nightly) and run one, or all, for a bounded time.
#
# usage: scripts/fuzz.sh TARGET|all SECONDS [libFuzzer options...]
#   scripts/fuzz.sh mime_parse 600          ten minutes on one target
#   scripts/fuzz.sh all 30                  every target, 30 s each (what scripts/test.sh runs)
#   scripts/fuzz.sh smime_decrypt 3600 -jobs=2 -workers=2
# Each target starts from its committed seeds (fuzz/seeds/TARGET) in a working corpus
# (fuzz/corpus/TARGET, not committed) and, for the text formats, a dictionary (fuzz/dict/).
# Logs go to target/fuzz-logs/TARGET.log; a crash leaves its input in fuzz/artifacts/TARGET/
# and fails the script. Leak detection is off: the runs look for panics, aborts and memory
# errors, and libraries with process-wide caches (OpenSSL, sequoia) make LeakSanitizer noisy.
# env: FUZZ_TARGET_DIR (cargo's target dir for the fuzz build; default fuzz/target),
#      FUZZ_JOBS (targets run at once, default 1), FUZZ_RSS_MB (2048)
set -euo pipefail
cd "$(dirname "$0")/.."
if (($# < 2)); then sed -n '2,14p' "$0"; exit 2; fi
WHICH=$1 SECONDS_EACH=$2; shift 2
EXTRA=("$@")
LOGS=$PWD/target/fuzz-logs
mkdir -p "$LOGS"

cargo +nightly --version >/dev/null 2>&1 || { echo "fuzz.sh: the nightly toolchain is missing (rustup toolchain install nightly --profile minimal)" >&2; exit 1; }
cargo fuzz --version >/dev/null 2>&1 || { echo "fuzz.sh: cargo-fuzz is missing (cargo install cargo-fuzz --locked)" >&2; exit 1; }

cd fuzz
TD=()
[[ -n ${FUZZ_TARGET_DIR:-} ]] && TD=(--target-dir "$FUZZ_TARGET_DIR")
t0=$SECONDS
cargo +nightly fuzz build --release "${TD[@]}"
echo "fuzz.sh: built in $((SECONDS - t0)) s"

if [[ $WHICH == all ]]; then
  mapfile -t TARGETS < <(cargo +nightly fuzz list)
else
  TARGETS=("$WHICH")
fi

dict_for() {
  case $1 in
    smtp_*) echo dict/smtp.dict ;;
    imap_*) echo dict/imap.dict ;;
    pop3_*) echo dict/pop3.dict ;;
    mime_*|smime_message|pgp_mime|pgp_autocrypt|ffi_*) echo dict/mime.dict ;;
  esac
}

run_one() {   # TARGET -> one table line on stdout; non-zero (and the log's end on stderr) on failure
  local t=$1 log=$LOGS/$1.log d
  mkdir -p "corpus/$t"
  cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
  local opts=(-max_total_time="$SECONDS_EACH" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" -timeout=60
              -detect_leaks=0 -print_final_stats=1)
  d=$(dict_for "$t")
  [[ -n $d ]] && opts+=(-dict="$d")
  if cargo +nightly fuzz run --release "${TD[@]}" "$t" "corpus/$t" -- "${opts[@]}" "${EXTRA[@]}" >"$log" 2>&1; then
    local execs rate
    execs=$(awk '/stat::number_of_executed_units/ { s += $NF } END { print s + 0 }' "$log")
    rate=$(awk '/stat::average_exec_per_sec/ { s += $NF } END { print s + 0 }' "$log")
    printf '%-24s %12s %8s %10s  %s\n' "$t" "$execs" "$rate" "$(ls "corpus/$t" | wc -l)" ok
  else
    {
      echo "fuzz.sh: target $t FAILED; the end of its log ($log):"
      tail -n 80 "$log"
      ls -l "artifacts/$t" 2>/dev/null || true
    } >&2
    return 1
  fi
}

for t in "${TARGETS[@]}"; do
  [[ -d seeds/$t ]] || { echo "fuzz.sh: no seeds for $t (fuzz/seeds/$t)" >&2; exit 1; }
done
# FUZZ_JOBS targets at a time (one per core is what scripts/test.sh uses on CI's 2 cores)
JOBS=${FUZZ_JOBS:-1}
printf '%-24s %12s %8s %10s  %s\n' target executions exec/s corpus result
t1=$SECONDS failed=0 running=0
for t in "${TARGETS[@]}"; do
  if ((running >= JOBS)); then
    wait -n || failed=1
    running=$((running - 1))
  fi
  ((failed)) && break
  run_one "$t" &
  running=$((running + 1))
done
while ((running > 0)); do
  wait -n || failed=1
  running=$((running - 1))
done
echo "fuzz.sh: ran ${#TARGETS[@]} target(s) in $((SECONDS - t1)) s, $JOBS at a time"
exit "$failed"
