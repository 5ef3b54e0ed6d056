/*
 * sflocal_load.c - load generator for bench/sflocal.sh: sf-local + the
 * greeter on loopback, driven over HTTP exactly as a user would.
 *
 *   sflocal_load push  --ingress URL --egress URL -n N -k K -c C
 *                      [--rate R] [--no-drain] [--prefix P] [--timeout S]
 *   sflocal_load probe --ingress URL --egress URL -m M [-w W] [--prefix P]
 *
 * push: N greetings (PUT <ingress>/greeter.fns/greet/<prefix><i % K>,
 * text/plain) over C keep-alive connections (libcurl multi, one thread),
 * open loop at R messages/s or as fast as the ingress accepts (R = 0).
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
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static _Noreturn void die(const char *m) {
  fprintf(stderr, "sflocal_load: %s\n", m);
  exit(2);
}

/* ---- growable buffer ---------------------------------------------------- */
typedef struct {
  char *p;
  size_t n, cap;
} buf;

static size_t buf_write(char *ptr, size_t sz, size_t nm, void *ud) {
  buf *b = ud;
  size_t len = sz * nm;
  if (b->n + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + len + 1) cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) return 0;
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->n, ptr, len);
  b->n += len;
  b->p[b->n] = 0;
  return len;
}

static size_t discard(char *ptr, size_t sz, size_t nm, void *ud) {
  (void)ptr;
  (void)ud;
  return sz * nm;
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
static int drain = 1;

/* ---- push ------------------------------------------------------------------ */
typedef struct {
  CURL *h;
  long msg; /* message index in flight, -1 idle */
  double t0;
  long status;
  char url[512];
  char body[128];
} conn;

typedef struct {
  long *acc;   /* message indexes in order of acceptance */
  long n_acc;  /* accepted so far */
  double *rd;  /* times the records of this name were read, in order */
  long n_read; /* egress records read */
  long cap;
} name_st;

static CURL *mk_get(const char *url, buf *b) {
  CURL *h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, buf_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  return h;
}

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
  CURLM *multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, n_conns + 8);
  struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: text/plain");
  hdr = curl_slist_append(hdr, "Expect:");

  /* baseline metrics */
  buf mb = {0};
  char murl[512], durl[512];
  snprintf(murl, sizeof murl, "%s/metrics", ingress);
  snprintf(durl, sizeof durl, "%s/egress/greeter.io/greetings/greetings?wait=0.2&max=10000",
           egress);
  CURL *mh = mk_get(murl, &mb);
  if (curl_easy_perform(mh) != CURLE_OK) die("cannot GET /metrics");
  double base_egress = metric(mb.p, "sflocal_egress_records_total");
  double base_inv = metric(mb.p, "sflocal_invocations_total");
  double base_batches = metric(mb.p, "sflocal_batches_total");
  double base_ingress = metric(mb.p, "sflocal_ingress_messages_total");
  double base_retries = metric(mb.p, "sflocal_retries_total");
  double base_missing = metric(mb.p, "sflocal_missing_state_total");
  mb.n = 0;

  for (long i = 0; i < n_conns; i++) {
    cs[i].h = curl_easy_init();
    cs[i].msg = -1;
    curl_easy_setopt(cs[i].h, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(cs[i].h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(cs[i].h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(cs[i].h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cs[i].h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(cs[i].h, CURLOPT_PRIVATE, &cs[i]);
  }
  buf db = {0};
  CURL *dh = drain ? mk_get(durl, &db) : NULL;
  int drain_busy = 0, metrics_busy = 0;
  double next_metrics = 0;

  long next = 0, accepted = 0, busy503 = 0, errors = 0, in_flight = 0, drained = 0, bad = 0;
  long n_lat = 0;
  double t_start = now_s(), t_ingress_done = 0, t_e2e = 0, t_produced = 0;
  double egress_now = base_egress, queued_max = 0, inflight_max = 0;
  long retry_q_n = 0;
  long *retry_q = calloc((size_t)n_msgs, sizeof(long)); /* 503s to resend */
  if (!retry_q) die("out of memory");
  long retry_head = 0;
  if (dh) {
    curl_multi_add_handle(multi, dh);
    drain_busy = 1;
  }

  for (;;) {
    double t = now_s();
    /* hand out messages to idle connections */
    for (long i = 0; i < n_conns; i++) {
      conn *c = &cs[i];
      if (c->msg >= 0) continue;
      long m;
      if (retry_head < retry_q_n) {
        m = retry_q[retry_head++];
      } else if (next < n_msgs) {
        if (rate > 0 && t < t_start + (double)next / rate) break;
        m = next++;
      } else {
        break;
      }
      long name = m % n_names;
      c->msg = m;
      snprintf(c->url, sizeof c->url, "%s/greeter.fns/greet/%s%ld", ingress, prefix, name);
      int bl = snprintf(c->body, sizeof c->body, "%s%ld", prefix, name);
      curl_easy_setopt(c->h, CURLOPT_URL, c->url);
      curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, c->body);
      curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)bl);
      c->t0 = t;
      if (send_t[m] == 0) send_t[m] = t;
      curl_multi_add_handle(multi, c->h);
      in_flight++;
    }
    if (!metrics_busy && t >= next_metrics) {
      mb.n = 0;
      curl_multi_add_handle(multi, mh);
      metrics_busy = 1;
      next_metrics = t + 0.02;
    }
    int running;
    curl_multi_perform(multi, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left))) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL *h = msg->easy_handle;
      CURLcode rc = msg->data.result;
      long status = 0;
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
      curl_multi_remove_handle(multi, h);
      double tt = now_s();
      if (h == mh) {
        metrics_busy = 0;
        if (rc == CURLE_OK && status == 200 && mb.p) {
          double eg = metric(mb.p, "sflocal_egress_records_total");
          double q = metric(mb.p, "sflocal_queued");
          double fl = metric(mb.p, "sflocal_in_flight");
          if (q > queued_max) queued_max = q;
          if (fl > inflight_max) inflight_max = fl;
          if (eg >= base_egress + (double)n_msgs && egress_now < base_egress + (double)n_msgs)
            t_produced = tt;
          egress_now = eg;
        }
        continue;
      }
      if (h == dh) {
        drain_busy = 0;
        if (rc == CURLE_OK && status == 200 && db.p)
          drained += parse_drain(db.p, names, tt, &bad);
        else if (rc != CURLE_OK || (status != 204 && status != 200))
          errors++;
        db.n = 0;
        if (db.p) db.p[0] = 0;
        if (drained < n_msgs) {
          curl_multi_add_handle(multi, dh);
          drain_busy = 1;
        }
        continue;
      }
      conn *c = NULL;
      curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&c);
      in_flight--;
      long m = c->msg;
      c->msg = -1;
      if (rc == CURLE_OK && status == 202) {
        name_st *ns = &names[m % n_names];
        ns->acc[ns->n_acc++] = m;
        accepted++;
        if (accepted == n_msgs) t_ingress_done = tt;
      } else if (rc == CURLE_OK && status == 503) {
        busy503++;
        retry_q[retry_q_n++] = m;
      } else {
        errors++;
        if (errors <= 5)
          fprintf(stderr, "sflocal_load: PUT %s -> %s, HTTP %ld\n", c->url,
                  curl_easy_strerror(rc), status);
        retry_q[retry_q_n++] = m;
        if (errors > 1000) die("too many errors");
      }
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
    /* wait for activity, but not past the next paced send or metrics poll */
    long wait_ms = 5;
    if (rate > 0 && next < n_msgs) {
      /* due already: every connection is busy, wait for one (no spinning) */
      double d = t_start + (double)next / rate - now_s();
      long dm = d > 0 ? (long)(d * 1000) + 1 : wait_ms;
      if (dm < wait_ms) wait_ms = dm;
    }
    curl_multi_poll(multi, NULL, 0, (int)wait_ms, NULL);
  }
  if (metrics_busy) curl_multi_remove_handle(multi, mh);
  if (dh && drain_busy) curl_multi_remove_handle(multi, dh);

  /* final metrics */
  mb.n = 0;
  curl_easy_perform(mh);
  double inv = metric(mb.p, "sflocal_invocations_total") - base_inv;
  double batches = metric(mb.p, "sflocal_batches_total") - base_batches;
  double bmax = metric(mb.p, "sflocal_batch_size_max");
  double ing = metric(mb.p, "sflocal_ingress_messages_total") - base_ingress;
  double retries = metric(mb.p, "sflocal_retries_total") - base_retries;
  double missing = metric(mb.p, "sflocal_missing_state_total") - base_missing;
  double egress_total = metric(mb.p, "sflocal_egress_records_total") - base_egress;

  /* with --no-drain: drain now, timed on its own */
  double drain_after_s = 0;
  long drained_after = 0;
  if (!drain) {
    char url[512];
    snprintf(url, sizeof url, "%s/egress/greeter.io/greetings/greetings?wait=0.5&max=10000",
             egress);
    buf b = {0};
    CURL *h = mk_get(url, &b);
    double t0 = now_s();
    while (drained_after < n_msgs) {
      b.n = 0;
      if (b.p) b.p[0] = 0;
      if (curl_easy_perform(h) != CURLE_OK) break;
      long status = 0;
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
      if (status != 200) break;
      long c = 0;
      for (const char *p = b.p; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) c++;
      drained_after += c;
    }
    drain_after_s = now_s() - t0;
    curl_easy_cleanup(h);
    free(b.p);
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
  printf("push: %ld messages to %ld addresses over %ld connections%s\n", n_msgs, n_names, n_conns,
         rate > 0 ? "" : " (as fast as accepted)");
  if (rate > 0) printf("  offered rate        %.0f msg/s\n", rate);
  printf("  ingress accepted    %ld in %.3f s = %.0f msg/s (503 busy: %ld, errors: %ld)\n",
         accepted, ingress_s, accepted / ingress_s, busy503, errors);
  printf("  egress produced     %.0f, all %ld by %.3f s = %.0f msg/s end to end\n", egress_total,
         n_msgs, produced_s, produced_s > 0 ? n_msgs / produced_s : 0);
  if (drain)
    printf("  egress drained      %ld (JSON lines, concurrently), done at %.3f s = %.0f msg/s; bad keys %ld\n",
           drained, e2e_s, e2e_s > 0 ? drained / e2e_s : 0, bad);
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
  printf("RESULT mode=push n=%ld k=%ld c=%ld rate=%.0f accepted=%ld ingress_s=%.4f ingress_rate=%.1f "
         "produced_s=%.4f e2e_rate=%.1f drained=%ld drain_s=%.4f drain_rate=%.1f busy503=%ld "
         "errors=%ld bad=%ld ingress_metric=%.0f egress=%.0f invocations=%.0f batches=%.0f "
         "batch_max=%.0f inv_per_batch=%.2f missing_state=%.0f retries=%.0f queued_max=%.0f "
         "inflight_max=%.0f lat_n=%ld lat_p50=%.3f lat_p90=%.3f lat_p99=%.3f lat_max=%.3f loadgen_cpu_s=%.3f\n",
         n_msgs, n_names, n_conns, rate, accepted, ingress_s, accepted / ingress_s, produced_s,
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
static int do_probe(void) {
  if (probe_m <= 0 || probe_w < 0) die("bad -m/-w");
  CURL *put = curl_easy_init();
  struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: text/plain");
  hdr = curl_slist_append(hdr, "Expect:");
  curl_easy_setopt(put, CURLOPT_CUSTOMREQUEST, "PUT");
  curl_easy_setopt(put, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(put, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(put, CURLOPT_TCP_NODELAY, 1L);
  buf gb = {0};
  char gurl[512];
  snprintf(gurl, sizeof gurl, "%s/greetings?wait=5", egress);
  CURL *get = mk_get(gurl, &gb);
  /* the X-Key header of the record */
  double *lat = calloc((size_t)probe_m, sizeof(double));
  double *lat_put = calloc((size_t)probe_m, sizeof(double));
  if (!lat || !lat_put) die("out of memory");
  long errors = 0, wrong = 0;
  char url[512], body[128];
  for (long i = -probe_w; i < probe_m; i++) {
    long name = (i + probe_w) % 100;
    snprintf(url, sizeof url, "%s/greeter.fns/greet/%s%ld", ingress, prefix, name);
    int bl = snprintf(body, sizeof body, "%s%ld", prefix, name);
    curl_easy_setopt(put, CURLOPT_URL, url);
    curl_easy_setopt(put, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(put, CURLOPT_POSTFIELDSIZE, (long)bl);
    double t0 = now_s();
    long st = 0;
    if (curl_easy_perform(put) != CURLE_OK) errors++;
    curl_easy_getinfo(put, CURLINFO_RESPONSE_CODE, &st);
    double t1 = now_s();
    if (st != 202) {
      errors++;
      continue;
    }
    gb.n = 0;
    if (gb.p) gb.p[0] = 0;
    if (curl_easy_perform(get) != CURLE_OK) errors++;
    curl_easy_getinfo(get, CURLINFO_RESPONSE_CODE, &st);
    double t2 = now_s();
    struct curl_header *kh = NULL;
    if (st != 200) {
      errors++;
      continue;
    }
    if (curl_easy_header(get, "X-Key", 0, CURLH_HEADER, -1, &kh) != CURLHE_OK ||
        strcmp(kh->value, body) != 0)
      wrong++;
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
    else if (!strcmp(a, "--timeout")) timeout_s = atof(v);
    else die("unknown option");
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  int rc;
  if (!strcmp(mode, "push")) rc = do_push();
  else if (!strcmp(mode, "probe")) rc = do_probe();
  else die("mode is push or probe");
  curl_global_cleanup();
  return rc;
}
