# Helpers of the packaging tests (tests/pkg/test-*), sourced by each.
#   XLPCI_BUILD_DIR  the build tree under test (default build/ of this
#                    checkout); XLPCI_SAN_FLAGS: the sanitizer flags it was
#                    built with (programs the tests compile against it need
#                    them too); CC.
# Each check prints "ok - what" or "FAIL - what"; t_end prints the summary
# in cmocka's words, which tests/run-tests adds up.
set -u
T_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T_BUILD=${XLPCI_BUILD_DIR:-$T_SRC/build}
T_SAN=${XLPCI_SAN_FLAGS:-}
CC=${CC:-cc}
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/xlpci-pkg.XXXXXX") || exit 1
t_cleanup() { [ -n "${T_KEEP:-}" ] && echo "kept $T_TMP" || rm -rf "$T_TMP"; }
trap t_cleanup EXIT
t_passed=0; t_failed=0

ok()   { echo "ok - $*"; t_passed=$((t_passed + 1)); }
fail() { echo "FAIL - $*"; t_failed=$((t_failed + 1)); return 1; }
# check "what" command...: the command's exit status decides.
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
# checkx "what" 'shell condition': for conditions with && || ! [[ ]].
checkx() { local what=$1; shift; if eval "$1"; then ok "$what"; else fail "$what"; fi; }
# Show a file (a log) indented, after a failure.
show() { sed 's/^/    | /' "$1" | tail -n "${2:-40}"; }
t_end() {
    echo "[  PASSED  ] $t_passed test(s)."
    [ $t_failed = 0 ] || echo "[  FAILED  ] $t_failed test(s), listed above."
    [ $t_failed = 0 ]
}
# A make run as a user would type it: none of the variables of a make this
# test may run under (make check sets BUILD and SANITIZE) leak into it.
t_make() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES make "$@"; }
# A copy of the checkout as a fresh clone would have it: tracked and new
# (not ignored) files, no build tree.
t_copy_tree() {   # src dst
    mkdir -p "$2"
    if ! git -C "$1" rev-parse --git-dir >/dev/null 2>&1; then
        cp -a "$1/." "$2" && rm -rf "$2/build"; return
    fi
    (cd "$1" && git ls-files -z --cached --others --exclude-standard |
        xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
        tar --null -T - -cf -) | tar -C "$2" -xf -
}
