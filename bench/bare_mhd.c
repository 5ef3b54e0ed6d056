/*
 * bare_mhd.c - the HTTP ceiling for bench/run.sh.
 *
 * A bare libmicrohttpd server, configured like our server (server/src), that
 * reads the whole request body and answers every POST with one fixed,
 * valid FromFunction reply (200, Content-Type: application/octet-stream).
 * No protobuf decoding, no SDK: whatever our greeter costs beyond this is the
 * cost of libstatefun + the server glue.
 *
 *   bench_bare_mhd [--listen HOST:PORT] [--threads N] [--reply FILE]
 *
 * --reply FILE sends the bytes of FILE (run.sh passes the official SDK's
 * reply for the same request body, so the ceiling moves as many bytes as
 * the real servers); without it the reply is an empty invocation_result.
 * Runs until SIGINT/SIGTERM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#define MAX_BODY (16u * 1024u * 1024u)

/* FromFunction{invocation_result: {}}: field 100, length 0. */
static const uint8_t k_empty_result[] = {0xA2, 0x06, 0x00};

static const uint8_t *g_reply = k_empty_result;
static size_t g_reply_len = sizeof k_empty_result;

struct body {
  uint8_t *data;
  size_t len, cap;
};

static enum MHD_Result send_reply(struct MHD_Connection *conn,
                                  unsigned status, const void *data,
                                  size_t len, const char *ctype) {
  struct MHD_Response *r = MHD_create_response_from_buffer(
      len, (void *)data, MHD_RESPMEM_PERSISTENT);
  if (!r)
    return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
  enum MHD_Result ret = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls) {
  (void)cls;
  (void)url;
  (void)version;
  struct body *b = *req_cls;
  if (!b) {
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
      static const char msg[] = "POST only\n";
      return send_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, msg,
                        sizeof msg - 1, "text/plain");
    }
    b = calloc(1, sizeof *b);
    if (!b)
      return MHD_NO;
    *req_cls = b;
    return MHD_YES;
  }
  if (*upload_size) {
    size_t n = *upload_size;
    if (b->len + n > MAX_BODY)
      return MHD_NO;
    if (b->len + n > b->cap) {
      size_t cap = b->cap ? b->cap : 1024;
      while (cap < b->len + n)
        cap *= 2;
      uint8_t *d = realloc(b->data, cap);
      if (!d)
        return MHD_NO;
      b->data = d;
      b->cap = cap;
    }
    memcpy(b->data + b->len, upload, n);
    b->len += n;
    *upload_size = 0;
    return MHD_YES;
  }
  /* Whole body read: answer the fixed reply. */
  return send_reply(conn, MHD_HTTP_OK, g_reply, g_reply_len,
                    "application/octet-stream");
}

static void on_completed(void *cls, struct MHD_Connection *conn,
                         void **req_cls, enum MHD_RequestTerminationCode tc) {
  (void)cls;
  (void)conn;
  (void)tc;
  struct body *b = *req_cls;
  if (b) {
    free(b->data);
    free(b);
    *req_cls = NULL;
  }
}

static int load_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "bench_bare_mhd: %s: %s\n", path, strerror(errno));
    return -1;
  }
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      cap = cap ? cap * 2 : 4096;
      uint8_t *nb = realloc(buf, cap);
      if (!nb) {
        fclose(f);
        free(buf);
        return -1;
      }
      buf = nb;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0)
      break;
  }
  fclose(f);
  g_reply = buf;
  g_reply_len = len;
  return 0;
}

static void usage(FILE *out) {
  fprintf(out, "usage: bench_bare_mhd [--listen HOST:PORT] [--threads N] "
               "[--reply FILE]\n");
}

int main(int argc, char **argv) {
  const char *listen = "127.0.0.1:8000";
  long threads = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
      listen = argv[++i];
    } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
      char *end;
      threads = strtol(argv[++i], &end, 10);
      if (*end || threads < 0 || threads > 1024) {
        usage(stderr);
        return 2;
      }
    } else if (!strcmp(argv[i], "--reply") && i + 1 < argc) {
      if (load_file(argv[++i]) != 0)
        return 1;
    } else if (!strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (threads == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    threads = n > 0 ? n : 1;
  }

  char host[256];
  const char *colon = strrchr(listen, ':');
  if (!colon || (size_t)(colon - listen) >= sizeof host) {
    usage(stderr);
    return 2;
  }
  memcpy(host, listen, (size_t)(colon - listen));
  host[colon - listen] = '\0';
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port < 0 || port > 65535) {
    usage(stderr);
    return 2;
  }
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "bench_bare_mhd: bad IPv4 address %s\n", host);
    return 2;
  }

  /* Block the signals before MHD starts its threads, then sigwait. */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  /* Same mode and limits as server/src/server.c (sf_server_start): internal
   * polling thread(s) with epoll (MHD_USE_EPOLL) and MHD_USE_TURBO, an
   * inter-thread channel, MHD's thread pool when more than one thread, 60 s
   * idle timeout, 4096 connections, 12 KiB of memory per connection. */
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                   MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ERROR_LOG;
  struct MHD_OptionItem opts[8];
  size_t n = 0;
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &addr};
  if (threads > 1) /* MHD warns about a pool of 1: one thread is the same */
    opts[n++] =
        (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, threads, NULL};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED,
                                      (intptr_t)on_completed, NULL};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, 60, NULL};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, 4096, NULL};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                      12288, NULL};
  opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
  struct MHD_Daemon *d =
      MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, NULL,
                       MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "bench_bare_mhd: cannot listen on %s\n", listen);
    return 1;
  }
  fprintf(stderr, "bench_bare_mhd: listening on %s, %ld threads, reply %zu "
                  "bytes\n", listen, threads, g_reply_len);
  int sig = 0;
  sigwait(&sigs, &sig);
  MHD_stop_daemon(d);
  return 0;
}
