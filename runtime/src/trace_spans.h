/*
 * trace_spans.h - sf-local's own spans (docs/tracing.md, "sf-local's
 * spans"): where they go (`sf-local --trace-out FILE`, "-" for stdout),
 * written as OTLP/JSON lines by the tree's one writer (sfb/otlp.h) with
 * service.name "sf-local", beside the function servers' spans of the same
 * traces. The engine's hooks are in engine_trace.c; the entity-call
 * front writes its request span with sflt_write.
 *
 * Off (the default) sflt_out is NULL and every hook site is one test of
 * it (SFLT).
 */
#ifndef SFL_TRACE_SPANS_H
#define SFL_TRACE_SPANS_H

#include <stddef.h>
#include <stdio.h>

#include "sfb/otlp.h"

/* Where spans go; NULL: tracing is off. */
extern FILE *sflt_out;

/* Runs `call` only when tracing is on: the one test a hook site costs. */
#define SFLT(call)                                  \
  do {                                              \
    if (__builtin_expect(sflt_out != NULL, 0)) call; \
  } while (0)

/* Opens the span output: a file (appended to) or "-" (stdout). -1 with
 * the reason in err. */
int sflt_open(const char *path, char *err, size_t err_len);
/* Flushes and closes it (tracing off again). */
void sflt_close(void);
/* Writes one span (thread-safe). */
void sflt_write(const sfb_otlp_span *sp);

#endif /* SFL_TRACE_SPANS_H */
