/*
 * test_listen.c - the listening socket (sfb/listen.h) on loopback: a free
 * port from port 0, a connection accepted, the flags a libmicrohttpd
 * listen socket needs, and the two kinds of failure.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sfb/listen.h"

Test(listen, port_zero_binds_a_free_port_that_accepts) {
  sfb_listener l;
  cr_assert_eq(sfb_listen_tcp("127.0.0.1", 0, &l), 0, "%s",
               sfb_listen_strerror(&l));
  cr_assert(l.fd >= 0 && l.port != 0 && !l.ipv6);
  cr_assert(fcntl(l.fd, F_GETFL) & O_NONBLOCK);
  cr_assert(fcntl(l.fd, F_GETFD) & FD_CLOEXEC);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(l.port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  cr_assert_eq(connect(c, (struct sockaddr *)&a, sizeof a), 0, "%s",
               strerror(errno));
  close(c);
  close(l.fd);
}

Test(listen, port_in_use_is_a_system_error) {
  sfb_listener a, b;
  cr_assert_eq(sfb_listen_tcp("127.0.0.1", 0, &a), 0);
  cr_assert_eq(sfb_listen_tcp("127.0.0.1", a.port, &b), -1);
  cr_assert_eq(b.fd, -1);
  cr_assert_eq(b.gai_error, 0);
  cr_assert_eq(b.sys_errno, EADDRINUSE);
  cr_assert_str_eq(sfb_listen_strerror(&b), strerror(EADDRINUSE));
  close(a.fd);
}

Test(listen, unresolvable_host_is_a_resolver_error) {
  sfb_listener l;
  cr_assert_eq(sfb_listen_tcp("no such host!", 0, &l), -1);
  cr_assert_eq(l.fd, -1);
  cr_assert_neq(l.gai_error, 0);
  cr_assert_str_eq(sfb_listen_strerror(&l), gai_strerror(l.gai_error));
}
