# HVM guests (issue 14): the unit tests of the QMP messages.
UNIT_TESTS        += $(B)/tests/unit/test_qmp
