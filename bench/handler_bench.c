/*
 * handler_bench.c - the greeter's cost without HTTP.
 *
 *   bench_handler [--seconds S] BODYFILE...
 *
 * For each body (a serialized ToFunction, e.g. from benchtool.py
 * make-requests) calls sf_handler_handle on one warm arena in a loop for S
 * seconds (default 1) and prints one line:
 *
 *   HANDLER file=body-10.bin invocations=10 requests=N cpu_us_per_request=X
 *           wall_us_per_request=Y invocations_per_cpu_s=Z reply_bytes=B
 *           arena_mallocs=M
 *
 * CPU time (CLOCK_THREAD_CPUTIME_ID) is what this thread spent, so the
 * per-request cost stays meaningful on a machine shared with other work.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <statefun/statefun.h>

#include "greet.h"

static double now_s(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "bench_handler: %s: %s\n", path, strerror(errno));
    return NULL;
  }
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap)
      break;
    cap *= 2;
    uint8_t *nb = realloc(buf, cap);
    if (!nb)
      free(buf);
    buf = nb;
  }
  fclose(f);
  *len = n;
  return buf;
}

int main(int argc, char **argv) {
  double seconds = 1.0;
  int first = 1;
  if (argc > 2 && !strcmp(argv[1], "--seconds")) {
    seconds = atof(argv[2]);
    first = 3;
  }
  if (first >= argc || seconds <= 0) {
    fprintf(stderr, "usage: bench_handler [--seconds S] BODYFILE...\n");
    return 2;
  }
  sf_handler *h = sf_handler_new();
  if (!h || greeter_register(h) != SF_OK) {
    fprintf(stderr, "bench_handler: cannot register the greeter\n");
    return 1;
  }
  sf_arena *arena = sf_arena_new(0);
  if (!arena)
    return 1;
  int rc = 0;
  for (int i = first; i < argc; i++) {
    size_t len;
    uint8_t *body = slurp(argv[i], &len);
    if (!body) {
      rc = 1;
      continue;
    }
    sf_handle_info info;
    uint8_t *reply;
    size_t reply_len = 0;
    /* warm up (and check) */
    for (int w = 0; w < 100; w++) {
      sf_arena_reset(arena);
      sf_status st = sf_handler_handle(h, body, len, arena, &reply,
                                       &reply_len, &info);
      if (st != SF_OK || info.incomplete) {
        fprintf(stderr, "bench_handler: %s: %s %s\n", argv[i],
                sf_strerror(st), info.error);
        return 1;
      }
    }
    uint64_t mallocs0 = sf_arena_mallocs(arena);
    double c0 = now_s(CLOCK_THREAD_CPUTIME_ID), w0 = now_s(CLOCK_MONOTONIC);
    double c1 = c0;
    long n = 0;
    while (c1 - c0 < seconds) {
      for (int k = 0; k < 64; k++) {
        sf_arena_reset(arena);
        sf_handler_handle(h, body, len, arena, &reply, &reply_len, NULL);
      }
      n += 64;
      c1 = now_s(CLOCK_THREAD_CPUTIME_ID);
    }
    double w1 = now_s(CLOCK_MONOTONIC);
    const char *base = strrchr(argv[i], '/');
    double cpu_us = (c1 - c0) * 1e6 / (double)n;
    printf("HANDLER file=%s invocations=%zu requests=%ld "
           "cpu_us_per_request=%.3f wall_us_per_request=%.3f "
           "invocations_per_cpu_s=%.0f reply_bytes=%zu arena_mallocs=%llu\n",
           base ? base + 1 : argv[i], info.invocations, n, cpu_us,
           (w1 - w0) * 1e6 / (double)n,
           (double)info.invocations * 1e6 / cpu_us, reply_len,
           (unsigned long long)(sf_arena_mallocs(arena) - mallocs0));
    free(body);
  }
  sf_arena_free(arena);
  sf_handler_free(h);
  return rc;
}
