/* tests/trace/vgtool.t's command: a fixed walk over the pages of one
 * mapping, with plain stores, reads and read-modify-writes (one x86
 * instruction: valgrind's "modify"), so that its page trace is known.
 *   walk walk   the walk, then exit 0
 *   walk fork   stores to pages 0-3, a child stores to 4-7 and exits,
 *               then pages 8-11, then exec /bin/true (the new image is
 *               not traced: what came before must reach the trace)
 *   walk segv   stores to pages 0-3, then dies of SIGSEGV
 *   walk kill   stores to pages 0-3, then SIGKILLs itself
 *   walk spin   stores to pages 0-3, writes "spinning" to stderr, then
 *               spins on one page until killed
 * Prints the mapping's first page number (address / page size). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void store(char *p) { asm volatile("movb $1, (%0)" : : "r"(p) : "memory"); }
static void modify(char *p) { asm volatile("addb $1, (%0)" : : "r"(p) : "memory"); }
static char load(char *p)
{
    char c;
    asm volatile("movb (%1), %0" : "=r"(c) : "r"(p) : "memory");
    return c;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "walk";
    long psz = sysconf(_SC_PAGESIZE);
    char *b = mmap(NULL, 16 * (size_t)psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED)
        return 1;
    printf("%lu\n", (unsigned long)b / (unsigned long)psz);
    fflush(stdout);
    if (!strcmp(mode, "walk")) {
        int sum = 0;
        for (int i = 0; i < 16; i++)
            store(b + i * psz);
        for (int r = 0; r < 3; r++)
            for (int i = 0; i < 16; i += 2)
                sum += load(b + i * psz), modify(b + (i + 1) * psz);
        return sum == 3 * 8 ? 0 : 2;
    }
    for (int i = 0; i < 4; i++)
        store(b + i * psz);
    if (!strcmp(mode, "segv"))
        raise(SIGSEGV);
    if (!strcmp(mode, "kill"))
        raise(SIGKILL);
    if (!strcmp(mode, "spin")) {
        static const char msg[] = "spinning\n";
        if (write(2, msg, sizeof msg - 1) < 0)
            return 4;
        for (;;)
            asm volatile("" ::: "memory");
    }
    if (!strcmp(mode, "fork")) {
        pid_t pid = fork();
        if (pid == 0) {
            for (int i = 4; i < 8; i++)
                store(b + i * psz);
            _exit(0);
        }
        waitpid(pid, NULL, 0);
        for (int i = 8; i < 12; i++)
            store(b + i * psz);
        execl("/bin/true", "true", (char *)NULL);
    }
    return 3;
}
