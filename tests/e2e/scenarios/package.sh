# (pkg) dom0 runs what the Debian packages ship: run-e2e unpacks
# xlpci_*.deb and libxlpci0_*.deb (make debs) into dom0's root with
# dpkg-deb -x and writes /e2e/package.list: "version V", then
# "SHA256 PATH" of each shipped program and library as read from the .deb
# itself.  Without it (E2E_DEBS="": the build tree's CLI) these checks
# say so and pass nothing.

# The library the dynamic loader maps for xlpci, from glibc's LD_DEBUG.
pkg_loaded_lib() {
    LD_DEBUG=libs $XLPCI --version 2>&1 >/dev/null |
        sed -n 's/.*calling init: \(.*libxlpci\.so\.[0-9]*\)$/\1/p' | head -n 1
}

pkg_same() {   # path: its sha256 is the one the .deb holds
    want=$(awk -v p="${1#/}" '$2 == p { print $1 }' /e2e/package.list)
    got=$(sha256sum "$1" 2>/dev/null | cut -d' ' -f1)
    [ -n "$want" ] && [ "$got" = "$want" ] ||
        { echo "$1: sha256 ${got:-none}, the package's ${want:-none}"; return 1; }
}

pkg_checks() {
    if [ ! -s /e2e/package.list ]; then
        echo "E2E-NOTE dom0 runs the build tree's xlpci (E2E_DEBS=\"\"), not the packages"
        return 0
    fi
    pver=$(sed -n 's/^version //p' /e2e/package.list)
    check "(pkg) xlpci --version: xlpci $pver (the packages' version)" \
        sh -c "[ \"\$($XLPCI --version)\" = 'xlpci $pver' ]"
    check "(pkg) $XLPCI is the one xlpci_${pver}.deb ships" pkg_same $XLPCI
    plib=$(pkg_loaded_lib)
    check "(pkg) xlpci loads ${plib:-no libxlpci.so}, the file libxlpci0_${pver}.deb ships" \
        pkg_same "$(readlink -f "${plib:-/nonexistent}")"
    others=$(find / -xdev -name 'libxlpci.so*' 2>/dev/null | grep -v "^${plib%/*}/" | tr '\n' ' ')
    check "(pkg) no other libxlpci.so in dom0${others:+: $others}" [ -z "$others" ]
}
