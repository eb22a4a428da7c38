# Shared by install-deps.sh and install-runtimes.sh (sourced, not run): what the machine's apt
# already has.

# missing_pkgs PKG...: the packages of PKG... that are not installed, one per line.
missing_pkgs() {
  local p
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = 'install ok installed' ] || echo "$p"
  done
}

bookworm_uri() {
  # The URI of the machine's existing bookworm entry (deb822 or one-line format).
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk 'BEGIN{RS="";FS="\n"} /Suites:[^\n]*bookworm([ \n]|$)/ && !/bookworm-security/ {
             for (i=1;i<=NF;i++) if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); split($i, a, " "); print a[1]; exit } }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return 0; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' "$f")
    [ -n "$uri" ] && { echo "$uri"; return 0; }
  done
  echo "http://deb.debian.org/debian"
}
