/* memtoy's segment table, and protections as text both ways. */
#include "vmlab/seg.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

const char *vmlab_prot_string(int prot)
{
    static const char *const p[] = {"---", "r--", "-w-", "rw-", "--x", "r-x", "-wx", "rwx"};
    return p[prot & 7];
}

int vmlab_parse_prot(const char *text, int *prot)
{
    int p = PROT_NONE, bit;
    size_t n = strlen(text);

    if (!strcmp(text, "none")) {
        *prot = p;
        return 0;
    }
    if (n == 0 || n > 3)
        return -1;
    for (const char *c = text; *c; c++) {
        switch (*c) {
        case 'r': bit = PROT_READ; break;
        case 'w': bit = PROT_WRITE; break;
        case 'x': bit = PROT_EXEC; break;
        case '-': continue;
        default: return -1;
        }
        if (p & bit)
            return -1;               /* "rr" is a typo, not a protection */
        p |= bit;
    }
    *prot = p;
    return 0;
}

const char *vmlab_seg_table_header(void)
{
    return "  _____address______ ____length____ ____offset____ prot  share  name\n";
}

int vmlab_seg_table_line(const struct vmlab_seg *s, char *buf, size_t len)
{
    static const char kind_letter[] = {'a', 'f', 's', 'm', 'w'};
    char addr[24];

    if (s->mapped)
        snprintf(addr, sizeof addr, "0x%016lx", (unsigned long)(uintptr_t)s->addr);
    else
        snprintf(addr, sizeof addr, "%-18s", "(not mapped)");
    return snprintf(buf, len, "%c %s 0x%012lx 0x%012lx  %s  %-8s%s\n", kind_letter[s->kind], addr,
                    (unsigned long)s->size, (unsigned long)s->offset, vmlab_prot_string(s->prot),
                    s->shared ? "shared" : "private", s->name);
}
