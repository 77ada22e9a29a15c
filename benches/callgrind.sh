#!/usr/bin/env bash
# callgrind.sh - instruction counts of the small (1 KiB) operations, compared with the
# committed baseline (benches/callgrind-baseline.txt). Instruction counts do not depend on how
# busy the machine is, so a regression shows in CI without timing noise.
#
# Each case of the `icount` binary (benches/src/bin/icount.rs) runs under
# `valgrind --tool=callgrind`, which counts only the one measured call (set-up and a warm-up
# call are excluded). A count more than TOLERANCE percent above the baseline fails; one more
# than TOLERANCE percent below it passes with a reminder to update the baseline.
#
# usage: benches/callgrind.sh [--update] [--no-build] [CASE...]
#   --update    write the counts measured now as the new baseline
#   --no-build  use the icount binary already built (release profile)
# env: TOLERANCE (percent, default 20), CARGO_TARGET_DIR
set -euo pipefail
export LC_ALL=C
# What a user gets by default: with RUST_BACKTRACE set, every anyhow error made inside
# sequoia's parsers (26 in a 1 KiB sign+encrypt) captures a backtrace (+1.7 M instructions,
# 4.7% of that process under callgrind).
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
cd "$(dirname "$0")/.."

UPDATE=false BUILD=true CASES=()
while (($#)); do
  case $1 in
    --update) UPDATE=true ;;
    --no-build) BUILD=false ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "callgrind.sh: unknown option $1" >&2; exit 2 ;;
    *) CASES+=("$1") ;;
  esac
  shift
done
TOLERANCE=${TOLERANCE:-20}
BASELINE=benches/callgrind-baseline.txt
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
if $BUILD; then
  cargo build --release --locked -p secmail-benches --bin icount >&2
fi
BIN=${CARGO_TARGET_DIR:-target}/release/icount
[[ -x $BIN ]] || { echo "callgrind.sh: no icount binary at $BIN" >&2; exit 1; }
((${#CASES[@]})) || mapfile -t CASES < <("$BIN" --list)

W=$(mktemp -d /tmp/secmail-callgrind.XXXXXX)
trap 'rm -rf "$W"' EXIT
declare -A BASE=()
if [[ -f $BASELINE ]]; then
  while read -r name count; do
    [[ -z $name || $name == \#* ]] && continue
    BASE[$name]=$count
  done < "$BASELINE"
fi

printf '%-26s %14s %14s %8s  %s\n' case instructions baseline change verdict
failed=0 improved=0
declare -A NOW=()
for c in "${CASES[@]}"; do
  if ! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*icount_measured*' \
    --callgrind-out-file="$W/$c.out" "$BIN" "$c" >"$W/$c.log" 2>&1; then
    echo "callgrind.sh: $c FAILED under valgrind:" >&2; cat "$W/$c.log" >&2; exit 1
  fi
  n=$(awk '/^(summary|totals):/ { print $2; exit }' "$W/$c.out")
  [[ -n $n && $n -gt 0 ]] || { echo "callgrind.sh: $c: no instructions counted (was icount_measured inlined?)" >&2; exit 1; }
  NOW[$c]=$n
  b=${BASE[$c]:-}
  if [[ -z $b ]]; then
    printf '%-26s %14s %14s %8s  %s\n' "$c" "$n" - - "no baseline"
    continue
  fi
  verdict=$(awk -v n="$n" -v b="$b" -v t="$TOLERANCE" 'BEGIN {
    r = (n - b) * 100 / b; v = "ok";
    if (r > t) v = "REGRESSION"; else if (r < -t) v = "improved";
    printf "%+7.1f%%  %s", r, v }')
  printf '%-26s %14s %14s %s\n' "$c" "$n" "$b" "$verdict"
  [[ $verdict == *REGRESSION* ]] && failed=$((failed + 1))
  [[ $verdict == *improved* ]] && improved=$((improved + 1))
done

if $UPDATE; then
  {
    echo "# Instruction counts of benches/src/bin/icount.rs cases (callgrind, release profile)."
    echo "# Written by: benches/callgrind.sh --update   ($(valgrind --version), $(rustc --version | cut -d' ' -f1-2))"
    for c in "${CASES[@]}"; do echo "$c ${NOW[$c]}"; done
  } > "$BASELINE"
  echo "callgrind.sh: baseline written to $BASELINE"
  exit 0
fi
if ((improved)); then
  echo "callgrind.sh: $improved case(s) are more than ${TOLERANCE}% below the baseline: update it (benches/callgrind.sh --update) so that the gain is kept"
fi
if ((failed)); then
  echo "callgrind.sh: $failed case(s) regressed by more than ${TOLERANCE}% (see the table)" >&2
  exit 1
fi
