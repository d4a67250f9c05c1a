/* libFuzzer target for the record readers (binary, JSON, zlib JSON):
 * any input must give records or an error, never a crash or a leak.
 *   make fuzz   (builds build/fuzz/record_fuzz; run it with a time limit) */
#include "vmlab/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    char path[] = "/tmp/vmlab-fuzz-XXXXXX", err[512];
    struct vmlab_records r;
    int fd = mkstemp(path);
    FILE *f;

    if (fd < 0)
        return 0;
    f = fdopen(fd, "wb");
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
        if (vmlab_records_read(path, &r, err, sizeof err) == 0)
            vmlab_records_free(&r);
    }
    unlink(path);
    return 0;
}
