# SR-IOV virtual functions (the bug as it was reported: "my test VM would
# only ever see the 1st out of 3 VFs").  run-e2e gives the main and seed
# boots QEMU 7.2's NVMe controller with SR-IOV (sriov_max_vfs=3 on a PCIe
# root port): its PF is 0000:01:00.0.  dom0 makes 3 VFs of it at run time,
# after xen-pciback has loaded (so they cannot be hidden at load time):
# 0000:01:00.1, .2, .3, all 1b36:0010, told apart by their function number
# and vdev-N, never by their IDs.
#   vf_seed  (end of run_seed, the xen-pciback without c81d3d2460): real
#            `xl create` with the 3 VFs leaves the guest fewer than 3,
#            `xlpci create` gives a new guest exactly the 3; both
#            cross-checked with Xen's PCI list and xl pci-list.
#   vf_main  (run_main, Debian's xen-pciback, the main guest running):
#            pci-assignable-add/-remove of VFs, the PF refused while its VFs
#            are enabled, BB:DD.* without the PF, hot-add and hot-remove of
#            VFs with the guest's bus after each step.
# What these prove is enumeration and assignment, not DMA: the guest has
# no driver for the VFs (docs/sriov.md says why none could work here).
PF=0000:01:00.0; V1=0000:01:00.1; V2=0000:01:00.2; V3=0000:01:00.3
SYSPCI=/sys/bus/pci/devices

# pci-pf-stub takes the PF, then 3 VFs with no driver probed for them (with
# sriov_drivers_autoprobe=1 pci-pf-stub, whose new_id matches the VFs' ID
# too, would take them; back to 1 afterwards: with 0 a later bind fails)
vf_make() {
    insmod $M/pci-pf-stub.ko || return 1
    echo "1b36 0010" > /sys/bus/pci/drivers/pci-pf-stub/new_id || return 1
    d=$(readlink $SYSPCI/$PF/driver); d=${d##*/}
    [ "$d" = pci-pf-stub ] || { echo "$PF is on '$d', not pci-pf-stub"; return 1; }
    t=$(cat $SYSPCI/$PF/sriov_totalvfs)
    [ "$t" = 3 ] || { echo "sriov_totalvfs=$t"; return 1; }
    echo 0 > $SYSPCI/$PF/sriov_drivers_autoprobe
    echo 3 > $SYSPCI/$PF/sriov_numvfs || return 1
    echo 1 > $SYSPCI/$PF/sriov_drivers_autoprobe
    echo "sriov_numvfs=$(cat $SYSPCI/$PF/sriov_numvfs) offset=$(cat $SYSPCI/$PF/sriov_offset) stride=$(cat $SYSPCI/$PF/sriov_stride)"
    i=0
    for v in $V1 $V2 $V3; do
        p=$(readlink $SYSPCI/$v/physfn); l=$(readlink $SYSPCI/$PF/virtfn$i)
        [ "${p##*/}" = $PF ] && [ "${l##*/}" = $v ] ||
            { echo "$v: physfn '$p', $PF's virtfn$i '$l'"; return 1; }
        [ ! -e $SYSPCI/$v/driver ] || { echo "$v is on $(readlink $SYSPCI/$v/driver)"; return 1; }
        i=$((i+1))
    done
    xen_log
    for v in $V1 $V2 $V3; do
        grep -q "PCI add virtual function $v" /tmp/xen.log ||
            { echo "Xen did not log 'PCI add virtual function $v'"; return 1; }
    done
}
vf_assignable() {   # the 3 VFs made assignable by xlpci
    for v in $V1 $V2 $V3; do
        X -v pci-assignable-add $v || return 1
        [ -e /sys/bus/pci/drivers/pciback/$v ] || { echo "$v not on pciback"; return 1; }
    done
}
vf_xl_lists() {   # bdf...: xl pci-list of $D lists exactly these
    xl pci-list "$D" > /tmp/xl-pci-list 2>&1
    got=$(grep -o '0000:[0-9a-f]*:[0-9a-f]*\.[0-7]' /tmp/xl-pci-list | sort | tr '\n' ' ')
    want=$(for d in "$@"; do echo $d; done | sort | tr '\n' ' ')
    [ "$got" = "$want" ] || { echo "xl pci-list: [$got], wanted [$want]"; cat /tmp/xl-pci-list; return 1; }
}
vf_three_dense() { [ "$(rd num_devs)" = 3 ] || { echo "num_devs=$(rd num_devs)"; return 1; }; dense; }

# One read of the backend (xenstore-ls: one process; each xenstore-read is
# one more, and under TCG with 7 devices the per-key helpers took seconds
# per check), kept as B_<key> (dev-3: B_dev_3), then shell builtins only.
VF_KEYS=""
vf_snap() {
    for k in $VF_KEYS; do
        case $k in *-*) unset "B_${k%-*}_${k##*-}";; *) unset "B_$k";; esac
    done
    VF_KEYS=""
    xenstore-ls "$BE" > /tmp/vf-be 2>/dev/null || return 1
    while IFS= read -r l; do
        k=${l%% = *}; v=${l#*= \"}; v=${v%\"}
        case $k in *[!a-z0-9_-]*|"") continue;; esac
        case $k in *-*) eval "B_${k%-*}_${k##*-}=\$v";; *) eval "B_$k=\$v";; esac
        VF_KEYS="$VF_KEYS $k"
    done < /tmp/vf-be
}
vf_fn() {   # "0000:00:04.03" -> 3
    f=${1##*.}; case $f in [0-9a-f][0-9a-f]) f=$((0x$f));; esac; echo $f
}
# The backend lists exactly bdf... in this order: num_devs, dense (no
# per-index key at or past num_devs), every index exported (state-N=3, a
# distinct vdev-N), each device's function number kept in its vdev-N (a VF
# in vpci mode), root-0
vf_backend_is() {   # bdf...
    vf_snap || { echo "no backend at $BE"; return 1; }
    n=${B_num_devs:-}
    [ "$n" = $# ] || { echo "num_devs='$n', wanted $#"; return 1; }
    c=0
    for k in $VF_KEYS; do
        case $k in dev-*|key-*|state-*|vdev-*|opts-*|vdevfn-*)
            [ "${k##*-}" -lt "$n" ] || { echo "stale $k (num_devs=$n)"; return 1; }
            case $k in dev-*) c=$((c+1));; esac ;;
        esac
    done
    [ $c = "$n" ] || { echo "num_devs=$n but $c dev-N"; return 1; }
    i=0; seen=""; l=""
    for d in "$@"; do
        eval "dv=\${B_dev_$i:-} st=\${B_state_$i:-} vd=\${B_vdev_$i:-}"
        [ "$dv" = "$d" ] || { echo "dev-$i='$dv', wanted $d"; return 1; }
        [ "$st" = 3 ] || { echo "$d (index $i): state-$i='$st'"; return 1; }
        [ -n "$vd" ] || { echo "$d (index $i): no vdev-$i"; return 1; }
        case " $seen " in *" $vd "*) echo "vdev-$i=$vd twice"; return 1;; esac
        seen="$seen $vd"
        [ "$(vf_fn $vd)" = "${d##*.}" ] || { echo "$d (index $i) is at $vd"; return 1; }
        l="$l $i:${d#0000:}@${vd#0000:00:}"; i=$((i+1))
    done
    [ "${B_root_0:-}" = 0000:00 ] || { echo "root-0='${B_root_0:-}'"; return 1; }
    echo "index:device@vdev$l"
}
# The guest reports exactly the devices of the last snapshot, each at its
# vdev-N (the VFs told apart by their function), frontend Connected
vf_guest_at_vdevs() {   # bdf... (what the guest should see)
    wait_be 300 4 || return 1
    wait_guest 300 "$@" || return 1
    w=$(i=0; while [ $i -lt "${B_num_devs:-0}" ]; do
            eval "vd=\${B_vdev_$i:-} dv=\${B_dev_$i:-}"
            echo "${vd%.*}.$(vf_fn $vd)=$(id_of $dv)"; i=$((i+1))
        done | sort | tr '\n' ' ' | sed 's/ $//')
    [ "$(guest_map)" = "$w" ] || { echo "guest has {$(guest_map)}, vdev-N say {$w}"; return 1; }
    echo "guest: {$w}"
    wait_fe 10 4
}
# The xl case: the guest reports exactly the EXPORTED indices (those with
# a vdev-N), each at its vdev-N
vf_guest_at_exported() {
    vf_snap || return 1
    w=$(i=0; while [ $i -lt "${B_num_devs:-0}" ]; do
            eval "vd=\${B_vdev_$i:-} dv=\${B_dev_$i:-}"
            [ -z "$vd" ] || echo "${vd%.*}.$(vf_fn $vd)=$(id_of $dv)"; i=$((i+1))
        done | sort | tr '\n' ' ' | sed 's/ $//')
    [ "$(guest_map)" = "$w" ] || { echo "guest has {$(guest_map)}, the exported vdev-N say {$w}"; return 1; }
    echo "guest: {$w}"
}
vf_states() {   # of the last snapshot
    i=0; l="num_devs=${B_num_devs:-}"
    while [ $i -lt "${B_num_devs:-0}" ]; do
        eval "l=\"\$l state-$i=\${B_state_$i:-} vdev-$i=\${B_vdev_$i:-}\""; i=$((i+1))
    done
    echo "$l"
}
vf_owners() {   # "domains=bdf..." ...: one look at Xen's PCI list for all
    xen_q; r=0
    for g in "$@"; do owners_seen "${g%%=*}" ${g#*=} || r=1; done
    return $r
}

# ---- E2E_VF_NVME=1: whose is the guest's MSI-X failure? ---------------------
# The guest's nvme driver takes each VF twice (init-domu); pciback's MSI
# requests are logged in dom0 (dynamic debug of its handlers): which ones
# the guest sent, in which order, and what dom0 holds afterwards.
VF_NVME=0
grep -q "e2e_nvme=1" /proc/cmdline && VF_NVME=1
vf_nvme_on() {
    [ $VF_NVME = 1 ] || return 0
    mount -t debugfs none /sys/kernel/debug 2>/dev/null
    for f in xen_pcibk_enable_msix xen_pcibk_disable_msix xen_pcibk_enable_msi \
             xen_pcibk_disable_msi; do
        echo "func $f +p" > /sys/kernel/debug/dynamic_debug/control ||
            echo "E2E-NOTE cannot enable pciback's debug messages ($f)"
    done
    dmesg -c > /dev/null
}
# pciback's MSI messages for $V1, in order, one word each: enable (a
# request to enable MSI-X), enabled (its success: "MSI-X[0]: <pirq>"),
# disable_msix ("MSI-X: ..."), disable_msi ("MSI: ...")
vf_msix_seq() {
    sed -n "s/.*pciback $V1: xen_pciback: //p" /tmp/vf-dmesg |
        sed -e 's/^enable MSI-X$/enable/' -e 's/^MSI-X\[[0-9]*\]: .*/enabled/' \
            -e 's/^MSI-X: .*/disable_msix/' -e 's/^MSI: .*/disable_msi/' | tr '\n' ' '
}
vf_msix_enabled_once() {   # the first request enabled MSI-X in dom0
    seq=$(vf_msix_seq); echo "pciback, $V1: $seq"
    case "$seq" in "enable enabled "*) ;; *) return 1;; esac
}
vf_msix_wrong_disable() {  # the guest's free came as disable_msi, then it enabled again
    seq=$(vf_msix_seq); echo "pciback, $V1: $seq"
    case "$seq" in "enable enabled disable_msi enable "*) ;; *) return 1;; esac
}
vf_msix_ealready() {       # the second enable: -EALREADY (-114) from pciback
    seq=$(vf_msix_seq)
    case "$seq" in "enable enabled disable_msi enable enabled"*)
        echo "pciback enabled MSI-X again: $seq"; return 1;; esac
    grep -E "GUEST-NVME|enable msix|frontend error" $GLOG | tail -n 8
    grep -q "enable msix get err ffffff8e" $GLOG
}
vf_nvme_report() {
    [ $VF_NVME = 1 ] || return 0
    deadline 300
    until grep -q "GUEST-NVME done" $GLOG 2>/dev/null; do
        expired && { echo "no GUEST-NVME done from the guest"; break; }; sleep 1
    done
    dmesg > /tmp/vf-dmesg
    grep -E "pciback 0000:01:00" /tmp/vf-dmesg | tail -n 20
    check "(seed/vf/msix) the guest's first MSI-X enable of $V1 went through pcifront to pciback, which enabled it" vf_msix_enabled_once
    check "(seed/vf/msix) the guest freed its MSI-X vectors with a disable_msi request (pciback: 'MSI: 0'), never disable_msix, before enabling again: dom0 kept MSI-X on" vf_msix_wrong_disable
    check "(seed/vf/msix) the guest's second enable: -EALREADY from pciback, no MSI-X[0] (guest: enable msix get err ffffff8e)" vf_msix_ealready
}

vf_seed() {
echo "E2E-MILESTONE vf-seed-start"
tstart
check "(seed/vf) 3 VFs of $PF made after pciback loaded (pci-pf-stub, sriov_numvfs=3): physfn/virtfnN links, no driver, Xen added each" vf_make ||
    { bad "(seed/vf) nothing more run: no VFs"; return; }
tend vf-make
check "(seed/vf) xlpci pci-assignable-add of the 3 VFs: bound to the reverted pciback" vf_assignable

# ---- (seed/vf/xl) real xl create with the 3 VFs: one transaction per device --
set_guest e2e-vf-xl
tstart
if ! timeout 300 xl create -p /etc/xen/guest-vf-xl.cfg >/tmp/xl.log 2>&1; then
    cat /tmp/xl.log; bad "(seed/vf/xl) xl create -p with pci=[01:00.1, 01:00.2, 01:00.3]"; return
fi
tend vf-xl-create
D=$(xl domid e2e-vf-xl 2>/dev/null)
BE=/local/domain/0/backend/pci/$D/0
FE=/local/domain/$D/device/pci/0
check "(seed/vf/xl) libxl wrote the 3 VFs (num_devs=3, dense)" vf_three_dense
check "(seed/vf/xl) pciback took the backend (Initialised)" wait_be 30 3
sleep 2   # pciback has had every watch event it will get
vf_snap; echo "after xl create: $(vf_states)"
left=$(state_idx 1)
vf_some_left() {
    [ -n "$left" ] || { echo "every state-N was exported: $(states)"; return 1; }
    echo "never exported: index $left"
}
check "(seed/vf/xl) fewer than 3 VFs exported: some state-N left at 1" vf_some_left
exported=""; for i in $(state_idx 3); do exported="$exported $(rd dev-$i)"; done
check "(seed/vf/xl) Xen's PCI list: all 3 VFs assigned to d$D all the same" owners_are "d$D" $V1 $V2 $V3
check "(seed/vf/xl) xl pci-list lists all 3 VFs all the same" vf_xl_lists $V1 $V2 $V3
xl unpause "$D"
tstart
check "(seed/vf/xl) backend Connected (4)" wait_be 300 4
check "(seed/vf/xl) the guest sees exactly the exported VFs ($exported)" wait_guest 300 $exported
tend vf-unpause-to-guest-sees-n-xl
check "(seed/vf/xl) the guest's VFs are at the exported vdev-N, by function" vf_guest_at_exported
n=$(echo $exported | wc -w)
echo "E2E-NOTE seed/vf: real xl create gave the guest $n of 3 VFs ($(vf_states)); xl pci-list and Xen list 3"
check "(seed/vf/xl) the guest sees FEWER than 3 VFs ($n)" test "$n" -lt 3
X check "$D" > /tmp/check.log 2>&1; rc=$?
cat /tmp/check.log
vf_never_named() {
    [ $rc = 1 ] || { echo "exit status $rc, wanted 1"; return 1; }
    for i in $left; do
        eval "d=\${B_dev_$i:-}"
        grep -q "$d (index $i) was never exported" /tmp/check.log || { echo "$d not named"; return 1; }
    done
}
check "(seed/vf/xl) xlpci check names the never-exported VFs (exit 1)" vf_never_named
tstart
timeout 300 xl destroy "$D" >/tmp/xl-destroy.log 2>&1; echo "(xl destroy: exit $?)"
tend vf-xl-destroy
tail -n 5 /tmp/xl-destroy.log
check "(seed/vf/xl) xlpci destroy $D after xl destroy" X -v destroy "$D"
echo "E2E-MILESTONE vf-seed-xl-done"

# ---- (seed/vf/xlpci) the same 3 VFs, one transaction: all exported ---------
set_guest e2e-guest
if ! timeout 300 xl create -p /etc/xen/guest.cfg >/tmp/xl.log 2>&1; then
    cat /tmp/xl.log; bad "(seed/vf/xlpci) xl create -p guest"; return
fi
D=$(xl domid e2e-guest 2>/dev/null)
BE=/local/domain/0/backend/pci/$D/0
FE=/local/domain/$D/device/pci/0
tstart
check "(seed/vf/xlpci) xlpci create -c guest-vf.cfg: the 3 VFs in one transaction" X -v create -c /etc/xen/guest-vf.cfg "$D"
tend vf-xlpci-create
wait_exported 30 >/dev/null
check "(seed/vf/xlpci) pciback exported 3/3: backend 01:00.1 .2 .3 (config order), dense, state-N=3, distinct vdev-N, each VF's function kept" \
    vf_backend_is $V1 $V2 $V3
check "(seed/vf/xlpci) Xen's PCI list: the 3 VFs assigned to d$D" owners_are "d$D" $V1 $V2 $V3
check "(seed/vf/xlpci) xl pci-list lists the 3 VFs" vf_xl_lists $V1 $V2 $V3
vf_nvme_on
xl unpause "$D"
tstart
check "(seed/vf/xlpci) the guest sees the 3 VFs, each at its vdev-N (functions .1 .2 .3), both ends Connected" \
    vf_guest_at_vdevs $V1 $V2 $V3
tend vf-unpause-to-guest-sees-3-xlpci
check "(seed/vf/xlpci) xlpci check: consistent" X check "$D"
vf_nvme_report
timeout 60 xl destroy "$D" >/dev/null 2>&1
X destroy "$D" >/dev/null 2>&1
echo "E2E-MILESTONE vf-seed-done"
}


# ---- the main boot: the main guest running with 08.0 0a.0 09.0 05.0 ---------
# (called between (d) and (xl) in run_main; leaves the guest as it found it)
vf_pf_refused() {   # the PF refused while its VFs are enabled: exit 1, the
                    # message says why, nothing changed
    b4=$(xenstore-ls -f /local/domain/0/backend/pci 2>&1; xenstore-ls -f /libxl/pci 2>&1)
    X "$@" > /tmp/vf-pf.log 2>&1; rc=$?
    cat /tmp/vf-pf.log
    [ $rc = 1 ] || { echo "exit status $rc, wanted 1"; return 1; }
    grep -q "$PF is an SR-IOV physical function with 3 virtual function(s) enabled" /tmp/vf-pf.log ||
        { echo "no SR-IOV message"; return 1; }
    d=$(readlink $SYSPCI/$PF/driver); [ "${d##*/}" = pci-pf-stub ] ||
        { echo "$PF is on '${d##*/}' now"; return 1; }
    [ "$(xenstore-ls -f /local/domain/0/backend/pci 2>&1; xenstore-ls -f /libxl/pci 2>&1)" = "$b4" ] ||
        { echo "the store changed"; return 1; }
    vf_on_pciback $V1 $V2 $V3
}
vf_on_pciback() {   # bdf...
    for v in "$@"; do
        [ -e /sys/bus/pci/drivers/pciback/$v ] || { echo "$v not on pciback"; return 1; }
    done
}
vf_assignable_list() {   # xlpci's and xl's pci-assignable-list: exactly these VFs of 01:00
    $XLPCI pci-assignable-list > /tmp/al 2>&1; xl pci-assignable-list > /tmp/xl-al 2>&1
    a=$(grep -o '0000:01:00\.[0-7]' /tmp/al | sort | tr '\n' ' ')
    x=$(grep -o '0000:01:00\.[0-7]' /tmp/xl-al | sort | tr '\n' ' ')
    w=$(for v in "$@"; do echo $v; done | sort | tr '\n' ' ')
    echo "xlpci: [$a] xl: [$x]"
    [ "$a" = "$w" ] && [ "$x" = "$w" ] || { echo "wanted [$w]"; return 1; }
}
vf_numvfs_kept() {   # the kernel refuses to disable SR-IOV under VFs on pciback
    if echo 0 > $SYSPCI/$PF/sriov_numvfs 2>/tmp/vf-numvfs.err; then
        echo "sriov_numvfs=0 was taken"; return 1
    fi
    cat /tmp/vf-numvfs.err
    n=$(cat $SYSPCI/$PF/sriov_numvfs)
    [ "$n" = 3 ] && [ -e $SYSPCI/$V2 ] || { echo "sriov_numvfs=$n"; return 1; }
    dmesg | grep -q "Cannot modify SR-IOV while VFs are assigned" ||
        { echo "no 'Cannot modify SR-IOV while VFs are assigned' from the kernel"; return 1; }
}
vf_assignable_all() {
    vf_assignable || return 1
    vf_owners "dom_io=$V1 $V2 $V3" "d0=$PF" || return 1
    vf_assignable_list $V1 $V2 $V3
}
vf_remove_add_v3() {
    X -v pci-assignable-remove -r $V3 || return 1
    [ ! -e /sys/bus/pci/drivers/pciback/$V3 ] || { echo "$V3 still on pciback"; return 1; }
    vf_owners "d0=$V3" || return 1
    vf_assignable_list $V1 $V2 || return 1
    X pci-assignable-add $V3 || return 1
    vf_owners "dom_io=$V3"
}

vf_disable() {
    for v in $V1 $V2 $V3; do X pci-assignable-remove $v || return 1; done
    echo 0 > $SYSPCI/$PF/sriov_numvfs || return 1
    for v in $V1 $V2 $V3; do [ ! -e $SYSPCI/$v ] || { echo "$v still there"; return 1; }; done
    echo "sriov_numvfs=$(cat $SYSPCI/$PF/sriov_numvfs) offset=$(cat $SYSPCI/$PF/sriov_offset) stride=$(cat $SYSPCI/$PF/sriov_stride)"
}
vf_gone_refused() {
    X pci-assignable-add $V2 > /tmp/vf-gone.log 2>&1; rc=$?
    cat /tmp/vf-gone.log
    [ $rc = 1 ] || { echo "exit status $rc, wanted 1"; return 1; }
    grep -q "no PCI device $V2: it would be virtual function 1 of $PF, which has 0 of its 3 VFs enabled" /tmp/vf-gone.log
}

vf_main() {
echo "E2E-MILESTONE vf-main-start"
tstart
check "(vf) 3 VFs of $PF made after pciback loaded (pci-pf-stub, sriov_numvfs=3): physfn/virtfnN links, no driver, Xen added each" vf_make ||
    { bad "(vf) nothing more run: no VFs"; return; }
tend vf-make

# ---- assignable: the VFs exist only now, long after pciback loaded ---------
check "(vf) xlpci pci-assignable-add of the 3 VFs: on pciback, quarantined (Xen: dom_io, the PF d0), listed by xlpci and xl, the PF not" \
    vf_assignable_all
check "(vf) xlpci pci-assignable-remove 01:00.3: off pciback, Xen: d0, not listed; pci-assignable-add again: dom_io" \
    vf_remove_add_v3
check "(vf) pci-assignable-add of the PF refused, its VFs enabled: exit 1, the reason given, PF on pci-pf-stub, VFs on pciback, nothing changed" \
    vf_pf_refused pci-assignable-add $PF

# ---- hot-add: BB:DD.* is the 3 VFs, never the PF ----------------------------
tstart
check "(vf) pci-attach 01:00.*: the 3 VFs in one Reconfiguring cycle, the PF left out" \
    X -v pci-attach -t 240 "$D" "0000:01:00.*"
tend vf-attach-slot
check "(vf) after attach: backend 08 0a 09 05 01:00.3 .2 .1 (function 0 last, as libxl), num_devs=7, dense, all exported, each VF's function kept in its vdev-N" \
    vf_backend_is $C $E $F $A $V3 $V2 $V1
check "(vf) after attach: the guest sees 7 (3 x 1b36:0010), each at its vdev-N, frontend Connected" \
    vf_guest_at_vdevs $C $E $F $A $V3 $V2 $V1
tend vf-attach-to-guest-sees
check "(vf) Xen's PCI list: the VFs in d$D, the PF in d0" vf_owners "d$D=$V1 $V2 $V3" "d0=$PF"
echo "E2E-MILESTONE vf-attached"

# ---- the PF while its VFs are in a guest -------------------------------------
check "(vf) pci-attach of the PF refused while its VFs are in d$D: exit 1, nothing changed" \
    vf_pf_refused pci-attach -t 60 "$D" $PF
check "(vf) the kernel refuses sriov_numvfs=0 while the VFs are on pciback (EPERM)" vf_numvfs_kept
check "(vf) xlpci check $D: consistent, the VFs on the host" X check "$D"

# ---- hot-remove of the middle VF, indices compacted --------------------------
tstart
check "(vf) pci-detach 01:00.2 (index 5 of 7, the middle VF)" X -v pci-detach -t 240 "$D" $V2
tend vf-detach-middle
check "(vf) after detach: compacted to 08 0a 09 05 01:00.3 .1, num_devs=6, dense, all exported" \
    vf_backend_is $C $E $F $A $V3 $V1
check "(vf) after detach: the guest sees 6 (no function .2), each at its vdev-N, frontend Connected" \
    vf_guest_at_vdevs $C $E $F $A $V3 $V1
tend vf-detach-to-guest-sees
check "(vf) Xen's PCI list: 01:00.2 quarantined (dom_io)" vf_owners "dom_io=$V2"

# ---- hot-add of one VF -------------------------------------------------------
tstart
check "(vf) pci-attach 01:00.2: one VF hot-added" X -v pci-attach -t 240 "$D" $V2
tend vf-attach-one
check "(vf) after attach: backend 08 0a 09 05 01:00.3 .1 .2, num_devs=7, dense, all exported" \
    vf_backend_is $C $E $F $A $V3 $V1 $V2
check "(vf) after attach: the guest sees 7, each at its vdev-N, frontend Connected" \
    vf_guest_at_vdevs $C $E $F $A $V3 $V1 $V2

# ---- all VFs away: BB:DD.* ---------------------------------------------------
tstart
check "(vf) pci-detach 01:00.*: the 3 VFs" X -v pci-detach -t 240 "$D" "0000:01:00.*"
tend vf-detach-slot
check "(vf) after detach: backend 08 0a 09 05, dense, all exported" vf_backend_is $C $E $F $A
check "(vf) after detach: the guest sees its 4 again, at their vdev-N, frontend Connected" \
    vf_guest_at_vdevs $C $E $F $A
check "(vf) Xen's PCI list: the 3 VFs quarantined (dom_io), still assignable" vf_owners "dom_io=$V1 $V2 $V3"

# ---- SR-IOV disabled: a VF is named as what it was ---------------------------
check "(vf) the 3 VFs given back, SR-IOV disabled (sriov_numvfs=0): they are gone" vf_disable
check "(vf) pci-assignable-add 01:00.2 refused: named as VF 1 of the PF, 0 of its 3 VFs enabled (exit 1)" \
    vf_gone_refused
echo "E2E-MILESTONE vf-main-done"
}
