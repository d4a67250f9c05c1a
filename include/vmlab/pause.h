/* memtoy's pause: wait for a signal and come back, instead of dying of it. */
#ifndef VMLAB_PAUSE_H
#define VMLAB_PAUSE_H

/* Wait until one of INT, QUIT, USR1, USR2, HUP, ALRM or CONT arrives (the
 * handlers in place before are restored after); returns its number.  Other
 * signals keep their action (TERM and KILL still end the process).
 * armed (optional) runs once the wait is set up: a signal sent from then
 * on wakes the wait, none is lost (a child answers its parent there). */
int vmlab_pause(void (*armed)(void *ctx), void *ctx);
#endif
