/* support.c - see support.h. */
#include "support.h"

#include <stdlib.h>
#include <string.h>

typedef Io__Statefun__Sdk__Reqreply__Address pb_addr;
typedef Io__Statefun__Sdk__Reqreply__TypedValue pb_tv;
typedef Io__Statefun__Sdk__Reqreply__ToFunction__PersistedValue pb_pv;
typedef Io__Statefun__Sdk__Reqreply__ToFunction__Invocation pb_inv;
typedef Io__Statefun__Sdk__Reqreply__ToFunction__InvocationBatchRequest pb_batch;

struct tf_req {
  Io__Statefun__Sdk__Reqreply__ToFunction to;
  pb_batch batch;
  pb_addr target;
};

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

static pb_tv *new_tv(const char *typename, const void *data, size_t len) {
  pb_tv *tv = malloc(sizeof(*tv));
  io__statefun__sdk__reqreply__typed_value__init(tv);
  tv->typename_ = dup_or_empty(typename);
  tv->has_value = data != NULL; /* NULL: a value without bytes (no value) */
  tv->value.len = len;
  tv->value.data = malloc(len ? len : 1);
  if (len) memcpy(tv->value.data, data, len);
  return tv;
}

tf_req *tf_req_new(const char *ns, const char *type, const char *id) {
  tf_req *r = calloc(1, sizeof(*r));
  io__statefun__sdk__reqreply__to_function__init(&r->to);
  io__statefun__sdk__reqreply__to_function__invocation_batch_request__init(&r->batch);
  io__statefun__sdk__reqreply__address__init(&r->target);
  r->target.namespace_ = dup_or_empty(ns);
  r->target.type = dup_or_empty(type);
  r->target.id = dup_or_empty(id);
  r->batch.target = &r->target;
  r->to.request_case = IO__STATEFUN__SDK__REQREPLY__TO_FUNCTION__REQUEST_INVOCATION;
  r->to.invocation = &r->batch;
  return r;
}

void tf_req_state(tf_req *r, const char *name, const char *typename,
                  const void *data, size_t len) {
  pb_pv *pv = malloc(sizeof(*pv));
  io__statefun__sdk__reqreply__to_function__persisted_value__init(pv);
  pv->state_name = strdup(name);
  pv->state_value = typename ? new_tv(typename, data, len) : NULL;
  r->batch.state = realloc(r->batch.state, (r->batch.n_state + 1) * sizeof(pb_pv *));
  r->batch.state[r->batch.n_state++] = pv;
}

void tf_req_invoke(tf_req *r, const char *typename, const void *data,
                   size_t len, const char *caller_ns, const char *caller_type,
                   const char *caller_id) {
  pb_inv *inv = malloc(sizeof(*inv));
  io__statefun__sdk__reqreply__to_function__invocation__init(inv);
  inv->argument = new_tv(typename, data, len);
  if (caller_ns) {
    pb_addr *a = malloc(sizeof(*a));
    io__statefun__sdk__reqreply__address__init(a);
    a->namespace_ = strdup(caller_ns);
    a->type = strdup(caller_type);
    a->id = strdup(caller_id);
    inv->caller = a;
  }
  r->batch.invocations =
      realloc(r->batch.invocations, (r->batch.n_invocations + 1) * sizeof(pb_inv *));
  r->batch.invocations[r->batch.n_invocations++] = inv;
}

void tf_req_invoke_string(tf_req *r, const char *s) {
  size_t n = strlen(s);
  uint8_t *buf = malloc(n + 12);
  size_t i = 0;
  if (n) {
    buf[i++] = 0x0A;
    size_t v = n;
    while (v >= 0x80) {
      buf[i++] = (uint8_t)(v | 0x80);
      v >>= 7;
    }
    buf[i++] = (uint8_t)v;
    memcpy(buf + i, s, n);
    i += n;
  }
  tf_req_invoke(r, SF_TYPENAME_STRING, buf, i, NULL, NULL, NULL);
  free(buf);
}

void tf_req_invoke_int(tf_req *r, int32_t v) {
  uint8_t b[5];
  tf_req_invoke(r, SF_TYPENAME_INT, b, sf_encode_int(v, b), NULL, NULL, NULL);
}

uint8_t *tf_req_pack(tf_req *r, size_t *len) {
  *len = io__statefun__sdk__reqreply__to_function__get_packed_size(&r->to);
  uint8_t *buf = malloc(*len ? *len : 1);
  io__statefun__sdk__reqreply__to_function__pack(&r->to, buf);
  return buf;
}

static void free_tv(pb_tv *tv) {
  if (!tv) return;
  free(tv->typename_);
  free(tv->value.data);
  free(tv);
}

void tf_req_free(tf_req *r) {
  for (size_t i = 0; i < r->batch.n_state; i++) {
    free(r->batch.state[i]->state_name);
    free_tv(r->batch.state[i]->state_value);
    free(r->batch.state[i]);
  }
  for (size_t i = 0; i < r->batch.n_invocations; i++) {
    pb_inv *inv = r->batch.invocations[i];
    free_tv(inv->argument);
    if (inv->caller) {
      free(inv->caller->namespace_);
      free(inv->caller->type);
      free(inv->caller->id);
      free(inv->caller);
    }
    free(inv);
  }
  free(r->batch.state);
  free(r->batch.invocations);
  free(r->target.namespace_);
  free(r->target.type);
  free(r->target.id);
  free(r);
}

tf_from *tf_from_decode(const uint8_t *buf, size_t len) {
  return io__statefun__sdk__reqreply__from_function__unpack(NULL, len, buf);
}

void tf_from_free(tf_from *f) {
  if (f) io__statefun__sdk__reqreply__from_function__free_unpacked(f, NULL);
}

const tf_mut *tf_find_mutation(const tf_resp *r, const char *name) {
  for (size_t i = 0; r && i < r->n_state_mutations; i++)
    if (strcmp(r->state_mutations[i]->state_name, name) == 0)
      return r->state_mutations[i];
  return NULL;
}

sf_status tf_run(const sf_handler *h, tf_req *req, tf_from **out,
                 sf_handle_info *info) {
  size_t len;
  uint8_t *buf = tf_req_pack(req, &len);
  sf_arena *arena = sf_arena_new(0);
  uint8_t *reply = NULL;
  size_t reply_len = 0;
  sf_status st = sf_handler_handle(h, buf, len, arena, &reply, &reply_len, info);
  *out = st == SF_OK ? tf_from_decode(reply, reply_len) : NULL;
  sf_arena_free(arena);
  free(buf);
  return st;
}
