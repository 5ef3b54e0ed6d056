/*
 * sfb/listen.h - the listening TCP socket every server in the tree starts
 * from: resolve host:port (numeric port, IPv4 or IPv6), bind the first
 * address that works with SO_REUSEADDR, listen, and report the port really
 * bound (port 0 asks the kernel for a free one). The socket is
 * non-blocking and close-on-exec, ready for libmicrohttpd's
 * MHD_OPTION_LISTEN_SOCKET. Callers word their own error messages from
 * the reason given.
 */
#ifndef SFB_LISTEN_H
#define SFB_LISTEN_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sfb_listener {
  int fd;        /* the listening socket, -1 on failure */
  uint16_t port; /* the bound port */
  bool ipv6;     /* the socket is AF_INET6 */
  int gai_error; /* failure: getaddrinfo's code when the host did not resolve */
  int sys_errno; /* failure: errno of the last socket/bind/listen */
} sfb_listener;

/* Opens a listening socket on host:port. 0 on success; -1 with
 * out->gai_error or out->sys_errno set. */
int sfb_listen_tcp(const char *host, uint16_t port, sfb_listener *out);

/* The reason of a failed sfb_listen_tcp (gai_strerror or strerror). */
const char *sfb_listen_strerror(const sfb_listener *l);

#endif /* SFB_LISTEN_H */
