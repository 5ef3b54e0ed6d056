/*
 * sfb/otlp.h - one trace span written as one line of OTLP/JSON (an
 * ExportTraceServiceRequest of opentelemetry-proto holding that span, in
 * the OTLP JSON encoding; docs/tracing.md), and the span ids every writer
 * of the tree derives the same way. The one span writer of the tree: the
 * entity runtime (libstatefun), sf-local and sf-gateway all use it, so an
 * OpenTelemetry collector and `sf-local --trace` read all their files alike.
 */
#ifndef SFB_OTLP_H
#define SFB_OTLP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* SpanKind of opentelemetry-proto (an integer in the JSON encoding). */
enum {
  SFB_SPAN_INTERNAL = 1,
  SFB_SPAN_SERVER = 2,
  SFB_SPAN_CLIENT = 3,
  SFB_SPAN_PRODUCER = 4,
  SFB_SPAN_CONSUMER = 5
};

#define SFB_OTLP_ATTRS 6

/* A span: ids as lower-case hex (trace 32, span 16 digits; the parent ""
 * or NULL for a root), times in ns since the epoch, string attributes
 * (the first NULL key ends the list). `error` sets status.code 2. */
typedef struct sfb_otlp_span {
  const char *trace_id, *span_id, *parent_span_id;
  const char *name;
  int kind;
  uint64_t start_ns, end_ns;
  bool error;
  const char *attr_key[SFB_OTLP_ATTRS], *attr_val[SFB_OTLP_ATTRS];
} sfb_otlp_span;

/* Writes `sp` as one line to `f` and flushes it, with resource attribute
 * service.name = `service` and instrumentation scope `scope`. Strings are
 * JSON-escaped; bytes that are not UTF-8 become '?'. The caller keeps
 * writers of one FILE apart (a lock). Nothing is written (and -1
 * returned) when the trace id is not 32 characters. */
int sfb_otlp_write(FILE *f, const char *service, const char *scope,
                   const sfb_otlp_span *sp);

/* The wall clock in ns since the epoch (OTLP's time base). */
uint64_t sfb_otlp_now_ns(void);

/* A derived span id: FNV-1a 64 of `s` as 16 hex digits, never all zeros
 * (W3C forbids it). Every process computes the same id from the same
 * text, so spans written by different processes join into one tree. */
void sfb_span_id_of(const char *s, char out[17]);

#endif /* SFB_OTLP_H */
