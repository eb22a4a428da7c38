#!/usr/bin/env bash
# man-page.sh PROGRAM SECTION "WHAT IT IS" OUT.gz: PROGRAM's man page from its --help, by
# help2man. help2man renders the program's own --help; the include files add what it cannot:
# <name>.h2m (beside this script: files, environment, see also) and a COMMANDS section with
# every command's --help (help-to-roff.awk) but the footer it inherits from its parent, and
# the program's footer as EXAMPLES line by line (help2man would run its lines together).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/help-tree.sh"

program=$1 section=$2 what=$3 out=$4
name=$(basename "$program")
roff() { awk -v mode="$1" -f "$here/help-to-roff.awk"; }

commands_h2m() {
  local path parent
  echo "[COMMANDS]"
  command_paths "$program" | while read -r path; do
    [ -n "$path" ] || continue
    printf '.SS "%s %s"\n' "$name" "$path"
    parent=
    [[ $path == *" "* ]] && parent=${path% *}
    # shellcheck disable=SC2086  # a path is words
    PARENT_FOOTER=$("$program" $parent --help | roff footer)
    export PARENT_FOOTER
    # shellcheck disable=SC2086
    "$program" $path --help | roff command
  done
  "$program" --help | roff examples
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
commands_h2m >"$work/commands.h2m"
help2man --no-info --section="$section" --name="$what" --include="$here/$name.h2m" \
  --include="$work/commands.h2m" --output="$work/page" "$program"
gzip -9n <"$work/page" >"$out"
