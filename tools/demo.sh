#!/bin/bash
# The demo: a real xenstored (Debian's, run without Xen under the test
# shim), the behavioural model of xen-pciback + pcifront, and xlpci.
#
#   make demo            (builds, then runs this under tests/harness/xs-run)
#
# 1. The libxl 4.15-4.17 way (one transaction per device) against the
#    unpatched driver model: the guest sees 1 of 3 VFs.
# 2. xlpci create: all three in one transaction: the guest sees 3 of 3.
# 3. pci-attach (Reconfiguring cycle), pci-detach of the middle device
#    (indices compacted, num_devs the true count), the tree at each step.
set -eu
B=${XLPCI_BUILD_DIR:?run through make demo}
: "${XENSTORED_PATH:?run under tests/harness/xs-run}"
X=$B/xlpci
work=$(mktemp -d)
trap 'kill $model 2>/dev/null; wait $model 2>/dev/null; rm -rf "$work"' EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
backend() {
    xenstore-ls -f "/local/domain/0/backend/pci/$1/0" 2>/dev/null |
        grep -E '/(num_devs|state|dev-[0-9]+|state-[0-9]+|vdev-[0-9]+) ' |
        sed "s|/local/domain/0/backend/pci/$1/0/|  |"
}
guest() {
    local f="$work/status/guest-$1"
    printf '  guest %s sees %s device(s):' "$1" \
        "$(grep -c . "$f" 2>/dev/null || echo 0)"
    [ -s "$f" ] && sed 's/^/ [/; s/$/]/' "$f" | tr -d '\n'
    echo
}
wait_state() {   # domid state
    for _ in $(seq 200); do
        [ "$(xenstore-read "/local/domain/0/backend/pci/$1/0/state" 2>/dev/null)" = "$2" ] && return 0
        sleep 0.05
    done
    echo "backend of domain $1 did not reach state $2" >&2; return 1
}

for d in 5 6; do xenstore-write "/local/domain/$d/name" "guest$d"; done
"$B/pcimodel" --ready "$work/ready" --status-dir "$work/status" \
    --vf 0000:81:10.0 --vf 0000:81:10.2 --vf 0000:81:10.4 &
model=$!
for _ in $(seq 200); do [ -e "$work/ready" ] && break; sleep 0.05; done

say "libxl 4.15-4.17 way: one transaction per device (domain 6)"
"$B/legacy-writer" --wait-probe 6 0000:81:10.0 0000:81:10.2 0000:81:10.4
wait_state 6 4
backend 6
guest 6

say "guest 6 is destroyed: xlpci destroy releases its devices (backend, frontend, /libxl/pci records)"
xenstore-rm /local/domain/6
"$X" destroy 6

say "xlpci -N create (dry run: the planned transaction, nothing written)"
"$X" -N create 5 0000:81:10.0,permissive=1 0000:81:10.2 0000:81:10.4 | head -12
echo "  ..."

say "xlpci create: all devices in ONE transaction (domain 5)"
"$X" create 5 0000:81:10.0,permissive=1 0000:81:10.2 0000:81:10.4
wait_state 5 4
backend 5
guest 5

say "xlpci pci-attach 5 0000:03:00.0 (Reconfiguring cycle)"
"$X" -v pci-attach 5 0000:03:00.0
backend 5
guest 5

say "xlpci pci-detach 5 0000:81:10.2 (the middle one: indices compacted)"
"$X" -v pci-detach 5 0000:81:10.2
backend 5
guest 5

say "xlpci pci-list guest5"
"$X" pci-list guest5
say "xlpci pci-list -l 5 (JSON)"
"$X" pci-list -l 5 | head -16
echo "  ..."
