/*
 * sflocal_load.c - load generator for bench/sflocal.sh: sf-local + the
 * greeter on loopback, driven over HTTP exactly as a user would.
 *
 *   sflocal_load push  --ingress URL --egress URL -n N -k K -c C
 *                      [--rate R] [--batch B] [--no-drain] [--prefix P]
 *                      [--timeout S]
 *   sflocal_load probe --ingress URL --egress URL -m M [-w W] [--prefix P]
 *
 * push: N greetings (PUT <ingress>/greeter.fns/greet/<prefix><i % K>,
 * text/plain) over C keep-alive connections (httpconn.h, one thread, epoll),
 * open loop at R messages/s or as fast as the ingress accepts (R = 0).
 * With --batch B each request carries B greetings instead, as a Kafka
 * producer batches: a JSON-lines POST to <ingress>/topics/names (the
 * greeter's ingress topic; key = name, value_base64 = its StringWrapper),
 * accepted or refused (503, sent again) as a whole.
 * Meanwhile one connection drains the egress as JSON lines
 * (GET <egress>/egress/greeter.io/greetings/greetings?wait=0.2&max=10000)
 * and one polls <ingress>/metrics every 20 ms. The run ends when
 * sflocal_egress_records_total has grown by N (and, when draining, all N
 * records were read). Latency per message = time the client read its
 * egress record - time it started the PUT (the j-th record of a name is
 * matched with the j-th accepted PUT of that name). With --no-drain the
 * end is taken from /metrics only, and the records are drained afterwards
 * and that drain is timed on its own.
 *
 * probe: closed loop of single messages: PUT one greeting, then
 * GET <egress>/greetings?wait=5 for its record (the key must match);
 * W warm-up rounds, then M measured ones.
 *
 * Output: human-readable lines, and one "RESULT key=value ..." line that
 * bench/sflocal.sh parses. Exit status 0 when every message got through.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>

#include "httpconn.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static _Noreturn void die(const char *m) {
  fprintf(stderr, "sflocal_load: %s\n", m);
  exit(2);
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p) {
  if (!n) return 0;
  size_t i = (size_t)(p / 100.0 * (double)n);
  if (i >= n) i = n - 1;
  return v[i];
}

/* Value of a metric line "name value" in a Prometheus text. */
static double metric(const char *text, const char *name) {
  size_t nl = strlen(name);
  for (const char *p = text; p && *p;) {
    if (strncmp(p, name, nl) == 0 && p[nl] == ' ') return strtod(p + nl + 1, NULL);
    p = strchr(p, '\n');
    if (p) p++;
  }
  return -1;
}

/* ---- options ------------------------------------------------------------- */
static const char *ingress = "http://127.0.0.1:8090";
static const char *egress = "http://127.0.0.1:8091";
static const char *prefix = "u";
static long n_msgs = 20000, n_names = 1000, n_conns = 32, probe_m = 2000, probe_w = 200;
static double rate = 0, timeout_s = 600;
static long batch = 0; /* 0: one PUT per message; B: JSON-lines POSTs of B */
static int drain = 1;

/* ---- the two servers ------------------------------------------------------ */
typedef struct server {
  struct sockaddr_in sa;
  char hostport[128];
  char *base; /* the URL's path without its trailing '/' ("" for none) */
} server;

static server g_in, g_out;
static int g_ep = -1;

static void server_of(server *sv, const char *url) {
  hc_parse_url(url, &sv->sa, sv->hostport, sizeof sv->hostport, &sv->base);
  size_t l = strlen(sv->base);
  while (l && sv->base[l - 1] == '/') sv->base[--l] = 0;
}

/* A GET of base + path, as one request text (malloc'd). */
static char *get_request(const server *sv, const char *path, size_t *len) {
  char *r = NULL;
  int n = asprintf(&r, "GET %s%s HTTP/1.1\r\nHost: %s\r\n\r\n", sv->base, path, sv->hostport);
  if (n < 0) die("out of memory");
  *len = (size_t)n;
  return r;
}

/* Writes a PUT of one greeting to name `name` into req (cap bytes). */
static size_t put_request(char *req, size_t cap, long name) {
  char body[64];
  int bl = snprintf(body, sizeof body, "%s%ld", prefix, name);
  int n = snprintf(req, cap,
                   "PUT %s/greeter.fns/greet/%s HTTP/1.1\r\nHost: %s\r\n"
                   "Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s",
                   g_in.base, body, g_in.hostport, bl, body);
  if (n < 0 || (size_t)n >= cap) die("--prefix too long");
  return (size_t)n;
}

/* Writes a JSON-lines POST of the greetings msgs[0..n) to /topics/names
 * into req (cap bytes). */
static size_t post_request(char *req, size_t cap, const long *msgs, long n) {
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t head = 200 + strlen(g_in.base) + strlen(g_in.hostport);
  if (cap < head) die("--prefix too long");
  char *body = req + head, *p = body;
  for (long i = 0; i < n; i++) {
    char name[64];
    uint8_t sw[66];
    int nl = snprintf(name, sizeof name, "%s%ld", prefix, msgs[i] % n_names);
    if (nl < 0 || nl > 60) die("--prefix too long");
    sw[0] = 0x0A; /* StringWrapper{value = name} */
    sw[1] = (uint8_t)nl;
    memcpy(sw + 2, name, (size_t)nl);
    size_t sl = (size_t)nl + 2;
    if ((size_t)(p - req) + 64 + (size_t)nl + sl * 2 > cap) die("batch too large");
    p += sprintf(p, "{\"key\":\"%s\",\"value_base64\":\"", name);
    for (size_t k = 0; k < sl; k += 3) {
      uint32_t v = (uint32_t)sw[k] << 16 | (k + 1 < sl ? (uint32_t)sw[k + 1] << 8 : 0) |
                   (k + 2 < sl ? sw[k + 2] : 0);
      *p++ = b64[v >> 18 & 63];
      *p++ = b64[v >> 12 & 63];
      *p++ = k + 1 < sl ? b64[v >> 6 & 63] : '=';
      *p++ = k + 2 < sl ? b64[v & 63] : '=';
    }
    p += sprintf(p, "\"}\n");
  }
  size_t bl = (size_t)(p - body);
  char h[256];
  int hl = snprintf(h, sizeof h,
                    "POST %s/topics/names HTTP/1.1\r\nHost: %s\r\n"
                    "Content-Type: application/x-ndjson\r\nContent-Length: %zu\r\n\r\n",
                    g_in.base, g_in.hostport, bl);
  if (hl < 0 || (size_t)hl >= sizeof h || (size_t)hl > head) die("--prefix too long");
  memmove(req + hl, body, bl);
  memcpy(req, h, (size_t)hl);
  return (size_t)hl + bl;
}

/* One request on c, waiting for its reply (up to timeout_s); HC_DONE or
 * HC_BROKEN (the connection is then reopened). */
static int roundtrip(hc_conn *c, const server *sv, const char *req, size_t len) {
  int rc = hc_send(c, req, len);
  double end = now_s() + timeout_s;
  while (rc == HC_MORE && now_s() < end) {
    struct epoll_event ev;
    int n = epoll_wait(c->ep, &ev, 1, 100);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    if (n <= 0) continue;
    if (ev.events & EPOLLOUT) rc = hc_on_writable(c);
    if (rc == HC_MORE && (ev.events & (EPOLLIN | EPOLLERR | EPOLLHUP))) rc = hc_on_readable(c);
  }
  if (rc != HC_DONE) {
    hc_reopen(c, &sv->sa);
    return HC_BROKEN;
  }
  if (c->resp.close) hc_reopen(c, &sv->sa);
  return HC_DONE;
}

/* The body of c's reply (NUL-terminated). */
static const char *body_of(const hc_conn *c) { return (const char *)c->in + c->resp.body_off; }

/* ---- push ------------------------------------------------------------------ */
typedef struct {
  hc_conn h;
  long *msgs; /* the message indexes in flight */
  long nm;    /* how many (0: idle) */
  char *req;
  size_t cap;
} conn;

typedef struct {
  long *acc;   /* message indexes in order of acceptance */
  long n_acc;  /* accepted so far */
  double *rd;  /* times the records of this name were read, in order */
  long n_read; /* egress records read */
  long cap;
} name_st;

/* Parses JSON lines of the egress; returns records. */
static long parse_drain(const char *p, name_st *names, double t, long *bad) {
  long recs = 0;
  size_t pl = strlen(prefix);
  while (p && *p) {
    const char *k = strstr(p, "\"key\":\"");
    const char *eol = strchr(p, '\n');
    if (!k || (eol && k > eol)) {
      p = eol ? eol + 1 : NULL;
      continue;
    }
    k += 7;
    recs++;
    long idx = -1;
    if (strncmp(k, prefix, pl) == 0) {
      char *end;
      idx = strtol(k + pl, &end, 10);
      if (*end != '"' || idx < 0 || idx >= n_names) idx = -1;
    }
    if (idx < 0) {
      (*bad)++;
    } else {
      name_st *ns = &names[idx];
      if (ns->n_read < ns->cap) ns->rd[ns->n_read] = t;
      ns->n_read++;
    }
    p = eol ? eol + 1 : NULL;
  }
  return recs;
}

static int do_push(void) {
  if (n_names <= 0 || n_msgs <= 0 || n_conns <= 0) die("bad -n/-k/-c");
  long per = (n_msgs + n_names - 1) / n_names;
  name_st *names = calloc((size_t)n_names, sizeof(*names));
  double *send_t = calloc((size_t)n_msgs, sizeof(double));
  double *lat = calloc((size_t)n_msgs, sizeof(double));
  conn *cs = calloc((size_t)n_conns, sizeof(*cs));
  if (!names || !send_t || !lat || !cs) die("out of memory");
  for (long i = 0; i < n_names; i++) {
    names[i].cap = per + 1;
    names[i].acc = calloc((size_t)per + 1, sizeof(long));
    names[i].rd = calloc((size_t)per + 1, sizeof(double));
    if (!names[i].acc || !names[i].rd) die("out of memory");
  }

  /* baseline metrics */
  size_t mlen, dlen;
  char *mreq = get_request(&g_in, "/metrics", &mlen);
  char *dreq = get_request(&g_out, "/egress/greeter.io/greetings/greetings?wait=0.2&max=10000",
                           &dlen);
  hc_conn mh = {.id = -1}, dh = {.id = -2};
  if (hc_open(&mh, &g_in.sa, g_ep) < 0) die("cannot connect to the ingress");
  if (roundtrip(&mh, &g_in, mreq, mlen) != HC_DONE || mh.resp.status != 200)
    die("cannot GET /metrics");
  double base_egress = metric(body_of(&mh), "sflocal_egress_records_total");
  double base_inv = metric(body_of(&mh), "sflocal_invocations_total");
  double base_batches = metric(body_of(&mh), "sflocal_batches_total");
  double base_ingress = metric(body_of(&mh), "sflocal_ingress_messages_total");
  double base_retries = metric(body_of(&mh), "sflocal_retries_total");
  double base_missing = metric(body_of(&mh), "sflocal_missing_state_total");

  long per_req = batch > 0 ? batch : 1;
  for (long i = 0; i < n_conns; i++) {
    cs[i].msgs = calloc((size_t)per_req, sizeof(long));
    cs[i].cap = 512 + (size_t)per_req * (160 + 3 * strlen(prefix));
    cs[i].req = malloc(cs[i].cap);
    if (!cs[i].msgs || !cs[i].req) die("out of memory");
    cs[i].h.id = i;
    if (hc_open(&cs[i].h, &g_in.sa, g_ep) < 0) die("cannot connect to the ingress");
  }
  if (drain && hc_open(&dh, &g_out.sa, g_ep) < 0) die("cannot connect to the egress");
  int metrics_busy = 0;
  double next_metrics = 0;

  long next = 0, accepted = 0, busy503 = 0, errors = 0, drained = 0, bad = 0, drain_gets = 0;
  long n_lat = 0;
  double t_start = now_s(), t_ingress_done = 0, t_e2e = 0, t_produced = 0;
  double egress_now = base_egress, queued_max = 0, inflight_max = 0;
  long retry_q_n = 0;
  long *retry_q = calloc((size_t)n_msgs, sizeof(long)); /* 503s to resend (a ring) */
  if (!retry_q) die("out of memory");
  long retry_head = 0;
  if (drain && hc_send(&dh, dreq, dlen) == HC_BROKEN) die("cannot GET the egress");

  for (;;) {
    double t = now_s();
    /* hand out messages to idle connections */
    for (long i = 0; i < n_conns; i++) {
      conn *c = &cs[i];
      if (c->nm > 0) continue;
      while (c->nm < per_req) {
        long m;
        if (retry_head < retry_q_n) {
          m = retry_q[retry_head++ % n_msgs];
        } else if (next < n_msgs) {
          if (rate > 0 && t < t_start + (double)next / rate) break;
          m = next++;
        } else {
          break;
        }
        c->msgs[c->nm++] = m;
        if (send_t[m] == 0) send_t[m] = t;
      }
      if (c->nm == 0) break;
      size_t len = batch > 0 ? post_request(c->req, c->cap, c->msgs, c->nm)
                             : put_request(c->req, c->cap, c->msgs[0] % n_names);
      if (hc_send(&c->h, c->req, len) == HC_BROKEN) die("the ingress closed a connection");
    }
    if (!metrics_busy && t >= next_metrics) {
      if (hc_send(&mh, mreq, mlen) == HC_BROKEN) die("the ingress closed the /metrics connection");
      metrics_busy = 1;
      next_metrics = t + 0.02;
    }
    /* wait for activity, but not past the next paced send or metrics poll */
    long wait_ms = 5;
    if (rate > 0 && next < n_msgs) {
      /* due already: every connection is busy, wait for one (no spinning) */
      double d = t_start + (double)next / rate - now_s();
      long dm = d > 0 ? (long)(d * 1000) + 1 : wait_ms;
      if (dm < wait_ms) wait_ms = dm;
    }
    struct epoll_event evs[64];
    int nev = epoll_wait(g_ep, evs, 64, (int)wait_ms);
    if (nev < 0 && errno != EINTR) die("epoll_wait");
    for (int e = 0; e < nev; e++) {
      hc_conn *h = evs[e].data.ptr;
      int rc = HC_MORE;
      if ((evs[e].events & EPOLLOUT) && h->busy) rc = hc_on_writable(h);
      if (rc == HC_MORE && (evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        rc = hc_on_readable(h);
      if (rc == HC_MORE) continue;
      double tt = now_s();
      long status = rc == HC_DONE ? h->resp.status : 0;
      if (h == &mh) {
        metrics_busy = 0;
        if (status == 200) {
          double eg = metric(body_of(h), "sflocal_egress_records_total");
          double q = metric(body_of(h), "sflocal_queued");
          double fl = metric(body_of(h), "sflocal_in_flight");
          if (q > queued_max) queued_max = q;
          if (fl > inflight_max) inflight_max = fl;
          if (eg >= base_egress + (double)n_msgs && egress_now < base_egress + (double)n_msgs)
            t_produced = tt;
          egress_now = eg;
        }
        if (rc == HC_BROKEN || h->resp.close) hc_reopen(h, &g_in.sa);
        continue;
      }
      if (h == &dh) {
        if (status == 200)
          drained += parse_drain(body_of(h), names, tt, &bad), drain_gets++;
        else if (status != 204)
          errors++;
        if (rc == HC_BROKEN || h->resp.close) hc_reopen(h, &g_out.sa);
        if (drained < n_msgs && hc_send(h, dreq, dlen) == HC_BROKEN)
          die("the egress closed a connection");
        continue;
      }
      conn *c = (conn *)h;
      long nm = c->nm;
      c->nm = 0;
      if (nm == 0) { /* an idle connection closed */
        hc_reopen(h, &g_in.sa);
        continue;
      }
      if (status == 202) {
        for (long j = 0; j < nm; j++) {
          name_st *ns = &names[c->msgs[j] % n_names];
          ns->acc[ns->n_acc++] = c->msgs[j];
        }
        accepted += nm;
        if (accepted == n_msgs) t_ingress_done = tt;
      } else {
        if (status == 503) {
          busy503++;
        } else {
          errors++;
          if (errors <= 5)
            fprintf(stderr, "sflocal_load: %s of %ld message(s) from %s%ld -> %s, HTTP %ld%s%.200s\n",
                    batch > 0 ? "POST" : "PUT", nm, prefix, c->msgs[0] % n_names,
                    rc == HC_BROKEN ? "connection broken" : "reply", status,
                    rc == HC_DONE ? ": " : "", rc == HC_DONE ? body_of(h) : "");
          if (errors > 1000) die("too many errors");
        }
        for (long j = 0; j < nm; j++) retry_q[retry_q_n++ % n_msgs] = c->msgs[j];
      }
      if (rc == HC_BROKEN || h->resp.close) hc_reopen(h, &g_in.sa);
    }
    if (accepted == n_msgs && t_produced > 0 && (!drain || drained >= n_msgs)) {
      t_e2e = drain ? now_s() : t_produced;
      break;
    }
    if (now_s() - t_start > timeout_s) {
      fprintf(stderr, "sflocal_load: timeout: accepted %ld/%ld, egress %.0f/%ld, drained %ld\n",
              accepted, n_msgs, egress_now - base_egress, n_msgs, drained);
      break;
    }
  }
  /* a GET still in flight is left to its connection: the ones below are new */
  hc_reopen(&mh, &g_in.sa);

  /* final metrics */
  if (roundtrip(&mh, &g_in, mreq, mlen) != HC_DONE || mh.resp.status != 200)
    die("cannot GET /metrics");
  const char *mb = body_of(&mh);
  double inv = metric(mb, "sflocal_invocations_total") - base_inv;
  double batches = metric(mb, "sflocal_batches_total") - base_batches;
  double bmax = metric(mb, "sflocal_batch_size_max");
  double ing = metric(mb, "sflocal_ingress_messages_total") - base_ingress;
  double retries = metric(mb, "sflocal_retries_total") - base_retries;
  double missing = metric(mb, "sflocal_missing_state_total") - base_missing;
  double egress_total = metric(mb, "sflocal_egress_records_total") - base_egress;

  /* with --no-drain: drain now, timed on its own */
  double drain_after_s = 0;
  long drained_after = 0;
  if (!drain) {
    size_t len;
    char *req =
        get_request(&g_out, "/egress/greeter.io/greetings/greetings?wait=0.5&max=10000", &len);
    if (hc_open(&dh, &g_out.sa, g_ep) < 0) die("cannot connect to the egress");
    double t0 = now_s();
    while (drained_after < n_msgs) {
      if (roundtrip(&dh, &g_out, req, len) != HC_DONE || dh.resp.status != 200) break;
      long c = 0;
      for (const char *p = body_of(&dh); p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) c++;
      drained_after += c;
    }
    drain_after_s = now_s() - t0;
    free(req);
  }

  /* the j-th record of a name belongs to the j-th accepted PUT of it */
  for (long i = 0; i < n_names; i++) {
    long nm = names[i].n_acc < names[i].n_read ? names[i].n_acc : names[i].n_read;
    if (nm > names[i].cap) nm = names[i].cap;
    for (long j = 0; j < nm; j++) lat[n_lat++] = names[i].rd[j] - send_t[names[i].acc[j]];
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  double ingress_s = (t_ingress_done > 0 ? t_ingress_done : now_s()) - t_start;
  double e2e_s = t_e2e > 0 ? t_e2e - t_start : 0;
  double produced_s = t_produced > 0 ? t_produced - t_start : 0;
  qsort(lat, (size_t)n_lat, sizeof(double), cmp_d);
  printf("push: %ld messages to %ld addresses over %ld connections%s", n_msgs, n_names, n_conns,
         rate > 0 ? "" : " (as fast as accepted)");
  if (batch > 0) printf(", %ld per request (JSON lines to /topics/names)", batch);
  printf("\n");
  if (rate > 0) printf("  offered rate        %.0f msg/s\n", rate);
  printf("  ingress accepted    %ld in %.3f s = %.0f msg/s (503 busy: %ld, errors: %ld)\n",
         accepted, ingress_s, accepted / ingress_s, busy503, errors);
  printf("  egress produced     %.0f, all %ld by %.3f s = %.0f msg/s end to end\n", egress_total,
         n_msgs, produced_s, produced_s > 0 ? n_msgs / produced_s : 0);
  if (drain)
    printf("  egress drained      %ld (JSON lines, concurrently) in %ld GETs, done at %.3f s = %.0f msg/s; bad keys %ld\n",
           drained, drain_gets, e2e_s, e2e_s > 0 ? drained / e2e_s : 0, bad);
  else
    printf("  egress drained      %ld afterwards in %.3f s = %.0f records/s\n", drained_after,
           drain_after_s, drain_after_s > 0 ? drained_after / drain_after_s : 0);
  printf("  engine              invocations %.0f, batches %.0f (%.2f inv/batch), batch max %.0f, "
         "missing-state %.0f, retries %.0f, queued max %.0f, in flight max %.0f\n",
         inv, batches, batches > 0 ? inv / batches : 0, bmax, missing, retries, queued_max,
         inflight_max);
  if (n_lat)
    printf("  latency PUT start -> record read (ms): p50 %.2f p90 %.2f p99 %.2f max %.2f (n=%ld)\n",
           pct(lat, n_lat, 50) * 1e3, pct(lat, n_lat, 90) * 1e3, pct(lat, n_lat, 99) * 1e3,
           lat[n_lat - 1] * 1e3, n_lat);
  printf("RESULT mode=push n=%ld k=%ld c=%ld batch=%ld rate=%.0f accepted=%ld ingress_s=%.4f ingress_rate=%.1f "
         "produced_s=%.4f e2e_rate=%.1f drained=%ld drain_s=%.4f drain_rate=%.1f busy503=%ld "
         "errors=%ld bad=%ld ingress_metric=%.0f egress=%.0f invocations=%.0f batches=%.0f "
         "batch_max=%.0f inv_per_batch=%.2f missing_state=%.0f retries=%.0f queued_max=%.0f "
         "inflight_max=%.0f lat_n=%ld lat_p50=%.3f lat_p90=%.3f lat_p99=%.3f lat_max=%.3f loadgen_cpu_s=%.3f\n",
         n_msgs, n_names, n_conns, batch, rate, accepted, ingress_s, accepted / ingress_s, produced_s,
         produced_s > 0 ? n_msgs / produced_s : 0, drain ? drained : drained_after,
         drain ? e2e_s : drain_after_s,
         drain ? (e2e_s > 0 ? drained / e2e_s : 0)
               : (drain_after_s > 0 ? drained_after / drain_after_s : 0),
         busy503, errors, bad, ing, egress_total, inv, batches, bmax,
         batches > 0 ? inv / batches : 0, missing, retries, queued_max, inflight_max, n_lat,
         pct(lat, n_lat, 50) * 1e3, pct(lat, n_lat, 90) * 1e3, pct(lat, n_lat, 99) * 1e3,
         n_lat ? lat[n_lat - 1] * 1e3 : 0, cpu_s);
  int ok = accepted == n_msgs && egress_total >= (double)n_msgs &&
           (drain ? drained == n_msgs : drained_after == n_msgs) && bad == 0;
  return ok ? 0 : 1;
}

/* ---- probe ----------------------------------------------------------------- */
/* The value of the X-Key header of c's reply (the parser has cut each
 * header line at its end with a NUL), or NULL. */
static const char *x_key(const hc_conn *c) {
  const char *head = (const char *)c->in;
  for (size_t i = 0; i + 8 < c->resp.body_off; i++)
    if (head[i] == '\n' && strncasecmp(head + i + 1, "X-Key: ", 7) == 0) return head + i + 8;
  return NULL;
}

static int do_probe(void) {
  if (probe_m <= 0 || probe_w < 0) die("bad -m/-w");
  hc_conn put = {0}, get = {0};
  if (hc_open(&put, &g_in.sa, g_ep) < 0) die("cannot connect to the ingress");
  if (hc_open(&get, &g_out.sa, g_ep) < 0) die("cannot connect to the egress");
  size_t glen;
  char *greq = get_request(&g_out, "/greetings?wait=5", &glen);
  double *lat = calloc((size_t)probe_m, sizeof(double));
  double *lat_put = calloc((size_t)probe_m, sizeof(double));
  if (!lat || !lat_put) die("out of memory");
  long errors = 0, wrong = 0;
  char req[512], body[64];
  for (long i = -probe_w; i < probe_m; i++) {
    long name = (i + probe_w) % 100;
    snprintf(body, sizeof body, "%s%ld", prefix, name);
    size_t len = put_request(req, sizeof req, name);
    double t0 = now_s();
    if (roundtrip(&put, &g_in, req, len) != HC_DONE || put.resp.status != 202) {
      errors++;
      continue;
    }
    double t1 = now_s();
    if (roundtrip(&get, &g_out, greq, glen) != HC_DONE || get.resp.status != 200) {
      errors++;
      continue;
    }
    double t2 = now_s();
    const char *k = x_key(&get);
    if (!k || strcmp(k, body) != 0) wrong++;
    if (i >= 0) {
      lat[i] = t2 - t0;
      lat_put[i] = t1 - t0;
    }
  }
  qsort(lat, (size_t)probe_m, sizeof(double), cmp_d);
  qsort(lat_put, (size_t)probe_m, sizeof(double), cmp_d);
  printf("probe: %ld closed-loop round trips after %ld warm-up (PUT, then GET /greetings?wait=5)\n",
         probe_m, probe_w);
  printf("  ingress -> egress (ms): p50 %.3f p90 %.3f p99 %.3f max %.3f\n", pct(lat, probe_m, 50) * 1e3,
         pct(lat, probe_m, 90) * 1e3, pct(lat, probe_m, 99) * 1e3, pct(lat, probe_m, 100) * 1e3);
  printf("  PUT alone (ms):         p50 %.3f p90 %.3f p99 %.3f max %.3f\n",
         pct(lat_put, probe_m, 50) * 1e3, pct(lat_put, probe_m, 90) * 1e3,
         pct(lat_put, probe_m, 99) * 1e3, pct(lat_put, probe_m, 100) * 1e3);
  printf("  errors %ld, wrong key %ld\n", errors, wrong);
  printf("RESULT mode=probe m=%ld w=%ld p50=%.3f p90=%.3f p99=%.3f max=%.3f put_p50=%.3f "
         "put_p99=%.3f errors=%ld wrong=%ld\n",
         probe_m, probe_w, pct(lat, probe_m, 50) * 1e3, pct(lat, probe_m, 90) * 1e3,
         pct(lat, probe_m, 99) * 1e3, pct(lat, probe_m, 100) * 1e3, pct(lat_put, probe_m, 50) * 1e3,
         pct(lat_put, probe_m, 99) * 1e3, errors, wrong);
  return errors == 0 && wrong == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc < 2) die("usage: sflocal_load push|probe [options] (see the comment at the top)");
  const char *mode = argv[1];
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--no-drain")) {
      drain = 0;
      continue;
    }
    if (!v) die("option needs a value");
    i++;
    if (!strcmp(a, "--ingress")) ingress = v;
    else if (!strcmp(a, "--egress")) egress = v;
    else if (!strcmp(a, "--prefix")) prefix = v;
    else if (!strcmp(a, "-n")) n_msgs = atol(v);
    else if (!strcmp(a, "-k")) n_names = atol(v);
    else if (!strcmp(a, "-c")) n_conns = atol(v);
    else if (!strcmp(a, "-m")) probe_m = atol(v);
    else if (!strcmp(a, "-w")) probe_w = atol(v);
    else if (!strcmp(a, "--rate")) rate = atof(v);
    else if (!strcmp(a, "--batch")) batch = atol(v);
    else if (!strcmp(a, "--timeout")) timeout_s = atof(v);
    else die("unknown option");
  }
  server_of(&g_in, ingress);
  server_of(&g_out, egress);
  g_ep = epoll_create1(EPOLL_CLOEXEC);
  if (g_ep < 0) die("epoll_create1");
  int rc;
  if (!strcmp(mode, "push")) rc = do_push();
  else if (!strcmp(mode, "probe")) rc = do_probe();
  else die("mode is push or probe");
  return rc;
}
