# (hvm/hostile) issue 21 against the real QEMU that xl started for the HVM
# guest (libxl listens on its QMP socket and hands QEMU the descriptor):
# with a device xlpci attached through QMP, check asks QEMU (query-pci)
# and finds QEMU, the record and the bookkeeping agreeing; a symbolic
# link put at the domain's socket path is refused before QEMU is asked,
# nothing changed.  Called by run_hvm with the e1000 ($1) attached to
# domain $2.

hostile_refused_link() {   # domid: check through a linked socket path
    s=/var/run/xen/qmp-libxl-$1
    mv "$s" "$s.real" && ln -s "qmp-libxl-$1.real" "$s" || return 1
    X check -t 30 "$1" > /tmp/hostile-check.out 2>&1; rc=$?
    rm -f "$s"; mv "$s.real" "$s"
    grep -q "is a symbolic link" /tmp/hostile-check.out && [ $rc = 1 ] ||
        { echo "check through a link: exit $rc"; cat /tmp/hostile-check.out
          return 1; }
}

hostile_hvm() {   # bdf domid
    check "(hvm/hostile) xlpci check asks the real QEMU (query-pci): consistent" \
        X check -t 60 "$2"
    check "(hvm/hostile) a symbolic link at qmp-libxl-$2 is refused" \
        hostile_refused_link "$2"
    check "(hvm/hostile) after it, check through the real socket again: consistent" \
        X check -t 60 "$2"
    check "(hvm/hostile) the record still names d$2" record_is "$1" "$2"
}
