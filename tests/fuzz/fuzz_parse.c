/*
 * libFuzzer target for the pure parsers: PCI_SPEC_STRING, BDF and the
 * xl.cfg subset.  Beyond "no crash, no leak, no UB" (ASan/UBSan), it
 * checks what a parse promises: exactly one of bdf and name, every field
 * in range, and that a formatted BDF parses back to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libxlpci_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_spec(const char *s)
{
    xlpci_spec spec;
    xlpci_bdf back;
    char err[256], buf[XLPCI_BDF_STRLEN];

    err[0] = 'x';
    if (xlpci_spec_parse(s, &spec, err, sizeof(err))) {
        if (!memchr(err, '\0', sizeof(err)) || !err[0])
            abort();                  /* every error has a message */
        return;
    }
    if (spec.has_bdf == !!spec.name)
        abort();
    if (spec.has_bdf) {
        if (spec.bdf.seg > XLPCI_MAX_SEG || spec.bdf.bus > XLPCI_MAX_BUS ||
            spec.bdf.dev > XLPCI_MAX_SLOT || spec.bdf.func > XLPCI_MAX_FUNC)
            abort();
        xlpci_bdf_format(&spec.bdf, buf);
        if (xlpci_bdf_parse(buf, &back, err, sizeof(err)) ||
            xlpci_bdf_cmp(&back, &spec.bdf))
            abort();
    }
    if (spec.has_vslot && spec.vslot > XLPCI_MAX_SLOT)
        abort();
    if (spec.permissive < -1 || spec.permissive > 1 || spec.seize < -1 ||
        spec.seize > 1 || spec.rdm_policy < -1 || spec.rdm_policy > 1)
        abort();
    xlpci_spec_dispose(&spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), err[256];
    xlpci_config cfg;
    size_t i;

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    check_spec(s);
    if (!xlpci_config_parse(s, "fuzz.cfg", &cfg, err, sizeof(err))) {
        for (i = 0; i < cfg.num_pci; i++) {
            if (!cfg.pci[i])
                abort();
            check_spec(cfg.pci[i]);
        }
        xlpci_config_dispose(&cfg);
    } else if (strncmp(err, "fuzz.cfg:", 9)) {
        abort();                      /* errors name the file and line */
    }
    free(s);
    return 0;
}
