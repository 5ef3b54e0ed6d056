/*
 * listen.c - opening a listening TCP socket (see sfb/listen.h).
 */
#define _GNU_SOURCE /* SOCK_CLOEXEC, SOCK_NONBLOCK */
#include "sfb/listen.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A socket bound and listening on `ai`, or -1 with errno set. */
static int bind_one(const struct addrinfo *ai) {
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                  ai->ai_protocol);
  if (fd < 0) return -1;
  /* A restarted server must not wait out TIME_WAIT of its old sockets. */
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0)
    return fd;
  int saved = errno;
  close(fd);
  errno = saved;
  return -1;
}

/* The port and family the kernel gave the socket (port 0 asked). */
static void read_back(sfb_listener *out, uint16_t asked) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  out->port = asked;
  if (getsockname(out->fd, (struct sockaddr *)&ss, &sl) != 0) return;
  out->ipv6 = ss.ss_family == AF_INET6;
  if (ss.ss_family == AF_INET)
    out->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  else if (ss.ss_family == AF_INET6)
    out->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  if (out->port == 0) out->port = asked;
}

int sfb_listen_tcp(const char *host, uint16_t port, sfb_listener *out) {
  memset(out, 0, sizeof *out);
  out->fd = -1;
  char service[8];
  snprintf(service, sizeof service, "%u", (unsigned)port);
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  struct addrinfo *res = NULL;
  out->gai_error = getaddrinfo(host, service, &hints, &res);
  if (out->gai_error != 0) return -1;
  for (struct addrinfo *ai = res; ai && out->fd < 0; ai = ai->ai_next) {
    out->fd = bind_one(ai);
    if (out->fd < 0) out->sys_errno = errno;
  }
  freeaddrinfo(res);
  if (out->fd < 0) return -1;
  out->sys_errno = 0;
  read_back(out, port);
  return 0;
}

const char *sfb_listen_strerror(const sfb_listener *l) {
  if (l->gai_error) return gai_strerror(l->gai_error);
  return strerror(l->sys_errno);
}
