/*
 * engine_request.c - the calls to the functions: a batch of an address as
 * a ToFunction request (with every registered state), its HTTP transfer
 * (http:// on engine_http.c's client; https:// on libcurl's multi handle,
 * with the transport's TLS files, set_tls), the reply checks Flink's
 * transports make (Content-Type, which statuses OkHttp retries) and what
 * happens when a transfer finishes (apply, register specs and resend,
 * retry or fail), the same for both clients.
 */
#define _GNU_SOURCE
#include "engine_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfb/pbwire.h"

static size_t on_reply_data(char *ptr, size_t size, size_t n, void *ud) {
  addr *a = ud;
  size_t len = size * n;
  /* The async transport's payload_max_bytes (Netty fails a longer reply
   * with TooLongFrameException, retried); okhttp has no limit (0). */
  size_t max = a->fn->ep->payload_max_bytes ? a->fn->ep->payload_max_bytes : SIZE_MAX;
  if (a->reply.len + len > max) {
    a->reply_too_large = true;
    return 0; /* aborts the transfer */
  }
  sfb_buf_put(&a->reply, ptr, len);
  return a->reply.oom ? 0 : len;
}

/* Sizes of the protobuf pieces build_request writes, so that every
 * length is known before its bytes: the request is written front to back
 * into a->body and each state value is copied once (building the nested
 * messages inside out copied it four times: ~100 KB per hotel request). */
static size_t len_field_size(uint32_t field, size_t n) {
  return sfb_varint_size((uint64_t)field << 3 | SFB_WT_LEN) + sfb_varint_size(n) + n;
}

static size_t str_field_size(uint32_t field, const char *s) {
  return s != NULL && s[0] != '\0' ? len_field_size(field, strlen(s)) : 0;
}

/* A tag and a length; the caller writes the n bytes. */
static void len_head(sfb_buf *b, uint32_t field, size_t n) {
  sfb_buf_tag(b, field, SFB_WT_LEN);
  sfb_buf_varint(b, n);
}

/* sfl_pb_typed_value's size for a value that is present. */
static size_t typed_value_size(const state_val *s) {
  return str_field_size(1, s->typename) + 2 + (s->len > 0 ? len_field_size(3, s->len) : 0);
}

/* A PersistedValue {1: name, 2: TypedValue} (no 2 when absent). */
static size_t persisted_size(const spec *sp, const state_val *s) {
  return str_field_size(1, sp->name) + (s ? len_field_size(2, typed_value_size(s)) : 0);
}

/* The state of spec sp for a request: NULL when absent or expired (then
 * removed); an expire-after-invoke value refreshed. -1 (with
 * a->last_error) when it holds another type than the spec's. */
static int request_state(sfl_engine *e, addr *a, const spec *sp, int64_t now,
                         state_val **out) {
  state_val *s = eng_state_find(a, sp->name);
  if (s && s->expire_at && now >= s->expire_at) {
    eng_state_remove(e, a, sp->name);
    s = NULL;
  }
  if (s && strcmp(s->typename, sp->typename) != 0) {
    snprintf(a->last_error, sizeof(a->last_error),
             "state '%s' of %s holds a %s but is registered as %s", sp->name,
             a->key, s->typename, sp->typename);
    return -1;
  }
  if (s && sp->mode == 2) { /* expire after invoke: a read refreshes it */
    s->expire_at = now + sp->ms;
    STORE(sfl_store_state_put(e->store, a->key, s->name, s->typename, s->value,
                              s->len, s->expire_at));
  }
  *out = s;
  return 0;
}

/* Builds the ToFunction for a batch of `a` into a->body: the next batch
 * (up to maxNumBatchRequests) when `same_batch` is false, else the batch in
 * flight again (a->inflight messages), as StateFun resends exactly the same
 * invocations after a missing-state reply. Returns -1 (with a->last_error)
 * when a stored value conflicts with its spec. */
static int build_request(sfl_engine *e, addr *a, bool same_batch) {
  fn_type *f = a->fn;
  /* max_batch 0: no limit (maxNumBatchRequests <= 0), the whole backlog. */
  size_t max = same_batch ? a->inflight : (f->ep->max_batch ? f->ep->max_batch : SIZE_MAX);
  int64_t now = sfl_now_ms();
  /* The state of each spec, found once (few specs: on the stack). */
  state_val *few[16], **st = few;
  if (f->n_specs > 16 && !(st = malloc(f->n_specs * sizeof *st))) {
    snprintf(a->last_error, sizeof(a->last_error), "out of memory building a request");
    return -1;
  }
  int rc = 0;
  for (size_t i = 0; i < f->n_specs && rc == 0; i++)
    rc = request_state(e, a, &f->specs[i], now, &st[i]);
  if (rc != 0) {
    if (st != few) free(st);
    return -1;
  }
  sfb_buf *ab = &e->rq_scratch[0]; /* the address, small */
  sfb_buf_reset(ab);
  sfl_pb_address(ab, f->ns, f->name, a->id);
  /* The Batch's size: address, states, invocations. */
  size_t batch = len_field_size(1, ab->len), n = 0;
  for (size_t i = 0; i < f->n_specs; i++)
    batch += len_field_size(2, persisted_size(&f->specs[i], st[i]));
  for (msg *m = a->head; m && n < max; m = m->next, n++) batch += len_field_size(3, m->len);
  a->inflight = n;
  sfb_buf *b = &a->body;
  sfb_buf_reset(b);
  len_head(b, 100, batch);
  sfb_buf_len_field(b, 1, ab->p, ab->len);
  for (size_t i = 0; i < f->n_specs; i++) {
    const spec *sp = &f->specs[i];
    len_head(b, 2, persisted_size(sp, st[i]));
    sfl_pb_string(b, 1, sp->name);
    if (st[i]) {
      len_head(b, 2, typed_value_size(st[i]));
      sfl_pb_typed_value(b, st[i]->typename, true, st[i]->value, st[i]->len);
    }
  }
  n = 0;
  for (msg *m = a->head; m && n < max; m = m->next, n++) sfb_buf_len_field(b, 3, m->inv, m->len);
#ifdef SFL_BUILD_CHECK
  {
    sfb_buf bb = {0}, tb = {0}, vb = {0}, whole = {0};
    sfl_pb_address(&tb, f->ns, f->name, a->id);
    sfb_buf_len_field(&bb, 1, tb.p, tb.len);
    for (size_t i = 0; i < f->n_specs; i++) {
      const spec *sp = &f->specs[i];
      sfb_buf_reset(&tb);
      sfl_pb_string(&tb, 1, sp->name);
      if (st[i]) {
        sfb_buf_reset(&vb);
        sfl_pb_typed_value(&vb, sp->typename, true, st[i]->value, st[i]->len);
        sfb_buf_len_field(&tb, 2, vb.p, vb.len);
      }
      sfb_buf_len_field(&bb, 2, tb.p, tb.len);
    }
    size_t k = 0;
    for (msg *m = a->head; m && k < max; m = m->next, k++) sfb_buf_len_field(&bb, 3, m->inv, m->len);
    sfb_buf_len_field(&whole, 100, bb.p, bb.len);
    if (whole.len != b->len || memcmp(whole.p, b->p, b->len) != 0) {
      fprintf(stderr, "BUILD_CHECK MISMATCH %zu vs %zu\n", whole.len, b->len);
      abort();
    }
    fprintf(stderr, "BUILD_CHECK ok %zu\n", b->len);
    sfb_buf_free(&bb); sfb_buf_free(&tb); sfb_buf_free(&vb); sfb_buf_free(&whole);
  }
#endif
  if (st != few) free(st);
  bool oom = b->oom || ab->oom;
  if (ab->oom) sfb_buf_free(ab);
  if (oom) {
    snprintf(a->last_error, sizeof(a->last_error), "out of memory building a request");
    return -1;
  }
  return 0;
}

/* An https:// endpoint's TLS keys (config_endpoint.c checked the files) as
 * Flink's async transport uses them: trust_cacerts replaces the default
 * trust store (libcurl's, the system's, as the JDK's is Flink's default);
 * client_cert/client_key are presented for mutual TLS. Unlike Flink's
 * Netty client, libcurl also checks that the certificate names the host. */
static void set_tls(CURL *c, const sfl_endpoint *ep) {
  if (ep->trust_cacerts) curl_easy_setopt(c, CURLOPT_CAINFO, ep->trust_cacerts);
  if (!ep->client_cert) return;
  curl_easy_setopt(c, CURLOPT_SSLCERT, ep->client_cert);
  curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
  curl_easy_setopt(c, CURLOPT_SSLKEY, ep->client_key);
  curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  if (ep->client_key_password)
    curl_easy_setopt(c, CURLOPT_KEYPASSWD, ep->client_key_password);
}

/* The https:// transfer of a->body on libcurl's multi handle. */
static int curl_start(sfl_engine *e, addr *a, int64_t left) {
  const sfl_endpoint *ep = a->fn->ep;
  CURL *c = curl_easy_init();
  if (!c) {
    snprintf(a->last_error, sizeof(a->last_error), "curl_easy_init failed");
    return -1;
  }
  curl_easy_setopt(c, CURLOPT_URL, a->fn->url);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, a->body.p);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)a->body.len);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, e->headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_reply_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
  curl_easy_setopt(c, CURLOPT_PRIVATE, a);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   (long)(ep->connect_timeout_ms > 0 ? ep->connect_timeout_ms : 20000));
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  set_tls(c, ep);
  a->easy = c;
  e->curl_transfers++;
  curl_multi_add_handle(e->multi, c);
  return 0;
}

void eng_start_transfer(sfl_engine *e, addr *a) {
  const sfl_endpoint *ep = a->fn->ep;
  int64_t now = sfl_mono_ms();
  int64_t budget = ep->call_timeout_ms > 0 ? ep->call_timeout_ms : 120000;
  int64_t left = budget - (now - a->first_attempt_ms);
  if (left < 1) left = 1;
  sfb_buf_reset(&a->reply);
  a->reply_too_large = false;
  a->attempts++;
  SFLT(sflt_attempt_begin(a));
  e->inflight++;
  int rc = eng_http_serves(a->fn) ? eng_http_start(e, a, now + left) : curl_start(e, a, left);
  if (rc != 0) { /* nothing went out: a transport failure, retried */
    eng_result r = {.error = a->last_error};
    eng_finish_transfer(e, a, &r);
  }
}

/* Starts the next batch of a ready address, if it can go. */
void eng_dispatch(sfl_engine *e, addr *a) {
  if (eng_in_flight(a) || a->retry_at_ms || !a->queued) return;
  if (a->parked_until_ms && sfl_mono_ms() < a->parked_until_ms) return;
  a->parked_until_ms = 0;
  if (!a->fn->ep) {
    if (!a->last_error[0]) {
      snprintf(a->last_error, sizeof(a->last_error),
               "no endpoint in the module serves function type %s", a->fn->typename);
      eng_log("error", "%s: %zu message(s) wait: %s", a->key, a->queued, a->last_error);
    }
    return;
  }
  a->attempts = 0;
  a->first_attempt_ms = sfl_mono_ms();
  if (build_request(e, a, false) != 0) {
    eng_log("error", "%s: batch cannot be sent: %s (messages stay queued)", a->key,
            a->last_error);
    a->failures++;
    e->c_final_failures++;
    a->parked_until_ms = sfl_mono_ms() + e->opts.retry_pause_ms;
    eng_timed_push(e, a);
    return;
  }
  eng_start_transfer(e, a);
}

/* ---- reply checks as Flink's transports make them ------------------------------------ */

/* [p, end) without the characters Java's trim() and Netty's AsciiString.trim
 * drop at both ends (every char <= ' '). */
static void trim_span(const char **p, const char **end) {
  while (*p < *end && (unsigned char)**p <= ' ') (*p)++;
  while (*end > *p && (unsigned char)(*end)[-1] <= ' ') (*end)--;
}

static bool span_is(const char *p, const char *end, const char *want, bool nocase) {
  size_t n = strlen(want);
  if ((size_t)(end - p) != n) return false;
  return nocase ? strncasecmp(p, want, n) == 0 : strncmp(p, want, n) == 0;
}

bool sfl_reply_content_type_ok(sfl_transport transport, const char *const *values, size_t n) {
  static const char octet[] = "application/octet-stream";
  if (transport == SFL_TRANSPORT_OKHTTP) {
    if (n == 0 || !values[n - 1]) return false;
    const char *p = values[n - 1], *end = p + strlen(p);
    trim_span(&p, &end);
    return span_is(p, end, octet, false);
  }
  for (size_t i = 0; i < n; i++) {
    for (const char *p = values[i]; p;) {
      const char *comma = strchr(p, ',');
      const char *q = p, *end = comma ? comma : p + strlen(p);
      trim_span(&q, &end);
      if (span_is(q, end, octet, true)) return true;
      p = comma ? comma + 1 : NULL;
    }
  }
  return false;
}

bool sfl_okhttp_retries_status(long status) {
  return status == 408 || status == 409 || status == 420 || status == 429 || status == 499 ||
         status >= 500;
}

/* Every Content-Type header of libcurl's reply (its header API), into
 * vals (at most max). */
static size_t curl_content_types(CURL *c, const char **vals, size_t max) {
  size_t n = 0, amount = 1;
  for (size_t i = 0; i < amount && n < max; i++) {
    struct curl_header *h = NULL;
    if (curl_easy_header(c, "Content-Type", i, CURLH_HEADER, -1, &h) != CURLHE_OK) break;
    amount = h->amount;
    vals[n++] = h->value;
  }
  return n;
}

void eng_on_done(sfl_engine *e, CURL *c, CURLcode rc) {
  addr *a = NULL;
  curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **)&a);
  enum { MAX_CT = 16 };
  const char *vals[MAX_CT];
  char error[CURL_ERROR_SIZE + 64];
  eng_result r = {0};
  if (rc != CURLE_OK) {
    snprintf(error, sizeof error, "%s%s", curl_easy_strerror(rc),
             a->reply_too_large ? " (reply over payload_max_bytes)" : "");
    r.error = error;
  } else {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    r.n_ctype = curl_content_types(c, vals, MAX_CT);
    r.ctype = vals;
  }
  a->easy = NULL;
  e->curl_transfers--;
  eng_finish_transfer(e, a, &r);
  curl_multi_remove_handle(e->multi, c);
  curl_easy_cleanup(c);
}

/* protobuf-c's allocator on the engine's reply arena: a reply's dozen
 * allocations are bump allocations, and freeing it is one arena reset
 * (nothing of a reply outlives eng_finish_transfer: what is kept is
 * copied). */
static void *arena_alloc(void *arena, size_t n) { return sf_arena_alloc(arena, n); }
static void arena_free(void *arena, void *p) {
  (void)arena;
  (void)p;
}

static pb_from *unpack_reply(sfl_engine *e, addr *a) {
  ProtobufCAllocator al = {arena_alloc, arena_free, e->reply_arena};
  sf_arena_reset(e->reply_arena); /* what a failed unpack left */
  return io__statefun__sdk__reqreply__from_function__unpack(
      &al, a->reply.len, a->reply.p ? a->reply.p : (const uint8_t *)"");
}

void eng_finish_transfer(sfl_engine *e, addr *a, const eng_result *res) {
  long status = res->status;
  char ctype[256];
  ctype[0] = '\0';
  if (res->n_ctype) { /* the last one (a bounded copy; snprintf costs ~500 instructions) */
    const char *c = res->ctype[res->n_ctype - 1];
    size_t k = strnlen(c, sizeof ctype - 1);
    memcpy(ctype, c, k);
    ctype[k] = '\0';
  }
  bool okhttp = a->fn->ep->transport == SFL_TRANSPORT_OKHTTP;
  bool octet = !res->error && sfl_reply_content_type_ok(a->fn->ep->transport, res->ctype,
                                                        res->n_ctype);
  e->inflight--;

  /* The async transport retries every failure within the call timeout; the
   * okhttp one only I/O failures and some statuses (RetryingCallback), and
   * fails at once on other statuses, a wrong Content-Type or a bad body. */
  pb_from *from = NULL;
  bool final = false;
  if (res->error) {
    if (res->error != a->last_error)
      snprintf(a->last_error, sizeof(a->last_error), "%s", res->error);
  } else if (status < 200 || status > 299) {
    final = okhttp && !sfl_okhttp_retries_status(status);
    /* The body is the function's reason (our SDK's fits in 400 bytes),
     * shown on one line. */
    size_t n = a->reply.len > 400 ? 400 : a->reply.len;
    while (n > 0 && (a->reply.p[n - 1] == '\n' || a->reply.p[n - 1] == '\r')) n--;
    snprintf(a->last_error, sizeof(a->last_error), "HTTP %ld from %s%s: %.*s", status, a->fn->url,
             final ? " (the okhttp transport retries only 408, 409, 420, 429, 499 and 5xx)" : "",
             (int)n, a->reply.p ? (const char *)a->reply.p : "");
  } else if (!octet) {
    final = okhttp;
    snprintf(a->last_error, sizeof(a->last_error),
             "reply Content-Type is '%s', not %s", ctype,
             okhttp ? "exactly application/octet-stream (okhttp transport)"
                    : "application/octet-stream");
  } else if (!(from = unpack_reply(e, a))) {
    final = okhttp;
    snprintf(a->last_error, sizeof(a->last_error), "reply is not a valid FromFunction (%zu bytes)",
             a->reply.len);
  }
  if (!from) {
    if (final)
      eng_fail_batch(e, a);
    else
      eng_schedule_retry(e, a);
    return;
  }

  if (from->response_case ==
      IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INCOMPLETE_INVOCATION_CONTEXT) {
    e->c_missing_state++;
    int ok = eng_register_specs(a, from->incomplete_invocation_context);
    sf_arena_reset(e->reply_arena);
    if (ok != 0 || build_request(e, a, true) != 0) {
      eng_fail_batch(e, a); /* retrying cannot fix a spec conflict */
      return;
    }
    if (e->opts.verbose) eng_log("info", "%s: registered state, resending the batch", a->key);
    SFLT(sflt_attempt_end(a, NULL, SFLT_RESEND));
    eng_start_transfer(e, a); /* the same batch, now with its state */
    return;
  }
  const pb_resp *r = from->response_case ==
                             IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INVOCATION_RESULT
                         ? from->invocation_result
                         : NULL;
  if (r && eng_validate_result(e, a, r) != 0) {
    sf_arena_reset(e->reply_arena);
    eng_fail_batch(e, a);
    return;
  }
  eng_txn_begin(e);
  if (r) eng_apply_result(e, a, r);
  if (e->opts.verbose)
    eng_log("info", "%s: batch of %zu done (%zu mutation(s), %zu message(s), %zu egress)", a->key,
            a->inflight, r ? r->n_state_mutations : 0, r ? r->n_outgoing_messages : 0,
            r ? r->n_outgoing_egresses : 0);
  eng_consume_batch(e, a);
  sf_arena_reset(e->reply_arena);
  a->last_error[0] = '\0';
  a->attempts = 0;
  if (a->queued) eng_ready_push(e, a);
}
