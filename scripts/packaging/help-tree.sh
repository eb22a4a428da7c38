# shellcheck shell=bash
# Reads the command tree of a CLI11 program from its --help (sourced by man-page.sh and
# bash-completion.sh): what the program says it accepts is what the man page and the
# completion show, so neither can drift from the code.
#
# CLI11's help: a description, "Usage: ...", then sections "Positionals:", "Options:",
# "Subcommands:" whose entries start with two spaces ("  --name TYPE   what it does";
# longer lines continue further indented), each section ending at a blank line; what follows
# the last section is the command's footer.

# section_entries NAME < help: the entry lines of that section, tag first.
section_entries() {
  awk -v want="$1:" '$0 == want { on = 1; next } on && $0 == "" { exit } on && /^  [^ ]/'
}

# command_paths PROGRAM [WORD...]: that command and every command below it, depth first, one a
# line as the words after PROGRAM ("" for the program itself, "hosts", "hosts check", ...).
command_paths() {
  local program=$1 sub
  shift
  echo "$*"
  for sub in $("$program" "$@" --help | section_entries Subcommands | awk '{ print $1 }'); do
    command_paths "$program" "$@" "$sub"
  done
}
