/*
 * engine_trace.c - the engine's spans (docs/tracing.md, "sf-local's
 * spans"): every entity Call or Reply that goes through a mailbox is one
 * hop, a span from the moment sf-local routes it to the end of the batch
 * that delivered it, with a child for its wait in the mailbox and one for
 * each HTTP attempt of its batch (a retry is an attempt after a failed
 * one; a failed attempt carries the error and status ERROR). A hop hangs
 * under the span the envelope names: a Call's parent_span_id (the
 * caller's await span, or the front's request span), a Reply's reply
 * span (the id the entity runtime derives from "reply:<call id>"), so
 * sf-local's spans and the function servers' join into one tree.
 *
 * The engine calls each hook once per event through SFLT (a single test
 * while tracing is off). Only entity envelopes carry a trace context;
 * other messages get no span.
 */
#define _GNU_SOURCE
#include "engine_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <statefun/entity.h>

#include "entities.pb-c.h"
#include "trace_spans.h"

/* What a traced message carries through its mailbox. */
struct sflt_msg {
  char trace_id[33];
  char parent[17]; /* the span the hop hangs under */
  char hop[17];    /* the hop's span (a fresh one after a failed batch) */
  char *name;      /* "sf-local call ns/Type.method", "sf-local reply to ns/Type" */
  char *call_id;
  uint64_t seq;
  uint64_t queued_ns;  /* routed (or put back after a failed batch) */
  uint64_t attempt_ns; /* the current HTTP attempt's start */
  bool sent;           /* an attempt of this round began (its wait is over) */
  int attempts;        /* attempts in this round */
  int retries;         /* attempts that followed a failed one */
  int after;           /* what the last attempt was: 0 none, 1 failed, 2 missing state */
};

void sflt_msg_free(struct sflt_msg *t) {
  if (t == NULL) return;
  free(t->name);
  free(t->call_id);
  free(t);
}

/* A derived id: the tree's span id hash of "<base>:<what>". */
static void child_id(const char *base, const char *what, char out[17]) {
  char s[64];
  snprintf(s, sizeof s, "%s:%s", base, what);
  sfb_span_id_of(s, out);
}

static void new_round(struct sflt_msg *t, uint64_t now) {
  char s[96];
  t->queued_ns = now;
  t->sent = false;
  t->attempts = t->retries = t->after = 0;
  snprintf(s, sizeof s, "sf-local hop %llu %llu %.32s", (unsigned long long)t->seq,
           (unsigned long long)now, t->trace_id);
  sfb_span_id_of(s, t->hop);
}

/* The envelope of invocation `inv` when it is an entity Call or Reply
 * with a trace context; NULL otherwise. */
static struct sflt_msg *from_envelope(addr *a, const uint8_t *inv, size_t len) {
  /* a plain message (no envelope's typename in it) costs one scan */
  static const char envelope_ns[] = "statefun.entities/";
  if (memmem(inv, len, envelope_ns, sizeof envelope_ns - 1) == NULL) return NULL;
  Io__Statefun__Sdk__Reqreply__ToFunction__Invocation *in =
      (Io__Statefun__Sdk__Reqreply__ToFunction__Invocation *)protobuf_c_message_unpack(
          &io__statefun__sdk__reqreply__to_function__invocation__descriptor, NULL, len, inv);
  if (in == NULL) return NULL;
  const pb_tv *arg = in->argument;
  struct sflt_msg *t = NULL;
  if (arg != NULL && arg->has_value && strcmp(arg->typename_, SF_TYPENAME_CALL) == 0) {
    Statefun__Entities__Call *c =
        statefun__entities__call__unpack(NULL, arg->value.len, arg->value.data);
    if (c != NULL && strlen(c->trace_id) == 32 && strlen(c->parent_span_id) == 16 &&
        (t = calloc(1, sizeof *t)) != NULL) {
      memcpy(t->trace_id, c->trace_id, 33);
      memcpy(t->parent, c->parent_span_id, 17);
      t->name = sfl_strfmt("sf-local call %s.%s", a->fn->typename, c->method);
      t->call_id = strdup(c->call_id);
    }
    if (c != NULL) statefun__entities__call__free_unpacked(c, NULL);
  } else if (arg != NULL && arg->has_value && strcmp(arg->typename_, SF_TYPENAME_REPLY) == 0) {
    Statefun__Entities__Reply *r =
        statefun__entities__reply__unpack(NULL, arg->value.len, arg->value.data);
    if (r != NULL && strlen(r->trace_id) == 32 && (t = calloc(1, sizeof *t)) != NULL) {
      char *rs = sfl_strfmt("reply:%s", r->call_id);
      memcpy(t->trace_id, r->trace_id, 33);
      if (rs != NULL) sfb_span_id_of(rs, t->parent);
      free(rs);
      t->name = sfl_strfmt("sf-local reply to %s", a->fn->typename);
      t->call_id = strdup(r->call_id);
    }
    if (r != NULL) statefun__entities__reply__free_unpacked(r, NULL);
  }
  protobuf_c_message_free_unpacked(&in->base, NULL);
  if (t != NULL && (t->name == NULL || t->call_id == NULL || t->parent[0] == '\0')) {
    sflt_msg_free(t);
    t = NULL;
  }
  return t;
}

void sflt_enqueued(addr *a, msg *m) {
  m->trace = from_envelope(a, m->inv, m->len);
  if (m->trace == NULL) return;
  m->trace->seq = m->seq;
  new_round(m->trace, sfb_otlp_now_ns());
}

void sflt_attempt_begin(addr *a) {
  uint64_t now = sfb_otlp_now_ns();
  char batch[24];
  snprintf(batch, sizeof batch, "%zu", a->inflight);
  size_t i = 0;
  for (msg *m = a->head; m != NULL && i < a->inflight; m = m->next, i++) {
    struct sflt_msg *t = m->trace;
    if (t == NULL) continue;
    t->attempt_ns = now;
    t->attempts++;
    if (t->sent) continue;
    t->sent = true;
    /* the wait in the mailbox: routed until its batch went out */
    char id[17];
    child_id(t->hop, "queued", id);
    sfb_otlp_span sp = {t->trace_id, id, t->hop, "queued", SFB_SPAN_INTERNAL,
                        t->queued_ns, now, false, {"sflocal.batch_size"}, {batch}};
    sflt_write(&sp);
  }
}

/* The span of the attempt that just ended, for one message. */
static void attempt_span(addr *a, struct sflt_msg *t, const char *error, int outcome,
                         uint64_t now) {
  static const char *const outcome_text[] = {
      [SFLT_RETRY] = "failed: retried after a backoff",
      [SFLT_RESEND] = "missing state: sent again with it",
      [SFLT_FAILED] = "failed: the messages stay queued",
      [SFLT_DONE] = "done"};
  char name[48], no[16], id[17];
  if (t->after == 1) snprintf(name, sizeof name, "POST (retry %d)", ++t->retries);
  else if (t->after == 2) snprintf(name, sizeof name, "POST (with the missing state)");
  else snprintf(name, sizeof name, "POST");
  snprintf(no, sizeof no, "%d", t->attempts);
  child_id(t->hop, no, id);
  bool failed = error != NULL;
  sfb_otlp_span sp = {t->trace_id, id, t->hop, name, SFB_SPAN_CLIENT, t->attempt_ns, now,
                      failed,
                      {"sflocal.attempt", "url.full", "sflocal.outcome", "statefun.ok",
                       failed ? "statefun.error" : NULL},
                      {no, a->fn->url, outcome_text[outcome], failed ? "false" : "true",
                       error}};
  sflt_write(&sp);
  t->after = failed ? 1 : outcome == SFLT_RESEND ? 2 : 0;
}

/* The hop's own span, when its batch is over (done or failed). */
static void hop_span(addr *a, struct sflt_msg *t, const char *error, uint64_t now) {
  bool failed = error != NULL;
  sfb_otlp_span sp = {t->trace_id, t->hop, t->parent, t->name, SFB_SPAN_PRODUCER,
                      t->queued_ns, now, failed,
                      {"statefun.key", "statefun.call_id", failed ? "statefun.error" : NULL},
                      {a->id, t->call_id, error}};
  sflt_write(&sp);
}

void sflt_attempt_end(addr *a, const char *error, int outcome) {
  uint64_t now = sfb_otlp_now_ns();
  size_t i = 0;
  for (msg *m = a->head; m != NULL && i < a->inflight; m = m->next, i++) {
    struct sflt_msg *t = m->trace;
    if (t == NULL || !t->sent) continue;
    attempt_span(a, t, outcome == SFLT_DONE || outcome == SFLT_RESEND ? NULL : error, outcome,
                 now);
    if (outcome == SFLT_DONE || outcome == SFLT_FAILED) {
      hop_span(a, t, outcome == SFLT_FAILED ? error : NULL, now);
      if (outcome == SFLT_FAILED) new_round(t, now); /* tried again later: a new hop */
    }
  }
}
