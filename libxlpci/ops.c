/*
 * A list of planned xenstore operations.  Pure: building the list does no
 * I/O; xs.c applies it inside a transaction, -N prints it.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pure.h"

void xlpci_ops_init(xlpci_ops *ops)
{
    memset(ops, 0, sizeof(*ops));
}

void xlpci_ops_reset(xlpci_ops *ops)
{
    size_t i;

    for (i = 0; i < ops->n; i++) {
        free(ops->v[i].path);
        free(ops->v[i].value);
    }
    ops->n = 0;
}

void xlpci_ops_dispose(xlpci_ops *ops)
{
    xlpci_ops_reset(ops);
    free(ops->v);
    xlpci_ops_init(ops);
}

static xlpci_op *push(xlpci_ops *ops, xlpci_op_kind kind, const char *path)
{
    xlpci_op *op;

    if (ops->n == ops->cap) {
        size_t cap = ops->cap ? ops->cap * 2 : 32;
        xlpci_op *v = realloc(ops->v, cap * sizeof(*v));
        if (!v)
            return NULL;
        ops->v = v;
        ops->cap = cap;
    }
    op = &ops->v[ops->n];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->path = strdup(path);
    if (!op->path)
        return NULL;
    ops->n++;
    return op;
}

int xlpci_ops_rm(xlpci_ops *ops, const char *path)
{
    return push(ops, XLPCI_OP_RM, path) ? 0 : XLPCI_ERR_NOMEM;
}

int xlpci_ops_mkdir(xlpci_ops *ops, const char *path)
{
    return push(ops, XLPCI_OP_MKDIR, path) ? 0 : XLPCI_ERR_NOMEM;
}

int xlpci_ops_write(xlpci_ops *ops, const char *path, const char *value)
{
    xlpci_op *op = push(ops, XLPCI_OP_WRITE, path);

    if (!op)
        return XLPCI_ERR_NOMEM;
    op->value = strdup(value);
    return op->value ? 0 : XLPCI_ERR_NOMEM;
}

int xlpci_ops_writef(xlpci_ops *ops, const char *path, const char *fmt, ...)
{
    char buf[XLPCI_PATH_MAX];
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (r < 0 || (size_t)r >= sizeof(buf))
        return XLPCI_ERR_INVAL;
    return xlpci_ops_write(ops, path, buf);
}

int xlpci_ops_perms(xlpci_ops *ops, const char *path, uint32_t owner,
                    uint32_t reader)
{
    xlpci_op *op = push(ops, XLPCI_OP_PERMS, path);

    if (!op)
        return XLPCI_ERR_NOMEM;
    /* The first entry is the owner; its perm is what everyone else gets. */
    op->perms[0].id = owner;
    op->perms[0].perms = XS_PERM_NONE;
    op->perms[1].id = reader;
    op->perms[1].perms = XS_PERM_READ;
    op->nperms = 2;
    return 0;
}

static const char *perm_letter(unsigned perms)
{
    switch (perms & (XS_PERM_READ | XS_PERM_WRITE)) {
    case XS_PERM_READ: return "r";
    case XS_PERM_WRITE: return "w";
    case XS_PERM_READ | XS_PERM_WRITE: return "b";
    default: return "n";
    }
}

void xlpci_ops_print(const xlpci_ops *ops, FILE *out)
{
    size_t i;
    unsigned j;

    for (i = 0; i < ops->n; i++) {
        const xlpci_op *op = &ops->v[i];

        switch (op->kind) {
        case XLPCI_OP_RM:
            fprintf(out, "rm %s\n", op->path);
            break;
        case XLPCI_OP_MKDIR:
            fprintf(out, "mkdir %s\n", op->path);
            break;
        case XLPCI_OP_WRITE:
            fprintf(out, "write %s = \"%s\"\n", op->path, op->value);
            break;
        case XLPCI_OP_PERMS:
            fprintf(out, "setperms %s", op->path);
            for (j = 0; j < op->nperms; j++)
                fprintf(out, " %s%u", perm_letter(op->perms[j].perms),
                        op->perms[j].id);
            fputc('\n', out);
            break;
        }
    }
}
