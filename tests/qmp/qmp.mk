# HVM guests (issue 14): the QMP peer, a stand-in for an HVM guest's QEMU
# that speaks QMP on a UNIX socket (tests/qmp/qmppeer.c), the unit tests of
# the QMP messages and the integration tests of the HVM flows.
$(B)/qmppeer: tests/qmp/qmppeer.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(YAJL_CFLAGS) -o $@ $< $(LDFLAGS) $(YAJL_LIBS)

ALL_PROGS         += $(B)/qmppeer
UNIT_TESTS        += $(B)/tests/unit/test_qmp
