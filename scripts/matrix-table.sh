#!/usr/bin/env bash
# Prints the runtime matrix as Markdown from the JSON lines the matrix tests record
# (tests/integration/matrix/runtime_pair.sh, MIGRATE_MATRIX_RESULTS): one row per
# source runtime x destination runtime x cgroup mode, with what ran on each side (CRIU's own
# logs, as the report carries them) or why preflight refused. docs/runtime.md holds its output.
#
#   scripts/matrix-table.sh build/matrix-results.jsonl
set -euo pipefail
results=${1:?usage: $0 RESULTS.jsonl}
[ -s "$results" ] || { echo "matrix-table: $results is empty or missing" >&2; exit 1; }
jq -rs '
  def cell(effective; mechanism):
    if effective == "" then "-"
    else effective + " (" + (mechanism | sub("; CRIU read config file [^ )]*"; "; CRIU read it")) + ")" end;
  (.[0] | "Measured \(.date) by the matrix tests (ctest -L matrix): kernel \(.kernel).\n"),
  "| source | destination | CRIU | mode | moved? | dump ran (how) | restore ran (how) |",
  "|---|---|---|---|---|---|---|",
  (unique_by([.source, .destination, .criu, .mode, .new_cgroup_path, .cgroup_namespace])
   | sort_by(.source, .destination, .criu, .mode)[]
   | "| \(.source) | \(.destination) | \(.criu) | \(.mode)\(if .new_cgroup_path then ", new cgroup path" else "" end)\(if .cgroup_namespace then ", own cgroup namespace" else "" end) | \(if .exit == 0 then "yes" elif .exit == 1 then "refused in preflight: " + (.error | sub("^.*preflight refused \\([0-9]+ failed checks?\\): "; "") | .[0:220] | gsub("\\|"; "/")) else "exit \(.exit): \(.error[0:160])" end) | \(cell(.dump; .dump_mechanism) | gsub("\\|"; "/")) | \(cell(.restore; .restore_mechanism) | gsub("\\|"; "/")) |")
' "$results"
