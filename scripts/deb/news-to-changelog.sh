#!/bin/sh
# news-to-changelog.sh NEWS VERSION MAINTAINER
# Prints NEWS as a Debian changelog (for /usr/share/doc/sockcat/changelog.gz): one entry per
# `sockcat VERSION (YYYY-MM-DD)` section, its indented lines kept as they are. Fails, with one
# line on stderr, if NEWS's newest section is not VERSION (CMakeLists.txt's project version).
set -eu
news=$1 version=$2 maintainer=$3
newest=$(sed -n 's/^sockcat \([^ ]*\) ([0-9-]*)$/\1/p' "$news" | head -n 1)
if [ "$newest" != "$version" ]; then
  echo "news-to-changelog.sh: $news's newest section is '$newest', but project(VERSION) is $version" >&2
  exit 1
fi
awk -v maintainer="$maintainer" '
  # Ends the open entry: its text without trailing blank lines, then the trailer line.
  function close_entry() {
    if (release == "") return
    sub(/\n+$/, "\n", body)
    printf "%s\n\n%s\n -- %s  %s\n", heading, body, maintainer, stamp
  }
  /^sockcat [^ ]+ \([0-9-]+\)$/ {
    close_entry()
    if (release != "") printf "\n"
    release = $2; date = $3; gsub(/[()]/, "", date)
    heading = "sockcat (" release ") unstable; urgency=medium"
    command = "date -u -R -d \"" date " 12:00:00\""
    stamp = ""
    command | getline stamp
    close(command)
    if (stamp == "") { print "news-to-changelog.sh: bad date " date > "/dev/stderr"; exit 1 }
    body = ""
    next
  }
  release != "" && (body != "" || $0 != "") { body = body $0 "\n" }
  END { close_entry() }
' "$news"
