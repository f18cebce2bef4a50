#!/bin/sh
# The changelog entries each pending security update adds, for the debian-security scanner.
# Runs as root in a container of a scanned image, with APT_CONFIG naming the scan's apt.conf.
#
# usage: changelogs.sh <cache dir> <out dir> <pkg>:<arch>=<installed>=<fixed> ...
#
# For the Nth item: the fixed version's usr/share/doc/<pkg>/changelog.Debian.gz, from its .deb
# (apt-get download, dpkg-deb), or from the package its doc dir links to; cached in <cache dir>
# by package and version. Writes the entries newer than <installed> to <out dir>/<N>.changelog:
# dpkg --compare-versions finds the first entry that is not, so no version logic lives here.
# Prints one line per item: "<N> <pkg> <fixed>: cached|downloaded|… " or "<N> …: none (why)".
set -u

cache=$1/changelogs
out=$2
shift 2
mkdir -p "$cache" "$out" || exit 1
work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

# Extracts ./usr/share/doc/<name>/changelog.Debian.gz of <deb> to <dest>; prints the doc dir's link
# target instead (and fails) when the doc dir is a symlink to another package's.
extract() {
  doc=./usr/share/doc/$2
  listing=$(dpkg-deb --contents "$1") || return 1
  if printf '%s\n' "$listing" | grep -q " $doc/changelog.Debian.gz\$"; then
    dpkg-deb --fsys-tarfile "$1" | tar -xOf - "$doc/changelog.Debian.gz" >"$3"
    return
  fi
  printf '%s\n' "$listing" | sed -n "s|^l.* $doc -> \([a-z0-9][a-z0-9.+-]*\)\$|\1|p"
  return 1
}

# Downloads <pkg>=<version> (the native build, else the one for <arch>; no version: the candidate)
# into ./deb/; prints its path.
download() {
  rm -rf deb && mkdir deb && cd deb || return 1
  apt-get download -q=2 "$1${3:+=$3}" >/dev/null 2>&1 ||
    apt-get download -q=2 "$1:$2${3:+=$3}" >/dev/null || {
    cd ..
    return 1
  }
  cd .. && ls deb/*.deb
}

# Fills <dest> with the changelog.Debian.gz of <name> <arch> <version>; prints how.
fetch() {
  deb=$(download "$1" "$2" "$3") || return 1
  link=$(extract "$deb" "$1" "$4") && {
    echo downloaded
    return
  }
  [ -n "$link" ] || return 1
  # Binary packages of one source share the doc dir of one of them: that package's changelog is the
  # source's. Same version first; a binNMU'd sibling can differ, then its candidate.
  deb=$(download "$link" "$2" "$3") || deb=$(download "$link" "$2" "") || return 1
  extract "$deb" "$link" "$4" >/dev/null || return 1
  echo "downloaded (from $link, which its doc dir links to)"
}

n=0
for item in "$@"; do
  n=$((n + 1))
  pkg=${item%%=*}
  rest=${item#*=}
  installed=${rest%%=*}
  fixed=${rest#*=}
  name=${pkg%%:*}
  arch=${pkg#*:}
  file=$cache/$(printf '%s_%s.gz' "$name" "$fixed" | sed 's/:/%3a/g')
  if [ -s "$file" ]; then
    how=cached
  elif how=$(fetch "$name" "$arch" "$fixed" "$file.tmp.$$") && gzip -t "$file.tmp.$$"; then
    mv "$file.tmp.$$" "$file"
  else
    rm -f "$file.tmp.$$"
    echo "$n $name $fixed: none (no changelog.Debian.gz in the .deb or where its doc dir links)"
    continue
  fi
  gzip -dc "$file" >changelog || exit 1
  # The first entry whose version is not newer than the installed one ends the excerpt.
  stop=$(grep -n '^[a-z0-9][a-z0-9.+-]* ([^ ()]*) [^;]*;' changelog | while IFS=: read -r line header; do
    version=${header#*(}
    version=${version%%)*}
    if dpkg --compare-versions "$version" le "$installed"; then
      echo "$line"
      break
    fi
  done)
  if [ -n "$stop" ]; then head -n "$((stop - 1))" changelog; else cat changelog; fi >"$out/$n.changelog"
  echo "$n $name $fixed: $how"
done
