/*
 * hotel_init.c - hotel-init: puts the hotel workload's data (hotel_data.h)
 * into the entities by calling their load methods over HTTP, the entity
 * calls sf-local (--ir) and sf-gateway both accept:
 *
 *   POST <url>/hotel/<Entity>/<key>/<method>   JSON arguments -> JSON answer
 *
 *   hotel-init [--url http://127.0.0.1:8090] [--partitions 80] [--hotels 80]
 *              [--users 500] [--connections 16] [--timeout S]
 *   hotel-init --dump FILE [--hotels N] [--users N] [--partitions N]
 *
 * Loads, per partition p, geo-service-<p>, rate-service-<p>,
 * recommend-service-<p> and profile-service-<p> (the read-only services are
 * replicated, one copy per partition); per hotel the capacity of its
 * Reservation entity; per user its password. Every load method replaces
 * what was there (set_capacity keeps the bookings), so running it twice
 * is harmless. Each answer must be 200 with "ok":true and the expected
 * count; a refused connection or a 503 (a runtime still starting, or
 * backpressure) is retried after a pause that doubles from 20 ms to 1 s,
 * up to 50 attempts (about 45 s). Exit status 0 when everything
 * loaded, 1 otherwise (the failed calls are printed), 2 for usage errors.
 *
 * --dump writes the same data as one JSON document and loads nothing (the
 * tests' Python model of the services reads it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hotel_data.h"
#include "hotel_http.h"

typedef struct options {
  const char *url, *dump;
  int partitions, hotels, users, connections;
  double timeout;
} options;

/* One load call: where, what, and the count it must answer. */
typedef struct call {
  char *url;
  char *body;
  long want; /* expected integer result, or -1 for "any bool" */
  int attempts;
  double retry_at; /* a refused or 503 call goes again from then on */
} call;

typedef struct calls {
  call *items;
  size_t len, cap;
} calls;

static _Noreturn void usage(const char *why) {
  if (why) fprintf(stderr, "hotel-init: %s\n", why);
  fprintf(stderr,
          "usage: hotel-init [--url URL] [--partitions N] [--hotels N] [--users N]\n"
          "                  [--connections N] [--timeout S]\n"
          "       hotel-init --dump FILE [--hotels N] [--users N] [--partitions N]\n");
  exit(2);
}

static _Noreturn void oom(void) {
  fprintf(stderr, "hotel-init: out of memory\n");
  exit(1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int int_arg(const char *name, const char *v, int lo, int hi) {
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || *end || end == v || n < lo || n > hi) {
    fprintf(stderr, "hotel-init: %s wants an integer in [%d, %d], got '%s'\n", name, lo, hi, v);
    exit(2);
  }
  return (int)n;
}

static options parse(int argc, char **argv) {
  options o = {"http://127.0.0.1:8090", NULL, HOTEL_DATA_PARTITIONS, HOTEL_DATA_HOTELS,
               HOTEL_DATA_USERS, 16, 30.0};
  for (int i = 1; i < argc; i += 2) { /* every option takes a value */
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) usage(NULL);
    if (v == NULL) usage("every option takes a value");
    if (!strcmp(a, "--url"))
      o.url = v;
    else if (!strcmp(a, "--dump"))
      o.dump = v;
    else if (!strcmp(a, "--partitions"))
      o.partitions = int_arg(a, v, 1, 100000);
    else if (!strcmp(a, "--hotels"))
      o.hotels = int_arg(a, v, 1, 100000);
    else if (!strcmp(a, "--users"))
      o.users = int_arg(a, v, 0, 10000000);
    else if (!strcmp(a, "--connections"))
      o.connections = int_arg(a, v, 1, 500);
    else if (!strcmp(a, "--timeout"))
      o.timeout = int_arg(a, v, 1, 3600);
    else {
      fprintf(stderr, "hotel-init: unknown option %s\n", a);
      usage(NULL);
    }
  }
  return o;
}

/* Queues POST <url>/hotel/<entity>/<key>/<method> with `args` (stolen). */
static void add(calls *cs, const options *o, const char *entity, const char *key,
                const char *method, json_t *args, long want) {
  if (args == NULL) oom();
  if (cs->len == cs->cap) {
    cs->cap = cs->cap ? cs->cap * 2 : 1024;
    cs->items = realloc(cs->items, cs->cap * sizeof *cs->items);
    if (cs->items == NULL) oom();
  }
  call *c = &cs->items[cs->len++];
  if (asprintf(&c->url, "%s/hotel/%s/%s/%s?wait=%g", o->url, entity, key, method, o->timeout) < 0)
    oom();
  c->body = json_dumps(args, JSON_COMPACT);
  json_decref(args);
  if (c->body == NULL) oom();
  c->want = want;
  c->attempts = 0;
}

/* Every load call of the data set. */
static calls plan(const options *o) {
  calls cs = {0};
  json_t *lists[4] = {hotel_data_geo_points(o->hotels), hotel_data_rate_plans(o->hotels),
                      hotel_data_recommend(o->hotels), hotel_data_profiles(o->hotels)};
  static const char *const entity[4] = {"Geo", "Rate", "Recommend", "Profile"};
  static const char *const service[4] = {"geo", "rate", "recommend", "profile"};
  static const char *const param[4] = {"points", "plans", "hotels", "profiles"};
  for (int k = 0; k < 4; k++)
    if (lists[k] == NULL) oom();
  for (int p = 0; p < o->partitions; p++)
    for (int k = 0; k < 4; k++) {
      char key[64];
      snprintf(key, sizeof key, "%s-service-%d", service[k], p);
      add(&cs, o, entity[k], key, "load", json_pack("{s:O}", param[k], lists[k]),
          (long)json_array_size(lists[k]));
    }
  for (int k = 0; k < 4; k++) json_decref(lists[k]);
  for (int id = 1; id <= o->hotels; id++) {
    char key[16];
    snprintf(key, sizeof key, "%d", id);
    add(&cs, o, "Reservation", key, "set_capacity",
        json_pack("{s:i}", "max_capacity", hotel_data_capacity(id)), -2);
  }
  for (int i = 0; i < o->users; i++) {
    char name[32], pw[128];
    if (!hotel_data_user_name(i, name, sizeof name) || !hotel_data_user_password(i, pw, sizeof pw))
      oom();
    add(&cs, o, "User", name, "set_password", json_pack("{s:s}", "password", pw), -1);
  }
  return cs;
}

/* Whether the answer is what the load call must answer; why not in `why`. */
static bool answer_ok(const call *c, long status, const char *body, char *why, size_t n) {
  json_error_t err;
  json_t *j = body ? json_loads(body, 0, &err) : NULL;
  json_t *res = j ? json_object_get(j, "result") : NULL;
  bool ok = status == 200 && j && json_is_true(json_object_get(j, "ok")) && res != NULL;
  if (ok && c->want >= 0) ok = json_is_integer(res) && json_integer_value(res) == c->want;
  if (ok && c->want == -1) ok = json_is_boolean(res);
  if (ok && c->want == -2) ok = json_is_integer(res);
  if (!ok)
    snprintf(why, n, "HTTP %ld: %.300s (expected result %ld)", status, body ? body : "", c->want);
  json_decref(j);
  return ok;
}

/* The load in progress: which call each connection carries (NULL: idle),
 * the calls to send again once their pause is over, and the counts. */
typedef struct loader {
  hotel_http http;
  calls *cs;
  call **on; /* per connection */
  size_t *retry, n_retry;
  size_t next, done, failed;
} loader;

static void start(loader *L, size_t i, call *c) {
  L->on[i] = c;
  c->attempts++;
  hotel_http_post(&L->http, i, c->url, c->body);
}

/* The next call to send: a retry whose pause is over, else a new one,
 * else NULL. */
static call *next_call(loader *L, double now) {
  for (size_t k = 0; k < L->n_retry; k++) {
    call *c = &L->cs->items[L->retry[k]];
    if (c->retry_at <= now) {
      L->retry[k] = L->retry[--L->n_retry];
      return c;
    }
  }
  return L->next < L->cs->len ? &L->cs->items[L->next++] : NULL;
}

/* Connection i takes the next call, or stays idle. */
static void refill(loader *L, size_t i, double now) {
  call *c = next_call(L, now);
  if (c) start(L, i, c);
  else L->on[i] = NULL;
}

/* A finished call: done, failed, or (503, refused connection) to be sent
 * again after a pause; the freed connection takes the next call. */
static void finished(void *ud, size_t i, CURLcode rc, long status, const char *body) {
  loader *L = ud;
  call *c = L->on[i];
  char why[512];
  double now = now_s();
  if (rc != CURLE_OK) snprintf(why, sizeof why, "%s", curl_easy_strerror(rc));
  if (rc == CURLE_OK && answer_ok(c, status, body, why, sizeof why)) {
    L->done++;
  } else if ((status == 503 || rc == CURLE_COULDNT_CONNECT) && c->attempts < 50) {
    double pause = 0.02 * (double)(1u << (c->attempts < 7 ? c->attempts - 1 : 6));
    c->retry_at = now + (pause < 1.0 ? pause : 1.0);
    L->retry[L->n_retry++] = (size_t)(c - L->cs->items);
  } else {
    fprintf(stderr, "hotel-init: POST %s %.120s: %s\n", c->url, c->body, why);
    L->done++;
    L->failed++;
  }
  refill(L, i, now);
}

/* Runs every call, `connections` at a time; the number that failed. */
static size_t run(const options *o, calls *cs) {
  loader L = {.cs = cs};
  size_t n = (size_t)o->connections;
  L.on = calloc(n, sizeof *L.on);
  L.retry = malloc((cs->len ? cs->len : 1) * sizeof *L.retry);
  if (!L.on || !L.retry || !hotel_http_open(&L.http, n, (long)(o->timeout * 1000) + 5000)) oom();
  for (size_t i = 0; i < n; i++) refill(&L, i, now_s());
  while (L.done < cs->len) {
    hotel_http_run(&L.http, finished, &L);
    for (size_t i = 0; i < n; i++) /* idle connections take retries now due */
      if (!L.on[i]) refill(&L, i, now_s());
    if (L.done < cs->len) hotel_http_wait(&L.http, L.n_retry ? 10 : 100);
  }
  hotel_http_close(&L.http);
  free(L.on);
  free(L.retry);
  return L.failed;
}

static int dump(const options *o) {
  json_t *all = hotel_data_all(o->hotels, o->users, o->partitions);
  if (all == NULL) oom();
  int rc = json_dump_file(all, o->dump, JSON_INDENT(1) | JSON_SORT_KEYS);
  json_decref(all);
  if (rc != 0) {
    fprintf(stderr, "hotel-init: cannot write %s: %s\n", o->dump, strerror(errno));
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  options o = parse(argc, argv);
  if (o.dump) return dump(&o);
  calls cs = plan(&o);
  double t0 = now_s();
  size_t failed = run(&o, &cs);
  double dt = now_s() - t0;
  for (size_t i = 0; i < cs.len; i++) {
    free(cs.items[i].url);
    free(cs.items[i].body);
  }
  free(cs.items);
  if (failed) {
    fprintf(stderr, "hotel-init: %zu of %zu load calls failed\n", failed, cs.len);
    return 1;
  }
  fprintf(stderr,
          "hotel-init: loaded %d partitions x 4 services, %d hotels, %d users "
          "(%zu calls) into %s in %.2f s\n",
          o.partitions, o.hotels, o.users, cs.len, o.url, dt);
  return 0;
}
