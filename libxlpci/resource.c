/*
 * The sysfs files "resource" and "irq" of a PCI device, parsed (pure: no
 * I/O).  hypervisor.c reads them and grants what they name; the fuzzer
 * tests/host/fuzz_host and tests/host/test_resource feed them directly.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pure.h"

/* "0x" and 1..16 hex digits, ending at a blank or the end. */
static const char *hex_token(const char *p, uint64_t *v)
{
    unsigned digits = 0;

    if (p[0] != '0' || p[1] != 'x')
        return NULL;
    p += 2;
    *v = 0;
    for (; *p && !strchr(" \t\n", *p); p++, digits++) {
        unsigned d;

        if (*p >= '0' && *p <= '9')
            d = (unsigned)(*p - '0');
        else if (*p >= 'a' && *p <= 'f')
            d = (unsigned)(*p - 'a' + 10);
        else if (*p >= 'A' && *p <= 'F')
            d = (unsigned)(*p - 'A' + 10);
        else
            return NULL;
        if (digits == 16)
            return NULL;
        *v = *v << 4 | d;
    }
    return digits ? p : NULL;
}

int xlpci_resource_parse(const char *text, xlpci_bar *bars, unsigned *n_r,
                         char *err, size_t errlen)
{
    const char *p = text;
    unsigned n = 0, line;

    *n_r = 0;
    for (line = 1; *p && n < XLPCI_NUM_RESOURCES; line++) {
        uint64_t v[3];
        unsigned k;

        for (k = 0; k < 3; k++) {
            if (k && *p++ != ' ')
                break;
            p = hex_token(p, &v[k]);
            if (!p)
                break;
        }
        if (k < 3 || (*p && *p != '\n')) {
            snprintf(err, errlen, "line %u is not \"0x<start> 0x<end> "
                     "0x<flags>\"", line);
            return XLPCI_ERR_CORRUPT;
        }
        if (v[0] && v[1] < v[0]) {
            snprintf(err, errlen, "line %u: end 0x%" PRIx64 " is below "
                     "start 0x%" PRIx64, line, v[1], v[0]);
            return XLPCI_ERR_CORRUPT;
        }
        bars[n].start = v[0];
        bars[n].end = v[1];
        bars[n].flags = v[2];
        n++;
        if (*p)
            p++;
    }
    *n_r = n;
    return 0;
}

int xlpci_irq_parse(const char *text, unsigned *irq_r, char *err,
                    size_t errlen)
{
    unsigned v = 0;
    const char *p = text;

    if (*p < '0' || *p > '9')
        goto bad;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (unsigned)(*p - '0');
        if (v > 0xffffff)
            goto bad;
    }
    if (*p == '\n')
        p++;
    if (*p)
        goto bad;
    *irq_r = v;
    return 0;
bad:
    snprintf(err, errlen, "\"%.32s\" is not an interrupt number", text);
    return XLPCI_ERR_CORRUPT;
}

