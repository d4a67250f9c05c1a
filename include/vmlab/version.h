#ifndef VMLAB_VERSION_H
#define VMLAB_VERSION_H
#define VMLAB_VERSION "0.1.0"
#endif
