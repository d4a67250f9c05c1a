/* cairo through dlopen, shared by every engine that draws (see cairo_dl.h). */
#include "vmlab/cairo_dl.h"

#include <dlfcn.h>
#include <pthread.h>

struct vmlab_cairo vmlab_cx;

static const char *why_not;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
    void *h = dlopen("libcairo.so.2", RTLD_NOW | RTLD_LOCAL);

    if (!h) {
        why_not = dlerror();
        return;
    }
#define X(f) if (!(*(void **)&vmlab_cx.f = dlsym(h, #f))) { why_not = "libcairo.so.2 lacks " #f; return; }
    VMLAB_CAIRO_FNS(X)
#undef X
}

const char *vmlab_cairo_load(void)
{
    pthread_once(&once, load);
    return why_not;
}
