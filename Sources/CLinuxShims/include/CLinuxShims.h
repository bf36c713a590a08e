#ifndef CLINUXSHIMS_H
#define CLINUXSHIMS_H
// Linux headers that Glibc's Swift overlay does not expose. The event loop (issue 3) uses them.
#ifdef __linux__
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>

static inline int csc_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    return accept4(fd, addr, len, flags);
}
#endif
#endif
