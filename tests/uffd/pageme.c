/* A command for the scheme test (tests/uffd/schemes.t): a file mapped
 * between two anonymous mappings, so that the monitor's regions cover it,
 * all read in (RssFile up), then idle for `seconds`.  A pageout scheme
 * applied through process_madvise must bring RssFile down; without swap
 * anonymous memory cannot be paged out, file pages always can.
 *
 *   pageme FILE MIB SECONDS    (FILE is created, MIB long, and removed) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: pageme FILE MIB SECONDS\n");
        return 2;
    }
    size_t mib = 1 << 20, n = (size_t)atol(argv[2]) * mib, edge = 4 * mib;
    double secs = atof(argv[3]);
    int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)n) < 0) {
        perror(argv[1]);
        return 1;
    }
    unlink(argv[1]);
    char *buf = malloc(mib);
    memset(buf, 7, mib);
    for (size_t off = 0; off < n; off += mib)
        if (pwrite(fd, buf, mib, (off_t)off) != (ssize_t)mib) {
            perror("pwrite");
            return 1;
        }
    fsync(fd);   /* clean pages: MADV_PAGEOUT drops them at once */
    char *r = mmap(NULL, n + 2 * edge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED ||
        mmap(r, edge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED ||
        mmap(r + edge, n, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED ||
        mmap(r + edge + n, edge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
             0) == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    memset(r, 1, edge);
    memset(r + edge + n, 1, edge);
    volatile unsigned long sum = 0;
    for (size_t off = 0; off < n; off += 4096)   /* a test program: any page size divides this */
        sum += (unsigned char)r[edge + off];
    struct timespec t = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
    nanosleep(&t, NULL);
    return 0;
}
