#!/usr/bin/env bash
# bash-completion.sh PROGRAM OUT: PROGRAM's bash completion, read from its --help (help-tree.sh):
# its commands, each command's options, the values of those with a fixed set, file names for
# paths, and inventory host names for positionals named *host*. The completion logic is
# completion.bash.in; this writes the command tree in front of it.
set -euo pipefail
here=$(dirname "$0")
. "$here/help-tree.sh"

program=$1 out=$2
name=$(basename "$program")
fn=_${name//-/_}

# Option entries ("-c,--config TEXT:FILE   ...") as completion specs: --flag, --option=@,
# --option=@file, --option=@dir, --option=a|b.
option_specs() {
  section_entries Options | awk '{
    tag = substr($0, 3)
    if (match(tag, /   */)) tag = substr(tag, 1, RSTART - 1)  # the description follows 2 spaces
    split(tag, word, " ")
    spec = ""
    if (word[2] != "") {
      spec = "=@"
      if (match(word[2], /\{[^}]*\}/)) {
        spec = "=" substr(word[2], RSTART + 1, RLENGTH - 2)
        gsub(/,/, "|", spec)
      } else if (word[2] ~ /^TEXT:DIR/) spec = "=@dir"
      else if (word[2] ~ /^TEXT/) spec = "=@file"
    }
    n = split(word[1], names, ",")
    for (i = 1; i <= n; i++) printf "%s%s ", names[i], spec
  }'
}

# Positional entries ("host TEXT ... REQUIRED") as names, "..." when repeated.
positionals() {
  section_entries Positionals | awk '{ printf "%s%s ", $1, (index($0, " ... ") ? "..." : "") }'
}

tree() {
  local path help subs
  echo "${fn}_command() {"
  echo "  case \$1 in"
  command_paths "$program" | while read -r path; do
    # shellcheck disable=SC2086  # a path is words
    help=$("$program" $path --help)
    subs=$(section_entries Subcommands <<<"$help" | awk '{ printf "%s ", $1 }')
    printf "    '%s') subs='%s' opts='%s' args='%s' ;;\n" "$path" "${subs% }" \
      "$(option_specs <<<"$help" | sed 's/ $//')" "$(positionals <<<"$help" | sed 's/ $//')"
  done
  echo "  esac"
  echo "}"
}

mkdir -p "$(dirname "$out")"
{
  echo "# bash completion for $name, generated from its --help by scripts/packaging/bash-completion.sh."
  tree
  echo
  sed "s/_PROG/$fn/g; s/@NAME@/$name/g" "$here/completion.bash.in"
} >"$out.tmp"
mv "$out.tmp" "$out"
