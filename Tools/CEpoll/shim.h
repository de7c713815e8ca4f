// epoll(7) for the benchmark's raw-socket clients: Swift's Glibc module does not carry
// <sys/epoll.h>. Part of libc: nothing to link.
#include <sys/epoll.h>
