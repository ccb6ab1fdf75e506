#!/usr/bin/env bash
# A clone anywhere runs the guest lane: copies run.sh and init.sh into a
# fresh folder under /tmp (where the guest puts an empty tmpfs) and runs a
# command there that reads and writes the clone. The kernels come from the
# real project's cache, so nothing is fetched again.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
project=$(cd "$here/../.." && pwd)
clone=$(mktemp -d /tmp/xcap-clone-XXXXXX)
trap 'rm -rf "$clone"' EXIT
mkdir -p "$clone/tests/vm"
cp "$here/run.sh" "$here/init.sh" "$clone/tests/vm/"
cd "$clone"
status=0
XCAP_VM_CACHE=${XCAP_VM_CACHE:-$project/build/vm-cache} \
    tests/vm/run.sh sh -c 'test "$(pwd)" = "$1" && test -f tests/vm/run.sh && echo written >"$1/from-guest"' sh "$clone" ||
    status=$?
[ "$status" = 0 ] || exit "$status"
if [ "$(cat "$clone/from-guest" 2>/dev/null)" != written ]; then
    echo "from_tmp_check: the guest ran in $clone but what it wrote there is not on the host" >&2
    exit 1
fi
echo "from_tmp_check: the guest lane ran from a clone in $clone"
