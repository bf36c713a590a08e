#ifndef CLINUXSHIMS_H
#define CLINUXSHIMS_H
// Linux headers that Glibc's Swift overlay does not expose, for the event loop.
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

/// accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC; `addr` is a `struct sockaddr *`, `len` a `socklen_t *`.
int csc_accept_nonblocking(int fd, void *addr, void *len);

/// prctl(PR_SET_PDEATHSIG, signal): the kernel sends `signal` to this process when the thread that started it
/// ends (a launcher that dies, even by SIGKILL, takes its children with it). prctl is variadic: Swift cannot call it.
int csc_die_with_parent(int signal);

/// mallopt(M_TOP_PAD, bytes): how much more than asked the heap grows by each time (<malloc.h> is not exposed).
int csc_heap_top_pad(int bytes);

/// Bytes malloc has handed out and not had back (mallinfo2: arena in use plus mmapped chunks), for the benches.
unsigned long csc_heap_in_use(void);

/// Bytes free inside malloc's heap (mallinfo2's fordblks): memory resident but not handed out.
unsigned long csc_heap_free(void);

/// prctl(PR_SET_NAME, name): the calling thread's name as `top -H`, `perf` and /proc show it (15 bytes kept).
int csc_name_thread(const char *name);
#endif
#endif
