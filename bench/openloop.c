/*
 * openloop.c - open-loop HTTP load generator for bench/run.sh: POSTs one
 * body at a constant rate and measures each request's latency from the
 * time it was *meant* to be sent, so a server that stalls is charged for
 * every request that queued behind the stall (no coordinated omission,
 * what wrk2 does; wrk2 is not packaged in Debian).
 *
 *   openloop --url http://127.0.0.1:PORT/PATH --body FILE --rate R
 *            [--duration S] [--warmup S] [--connections C] [--timeout S]
 *
 * Request k is due at t0 + k / R. Due requests go out on an idle
 * keep-alive connection (one request in flight per connection, like the
 * StateFun runtime); when all C connections are busy they wait, and that
 * wait counts in their latency. Requests due during the first --warmup
 * seconds are sent but not measured. The connections are httpconn.h's
 * (replies read by sfbase's response parser: Content-Length or chunked
 * encoding); any status other than 200, a closed connection or a reply
 * later than --timeout counts as an error. One thread, epoll, a timerfd
 * for the send schedule.
 *
 * Output: one line "OPENLOOP key=value ..." (latencies in microseconds)
 * that run.sh parses. Exit status 0 when every request got a 200.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "httpconn.h"

static _Noreturn void die(const char *what) {
  fprintf(stderr, "openloop: %s%s%s\n", what, errno ? ": " : "",
          errno ? strerror(errno) : "");
  exit(2);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- one connection ------------------------------------------------------ */
typedef struct conn {
  hc_conn h;
  int64_t due;      /* when the request in flight was meant to be sent */
  int measured;     /* it was due after the warm-up */
} conn;

static struct sockaddr_in g_addr;
static char *g_req;
static size_t g_req_len;
static int g_ep;

/* ---- the run --------------------------------------------------------------- */
typedef struct run {
  double rate;
  int64_t t0, warm_ns, end_ns;
  long total, scheduled, dispatched, done, errors, measured_ok;
  long max_backlog;
  double *lat_us;
  long nlat;
  int64_t last_done;
} run;

static void dispatch(run *r, conn *cs, int nc) {
  for (int i = 0; i < nc && r->dispatched < r->scheduled; i++) {
    conn *c = &cs[i];
    if (c->h.busy) continue;
    long k = r->dispatched++;
    c->due = r->t0 + (int64_t)((double)k * 1e9 / r->rate);
    c->measured = c->due - r->t0 >= r->warm_ns;
    if (hc_send(&c->h, g_req, g_req_len) == HC_BROKEN) {
      r->errors++;
      r->done++;
      hc_reopen(&c->h, &g_addr);
    }
  }
  long backlog = r->scheduled - r->dispatched;
  if (backlog > r->max_backlog) r->max_backlog = backlog;
}

static void finish(run *r, conn *c, int ok) {
  int64_t t = now_ns();
  if (ok && c->measured) r->lat_us[r->nlat++] = (double)(t - c->due) / 1e3;
  if (!ok) r->errors++;
  r->done++;
  r->last_done = t;
}

static void on_readable(run *r, conn *c) {
  bool busy = c->h.busy;
  int rc = hc_on_readable(&c->h);
  if (rc == HC_BROKEN) {
    if (busy) finish(r, c, 0);
    hc_reopen(&c->h, &g_addr);
  } else if (rc == HC_DONE) {
    finish(r, c, c->h.resp.status == 200);
    if (c->h.resp.close) hc_reopen(&c->h, &g_addr);
  }
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(const double *v, long n, double q) {
  if (n == 0) return 0;
  long i = (long)ceil(q * (double)n) - 1;
  return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static void load_request(const char *url, const char *body_path) {
  char hostport[128], *path;
  hc_parse_url(url, &g_addr, hostport, sizeof hostport, &path);
  FILE *f = fopen(body_path, "rb");
  if (f == NULL) die(body_path);
  struct stat st;
  if (fstat(fileno(f), &st) < 0) die("stat");
  size_t blen = (size_t)st.st_size;
  char head[512];
  int hl = snprintf(head, sizeof head,
                    "POST %s HTTP/1.1\r\nHost: %s\r\n"
                    "Content-Type: application/octet-stream\r\n"
                    "Accept: application/octet-stream\r\n"
                    "User-Agent: statefun\r\nContent-Length: %zu\r\n\r\n",
                    path, hostport, blen);
  g_req_len = (size_t)hl + blen;
  g_req = malloc(g_req_len);
  if (g_req == NULL) die("out of memory");
  memcpy(g_req, head, (size_t)hl);
  if (fread(g_req + hl, 1, blen, f) != blen) die("short read of --body");
  fclose(f);
  free(path);
}

static void arm(int tfd, int64_t at) {
  struct itimerspec its = {.it_value = {.tv_sec = at / 1000000000,
                                        .tv_nsec = at % 1000000000}};
  timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void usage(void) {
  fprintf(stderr, "usage: openloop --url http://127.0.0.1:PORT/PATH --body FILE "
                  "--rate R [--duration S] [--warmup S] [--connections C] "
                  "[--timeout S]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *url = NULL, *body = NULL;
  double rate = 0, duration = 10, warmup = 1, timeout = 10;
  int nc = 32;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage();
    const char *k = argv[i], *v = argv[++i];
    if (!strcmp(k, "--url")) url = v;
    else if (!strcmp(k, "--body")) body = v;
    else if (!strcmp(k, "--rate")) rate = atof(v);
    else if (!strcmp(k, "--duration")) duration = atof(v);
    else if (!strcmp(k, "--warmup")) warmup = atof(v);
    else if (!strcmp(k, "--connections")) nc = atoi(v);
    else if (!strcmp(k, "--timeout")) timeout = atof(v);
    else usage();
  }
  if (!url || !body || rate <= 0 || duration <= 0 || nc < 1 || warmup < 0)
    usage();
  load_request(url, body);
  g_ep = epoll_create1(EPOLL_CLOEXEC);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (g_ep < 0 || tfd < 0) die("epoll/timerfd");
  struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(g_ep, EPOLL_CTL_ADD, tfd, &tev);
  conn *cs = calloc((size_t)nc, sizeof *cs);
  if (cs == NULL) die("out of memory");
  for (int i = 0; i < nc; i++)
    if (hc_open(&cs[i].h, &g_addr, g_ep) < 0) die("connect");

  run r = {.rate = rate};
  r.total = (long)((warmup + duration) * rate);
  if (r.total < 1) r.total = 1;
  r.lat_us = malloc(sizeof(double) * (size_t)r.total);
  if (r.lat_us == NULL) die("out of memory");
  r.t0 = now_ns() + 1000000; /* connects settle */
  r.warm_ns = (int64_t)(warmup * 1e9);
  int64_t deadline = 0;
  struct epoll_event evs[64];
  while (r.done < r.total) {
    int64_t t = now_ns();
    while (r.scheduled < r.total &&
           r.t0 + (int64_t)((double)r.scheduled * 1e9 / rate) <= t)
      r.scheduled++;
    dispatch(&r, cs, nc);
    if (r.scheduled < r.total)
      arm(tfd, r.t0 + (int64_t)((double)r.scheduled * 1e9 / rate));
    else if (deadline == 0)
      deadline = t + (int64_t)(timeout * 1e9);
    if (deadline && t > deadline) { /* unanswered: errors */
      r.errors += r.total - r.done;
      break;
    }
    int n = epoll_wait(g_ep, evs, 64, deadline ? 100 : -1);
    for (int i = 0; i < n; i++) {
      conn *c = evs[i].data.ptr;
      if (c == NULL) {
        uint64_t x;
        (void)!read(tfd, &x, sizeof x);
        continue;
      }
      if ((evs[i].events & EPOLLOUT) && c->h.busy && hc_on_writable(&c->h) == HC_BROKEN) {
        finish(&r, c, 0);
        hc_reopen(&c->h, &g_addr);
        continue;
      }
      if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(&r, c);
    }
  }
  qsort(r.lat_us, (size_t)r.nlat, sizeof(double), cmp_d);
  double sum = 0;
  for (long i = 0; i < r.nlat; i++) sum += r.lat_us[i];
  double span = (double)(r.last_done - r.t0 - r.warm_ns) / 1e9;
  printf("OPENLOOP rate=%.1f duration_s=%.1f sent=%ld measured=%ld "
         "errors=%ld achieved_rps=%.1f max_backlog=%ld p50_us=%.0f "
         "p90_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f mean_us=%.1f\n",
         rate, duration, r.dispatched, r.nlat, r.errors,
         span > 0 ? (double)(r.nlat) / span : 0, r.max_backlog,
         pct(r.lat_us, r.nlat, 0.50), pct(r.lat_us, r.nlat, 0.90),
         pct(r.lat_us, r.nlat, 0.99), pct(r.lat_us, r.nlat, 0.999),
         r.nlat ? r.lat_us[r.nlat - 1] : 0, r.nlat ? sum / (double)r.nlat : 0);
  return r.errors ? 1 : 0;
}
