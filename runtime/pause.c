/* memtoy's pause, with the signals a user sends to wake it (kick c USR1,
 * kill -USR1, Ctrl-C) caught for the wait only: USR1's default action
 * would kill the runtime, and SIGINT's usual handler would raise an error. */
#include "vmlab/pause.h"
#include "vmlab/interrupt.h"

#include <signal.h>
#include <string.h>

static const int wake[] = {SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGHUP, SIGALRM, SIGCONT};
#define NWAKE (int)(sizeof wake / sizeof wake[0])

static volatile sig_atomic_t caught;

static void on_wake(int sig)
{
    if (!caught)
        caught = sig;
}

int vmlab_pause(void (*armed)(void *ctx), void *ctx)
{
    struct sigaction sa, saved[NWAKE];
    sigset_t set, old, during;
    int sig;

    /* Block first, so that a signal between the check and the wait is not
     * lost: sigsuspend() unblocks and waits in one step. */
    sigemptyset(&set);
    for (int i = 0; i < NWAKE; i++)
        sigaddset(&set, wake[i]);
    sigprocmask(SIG_BLOCK, &set, &old);
    caught = 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_wake;
    sigfillset(&sa.sa_mask);
    for (int i = 0; i < NWAKE; i++)
        sigaction(wake[i], &sa, &saved[i]);
    during = old;
    for (int i = 0; i < NWAKE; i++)
        sigdelset(&during, wake[i]);
    if (armed)
        armed(ctx);
    /* A ^C that came just before the wait was armed counts as its wake. */
    if (vmlab_interrupted())
        caught = SIGINT;
    while (!caught)
        sigsuspend(&during);
    sig = caught;
    for (int i = 0; i < NWAKE; i++)
        sigaction(wake[i], &saved[i], NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return sig;
}
