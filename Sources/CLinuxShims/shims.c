#ifdef __linux__
#define _GNU_SOURCE
#include <malloc.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include "CLinuxShims.h"

int csc_accept_nonblocking(int fd, void *addr, void *len) {
    return accept4(fd, (struct sockaddr *)addr, (socklen_t *)len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int csc_die_with_parent(int signal) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0UL, 0UL, 0UL);
}

int csc_heap_top_pad(int bytes) {
    return mallopt(M_TOP_PAD, bytes);
}

unsigned long csc_heap_in_use(void) {
    struct mallinfo2 info = mallinfo2();
    return (unsigned long)(info.uordblks + info.hblkhd);
}

unsigned long csc_heap_free(void) {
    struct mallinfo2 info = mallinfo2();
    return (unsigned long)info.fordblks;
}

int csc_name_thread(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
}
#endif
