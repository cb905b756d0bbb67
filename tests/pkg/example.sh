# examples/domain-pci run against a real xenstored (tests/harness/xs-run),
# shared by test-example (built against `make install` in a staging dir)
# and test-deb (built against the installed libxlpci-dev).  Sourced after
# lib.sh.
#   example_run DIR [VAR=VALUE...]  run DIR/domain-pci in DIR (the
#                                   environment's extra variables given)
#   example_verify DIR              check what it did
# The run: an xl.cfg's two devices given to guest5 in one transaction,
# listed as JSON, a bad config refused with the store unchanged, destroy
# refused while the domain lives and releasing both once it is gone, a
# usage error.

example_run() {   # dir [VAR=VALUE...]
    local dir=$1; shift
    cat > "$dir/guest5.cfg" <<'EOC'
name = "guest5"
pci = [ "0000:03:00.0", "04:00.1,permissive=1" ]
pci_msitranslate = 0
EOC
    cat > "$dir/bad.cfg" <<'EOC'
name = "guest6"
pci = [ "05:00.0,permissive=yes" ]
EOC
    cat > "$dir/run" <<'EOS'
xenstore-write /local/domain/5/name guest5 /local/domain/6/name guest6
be=/local/domain/0/backend/pci
./domain-pci create guest5.cfg >out1 2>err1; echo "rc1 $?"
echo "num_devs $(xenstore-read $be/5/0/num_devs)"
echo "opts-1 $(xenstore-read $be/5/0/opts-1)"
./domain-pci list guest5 >list 2>err2; echo "rc2 $?"
./domain-pci create bad.cfg >out3 2>err3; echo "rc3 $?"
echo "backends $(xenstore-list $be | tr '\n' ' ')"
./domain-pci destroy 5 >out4 2>err4; echo "rc4 $?"
echo "after4 $(xenstore-read $be/5/0/num_devs)"
xenstore-rm /local/domain/5
./domain-pci destroy 5 >out5 2>err5; echo "rc5 $?"
echo "after5 $(xenstore-list $be 2>/dev/null | tr '\n' ' ')"
./domain-pci list 5 >/dev/null 2>err6; echo "rc6 $?"
./domain-pci >/dev/null 2>&1; echo "rc7 $?"
EOS
    (cd "$dir" && env XLPCI_FAKEXEN="$T_BUILD/libfakexen.so" \
        XLPCI_SYSFS_ROOT="$dir/nosys" XLPCI_STATE_DIR="$dir/state" "$@" \
        "$T_SRC/tests/harness/xs-run" -- sh run) > "$dir/got" 2> "$dir/xs-run.err"
}

example_verify() {   # dir
    local dir=$1
    val() { sed -n "s/^$1 //p" "$dir/got"; }
    check "domain-pci create guest5.cfg: exit $(val rc1)" [ "$(val rc1)" = 0 ] ||
        { show "$dir/err1"; show "$dir/xs-run.err"; }
    check "it says so: $(cat "$dir/out1")" \
        [ "$(cat "$dir/out1")" = "domain 5: 2 device(s) in one transaction" ]
    checkx "num_devs 2, opts-1 with permissive=1 and the config's msitranslate=0" \
        '[ "$(val num_devs)" = 2 ] && [[ $(val opts-1) == *permissive=1* ]] &&
         [[ $(val opts-1) == *msitranslate=0* ]]'
    checkx "domain-pci list guest5: exit $(val rc2), JSON of 2 devices, 04:00.1 permissive" \
        '[ "$(val rc2)" = 0 ] && [ "$(grep -c "\"index\":" "$dir/list")" = 2 ] &&
         grep -q "\"func\": 1" "$dir/list" && grep -q "\"permissive\": true" "$dir/list"' ||
        show "$dir/list"
    checkx "a bad PCI_SPEC_STRING in the config: exit 1, named: $(head -n 1 "$dir/err3" | head -c 100)" \
        '[ "$(val rc3)" = 1 ] && grep -q permissive "$dir/err3"'
    check "only domain 5 got a backend ($(val backends))" [ "$(val backends)" = "5 " ]
    checkx "destroy while the domain lives: exit 1, refused, nothing released" \
        '[ "$(val rc4)" = 1 ] && grep -q "still running" "$dir/err4" &&
         [ "$(val after4)" = 2 ]' || show "$dir/err4"
    check "destroy once it is gone: exit $(val rc5): $(cat "$dir/out5")" \
        [ "$(val rc5) $(cat "$dir/out5")" = "0 domain 5: 2 device(s) released" ] ||
        show "$dir/err5"
    local left; left=$(val after5)
    check "no backend is left${left:+ (left: $left)}" [ -z "$left" ]
    check "list of a domain that is gone: exit 1" [ "$(val rc6)" = 1 ]
    check "no arguments: usage, exit 2" [ "$(val rc7)" = 2 ]
}
