/*
 * entity_trace.c - spans of the entity runtime (docs/tracing.md): each
 * step of a method instance, each call it awaits and each Reply it sends
 * becomes one OTLP span, written as a line of OTLP/JSON (an
 * ExportTraceServiceRequest with one span, sfb/otlp.h's writer) to the
 * file sf_trace_open named. Ids come from the Call envelopes' trace
 * context: the trace id the front put in, an instance's span id derived from its call id
 * (sf_ent_span_id), so the spans of different processes join into one
 * tree without any shared state. Off (the default) every site is a single
 * test of sf_ent_trace_out.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entity_internal.h"

FILE *sf_ent_trace_out;
static pthread_mutex_t trace_mu = PTHREAD_MUTEX_INITIALIZER;

sf_status sf_trace_open(const char *path) {
  FILE *f = NULL;
  if (path && strcmp(path, "-") == 0) f = stdout;
  else if (path && !(f = fopen(path, "a"))) return SF_ERR_IO;
  pthread_mutex_lock(&trace_mu);
  if (sf_ent_trace_out && sf_ent_trace_out != stdout) fclose(sf_ent_trace_out);
  sf_ent_trace_out = f;
  pthread_mutex_unlock(&trace_mu);
  return SF_OK;
}

static void open_env(void) {
  const char *p = getenv("SF_TRACE_OUT");
  if (p && p[0] && sf_trace_open(p) != SF_OK)
    fprintf(stderr, "statefun: SF_TRACE_OUT=%s: cannot open it; tracing is off\n", p);
}

void sf_ent_trace_env(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, open_env);
}

uint64_t sf_ent_trace_now(void) { return sfb_otlp_now_ns(); }

void sf_ent_trace_span(const sf_ent_span *sp) {
  FILE *f = sf_ent_trace_out;
  if (!f) return;
  pthread_mutex_lock(&trace_mu);
  sfb_otlp_write(f, "statefun-c", "statefun-c.entities", sp);
  pthread_mutex_unlock(&trace_mu);
}

void sf_ent_trace_step(sf_entity_ctx *c, const sf_method_desc *m, const pb_call *call,
                       const pb_frame *prev, uint64_t start_ns) {
  if (!call->trace_id[0]) return;
  const char *type = c->reg->desc->type_name;
  char *inst = sf_ent_span_id(c->ctx, call->call_id);
  sf_ent_span sp = {call->trace_id, inst, call->parent_span_id, NULL, SF_SPAN_SERVER,
                    start_ns, sf_ent_trace_now(), c->failure != SF_OK,
                    {"statefun.call_id", "statefun.key", "statefun.step"},
                    {call->call_id, c->key.ptr, "first"}};
  if (prev) {
    /* a resumed step: a child of the instance's first step */
    sp.parent_span_id = inst;
    sp.span_id = sf_ent_span_id(c->ctx, sf_context_printf(c->ctx, NULL, "%s>%s%s",
                                                          call->call_id, prev->awaiting,
                                                          prev->label));
    sp.attr_val[2] = "resumed";
  }
  sp.name = sf_context_printf(c->ctx, NULL, "%s.%s%s", type, m->name, prev ? " (resumed)" : "");
  if (inst && sp.span_id && sp.name) sf_ent_trace_span(&sp);
}
