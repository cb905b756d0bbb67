# xlpci watch (issue 20) on the real driver: the watcher runs in dom0 as
# systemd would run it (the foreground, its log in /tmp/watch.log), the
# guest's device list in /etc/xlpci/guests/<name>.cfg, and the admin
# runs nothing but plain xl: create (no -p), reboot, destroy.
#   watch_main  (main boot: strict IOMMU, the e1000 pinging)
#     (a) xl reboot: the new domain's guest sees all 3 and pings; the old
#         domid leaves nothing (store, bookkeeping, Xen's PCI list);
#     (d) the watcher killed -9 while the guest reboots, started again:
#         the same end state;
#     (c) xl destroy: within 1 s both tools list the devices assignable;
#     all the while a bystander, a second live guest given 0a.0 by plain
#     `xl pci-attach` (no guests file), keeps it: Xen's PCI list, its
#     record and its backend checked after every step, its guest sees
#     it at the end; its own xl destroy releases it;
#   watch_seed  (b) plain xl create on the reverted xen-pciback: 3 of 3;
#   watch_hvm   (e) an HVM guest gets its device after xl create and
#               after xl reboot, through QEMU.
# Reaction times come from the watcher's own log ("N ms after it
# appeared / died"): E2E-TIME watch-appear-to-backend*, watch-death-to-
# released*.

WLOG=/tmp/watch.log
GUESTS=/etc/xlpci/guests

watch_start() {   # extra watcher options
    echo "--- xlpci watch $* (started $(cs) cs)" >> $WLOG
    $XLPCI -v -T watch "$@" >> $WLOG 2>&1 &
    WPID=$!
    deadline 120
    until grep -q "watching the domains" $WLOG; do
        kill -0 $WPID 2>/dev/null || { echo "the watcher exited:"; tail -n 20 $WLOG; return 1; }
        expired && { echo "the watcher did not start:"; tail -n 20 $WLOG; return 1; }
        sleep 0.1
    done
}
watch_stop() {
    kill $WPID 2>/dev/null; wait $WPID; r=$?
    [ $r = 0 ] || { echo "the watcher exited $r:"; tail -n 20 $WLOG; }
    return $r
}
# "domain D: its PCI devices are given, N ms after it appeared" (or
# "what it held is released, N ms after it died"): N, once it is there
watch_ms() {   # seconds domid what(given|released)
    deadline $1
    while :; do
        l=$(grep "domain $2: .*$3, [0-9]* ms after" $WLOG | tail -n 1)
        [ -n "$l" ] && { l=${l##*, }; echo "${l%% ms*}"; return 0; }
        expired && return 1; sleep 0.2
    done
}
watch_time() {   # tag domid what: an E2E-TIME row in seconds from the log
    ms=$(watch_ms 30 $2 $3) || { echo "(no reaction time of domain $2 in the watcher's log)"; return 0; }
    echo "E2E-TIME $1 $((ms / 1000)).$(printf %03d $((ms % 1000)))"
}
watch_says() { grep -q "$1" $WLOG || { echo "the watcher never said '$1':"; tail -n 15 $WLOG; return 1; }; }
no_watch_error() {
    ! grep -E "error:|the (create|release) of domain .* failed" $WLOG ||
        { echo "(see the watcher's errors above)"; return 1; }
}

# The guest's reports of its boot number N (its console log keeps the
# earlier boots): the lines from its N-th GUEST-UP on, in /tmp/boot.log.
boots() { grep -c "GUEST-UP" $1 2>/dev/null; }
boot_view() {   # realfile n
    awk -v n=$2 '/GUEST-UP/ { c++ } c >= n' $1 > /tmp/boot.log
    G=$GLOG; GLOG=/tmp/boot.log; v=$(guest_view); GLOG=$G; echo "$v"
}
wait_boot_sees() {   # seconds realfile n bdf...
    deadline $1; f=$2; n=$3; shift 3
    w=$(want_view "$@")
    while :; do
        [ "$(boots $f)" -ge $n ] && [ "$(boot_view $f $n)" = "$w" ] && return 0
        expired && break; sleep 0.5
    done
    echo "boot $n of the guest sees [$(boot_view $f $n)], wanted [$w] ($(boots $f) boots); its console:"
    tail -n 15 $f; return 1
}
wait_boot_ping() {   # seconds realfile n: boot n's first GUEST-PING has 3/3
    deadline $1
    until [ "$(boots $2)" -ge $3 ] && boot_view $2 $3 >/dev/null && grep -q GUEST-PING /tmp/boot.log; do
        expired && { echo "no GUEST-PING in boot $3; its console:"; tail -n 12 $2; return 1; }
        sleep 0.5
    done
    l=$(grep GUEST-PING /tmp/boot.log | head -n 1); echo "${l#*GUEST-PING }"
    case $l in *" 3/3 "*) return 0;; esac; return 1
}
watch_new_domid() {   # seconds name old: the domid of name once it is not old
    deadline $1
    while :; do
        d=$(xl domid $2 2>/dev/null)
        [ -n "$d" ] && [ "$d" != "$3" ] && { echo $d; return 0; }
        expired && return 1; sleep 0.2
    done
}
wait_is_devs() {   # seconds bdf...: the backend ($BE) lists them, in order
    deadline $1; shift
    until is_devs "$@" >/dev/null 2>&1; do expired && { is_devs "$@"; return 1; }; sleep 0.1; done
}
# Nothing of domain o is left: no backend, frontend, record, bookkeeping
# entry, and Xen no longer has the domain.
left_nothing() {   # o
    xenstore-exists /local/domain/0/backend/pci/$1 && { echo "backend/pci/$1 is still there"; return 1; }
    xenstore-exists /local/domain/$1 && { echo "/local/domain/$1 is still there"; return 1; }
    r=$(xenstore-ls /libxl/pci 2>/dev/null | grep -E "^ *domid = \"$1\"")
    [ -z "$r" ] || { echo "a /libxl/pci record names $1: $r"; return 1; }
    ! grep -q "\"domid\":$1[,}]" /var/lib/xlpci/devices.json 2>/dev/null ||
        { echo "the bookkeeping names $1: $(cat /var/lib/xlpci/devices.json)"; return 1; }
    ! xl list $1 >/dev/null 2>&1 || { echo "Xen still has domain $1"; return 1; }
}
wait_left_nothing() {   # seconds o
    deadline $1
    until left_nothing $2 >/dev/null; do expired && { left_nothing $2; return 1; }; sleep 0.2; done
}
records_name() {   # domid bdf...
    d=$1; shift
    for b in "$@"; do
        k=$(echo $b | tr ':.' '--')
        r=$(xenstore-read /libxl/pci/$k/domid 2>/dev/null)
        [ "$r" = "$d" ] || { echo "/libxl/pci/$k/domid = '$r', wanted $d"; return 1; }
    done
}
assignable_both() {   # bdf...: both tools list them
    $XLPCI pci-assignable-list > /tmp/al 2>&1; xl pci-assignable-list > /tmp/xl-al 2>&1
    for b in "$@"; do
        grep -q "$b" /tmp/al || { echo "$b not assignable for xlpci: $(tr '\n' ' ' < /tmp/al)"; return 1; }
        grep -q "$b" /tmp/xl-al || { echo "$b not assignable for xl: $(tr '\n' ' ' < /tmp/xl-al)"; return 1; }
    done
}

# The bystander: a second live guest, 0a.0 given by plain xl pci-attach
# (no guests file): the watcher must never take anything from it.
BYNAME=e2e-bystander
by_start() {
    timeout 300 xl create -p /etc/xen/guest.cfg "name=\"$BYNAME\"" > /tmp/xl-by.log 2>&1 ||
        { cat /tmp/xl-by.log; return 1; }
    BY=$(xl domid $BYNAME) || return 1
    timeout 300 xl pci-attach $BY $E || return 1
    xl unpause $BY
    echo "the bystander is domain $BY"
}
by_holds() {   # Xen, the record, its backend: d$BY has 0a.0; pciback never removed a device in use
    owners_are "d$BY" $E || return 1
    records_name $BY $E || return 1
    xenstore-ls /local/domain/0/backend/pci/$BY/0 2>/dev/null | grep -q "^ *dev-[0-9]* = \"$E\"" ||
        { echo "d$BY's backend lacks $E: $(xenstore-ls /local/domain/0/backend/pci/$BY/0 2>&1 | grep dev- | tr '\n' ' ')"; return 1; }
    ! dmesg | grep -q "while still in-use" || { dmesg | grep "while still in-use" | tail -n 3; return 1; }
}
by_sees() {   # seconds: the bystander's guest reports 0a.0
    G=$GLOG; GLOG=/var/log/xen/console/guest-$BYNAME.log; wait_guest $1 $E; r=$?; GLOG=$G; return $r
}

# ---- main boot ------------------------------------------------------------------
watch_main() {
echo "E2E-MILESTONE watch-start"
mkdir -p $GUESTS
cp /etc/xen/guest-pci.cfg $GUESTS/e2e-guest.cfg     # 05.0 07.0(permissive) 08.0
check "(watch) xlpci watch runs in dom0, device list $GUESTS/e2e-guest.cfg" watch_start ||
    { bad "(watch) nothing run: no watcher"; return; }
BY=""
check "(watch) a bystander guest, 0a.0 by plain xl pci-attach (no guests file)" by_start || BY=""
check_by() {   # step
    [ -n "$BY" ] || return 0
    check "($1) the bystander d$BY still holds 0a.0 (Xen, record, backend; nothing removed in use)" by_holds
}
check_by watch
set_guest e2e-guest
real=$GLOG; n0=$(boots $real); n0=${n0:-0}
tstart
if ! timeout 300 xl create /etc/xen/guest.cfg >/tmp/xl.log 2>&1; then
    cat /tmp/xl.log; bad "(watch) plain xl create guest.cfg"; watch_stop; return
fi
tend watch-xl-create
D=$(xl domid e2e-guest)
BE=/local/domain/0/backend/pci/$D/0; FE=/local/domain/$D/device/pci/0
echo "E2E-MILESTONE watch-created domid=$D"
watch_time watch-appear-to-backend $D given
check "(watch) plain xl create: d$D's backend has 05.0 07.0 08.0 (the watcher's create)" wait_is_devs 60 $A $B $C
check "(watch) plain xl create: the guest sees all 3" wait_boot_sees 300 $real $((n0 + 1)) $A $B $C
tend watch-create-to-guest-sees-3
check "(watch) plain xl create: the guest's e1000 pings dom0 (3/3)" wait_boot_ping 180 $real $((n0 + 1))
check "(watch) the ownership records name d$D" records_name $D $A $B $C
check "(watch) Xen's PCI list: 05.0 07.0 08.0 in d$D" owners_are "d$D" $A $B $C
check_by "watch: after xl create"

# ---- (a) xl reboot ----------------------------------------------------------------
OLD=$D
tstart
timeout 300 xl reboot $OLD > /tmp/xl-reboot.log 2>&1 || { cat /tmp/xl-reboot.log; bad "(a) xl reboot $OLD"; }
D=$(watch_new_domid 300 e2e-guest $OLD) || { bad "(a) no new domain of e2e-guest after xl reboot"; watch_stop; return; }
tend watch-reboot-to-new-domain
BE=/local/domain/0/backend/pci/$D/0; FE=/local/domain/$D/device/pci/0
echo "E2E-MILESTONE watch-rebooted old=$OLD new=$D"
check "(a) xl reboot: the new domain d$D's backend has 05.0 07.0 08.0" wait_is_devs 60 $A $B $C
watch_time watch-appear-to-backend-reboot $D given
check "(a) xl reboot: the new guest sees all 3" wait_boot_sees 300 $real $((n0 + 2)) $A $B $C
tend watch-reboot-to-guest-sees-3
check "(a) xl reboot: the new guest's e1000 pings dom0 (3/3)" wait_boot_ping 180 $real $((n0 + 2))
PINGTAG=ping-rtt-ms-watch
check "(a) xl reboot: dom0 pings the new guest (3/3)" dom0_ping
check "(a) the old domain d$OLD left nothing (store, records, bookkeeping, Xen)" wait_left_nothing 30 $OLD
watch_time watch-death-to-released $OLD released
check "(a) Xen's PCI list: 05.0 07.0 08.0 in the new d$D" owners_are "d$D" $A $B $C
check "(a) the records name the new d$D" records_name $D $A $B $C
check "(a) xlpci check $D: consistent" X check $D
check "(iommu) no DMA remapping fault after the reboot" no_dmar_fault
check_by "a: after xl reboot"

# ---- (d) the watcher killed -9 while the guest reboots --------------------------------
kill -9 $WPID; wait $WPID 2>/dev/null
echo "--- kill -9" >> $WLOG
OLD=$D
timeout 300 xl reboot $OLD > /tmp/xl-reboot.log 2>&1 || { cat /tmp/xl-reboot.log; bad "(d) xl reboot $OLD"; }
D=$(watch_new_domid 300 e2e-guest $OLD) || { bad "(d) no new domain of e2e-guest after xl reboot"; return; }
BE=/local/domain/0/backend/pci/$D/0; FE=/local/domain/$D/device/pci/0
echo "E2E-MILESTONE watch-rebooted-unwatched old=$OLD new=$D"
check "(d) meanwhile (no watcher): d$D has no PCI backend" sh -c "! xenstore-exists $BE"
tstart
check "(d) the watcher started again" watch_start
check "(d) its reconcile: d$D's backend has 05.0 07.0 08.0" wait_is_devs 60 $A $B $C
tend watch-restart-to-backend
check "(d) the guest sees all 3" wait_boot_sees 300 $real $((n0 + 3)) $A $B $C
check "(d) the guest's e1000 pings dom0 (3/3)" wait_boot_ping 180 $real $((n0 + 3))
check "(d) the old domain d$OLD left nothing" wait_left_nothing 30 $OLD
check "(d) Xen's PCI list: 05.0 07.0 08.0 in d$D" owners_are "d$D" $A $B $C
check "(d) the records name d$D" records_name $D $A $B $C
check_by "d: after the watcher's restart"

# ---- (c) xl destroy ----------------------------------------------------------------------
tstart
timeout 300 xl destroy $D > /tmp/xl-destroy.log 2>&1 || { cat /tmp/xl-destroy.log; bad "(c) xl destroy $D"; }
tend watch-xl-destroy
# the first listing of both tools (started at most 1 s after xl destroy
# returned) that shows all three assignable
t0=$(cs); ok_at=""
while [ $(( $(cs) - t0 )) -lt 1000 ]; do
    t1=$(cs)
    if assignable_both $A $B $C >/dev/null; then ok_at=$((t1 - t0)); break; fi
    sleep 0.05
done
[ -z "$ok_at" ] ||
    echo "E2E-TIME watch-destroy-to-assignable $((ok_at / 100)).$(printf %02d $((ok_at % 100)))"
within_1s() {
    echo "the first listing showing them started ${ok_at:-never (10 s)} cs after xl destroy returned"
    [ -n "$ok_at" ] && [ "$ok_at" -le 100 ] || { assignable_both $A $B $C; return 1; }
}
check "(c) xl destroy: within 1 s both xl and xlpci list 05.0 07.0 08.0 as assignable" within_1s
watch_time watch-death-to-released-destroy $D released
check "(c) xl destroy: d$D left nothing" wait_left_nothing 30 $D
check "(c) Xen's PCI list: 05.0 07.0 08.0 out of d$D (dom_io or dom0)" owners_are "dom_io d0" $A $B $C
check_by "c: after xl destroy"
if [ -n "$BY" ]; then
    check "(watch) the bystander's guest sees 0a.0" by_sees 300
    check "(watch) xlpci pci-list $BY (the bystander) lists 0a.0, as xl does" \
        sh -c "$XLPCI pci-list $BY | grep -q $E && xl pci-list $BY | grep -q $E"
    timeout 300 xl destroy $BY > /tmp/xl-destroy.log 2>&1 || { cat /tmp/xl-destroy.log; bad "(watch) xl destroy $BY (the bystander)"; }
    check "(watch) xl destroy of the bystander: d$BY left nothing" wait_left_nothing 30 $BY
    check "(watch) then both tools list 0a.0 as assignable" assignable_both $E
    check "(watch) Xen's PCI list: 0a.0 out of d$BY (dom_io or dom0)" owners_are "dom_io d0" $E
fi
check "(watch) the watcher logged no error" no_watch_error
check "(watch) SIGTERM: the watcher exits 0" watch_stop
echo "--- the watcher's log ---"; grep -E "notice|warning|error" $WLOG | tail -n 30
rm -f $GUESTS/e2e-guest.cfg
echo "E2E-MILESTONE watch-done"
}

# ---- seed boot: (b) plain xl create on the reverted xen-pciback ---------------------------
watch_seed() {
mkdir -p $GUESTS
cp /etc/xen/guest-pci.cfg $GUESTS/e2e-guest.cfg
check "(watch/seed) xlpci watch runs in dom0" watch_start || return
set_guest e2e-guest
real=$GLOG; n0=$(boots $real); n0=${n0:-0}
tstart
if ! timeout 300 xl create /etc/xen/guest.cfg >/tmp/xl.log 2>&1; then
    cat /tmp/xl.log; bad "(b) plain xl create guest.cfg"; watch_stop; return
fi
D=$(xl domid e2e-guest)
BE=/local/domain/0/backend/pci/$D/0; FE=/local/domain/$D/device/pci/0
watch_time watch-appear-to-backend-seed $D given
check "(b) plain xl create: d$D's backend has 05.0 07.0 08.0" is_devs $A $B $C
check "(b) pciback (without c81d3d2460) exported 3/3" wait_exported 60
check "(b) plain xl create with the watcher: the guest sees all 3 on the unpatched driver" \
    wait_boot_sees 300 $real $((n0 + 1)) $A $B $C
tend watch-seed-create-to-guest-sees-3
echo "after xl create: $(states)"
check "(b) xlpci check: consistent" X check $D
timeout 300 xl destroy $D >/dev/null 2>&1
check "(b) xl destroy: d$D left nothing" wait_left_nothing 30 $D
check "(b) the watcher logged no error" no_watch_error
check "(b) SIGTERM: the watcher exits 0" watch_stop
rm -f $GUESTS/e2e-guest.cfg
}

# ---- hvm boot: (e) an HVM guest named in the guests directory -------------------------------
watch_hvm() {
mkdir -p $GUESTS
echo 'pci = [ "0000:00:05.0" ]' > $GUESTS/e2e-hvm.cfg
check "(e) xlpci watch runs in dom0" watch_start -q 600 || return
GLOG=$HVMLOG; guest_ok=1
rm -f $HVMLOG
tstart
if ! timeout 300 xl create /etc/xen/guest-hvm.cfg >/tmp/xl.log 2>&1; then
    cat /tmp/xl.log; bad "(e) plain xl create guest-hvm.cfg"; watch_stop; return
fi
tend watch-hvm-xl-create
D=$(xl domid e2e-hvm)
BE=/local/domain/0/backend/pci/$D/0
echo "E2E-MILESTONE watch-hvm-created domid=$D"
check "(e) xl create: the watcher gave d$D the e1000 through QEMU (the record: 05.0)" wait_is_devs 600 $A
watch_time watch-hvm-appear-to-record $D given
check "(e) the guest boots and reports its PCI bus" hvm_up 900 || { xl destroy $D >/dev/null 2>&1; watch_stop; return; }
check "(e) xl create: the guest sees the e1000 (8086:100e)" hvm_sees 300 $A
hvm_when() {   # what the guest saw when: its kernel's clock at its init's first report, and at the first with the e1000
    f=$(grep -m 1 "GUEST-PCI" $GLOG); e=$(grep -m 1 "GUEST-PCI.*8086:100e" $GLOG)
    f=${f#*\[}; f=$(echo ${f%%\]*}); e=${e#*\[}; e=$(echo ${e%%\]*})
    case $(grep -m 1 "GUEST-PCI" $GLOG) in *8086:100e*) at=boot;; *) at=later;; esac
    echo "E2E-NOTE (e) $1: the watcher's device_add came before the guest ran; its init's first report of its bus (guest clock${f:+ $f s}) has the e1000: $([ $at = boot ] && echo yes || echo "no, it appears at${e:+ $e s} (ACPI hot-plug)")"
}
hvm_when "xl create"
tend watch-hvm-create-to-guest-sees
check "(e) guest slot = backend vdevfn-N = xl pci-list" same_slot $A
check "(e) Xen's PCI list: 05.0 in d$D" owners_are "d$D" $A
check "(e) the record names d$D" records_name $D $A
OLD=$D
# the old QEMU keeps writing to the file it has; the new one makes its own
rm -f $HVMLOG
tstart
timeout 300 xl reboot -F $OLD > /tmp/xl-reboot.log 2>&1 || { cat /tmp/xl-reboot.log; bad "(e) xl reboot -F $OLD"; }
D=$(watch_new_domid 600 e2e-hvm $OLD) || { bad "(e) no new domain of e2e-hvm after xl reboot"; watch_stop; return; }
BE=/local/domain/0/backend/pci/$D/0
echo "E2E-MILESTONE watch-hvm-rebooted old=$OLD new=$D"
check "(e) xl reboot: the new d$D has the e1000 (the record: 05.0)" wait_is_devs 600 $A
watch_time watch-hvm-appear-to-record-reboot $D given
check "(e) xl reboot: the new guest boots" hvm_up 900
check "(e) xl reboot: the new guest sees the e1000" hvm_sees 300 $A
hvm_when "xl reboot"
tend watch-hvm-reboot-to-guest-sees
check "(e) Xen's PCI list: 05.0 in the new d$D" owners_are "d$D" $A
check "(e) the old d$OLD left nothing" wait_left_nothing 60 $OLD
timeout 300 xl destroy $D >/dev/null 2>&1
check "(e) xl destroy: d$D left nothing" wait_left_nothing 60 $D
check "(e) Xen's PCI list: 05.0 out of d$D" owners_are "dom_io d0" $A
check "(e) the watcher logged no error" no_watch_error
check "(e) SIGTERM: the watcher exits 0" watch_stop
echo "--- the watcher's log ---"; grep -E "notice|warning|error" $WLOG | tail -n 20
rm -f $GUESTS/e2e-hvm.cfg
}
