/*
 * libFuzzer on the QMP reader (libxlpci/qmpmsg.c): whatever QEMU (or
 * whoever holds its socket) sends is one line; it parses into a message or
 * is refused with a reason, and query-pci's slot lookup never reads out of
 * bounds.  `make fuzz-qmp` (FUZZ_SECONDS).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libxlpci_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size + 1), err[160];
    xlpci_qmp_msg m;
    unsigned devfn;

    if (!line)
        return 0;
    memcpy(line, data, size);
    line[size] = '\0';
    err[0] = '\0';
    if (!xlpci_qmp_parse(line, &m, err, sizeof(err))) {
        if (m.kind == XLPCI_QMP_RETURN &&
            xlpci_qmp_pci_find(m.ret, "pci-pt-04_00.0", &devfn, err,
                               sizeof(err)) == 1 && devfn > 0xff)
            abort();
        xlpci_qmp_msg_dispose(&m);
    } else if (!err[0] || m.root) {
        abort();                       /* refused without a reason */
    }
    free(line);
    return 0;
}
