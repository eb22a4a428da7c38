# One CLI11 --help (the format is in help-tree.sh) as roff, for a man page made by help2man.
#   mode=command   the command: its description, usage, each section's entries as tagged
#                  paragraphs, and its footer line by line unless that is $PARENT_FOOTER
#                  (CLI11 gives a command its parent's footer)
#   mode=footer    the footer only, as it is
#   mode=examples  the footer as the page's EXAMPLES, line by line, if it starts "Examples:"

function esc(s) {
  gsub(/\\/, "\\e", s)
  gsub(/-/, "\\-", s)
  if (s ~ /^[.']/) s = "\\&" s
  return s
}

# Each line escaped, and `between` (roff) between two lines.
function esc_lines(text, between,    lines, n, i, out) {
  n = split(text, lines, "\n")
  out = ""
  for (i = 1; i <= n; i++) out = out (i > 1 ? between : "") esc(lines[i]) "\n"
  return out
}

# "-c,--config TEXT:FILE": the names bold, what follows them roman.
function tag(s,    space, names, rest, parts, n, i, out) {
  space = index(s, " ")
  names = space ? substr(s, 1, space - 1) : s
  rest = space ? substr(s, space) : ""
  n = split(names, parts, ",")
  out = ""
  for (i = 1; i <= n; i++) out = out (i > 1 ? "," : "") "\\fB" esc(parts[i]) "\\fR"
  return out esc(rest)
}

function entry(line,    item, text) {
  if (match(line, /   */)) {
    item = substr(line, 1, RSTART - 1)
    text = substr(line, RSTART + RLENGTH)
  } else {
    item = line
    text = ""
  }
  skipping = (item == "-h,--help")  # in every command: said once, on the page's OPTIONS
  if (skipping) return
  body = body ".TP\n" tag(item) "\n" (text != "" ? esc(text) "\n" : "")
  described = (text != "")
}

function continuation(line) {
  if (skipping) return
  sub(/^ +/, "", line)
  body = body (described ? ".br\n" : "") esc(line) "\n"
  described = 1
}

BEGIN { part = "description" }
part == "description" && /^Usage: / { usage = substr($0, 8); part = "body"; next }
part == "description" { description = description $0 "\n"; next }
/^(Positionals|Options|Subcommands):$/ {
  body = body ".PP\n\\fB" $0 "\\fR\n"
  in_section = 1
  footer = ""
  next
}
in_section && $0 == "" { in_section = 0; next }
in_section && /^  [^ ]/ { entry(substr($0, 3)); next }
in_section { continuation($0); next }
footer != "" || $0 != "" { footer = footer $0 "\n" }

END {
  sub(/\n+$/, "", footer)
  if (mode == "footer") {
    if (footer != "") print footer
  } else if (mode == "examples") {
    if (footer ~ /^Examples:\n/) {
      printf "[=EXAMPLES]\n.nf\n%s.fi\n", esc_lines(substr(footer, 11), "")
    }
  } else {
    printf "%s.PP\nUsage: %s\n%s", esc_lines(substr(description, 1, length(description) - 1), ".br\n"),
           esc(usage), body
    if (footer != "" && footer != ENVIRON["PARENT_FOOTER"]) printf ".PP\n.nf\n%s.fi\n", esc_lines(footer, "")
  }
}
