#!/usr/bin/env bash
# Runs every test of a zdtm selection in both modes of scripts/zdtm-run.sh (control, cr), one
# at a time, and records the verdicts and every warning line CRIU printed.
#
#   zdtm-classify.sh [--selection FILE] [--bin-dir DIR] [--timeout SEC] OUT_DIR [TEST...]
#
# OUT_DIR/results.tsv   test, control verdict, cr verdict, expected (control cr), details
# OUT_DIR/warnings.tsv  test, log (dump/restore), CRIU warning line without timestamp (and
#                       "Skipping in-flight connection", an info line that drops state)
# OUT_DIR/logs/<test>/<mode>/   the logs zdtm-run.sh kept
# Prints a summary; exit 1 when a verdict differs from the selection's expectation.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
selection=$HERE/../tests/zdtm/selection.txt
run_opts=()
step_timeout=30
while [ $# -gt 0 ]; do
  case "$1" in
    --selection) selection=$2; run_opts+=(--selection "$2"); shift 2 ;;
    --bin-dir) run_opts+=(--bin-dir "$2"); shift 2 ;;
    --timeout) step_timeout=$2; shift 2 ;;
    -h|--help) sed -n '2,10s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
    -*) echo "zdtm-classify: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { sed -n '2,10s/^# \{0,1\}//p' "$0" >&2; exit 2; }
out=$1
shift
mkdir -p "$out/logs"
if [ $# -gt 0 ]; then
  tests=("$@")
else
  mapfile -t tests < <(sed -e 's/#.*//' "$selection" | awk 'NF {print $1}')
fi

source "$HERE/zdtm-lib.sh"
expected() {  # expected TEST: "control cr" from the selection
  local control cr
  read -r _ _ _ control cr _ < <(zdtm_row "$1" "$selection")
  echo "${control/#-/?} ${cr/#-/?}"
}

printf 'test\tcontrol\tcr\texpected\tcontrol_detail\tcr_detail\n' >"$out/results.tsv"
: >"$out/warnings.tsv"
mismatch=0
start=$(date +%s)
for t in "${tests[@]}"; do
  declare -A v=() d=()
  for mode in control cr; do
    # Each step of zdtm-run.sh is bounded; this bounds the whole run once more.
    line=$(timeout -k 10 $((step_timeout * 5 + 30)) "$HERE/zdtm-run.sh" "${run_opts[@]}" \
           --timeout "$step_timeout" --logs "$out/logs" "$mode" "$t" 2>"$out/logs/$t.$mode.err")
    rc=$?
    [ -n "$line" ] || line="$t $mode ERROR runner: exit $rc, $(tail -n 2 "$out/logs/$t.$mode.err" | tr '\n' ' ')"
    read -r _ _ verdict rest <<<"$line"
    v[$mode]=$verdict d[$mode]=$rest
    echo "$line"
  done
  exp=$(expected "$t")
  # An expectation may list alternatives (pass|fail: a test that is known to be flaky).
  read -r exp_control exp_cr <<<"$exp"
  if [[ "|$exp_control|" != *"|${v[control],,}|"* || "|$exp_cr|" != *"|${v[cr],,}|"* ]]; then
    mismatch=$((mismatch + 1))
    echo "zdtm-classify: $t: control ${v[control]}, cr ${v[cr]}; expected $exp" >&2
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "${v[control]}" "${v[cr]}" "$exp" "${d[control]}" "${d[cr]}" \
    >>"$out/results.tsv"
  for f in "$out/logs/$t/cr/dump.log" "$out/logs/$t/cr/restore.log"; do
    [ -f "$f" ] || continue
    # Warn lines, and the info lines that say CRIU left state behind.
    grep -iE 'warn|Skipping in-flight' "$f" | sed -E 's/^\([0-9. ]+\) //' |
      awk -v t="$t" -v l="$(basename "$f" .log)" '{print t "\t" l "\t" $0}' >>"$out/warnings.tsv"
  done
  unset v d
done

n=${#tests[@]}
count() { awk -F'\t' -v c="$1" -v w="$2" 'NR > 1 && $c == w' "$out/results.tsv" | wc -l; }
echo "zdtm-classify: $n tests in $(($(date +%s) - start)) s: control PASS $(count 2 PASS)," \
     "cr PASS $(count 3 PASS); $mismatch differ from the selection's expectation" >&2
[ "$mismatch" -eq 0 ]
