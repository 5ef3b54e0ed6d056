/*
 * engine_reply.c - a function's reply: validated whole before anything of
 * it is applied, then applied in StateFun's order (outgoing messages,
 * delayed messages scheduled or cancelled, egress records, state
 * mutations) and the batch consumed; missing state registered; failed
 * batches reported, kept and retried with backoff.
 */
#define _GNU_SOURCE
#include "engine_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Why a reply cannot be accepted, into a->last_error. */
__attribute__((format(printf, 2, 3))) int eng_reject(addr *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->last_error, sizeof(a->last_error), fmt, ap);
  va_end(ap);
  return -1;
}

bool eng_valid_typename(const char *s) {
  const char *slash = s ? strchr(s, '/') : NULL;
  return slash && slash != s && slash[1] && !strchr(slash + 1, '/');
}

static bool token_pending(sfl_engine *e, const addr *a, const pb_resp *r, size_t i) {
  const char *tok = r->delayed_invocations[i]->cancellation_token;
  for (size_t j = i; j-- > 0;) {
    const Io__Statefun__Sdk__Reqreply__FromFunction__DelayedInvocation *o =
        r->delayed_invocations[j];
    if (strcmp(o->cancellation_token, tok) == 0) return !o->is_cancellation_request;
  }
  char *k = eng_token_key(a->id, tok);
  delayed *prev = k ? sfl_map_get(&e->tokens, k) : NULL;
  free(k);
  return prev && !prev->cancelled;
}

/* Frees the egress records a validation decoded and apply did not take. */
static void drop_checked_egress(sfl_engine *e) {
  for (size_t i = 0; i < e->n_checked; i++) eng_egress_rec_free(&e->checked[i]);
  e->n_checked = 0;
}

/* eng_validate_result's checks; the egress records it decodes stay in
 * e->checked (e->n_checked of them) for eng_apply_result. */
static int validate(sfl_engine *e, addr *a, const pb_resp *r) {
  for (size_t i = 0; i < r->n_outgoing_messages; i++) {
    const pb_addr *t = r->outgoing_messages[i]->target;
    if (!t) return eng_reject(a, "outgoing message %zu has no target", i);
    char *tn = sfl_strjoin(t->namespace_, '/', t->type);
    fn_type *f = tn && eng_valid_typename(tn) ? eng_fn_get(e, tn) : NULL;
    bool served = f && f->ep;
    int rc = served ? 0 : eng_reject(a, "outgoing message to %s/%s: no endpoint in the module serves that function type",
                                     t->namespace_, t->type);
    free(tn);
    if (rc) return rc;
  }
  for (size_t i = 0; i < r->n_delayed_invocations; i++) {
    const Io__Statefun__Sdk__Reqreply__FromFunction__DelayedInvocation *d =
        r->delayed_invocations[i];
    if (d->is_cancellation_request) {
      if (!d->cancellation_token[0])
        return eng_reject(a, "cancellation request without a token");
      continue;
    }
    if (d->delay_in_ms < 0) return eng_reject(a, "delayed message with negative delay %lld",
                                              (long long)d->delay_in_ms);
    if (!d->target) return eng_reject(a, "delayed message %zu has no target", i);
    char *tn = sfl_strjoin(d->target->namespace_, '/', d->target->type);
    fn_type *f = tn && eng_valid_typename(tn) ? eng_fn_get(e, tn) : NULL;
    bool served = f && f->ep;
    int rc = served ? 0 : eng_reject(a, "delayed message to %s: no endpoint in the module serves that function type",
                                     tn ? tn : "?");
    free(tn);
    if (rc) return rc;
    if (d->cancellation_token[0] && token_pending(e, a, r, i))
      return eng_reject(a, "delayed message with cancellation token '%s' while one with that token "
                        "is still pending (Flink fails the job here too)", d->cancellation_token);
  }
  /* The records decoded here are the ones eng_apply_result keeps. */
  drop_checked_egress(e);
  if (r->n_outgoing_egresses > e->cap_checked) {
    egress_rec *n = realloc(e->checked, r->n_outgoing_egresses * sizeof(*n));
    if (!n) return eng_reject(a, "out of memory");
    e->checked = n;
    e->cap_checked = r->n_outgoing_egresses;
  }
  for (size_t i = 0; i < r->n_outgoing_egresses; i++) {
    if (eng_egress_decode(e, a, i, r->outgoing_egresses[i], &e->checked[i]) != 0) return -1;
    e->n_checked = i + 1;
  }
  for (size_t i = 0; i < r->n_state_mutations; i++) {
    const Io__Statefun__Sdk__Reqreply__FromFunction__PersistedValueMutation *m =
        r->state_mutations[i];
    const spec *sp = eng_spec_find(a->fn, m->state_name);
    if (!sp) return eng_reject(a, "mutation of state '%s', which is not registered for %s",
                               m->state_name, a->fn->typename);
    if (m->mutation_type == 1) {
      if (!m->state_value) return eng_reject(a, "MODIFY of state '%s' without a value", m->state_name);
      if (strcmp(m->state_value->typename_, sp->typename) != 0)
        return eng_reject(a, "MODIFY of state '%s' with type %s; it is registered as %s",
                          m->state_name, m->state_value->typename_, sp->typename);
    } else if (m->mutation_type != 0) {
      return eng_reject(a, "state '%s': unknown mutation type %d", m->state_name,
                        (int)m->mutation_type);
    }
  }
  return 0;
}

/* Checks the whole InvocationResponse before anything is applied. */
int eng_validate_result(sfl_engine *e, addr *a, const pb_resp *r) {
  int rc = validate(e, a, r);
  if (rc != 0) drop_checked_egress(e);
  return rc;
}

/* Applies a validated result: messages, delayed, egress, mutations. */
void eng_apply_result(sfl_engine *e, addr *a, const pb_resp *r) {
  for (size_t i = 0; i < r->n_outgoing_messages; i++) {
    const Io__Statefun__Sdk__Reqreply__FromFunction__Invocation *m = r->outgoing_messages[i];
    char *tn = sfl_strjoin(m->target->namespace_, '/', m->target->type);
    addr *to = tn ? eng_addr_get(e, eng_fn_get(e, tn), m->target->id) : NULL;
    free(tn);
    const pb_tv *v = m->argument;
    size_t len;
    uint8_t *inv = eng_make_invocation(a, v ? v->typename_ : "", v && v->has_value,
                                       v ? v->value.data : NULL, v ? v->value.len : 0, &len);
    if (to && inv) {
      eng_deliver(e, to, inv, len);
      e->c_routed++;
    } else {
      free(inv);
    }
  }
  int64_t now = sfl_now_ms();
  for (size_t i = 0; i < r->n_delayed_invocations; i++) {
    const Io__Statefun__Sdk__Reqreply__FromFunction__DelayedInvocation *d =
        r->delayed_invocations[i];
    if (d->is_cancellation_request) {
      char *k = eng_token_key(a->id, d->cancellation_token);
      delayed *prev = k ? sfl_map_del(&e->tokens, k) : NULL;
      free(k);
      if (prev) {
        prev->cancelled = true; /* the heap drops it when it comes up */
        e->n_cancelled++;
        STORE(sfl_store_delayed_del(e->store, prev->seq));
      }
      continue;
    }
    delayed *dl = calloc(1, sizeof(*dl));
    if (!dl) continue;
    const pb_tv *v = d->argument;
    dl->seq = ++e->seq;
    dl->fire_at = now + d->delay_in_ms;
    dl->target = sfl_strfmt("%s/%s/%s", d->target->namespace_, d->target->type, d->target->id);
    dl->owner = strdup(a->id);
    dl->token = strdup(d->cancellation_token);
    dl->inv = eng_make_invocation(a, v ? v->typename_ : "", v && v->has_value,
                                  v ? v->value.data : NULL, v ? v->value.len : 0, &dl->len);
    if (!dl->target || !dl->owner || !dl->token || !dl->inv) {
      eng_delayed_free(dl);
      continue;
    }
    STORE(sfl_store_delayed_put(e->store, dl->seq, dl->fire_at, dl->target, dl->owner,
                                dl->token, dl->inv, dl->len));
    eng_delayed_add(e, dl);
  }
  for (size_t i = 0; i < r->n_outgoing_egresses; i++) {
    const Io__Statefun__Sdk__Reqreply__FromFunction__EgressMessage *m = r->outgoing_egresses[i];
    const pb_tv *v = m->argument;
    egress_rec er = e->checked[i]; /* decoded by eng_validate_result */
    e->checked[i] = (egress_rec){0};
    record *rec = calloc(1, sizeof(*rec));
    if (!rec) {
      eng_egress_rec_free(&er);
      continue;
    }
    rec->r.seq = ++e->seq;
    rec->r.egress_id = sfl_strjoin(m->egress_namespace, '/', m->egress_type);
    rec->r.typename = strdup(v ? v->typename_ : "");
    rec->r.topic = er.topic;
    rec->r.key = er.key;
    rec->r.value = er.value;
    rec->r.len = er.len;
    if (!rec->r.egress_id || !rec->r.typename || !rec->r.topic || !rec->r.key || !rec->r.value) {
      sfl_record_free(&rec->r);
      free(rec);
      continue;
    }
    eng_record_add(e, rec, true);
    e->c_egress++;
  }
  e->n_checked = 0; /* every checked record was taken above */
  for (size_t i = 0; i < r->n_state_mutations; i++) {
    const Io__Statefun__Sdk__Reqreply__FromFunction__PersistedValueMutation *m =
        r->state_mutations[i];
    const spec *sp = eng_spec_find(a->fn, m->state_name);
    if (m->mutation_type == 0) {
      eng_state_remove(e, a, m->state_name);
    } else {
      int64_t exp = sp->mode ? now + sp->ms : 0;
      eng_state_set(e, a, m->state_name, sp->typename, m->state_value->value.data,
                    m->state_value->value.len, exp, true);
    }
  }
}

/* Registers the specs a function asked for. -1 when one conflicts. */
int eng_register_specs(addr *a,
                       const Io__Statefun__Sdk__Reqreply__FromFunction__IncompleteInvocationContext *inc) {
  fn_type *f = a->fn;
  for (size_t i = 0; i < inc->n_missing_values; i++) {
    const Io__Statefun__Sdk__Reqreply__FromFunction__PersistedValueSpec *ps =
        inc->missing_values[i];
    const char *tn = ps->type_typename[0] ? ps->type_typename : "io.statefun.types/unset";
    if (!ps->state_name[0]) return eng_reject(a, "missing-state reply with an empty state name");
    if (!eng_valid_typename(tn))
      return eng_reject(a, "state '%s': type '%s' is not namespace/name", ps->state_name, tn);
    const spec *old = eng_spec_find(f, ps->state_name);
    if (old) {
      /* As in Flink: a registered spec never changes; another type fails. */
      if (strcmp(old->typename, tn) != 0)
        return eng_reject(a, "state '%s' of %s is registered as %s; the function now declares %s",
                          ps->state_name, f->typename, old->typename, tn);
      continue;
    }
    spec *ns = realloc(f->specs, (f->n_specs + 1) * sizeof(*ns));
    if (!ns) return eng_reject(a, "out of memory");
    f->specs = ns;
    spec *s = &f->specs[f->n_specs++];
    s->name = strdup(ps->state_name);
    s->typename = strdup(tn);
    s->mode = ps->expiration_spec ? (int)ps->expiration_spec->mode : 0;
    s->ms = ps->expiration_spec ? ps->expiration_spec->expire_after_millis : 0;
    if (s->mode && s->ms <= 0) s->mode = 0;
  }
  return 0;
}

/* Removes the batch that was in flight from the mailbox. */
void eng_consume_batch(sfl_engine *e, addr *a) {
  SFLT(sflt_attempt_end(a, NULL, SFLT_DONE));
  for (size_t i = 0; i < a->inflight && a->head; i++) eng_mailbox_remove(e, a, a->head, NULL);
  e->c_invocations += a->inflight;
  e->c_batches++;
  a->batches++;
  if (a->inflight > e->c_max_batch) e->c_max_batch = a->inflight;
  a->inflight = 0;
  pthread_cond_broadcast(&e->space_cv);
  eng_changed(e);
}

/* A batch that cannot succeed by retrying (the reply is well-formed but
 * breaks a rule, or a spec conflicts): reported at once, kept queued, and
 * tried again after the retry pause, as Flink would after a restart. */
void eng_fail_batch(sfl_engine *e, addr *a) {
  SFLT(sflt_attempt_end(a, a->last_error, SFLT_FAILED));
  a->failures++;
  e->c_final_failures++;
  eng_log("error", "%s: batch of %zu message(s) rejected: %s; the messages stay queued, "
          "retrying in %lld ms",
          a->key, a->inflight, a->last_error, (long long)e->opts.retry_pause_ms);
  a->inflight = 0;
  a->retry_at_ms = 0;
  a->parked_until_ms = sfl_mono_ms() + e->opts.retry_pause_ms;
  eng_timed_push(e, a);
}

void eng_schedule_retry(sfl_engine *e, addr *a) {
  int64_t now = sfl_mono_ms();
  int64_t budget = a->fn->ep->call_timeout_ms > 0 ? a->fn->ep->call_timeout_ms : 120000;
  /* First backoff: 2 ms (NettyRequest), 10 ms for okhttp (RetryingCallback). */
  int64_t backoff = a->fn->ep->transport == SFL_TRANSPORT_OKHTTP ? 10 : 2;
  for (int i = 1; i < a->attempts && backoff < MAX_BACKOFF_MS; i++) backoff *= 2;
  if (backoff > MAX_BACKOFF_MS) backoff = MAX_BACKOFF_MS;
  a->failures++;
  if (now + backoff - a->first_attempt_ms >= budget) {
    e->c_final_failures++;
    eng_log("error", "%s: batch of %zu message(s) failed after %d attempt(s) in %lld ms: %s; "
            "the messages stay queued, retrying in %lld ms",
            a->key, a->inflight, a->attempts, (long long)(now - a->first_attempt_ms),
            a->last_error, (long long)e->opts.retry_pause_ms);
    SFLT(sflt_attempt_end(a, a->last_error, SFLT_FAILED));
    a->inflight = 0;
    a->parked_until_ms = now + e->opts.retry_pause_ms;
    a->retry_at_ms = 0;
    eng_timed_push(e, a);
    return;
  }
  e->c_retries++;
  eng_first_failure(e, a);
  SFLT(sflt_attempt_end(a, a->last_error, SFLT_RETRY));
  if (e->opts.verbose)
    eng_log("info", "%s: attempt %d failed (%s), retrying in %lld ms", a->key, a->attempts,
            a->last_error, (long long)backoff);
  a->retry_at_ms = now + backoff;
  eng_timed_push(e, a);
}
