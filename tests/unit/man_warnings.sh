#!/bin/sh
# man_warnings.sh PAGE...: fails when `man --warnings -l PAGE` prints
# anything on standard error for any page (groff's warnings, man's own).
# Exit 77 (skipped) when man is not installed.
command -v man >/dev/null 2>&1 || { echo "man is not installed (apt-get install man-db)"; exit 77; }
status=0
for page in "$@"; do
  [ -s "$page" ] || { echo "$page: missing or empty"; status=1; continue; }
  warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
  if [ -n "$warnings" ]; then
    echo "$page:"; echo "$warnings"; status=1
  fi
done
exit $status
