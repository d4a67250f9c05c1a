/* libFuzzer target for the record readers by path: the input's first byte
 * picks what the path is (a regular file holding the rest of the input, a
 * directory, a FIFO with or without a writer, /dev/zero, /dev/null,
 * /dev/urandom, a symlink to a directory, a procfs file of size 0), the rest
 * is the content where there is one.  Every kind must give records or an
 * error naming the path, at once: no hang on a FIFO, no endless read of a
 * device, no crash or leak.
 *   make fuzz   (builds build/fuzz/record_path_fuzz) */
#include "vmlab/record.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void cleanup(void)
{
    char p[128];
    static const char *const names[] = {"file", "fifo", "sub", "link", NULL};
    for (int i = 0; names[i]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
        rmdir(p);
    }
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    char path[128], err[512];
    struct vmlab_records r;
    int kind = len ? data[0] % 9 : 0, wfd = -1, rfd = -1;

    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/vmlab-fuzz-path-XXXXXX");
        if (!mkdtemp(dir))
            abort();
        atexit(cleanup);
    }
    if (len) {
        data++;
        len--;
    }
    switch (kind) {
    case 0: {                                   /* a regular file */
        FILE *f;
        snprintf(path, sizeof path, "%s/file", dir);
        f = fopen(path, "wb");
        if (!f)
            return 0;
        fwrite(data, 1, len, f);
        fclose(f);
        break;
    }
    case 1:
        snprintf(path, sizeof path, "%s/sub", dir);
        mkdir(path, 0700);
        break;
    case 2:
    case 3:                                     /* a FIFO, without or with a writer */
        snprintf(path, sizeof path, "%s/fifo", dir);
        mkfifo(path, 0600);
        if (kind == 3) {
            rfd = open(path, O_RDONLY | O_NONBLOCK);
            wfd = open(path, O_WRONLY | O_NONBLOCK);
            if (wfd >= 0 && len && write(wfd, data, len < 4096 ? len : 4096) < 0)
                break;
        }
        break;
    case 4: snprintf(path, sizeof path, "/dev/zero"); break;
    case 5: snprintf(path, sizeof path, "/dev/null"); break;
    case 6: snprintf(path, sizeof path, "/dev/urandom"); break;
    case 7:
        snprintf(path, sizeof path, "%s/sub", dir);
        mkdir(path, 0700);
        snprintf(path, sizeof path, "%s/link", dir);
        unlink(path);
        if (symlink("sub", path) < 0)
            return 0;
        break;
    default: snprintf(path, sizeof path, "/proc/self/status"); break;
    }
    if (vmlab_records_read(path, &r, err, sizeof err) == 0) {
        if (kind != 0)                          /* only a regular file holds records */
            abort();
        vmlab_records_free(&r);
    } else if (kind != 0 && !strstr(err, path)) {
        abort();                                /* the message names the path */
    }
    if (wfd >= 0)
        close(wfd);
    if (rfd >= 0)
        close(rfd);
    return 0;
}
