/*
 * metrics.c - the counters behind GET /metrics, in Prometheus text format.
 *
 * Per function type: batches (requests that reached the function),
 * invocations run, failed batches, missing-state replies and a histogram of
 * the time sf_handler_handle took. Per HTTP status code: replies sent.
 * Everything is a relaxed atomic add on the request path; the exposition is
 * built only when someone scrapes.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_internal.h"

/* Histogram upper bounds, in nanoseconds and as printed (seconds). */
static const uint64_t k_bucket_ns[] = {
    100000ull,    250000ull,    500000ull,     1000000ull,
    2500000ull,   5000000ull,   10000000ull,   25000000ull,
    50000000ull,  100000000ull, 250000000ull,  500000000ull,
    1000000000ull, 2500000000ull, 5000000000ull, 10000000000ull,
};
static const char *const k_bucket_le[] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
    "0.01",   "0.025",   "0.05",   "0.1",   "0.25",   "0.5",
    "1",      "2.5",     "5",      "10",
};
#define N_BUCKETS (sizeof k_bucket_ns / sizeof k_bucket_ns[0])

/* HTTP status codes are counted in a flat array indexed by code - 100. */
#define MIN_CODE 100u
#define MAX_CODE 599u

typedef struct fn_metrics {
  atomic_uint_fast64_t batches;
  atomic_uint_fast64_t invocations;
  atomic_uint_fast64_t failures;
  atomic_uint_fast64_t missing_state;
  /* Non-cumulative counts per bucket; the last slot is "+Inf only". */
  atomic_uint_fast64_t buckets[N_BUCKETS + 1];
  atomic_uint_fast64_t sum_ns;
} fn_metrics;

struct sf_server_metrics {
  size_t n_functions;
  fn_metrics *functions;
  atomic_uint_fast64_t by_code[MAX_CODE - MIN_CODE + 1];
  atomic_uint_fast64_t unknown_function; /* 404s: no function to blame */
};

sf_server_metrics *sf_server_metrics_new(const sf_handler *handler) {
  sf_server_metrics *m = calloc(1, sizeof *m);
  if (m == NULL) return NULL;
  m->n_functions = sf_handler_function_count(handler);
  if (m->n_functions > 0) {
    m->functions = calloc(m->n_functions, sizeof *m->functions);
    if (m->functions == NULL) {
      free(m);
      return NULL;
    }
  }
  /* calloc'd memory is a valid zero for lock-free atomics on every platform
   * we build on; initialise explicitly anyway to stay within the standard. */
  for (size_t i = 0; i < m->n_functions; i++) {
    fn_metrics *f = &m->functions[i];
    atomic_init(&f->batches, 0);
    atomic_init(&f->invocations, 0);
    atomic_init(&f->failures, 0);
    atomic_init(&f->missing_state, 0);
    atomic_init(&f->sum_ns, 0);
    for (size_t b = 0; b <= N_BUCKETS; b++) atomic_init(&f->buckets[b], 0);
  }
  for (size_t c = 0; c <= MAX_CODE - MIN_CODE; c++) atomic_init(&m->by_code[c], 0);
  atomic_init(&m->unknown_function, 0);
  return m;
}

void sf_server_metrics_free(sf_server_metrics *m) {
  if (m == NULL) return;
  free(m->functions);
  free(m);
}

static void add(atomic_uint_fast64_t *counter, uint64_t n) {
  atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static uint64_t get(const atomic_uint_fast64_t *counter) {
  /* atomic_load takes a non-const pointer in C11; the cast is harmless. */
  return atomic_load_explicit((atomic_uint_fast64_t *)counter,
                              memory_order_relaxed);
}

void sf_server_metrics_record_batch(sf_server_metrics *m,
                                    const sf_handle_info *info,
                                    sf_status status, uint64_t nanos) {
  if (status == SF_ERR_UNKNOWN_FUNCTION) add(&m->unknown_function, 1);
  if (info->function_index < 0 ||
      (size_t)info->function_index >= m->n_functions)
    return;
  fn_metrics *f = &m->functions[info->function_index];
  add(&f->batches, 1);
  add(&f->invocations, info->invocations);
  if (status != SF_OK) add(&f->failures, 1);
  if (status == SF_OK && info->incomplete) add(&f->missing_state, 1);
  size_t b = 0;
  while (b < N_BUCKETS && nanos > k_bucket_ns[b]) b++;
  add(&f->buckets[b], 1);
  add(&f->sum_ns, nanos);
}

void sf_server_metrics_record_status(sf_server_metrics *m, unsigned code) {
  if (code < MIN_CODE || code > MAX_CODE) return;
  add(&m->by_code[code - MIN_CODE], 1);
}

/* Writes a label value with the escapes of the exposition format. */
static void put_label(FILE *out, const char *s) {
  for (; *s != '\0'; s++) {
    if (*s == '\\' || *s == '"')
      fprintf(out, "\\%c", *s);
    else if (*s == '\n')
      fputs("\\n", out);
    else
      fputc(*s, out);
  }
}

static void put_counter(FILE *out, const sf_server_metrics *m,
                        const sf_handler *handler, const char *name,
                        const char *help, size_t field_offset) {
  fprintf(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
  for (size_t i = 0; i < m->n_functions; i++) {
    const atomic_uint_fast64_t *c =
        (const atomic_uint_fast64_t *)((const char *)&m->functions[i] +
                                       field_offset);
    fprintf(out, "%s{function=\"", name);
    put_label(out, sf_handler_function_typename(handler, i));
    fprintf(out, "\"} %llu\n", (unsigned long long)get(c));
  }
}

char *sf_server_metrics_render(const sf_server_metrics *m,
                               const sf_handler *handler, long in_flight,
                               size_t *len) {
  char *buf = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&buf, &size);
  if (out == NULL) return NULL;

  put_counter(out, m, handler, "statefun_batches_total",
              "Batch requests that reached the function.",
              offsetof(fn_metrics, batches));
  put_counter(out, m, handler, "statefun_invocations_total",
              "Invocations of the function (messages processed).",
              offsetof(fn_metrics, invocations));
  put_counter(out, m, handler, "statefun_failures_total",
              "Batches that failed (HTTP 500; the runtime retries them).",
              offsetof(fn_metrics, failures));
  put_counter(out, m, handler, "statefun_missing_state_replies_total",
              "Replies asking the runtime for missing state "
              "(incomplete_invocation_context).",
              offsetof(fn_metrics, missing_state));

  const char *h = "statefun_batch_duration_seconds";
  fprintf(out,
          "# HELP %s Time spent handling one batch request, "
          "excluding HTTP I/O.\n# TYPE %s histogram\n",
          h, h);
  for (size_t i = 0; i < m->n_functions; i++) {
    const fn_metrics *f = &m->functions[i];
    const char *fn = sf_handler_function_typename(handler, i);
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= N_BUCKETS; b++) {
      cumulative += get(&f->buckets[b]);
      fprintf(out, "%s_bucket{function=\"", h);
      put_label(out, fn);
      fprintf(out, "\",le=\"%s\"} %llu\n",
              b < N_BUCKETS ? k_bucket_le[b] : "+Inf",
              (unsigned long long)cumulative);
    }
    uint64_t sum_ns = get(&f->sum_ns);
    fprintf(out, "%s_sum{function=\"", h);
    put_label(out, fn);
    fprintf(out, "\"} %llu.%09llu\n", (unsigned long long)(sum_ns / 1000000000u),
            (unsigned long long)(sum_ns % 1000000000u));
    fprintf(out, "%s_count{function=\"", h);
    put_label(out, fn);
    fprintf(out, "\"} %llu\n", (unsigned long long)cumulative);
  }

  fputs("# HELP statefun_unknown_function_requests_total Requests for a "
        "function type that is not registered (HTTP 404).\n"
        "# TYPE statefun_unknown_function_requests_total counter\n",
        out);
  fprintf(out, "statefun_unknown_function_requests_total %llu\n",
          (unsigned long long)get(&m->unknown_function));

  fputs("# HELP statefun_http_requests_total HTTP replies sent, by status "
        "code.\n# TYPE statefun_http_requests_total counter\n",
        out);
  for (unsigned c = MIN_CODE; c <= MAX_CODE; c++) {
    uint64_t n = get(&m->by_code[c - MIN_CODE]);
    if (n > 0)
      fprintf(out, "statefun_http_requests_total{code=\"%u\"} %llu\n", c,
              (unsigned long long)n);
  }

  fputs("# HELP statefun_http_requests_in_flight HTTP requests being "
        "received, handled or answered.\n"
        "# TYPE statefun_http_requests_in_flight gauge\n",
        out);
  fprintf(out, "statefun_http_requests_in_flight %ld\n", in_flight);

  if (fclose(out) != 0) {
    free(buf);
    return NULL;
  }
  *len = size;
  return buf;
}
