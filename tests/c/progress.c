/* The progress line (runtime/progress.c): its text, and silence when
 * stderr is not a terminal or the work is small.  Also vmlab_pause's
 * armed callback and the signal it returns (runtime/pause.c). */
#include "tap.h"
#include "vmlab/pause.h"
#include "vmlab/progress.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void send_usr1(void *ctx)
{
    *(int *)ctx = 1;
    kill(getpid(), SIGUSR1);     /* blocked until the wait: not lost */
}

int main(void)
{
    struct vmlab_progress p;
    char line[256];
    int armed = 0, sig;

    /* Under prove stderr is a pipe or a file: nothing is drawn. */
    unsetenv("VMLAB_PROGRESS");
    vmlab_progress_begin(&p, "touch buf", 1ULL << 31, VMLAB_PROGRESS_BYTES, 1ULL << 30);
    ok(p.on == isatty(2), "on only when stderr is a terminal (isatty(2) = %d)", isatty(2));
    vmlab_progress_end(&p);

    /* The text, as drawn: half of 2 GiB in 1 s -> 1 GiB/s, 1 s left. */
    vmlab_progress_begin(&p, "touch buf", 1ULL << 31, VMLAB_PROGRESS_BYTES, 0);
    p.start = 100.0;
    p.done = 1ULL << 30;
    vmlab_progress_format(&p, 101.0, line, sizeof line);
    ok(!strcmp(line, "touch buf: 1 GiB of 2 GiB (50%), 1 GiB/s, 1.0 s left"), "bytes: '%s'", line);
    p.unit = VMLAB_PROGRESS_COUNT;
    p.total = 400;
    p.done = 100;
    vmlab_progress_format(&p, 102.0, line, sizeof line);
    ok(!strcmp(line, "touch buf: 100 of 400 (25%), 50/s, 6.0 s left"), "counts: '%s'", line);
    p.done = 0;
    vmlab_progress_format(&p, 102.0, line, sizeof line);
    ok(strstr(line, "-- left") != NULL, "no rate yet: '%s'", line);
    vmlab_progress_end(&p);

    /* Small work never draws, whatever stderr is. */
    vmlab_progress_begin(&p, "fill x", 4096, VMLAB_PROGRESS_BYTES, 1ULL << 30);
    ok(!p.on, "under the threshold: off");
    setenv("VMLAB_PROGRESS", "0", 1);
    vmlab_progress_begin(&p, "fill x", 1ULL << 40, VMLAB_PROGRESS_BYTES, 0);
    ok(!p.on, "VMLAB_PROGRESS=0: off");

    /* pause: armed runs with the wait set up; USR1 wakes it, not kills. */
    sig = vmlab_pause(send_usr1, &armed);
    ok(armed == 1 && sig == SIGUSR1, "vmlab_pause: armed ran, woken by SIGUSR1 (%d)", sig);
    ok(signal(SIGUSR1, SIG_DFL) == SIG_DFL, "USR1's action is restored after");
    return tap_done();
}
