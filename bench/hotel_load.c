/*
 * hotel_load.c - the open-loop load driver of the hotel benchmark
 * (bench/hotel.sh): the reference request mix, or one endpoint, at a
 * constant rate, through the HTTP entity calls that sf-local (--ir) and
 * sf-gateway both accept: POST <url>/hotel/Frontend/<key>/<method>.
 *
 *   hotel_load --url URL --rate R --duration S
 *              [--endpoint mix|search|recommend|reserve|login]
 *              [--connections C] [--timeout S] [--warmup S] [--seed N]
 *              [--partitions P] [--hotels H] [--users U] [--rooms-max N]
 *              [--bookings FILE] [--run-id ID]
 *
 * Open loop: request k is due at start + k/R whatever happened before, and
 * its latency is measured from that intended time to the end of its
 * answer. When every connection is busy a due request waits in the
 * driver, and that wait counts: a stall of the system under test shows
 * in the latencies instead of slowing the sender down (no coordinated
 * omission). libcurl multi, one thread, C keep-alive connections
 * (examples/hotel/hotel_http.c, shared with hotel-init).
 *
 * The requests are the reference workload's (DeathStar's wrk2 mix as the
 * StateFlow evaluation ran it): the mix is 60 % search, 39 % recommend,
 * 0.5 % login, 0.5 % reserve; stays in 2015-04-09..24 (in on the 9th to
 * 23rd, out 1 to 15 days later, at most the 24th); positions lat 38.0235
 * +- 0.24, lon -122.095 +- 0.16 in steps of 0.001; recommend by dis, rate
 * or price (a third each); user TUDelft_<i> of U users, with a wrong
 * password one time in three; a hotel out of H; a partition out of P (the
 * replicated services' keys, and the Frontend key frontend-<p>).
 *
 * Every answer is checked: 200 with "ok":true; search and recommend answer
 * a list of hotel profiles; login answers whether the password was right;
 * a reserve with a wrong password must be refused. Anything else is an
 * error, by kind. Reservations are logged with --bookings FILE, one line
 * each: "<acked|refused|unknown> <hotel> <customer> <in> <out> <rooms>"
 * (the customer is the user name plus ".<run id>-<request number>", so
 * each booking is traceable; the run id defaults to one made from the
 * clock and the pid); bench/hotel_check.py compares that with the Reservation
 * entities afterwards.
 *
 * Output: a table per endpoint (count, errors, achieved rate = answers
 * per second from the first counted due time to the last answer,
 * p50/p90/p99/p99.9/max in ms) and one line per endpoint for scripts:
 *   RESULT endpoint=E target_rate=R achieved_rate=A sent=N ok=N errors=N
 *          p50=ms p90=ms p99=ms p999=ms max=ms refused=N
 * Exit status 0 when every request was answered correctly, 1 when some
 * were not (the run itself completed), 2 for usage errors.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hotel_data.h"
#include "hotel_http.h"

enum endpoint { EP_SEARCH, EP_RECOMMEND, EP_RESERVE, EP_LOGIN, N_EP, EP_MIX = N_EP };
static const char *const EP_NAME[N_EP] = {"search", "recommend", "reserve", "login"};

/* How a request ended. */
enum outcome {
  OUT_PENDING,
  OUT_OK,        /* the right kind of answer (reserve: booked) */
  OUT_REFUSED,   /* reserve answered false: not booked (no error) */
  OUT_WRONG,     /* 200 but not the answer it must be */
  OUT_HTTP,      /* an HTTP error status other than 504 */
  OUT_TIMEOUT,   /* 504 from the front, or no answer within --timeout */
  OUT_TRANSPORT, /* connection refused, reset, ... */
};

typedef struct options {
  const char *url, *bookings, *run_id;
  double rate, duration, timeout, warmup;
  int endpoint, connections, partitions, hotels, users, rooms_max;
  uint64_t seed;
} options;

/* One request: when it was due, what it was, how it ended. */
typedef struct request {
  double due, latency;
  uint8_t ep, outcome;
  bool expect_false; /* login/reserve with the wrong password */
} request;

/* A connection slot: one easy handle, the request it carries. */
/* What connection i of the run carries (its answer is in the pool's). */
typedef struct slot {
  size_t req;
  char url[256];
  char body[512];
  char booking[256]; /* reserve: "<hotel> <customer> <in> <out> <rooms>" */
} slot;

static _Noreturn void usage(const char *why) {
  if (why) fprintf(stderr, "hotel_load: %s\n", why);
  fprintf(stderr,
          "usage: hotel_load --url URL --rate R --duration S\n"
          "                  [--endpoint mix|search|recommend|reserve|login]\n"
          "                  [--connections C] [--timeout S] [--warmup S] [--seed N]\n"
          "                  [--partitions P] [--hotels H] [--users U] [--rooms-max N]\n"
          "                  [--bookings FILE] [--run-id ID]\n");
  exit(2);
}

static _Noreturn void oom(void) {
  fprintf(stderr, "hotel_load: out of memory\n");
  exit(2);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double num_arg(const char *name, const char *v, double lo, double hi) {
  char *end;
  errno = 0;
  double d = strtod(v, &end);
  if (errno || *end || end == v || !(d >= lo && d <= hi)) {
    fprintf(stderr, "hotel_load: %s wants a number in [%g, %g], got '%s'\n", name, lo, hi, v);
    exit(2);
  }
  return d;
}

static options parse(int argc, char **argv) {
  options o = {NULL, NULL, NULL, 0, 0, 10.0, -1, EP_MIX, 64, HOTEL_DATA_PARTITIONS, HOTEL_DATA_HOTELS,
               HOTEL_DATA_USERS, 1, 1};
  for (int i = 1; i < argc; i += 2) { /* every option takes a value */
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) usage(NULL);
    if (v == NULL) usage("every option takes a value");
    if (!strcmp(a, "--url"))
      o.url = v;
    else if (!strcmp(a, "--bookings"))
      o.bookings = v;
    else if (!strcmp(a, "--run-id"))
      o.run_id = v;
    else if (!strcmp(a, "--rate"))
      o.rate = num_arg(a, v, 0.001, 1e6);
    else if (!strcmp(a, "--duration"))
      o.duration = num_arg(a, v, 0.001, 86400);
    else if (!strcmp(a, "--timeout"))
      o.timeout = num_arg(a, v, 0.1, 60);
    else if (!strcmp(a, "--warmup"))
      o.warmup = num_arg(a, v, 0, 86400);
    else if (!strcmp(a, "--connections"))
      o.connections = (int)num_arg(a, v, 1, 500);
    else if (!strcmp(a, "--partitions"))
      o.partitions = (int)num_arg(a, v, 1, 100000);
    else if (!strcmp(a, "--hotels"))
      o.hotels = (int)num_arg(a, v, 1, 100000);
    else if (!strcmp(a, "--users"))
      o.users = (int)num_arg(a, v, 1, 10000000);
    else if (!strcmp(a, "--rooms-max"))
      o.rooms_max = (int)num_arg(a, v, 1, 100000);
    else if (!strcmp(a, "--seed"))
      o.seed = (uint64_t)num_arg(a, v, 0, 1e15);
    else if (!strcmp(a, "--endpoint")) {
      o.endpoint = -1;
      if (!strcmp(v, "mix")) o.endpoint = EP_MIX;
      for (int e = 0; e < N_EP; e++)
        if (!strcmp(v, EP_NAME[e])) o.endpoint = e;
      if (o.endpoint < 0) usage("--endpoint is mix, search, recommend, reserve or login");
    } else {
      fprintf(stderr, "hotel_load: unknown option %s\n", a);
      usage(NULL);
    }
  }
  if (!o.url || o.rate <= 0 || o.duration <= 0) usage("--url, --rate and --duration are required");
  if (o.warmup < 0) o.warmup = fmin(2.0, o.duration / 5);
  if (o.run_id == NULL) { /* distinct customers in every run */
    static char id[24];
    snprintf(id, sizeof id, "%lx", ((unsigned long)time(NULL) << 16 ^ (unsigned long)getpid()) & 0xffffffUL);
    o.run_id = id;
  }
  for (const char *c = o.run_id; *c; c++)
    if (!isalnum((unsigned char)*c) && *c != '-') usage("--run-id takes letters, digits and -");
  return o;
}

/* ---- the workload ------------------------------------------------------- */

static uint64_t rng_state;

/* xorshift64*: fast, and the same sequence for the same --seed. */
static uint64_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1DULL;
}
static double rnd01(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }
/* Uniform integer in [lo, hi]. */
static int rnd_int(int lo, int hi) { return lo + (int)(rnd() % (uint64_t)(hi - lo + 1)); }

static int pick_endpoint(const options *o) {
  if (o->endpoint != EP_MIX) return o->endpoint;
  double c = rnd01();
  return c < 0.60 ? EP_SEARCH : c < 0.99 ? EP_RECOMMEND : c < 0.995 ? EP_LOGIN : EP_RESERVE;
}

/* A stay: in on the 9th..23rd, out after it, at most on the 24th. */
static void stay(char in[11], char out[11]) {
  int d_in = rnd_int(9, 23), d_out = rnd_int(d_in + 1, 24);
  snprintf(in, 11, "2015-04-%02d", d_in);
  snprintf(out, 11, "2015-04-%02d", d_out);
}

static double rnd_lat(void) { return 38.0235 + (rnd_int(0, 481) - 240.5) / 1000.0; }
static double rnd_lon(void) { return -122.095 + (rnd_int(0, 325) - 157.0) / 1000.0; }

/* A user and its password, wrong one time in three; whether it is wrong. */
static bool user(const options *o, char *name, size_t nn, char *pw, size_t np) {
  int i = rnd_int(0, o->users - 1);
  bool wrong = rnd_int(0, 2) == 0;
  if (!hotel_data_user_name(i, name, nn) || !hotel_data_user_password(i, pw, np - 2)) oom();
  if (wrong) strcat(pw, "x");
  return wrong;
}

/* Fills the slot's URL and JSON body for request number k. */
static void make_request(const options *o, slot *s, request *r, size_t k) {
  int p = rnd_int(0, o->partitions - 1);
  const char *m = EP_NAME[r->ep];
  snprintf(s->url, sizeof s->url, "%s/hotel/Frontend/frontend-%d/%s?wait=%g", o->url, p, m,
           o->timeout);
  char in[11], out[11], name[32], pw[128];
  s->booking[0] = '\0';
  switch (r->ep) {
  case EP_SEARCH:
    stay(in, out);
    snprintf(s->body, sizeof s->body,
             "{\"in_date\":\"%s\",\"out_date\":\"%s\",\"lat\":%.4f,\"lon\":%.4f,\"partition\":%d}",
             in, out, rnd_lat(), rnd_lon(), p);
    break;
  case EP_RECOMMEND: {
    double c = rnd01();
    const char *req = c < 0.33 ? "dis" : c < 0.66 ? "rate" : "price";
    snprintf(s->body, sizeof s->body,
             "{\"requirement\":\"%s\",\"lat\":%.4f,\"lon\":%.4f,\"partition\":%d}", req,
             rnd_lat(), rnd_lon(), p);
    break;
  }
  case EP_RESERVE: {
    r->expect_false = user(o, name, sizeof name, pw, sizeof pw);
    stay(in, out);
    int hotel = rnd_int(1, o->hotels), rooms = rnd_int(1, o->rooms_max);
    char customer[128];
    snprintf(customer, sizeof customer, "%s.%.16s-%zu", name, o->run_id, k);
    snprintf(s->body, sizeof s->body,
             "{\"username\":\"%s\",\"password\":\"%s\",\"hotel_id\":\"%d\","
             "\"customer_name\":\"%s\",\"in_date\":\"%s\",\"out_date\":\"%s\","
             "\"number_of_rooms\":%d}",
             name, pw, hotel, customer, in, out, rooms);
    snprintf(s->booking, sizeof s->booking, "%d %s %s %s %d", hotel, customer, in, out, rooms);
    break;
  }
  case EP_LOGIN:
    r->expect_false = user(o, name, sizeof name, pw, sizeof pw);
    snprintf(s->body, sizeof s->body, "{\"username\":\"%s\",\"password\":\"%s\"}", name, pw);
    break;
  }
}

/* ---- checking answers --------------------------------------------------- */

/* A list of hotel profiles: each an object with a string id. */
static bool is_profiles(json_t *res) {
  if (!json_is_array(res)) return false;
  size_t i;
  json_t *v;
  json_array_foreach(res, i, v) if (!json_is_string(json_object_get(v, "id"))) return false;
  return true;
}

static enum outcome judge(const request *r, long status, const char *body, char *why, size_t n) {
  if (status == 504) return OUT_TIMEOUT;
  if (status != 200) {
    snprintf(why, n, "HTTP %ld: %.200s", status, body ? body : "");
    return OUT_HTTP;
  }
  json_error_t err;
  json_t *j = body ? json_loads(body, 0, &err) : NULL;
  json_t *res = j ? json_object_get(j, "result") : NULL;
  enum outcome out = OUT_WRONG;
  if (j && json_is_true(json_object_get(j, "ok")) && res) {
    switch (r->ep) {
    case EP_SEARCH:
    case EP_RECOMMEND: out = is_profiles(res) ? OUT_OK : OUT_WRONG; break;
    case EP_LOGIN:
      out = json_is_boolean(res) && json_is_true(res) != r->expect_false ? OUT_OK : OUT_WRONG;
      break;
    case EP_RESERVE:
      if (!json_is_boolean(res) || (r->expect_false && json_is_true(res)))
        out = OUT_WRONG;
      else
        out = json_is_true(res) ? OUT_OK : OUT_REFUSED;
      break;
    }
  }
  if (out == OUT_WRONG) snprintf(why, n, "wrong answer: %.200s", body ? body : "");
  json_decref(j);
  return out;
}

/* ---- the run ------------------------------------------------------------ */

typedef struct run {
  const options *o;
  hotel_http http;
  slot *slots;
  size_t *free_slots, n_free;
  request *reqs;
  size_t total, next_due, next_send, in_flight;
  double t0, max_lag, sum_lag;
  FILE *bookings;
  size_t errors_printed;
} run;

static void send_next(run *R) {
  slot *s = &R->slots[R->free_slots[--R->n_free]];
  size_t k = R->next_send++;
  request *r = &R->reqs[k];
  make_request(R->o, s, r, k);
  s->req = k;
  double lag = now_s() - r->due;
  R->sum_lag += lag;
  if (lag > R->max_lag) R->max_lag = lag;
  hotel_http_post(&R->http, (size_t)(s - R->slots), s->url, s->body);
  R->in_flight++;
}

static void finish(void *ud, size_t i, CURLcode rc, long status, const char *body) {
  run *R = ud;
  slot *s = &R->slots[i];
  request *r = &R->reqs[s->req];
  r->latency = now_s() - r->due;
  char why[320] = "";
  if (rc == CURLE_OPERATION_TIMEDOUT)
    r->outcome = OUT_TIMEOUT;
  else if (rc != CURLE_OK) {
    r->outcome = OUT_TRANSPORT;
    snprintf(why, sizeof why, "%s", curl_easy_strerror(rc));
  } else
    r->outcome = (uint8_t)judge(r, status, body, why, sizeof why);
  if (why[0] && R->errors_printed++ < 10)
    fprintf(stderr, "hotel_load: %s %s: %s\n", EP_NAME[r->ep], s->body, why);
  if (r->ep == EP_RESERVE && R->bookings)
    fprintf(R->bookings, "%s %s\n",
            r->outcome == OUT_OK        ? "acked"
            : r->outcome == OUT_REFUSED ? "refused"
                                        : "unknown",
            s->booking);
  R->free_slots[R->n_free++] = i;
  R->in_flight--;
}

static void setup(run *R, const options *o) {
  R->o = o;
  R->total = (size_t)llround(o->rate * o->duration);
  if (R->total == 0) R->total = 1;
  R->reqs = calloc(R->total, sizeof *R->reqs);
  R->slots = calloc((size_t)o->connections, sizeof *R->slots);
  R->free_slots = malloc((size_t)o->connections * sizeof *R->free_slots);
  /* The front answers 504 after --timeout (?wait=); a transfer gives up
   * a little later in case the front itself hangs. */
  if (!R->reqs || !R->slots || !R->free_slots ||
      !hotel_http_open(&R->http, (size_t)o->connections, (long)(o->timeout * 1000) + 2000))
    oom();
  for (int i = 0; i < o->connections; i++)
    R->free_slots[R->n_free++] = (size_t)(o->connections - 1 - i);
  for (size_t k = 0; k < R->total; k++) R->reqs[k].ep = (uint8_t)pick_endpoint(o);
}

static void drive(run *R) {
  R->t0 = now_s() + 0.05;
  for (size_t k = 0; k < R->total; k++) R->reqs[k].due = R->t0 + (double)k / R->o->rate;
  while (R->next_send < R->total || R->in_flight) {
    double now = now_s();
    while (R->next_due < R->total && R->reqs[R->next_due].due <= now) R->next_due++;
    /* Due requests go out in order as connections free up. */
    while (R->next_send < R->next_due && R->n_free) send_next(R);
    hotel_http_run(&R->http, finish, R);
    if (R->next_send < R->next_due && R->n_free) continue;
    /* Sleep until the next due request or network activity. */
    int wait_ms = 50;
    if (R->next_due < R->total) {
      double ahead = R->reqs[R->next_due].due - now_s();
      wait_ms = ahead <= 0.0002 ? 0 : (int)ceil(ahead * 1000);
      if (wait_ms > 50) wait_ms = 50;
    }
    if (wait_ms) hotel_http_wait(&R->http, wait_ms);
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The q-quantile of sorted v (nearest rank). */
static double quantile(const double *v, size_t n, double q) {
  if (n == 0) return NAN;
  size_t i = (size_t)ceil(q * (double)n);
  return v[i ? i - 1 : 0];
}

/* Prints the table and the RESULT lines; the number of failed requests. */
static size_t report(const run *R) {
  const options *o = R->o;
  /* Throughput over the counted window: from the first counted due time
   * to the last answer, so a run the system could not keep up with shows
   * its real rate (its answers arrive long after the last send). */
  double from = R->t0 + o->warmup, end = R->t0 + o->duration;
  for (size_t k = 0; k < R->total; k++)
    if (R->reqs[k].due >= from && R->reqs[k].due + R->reqs[k].latency > end)
      end = R->reqs[k].due + R->reqs[k].latency;
  double span = end - from;
  size_t bad_total = 0;
  double *lat = malloc(R->total * sizeof *lat);
  if (lat == NULL) oom();
  printf("%-10s %8s %8s %8s %7s %7s %9s %9s %9s %9s %9s\n", "endpoint", "sent", "ok",
         "refused", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms");
  for (int e = 0; e <= N_EP; e++) { /* N_EP: all endpoints together */
    size_t n = 0, ok = 0, refused = 0, errs[OUT_TRANSPORT + 1] = {0};
    for (size_t k = 0; k < R->total; k++) {
      const request *r = &R->reqs[k];
      if (e < N_EP && r->ep != e) continue;
      if (r->outcome != OUT_OK && r->outcome != OUT_REFUSED) {
        errs[r->outcome]++;
        if (e == N_EP) bad_total++;
      }
      if (r->due < from) continue;
      lat[n++] = r->latency * 1000;
      ok += r->outcome == OUT_OK;
      refused += r->outcome == OUT_REFUSED;
    }
    size_t err = errs[OUT_WRONG] + errs[OUT_HTTP] + errs[OUT_TIMEOUT] + errs[OUT_TRANSPORT] +
                 errs[OUT_PENDING];
    if (n == 0 && err == 0) continue;
    qsort(lat, n, sizeof *lat, cmp_double);
    const char *name = e < N_EP ? EP_NAME[e] : "all";
    double p50 = quantile(lat, n, 0.5), p90 = quantile(lat, n, 0.9),
           p99 = quantile(lat, n, 0.99), p999 = quantile(lat, n, 0.999),
           mx = n ? lat[n - 1] : NAN;
    double target = e == N_EP || o->endpoint != EP_MIX ? o->rate : NAN;
    printf("%-10s %8zu %8zu %8zu %7zu %7.0f %9.2f %9.2f %9.2f %9.2f %9.2f\n", name, n, ok,
           refused, err, (double)n / span, p50, p90, p99, p999, mx);
    printf("RESULT endpoint=%s target_rate=%g achieved_rate=%.1f sent=%zu ok=%zu refused=%zu "
           "errors=%zu wrong=%zu http=%zu timeout=%zu transport=%zu p50=%.3f p90=%.3f "
           "p99=%.3f p999=%.3f max=%.3f\n",
           name, target, (double)n / span, n, ok, refused, err, errs[OUT_WRONG], errs[OUT_HTTP],
           errs[OUT_TIMEOUT], errs[OUT_TRANSPORT], p50, p90, p99, p999, mx);
  }
  printf("driver: %zu requests over %.1f s (first %.1f s not counted), send lag mean %.3f ms "
         "max %.3f ms\n",
         R->total, o->duration, o->warmup, R->sum_lag / (double)R->total * 1000,
         R->max_lag * 1000);
  free(lat);
  return bad_total;
}

int main(int argc, char **argv) {
  options o = parse(argc, argv);
  rng_state = o.seed * 0x9E3779B97F4A7C15ULL + 1;
  run R = {0};
  setup(&R, &o);
  if (o.bookings && (R.bookings = fopen(o.bookings, "w")) == NULL) {
    fprintf(stderr, "hotel_load: cannot write %s: %s\n", o.bookings, strerror(errno));
    return 2;
  }
  drive(&R);
  size_t bad = report(&R);
  if (R.bookings && fclose(R.bookings) != 0) {
    fprintf(stderr, "hotel_load: cannot write %s: %s\n", o.bookings, strerror(errno));
    return 2;
  }
  hotel_http_close(&R.http);
  free(R.slots);
  free(R.free_slots);
  free(R.reqs);
  if (bad) fprintf(stderr, "hotel_load: %zu request(s) failed\n", bad);
  return bad ? 1 : 0;
}
