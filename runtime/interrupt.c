/* The interrupt flag shared by the host's SIGINT handler and the engines'
 * long loops; plain C so that engines can poll it without knowing Lua. */
#include "vmlab/interrupt.h"

volatile sig_atomic_t vmlab_interrupt_flag;

void vmlab_interrupt_raise(void) { vmlab_interrupt_flag = 1; }
void vmlab_interrupt_clear(void) { vmlab_interrupt_flag = 0; }
