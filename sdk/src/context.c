/*
 * context.c - what a function can do during one invocation: read and write
 * its declared state, build values, send messages (now or delayed), cancel
 * delayed messages and emit egress records.
 *
 * Everything is recorded in the request arena as the wire structures of the
 * reply (protobuf-c FromFunction pieces), so collecting the reply after the
 * batch is a matter of pointing at these arrays. Consumers copy the bytes
 * of values they are given into the arena, so a function may pass values
 * that live on its stack.
 */
#define _GNU_SOURCE /* strchrnul */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "internal.h"
#include "sfb/pbwire.h"

/* ---- helpers ---------------------------------------------------------------- */

sf_status sf_ptr_vec_push(sf_arena *arena, sf_ptr_vec *vec, void *item) {
  if (vec->n == vec->cap) {
    size_t cap = vec->cap ? vec->cap * 2 : 8;
    void **items = sf_arena_alloc(arena, cap * sizeof(void *));
    if (!items) return SF_ERR_NOMEM;
    if (vec->n) memcpy(items, vec->items, vec->n * sizeof(void *));
    vec->items = items;
    vec->cap = cap;
  }
  vec->items[vec->n++] = item;
  return SF_OK;
}

/* The last reason recorded wins: the failing call is usually the last one
 * that failed, and a failure the function handled (a message tested for
 * one type, then read as another) must not hide it. A reason that fails
 * the batch on its own (a bad value, a failed read with a default) is
 * locked, and the function's own reason replaces anything. */
void sf_context_set_error(sf_context *ctx, const char *fmt, ...) {
  if (!ctx || !ctx->error || ctx->error_locked) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx->error, ctx->error_len, fmt, ap);
  va_end(ap);
}

/* The function's own first reason is the one reported: it replaces a
 * reason the SDK recorded for a status the function saw and handled. */
sf_status sf_context_fail(sf_context *ctx, const char *fmt, ...) {
  if (ctx && ctx->error && !ctx->error_is_users && fmt) {
    ctx->error_is_users = true;
    ctx->error_locked = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->error, ctx->error_len, fmt, ap);
    va_end(ap);
  }
  return SF_ERR_FUNCTION_FAILED;
}

void sf_context_sticky(sf_context *ctx, sf_status status, const char *what) {
  if (ctx->sticky != SF_OK) return;
  ctx->sticky = status;
  if (what) sf_why_bad_value(ctx, what, status);
  ctx->error_locked = true;
}

sf_value sf_context_bad_value(sf_context *ctx, sf_status status,
                              const char *what) {
  sf_value v = {NULL, false, NULL, 0};
  sf_context_sticky(ctx, status, what);
  return v;
}

const sf_address *sf_self(const sf_context *ctx) { return &ctx->self; }
const sf_address *sf_caller(const sf_context *ctx) {
  return ctx->has_caller ? &ctx->caller : NULL;
}
sf_arena *sf_context_arena(sf_context *ctx) { return ctx->arena; }
char *sf_context_strdup(sf_context *ctx, const char *s, size_t len) {
  return sf_arena_strndup(ctx->arena, s, len);
}

/* Appends the decimal digits of `v` (negative when `neg`) at `o`. */
static char *put_decimal(char *o, unsigned long long v, bool neg) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  if (neg) *o++ = '-';
  while (n) *o++ = tmp[--n];
  return o;
}

/*
 * printf for what functions format on every invocation (greetings, ids,
 * tokens): text with %s %d %i %u %c %% and the length modifiers l, ll and
 * z, no flags, width or precision. glibc's vsnprintf spends most of its
 * time setting up for features these texts do not use. Returns the length
 * written into out[cap], or -1 (nothing promised about `ap`) when the
 * format needs more or the text does not fit: the caller then uses
 * vsnprintf with a fresh copy of the arguments. Same output as vsnprintf
 * (tests/unit/test_context.c compares them).
 */
static int fast_format(char *out, size_t cap, const char *fmt, va_list ap) {
  char *o = out, *end = out + cap - 1; /* room for the NUL */
  for (const char *p = fmt;; p++) { /* p: after a conversion */
    const char *q = strchrnul(p, '%'); /* the run of text before the next */
    if ((size_t)(end - o) < (size_t)(q - p)) return -1;
    memcpy(o, p, (size_t)(q - p));
    o += q - p;
    if (*q == '\0') break;
    p = q + 1;
    int lng = 0; /* 1: l, 2: ll, 3: z */
    if (*p == 'l') {
      lng = 1;
      if (*++p == 'l') {
        lng = 2;
        p++;
      }
    } else if (*p == 'z') {
      lng = 3;
      p++;
    }
    if (end - o < 24) return -1; /* room for any number */
    switch (*p) {
      case '%':
        if (lng) return -1;
        *o++ = '%';
        break;
      case 'c':
        if (lng) return -1;
        *o++ = (char)va_arg(ap, int);
        break;
      case 's': {
        if (lng) return -1;
        const char *str = va_arg(ap, const char *);
        if (!str) return -1; /* glibc's "(null)" is left to glibc */
        size_t n = strlen(str);
        if ((size_t)(end - o) < n) return -1;
        memcpy(o, str, n);
        o += n;
        break;
      }
      case 'd':
      case 'i': {
        long long v = lng == 0 ? va_arg(ap, int)
                      : lng == 1 ? va_arg(ap, long)
                      : lng == 2 ? va_arg(ap, long long)
                                 : (long long)va_arg(ap, ssize_t);
        o = put_decimal(o, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v, v < 0);
        break;
      }
      case 'u': {
        unsigned long long v = lng == 0 ? va_arg(ap, unsigned)
                               : lng == 1 ? va_arg(ap, unsigned long)
                               : lng == 2 ? va_arg(ap, unsigned long long)
                                          : va_arg(ap, size_t);
        o = put_decimal(o, v, false);
        break;
      }
      default: return -1; /* flags, width, precision, other conversions */
    }
  }
  *o = '\0';
  return (int)(o - out);
}

char *sf_arena_vprintf(sf_arena *arena, size_t *len, const char *fmt,
                       va_list ap) {
  /* The fast formatter writes straight into the arena's free tail and the
   * text is then kept where it is; otherwise one vsnprintf pass into a
   * stack buffer covers most texts, and a second pass the long ones. */
  va_list slow, again;
  va_copy(slow, ap);
  va_copy(again, ap);
  size_t avail;
  char *tail = sf_arena_tail(arena, &avail);
  char small[256];
  char *text = tail != NULL && avail >= sizeof small ? tail : small;
  int n = fast_format(text, text == tail ? avail : sizeof small, fmt, ap);
  if (n < 0) {
    text = small;
    n = vsnprintf(small, sizeof small, fmt, slow);
  }
  char *out = n < 0 ? NULL : sf_arena_alloc(arena, (size_t)n + 1);
  bool whole = text == tail || (size_t)n < sizeof small; /* not cut short */
  if (out != NULL && out != text && whole)
    memcpy(out, text, (size_t)n + 1);
  else if (out != NULL && out != text)
    vsnprintf(out, (size_t)n + 1, fmt, again);
  va_end(slow);
  va_end(again);
  if (out != NULL && len) *len = (size_t)n;
  return out;
}

char *sf_context_printf(sf_context *ctx, size_t *len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *out = sf_arena_vprintf(ctx->arena, len, fmt, ap);
  va_end(ap);
  return out;
}

sf_status sf_value_copy(sf_arena *arena, const sf_value *in, sf_value *out) {
  if (!in->type_name) return SF_ERR_INVALID_ARGUMENT;
  out->type_name = sf_arena_strndup(arena, in->type_name, strlen(in->type_name));
  out->has_value = in->has_value;
  out->len = in->has_value ? in->len : 0;
  out->data = NULL;
  if (!out->type_name) return SF_ERR_NOMEM;
  if (out->len) {
    if (!in->data) return SF_ERR_INVALID_ARGUMENT;
    out->data = sf_arena_memdup(arena, in->data, in->len);
    if (!out->data) return SF_ERR_NOMEM;
  }
  return SF_OK;
}

pb_typed_value *sf_typed_value_to_pb(sf_arena *arena, const sf_value *v) {
  pb_typed_value *tv = sf_arena_alloc(arena, sizeof(*tv));
  if (!tv) return NULL;
  *tv = (pb_typed_value)IO__STATEFUN__SDK__REQREPLY__TYPED_VALUE__INIT;
  tv->typename_ = (char *)v->type_name;
  tv->has_value = v->has_value;
  tv->value.data = (uint8_t *)v->data;
  tv->value.len = v->has_value ? v->len : 0;
  return tv;
}

pb_address *sf_address_to_pb(sf_arena *arena, const char *typename,
                             const char *id, sf_status *status) {
  pb_address *a = sf_arena_alloc(arena, sizeof(*a));
  if (!a) {
    *status = SF_ERR_NOMEM;
    return NULL;
  }
  io__statefun__sdk__reqreply__address__init(a);
  *status = sf_split_typename(arena, typename, &a->namespace_, &a->type);
  if (*status != SF_OK) return NULL;
  a->id = sf_arena_strndup(arena, id, strlen(id));
  if (!a->id) {
    *status = SF_ERR_NOMEM;
    return NULL;
  }
  return a;
}

/* ---- values ------------------------------------------------------------------ */

static sf_value make_value(sf_context *ctx, const char *tn, const uint8_t *buf,
                           size_t n, const char *what) {
  sf_value v = {tn, true, NULL, n};
  if (n) {
    v.data = sf_arena_memdup(ctx->arena, buf, n);
    if (!v.data) return sf_context_bad_value(ctx, SF_ERR_NOMEM, what);
  }
  return v;
}

/* A built-in scalar encoded straight into the arena (`max` bytes room;
 * nothing for the type's default value, as make_value). */
#define SCALAR_VALUE(fn, T, tn, enc, max)                                \
  sf_value fn(sf_context *ctx, T x) {                                    \
    uint8_t *p = sf_arena_alloc(ctx->arena, max);                        \
    if (!p) return sf_context_bad_value(ctx, SF_ERR_NOMEM, #fn);         \
    size_t n = enc(x, p);                                                \
    sf_value v = {tn, true, n ? p : NULL, n};                            \
    return v;                                                            \
  }
SCALAR_VALUE(sf_value_bool, bool, sf_type_bool.type_name, sf_encode_bool, 2)
SCALAR_VALUE(sf_value_int, int32_t, sf_type_int.type_name, sf_encode_int, 5)
SCALAR_VALUE(sf_value_long, int64_t, sf_type_long.type_name, sf_encode_long, 9)
SCALAR_VALUE(sf_value_float, float, sf_type_float.type_name, sf_encode_float, 5)
SCALAR_VALUE(sf_value_double, double, sf_type_double.type_name, sf_encode_double, 9)

sf_value sf_value_string(sf_context *ctx, const char *s, size_t len) {
  if (!s && len) return sf_context_bad_value(ctx, SF_ERR_INVALID_ARGUMENT, "sf_value_string");
  sf_value v = {SF_TYPENAME_STRING, true, NULL, 0};
  if (len == 0) return v; /* proto3: "" encodes as nothing */
  if (!sf_utf8_valid((const uint8_t *)s, len))
  {
    sf_why_string_utf8(ctx, len);
    return sf_context_bad_value(ctx, SF_ERR_ENCODE, NULL);
  }
  uint8_t *p = sf_arena_alloc(ctx->arena, len + 11);
  if (!p) return sf_context_bad_value(ctx, SF_ERR_NOMEM, "sf_value_string");
  size_t i = sfb_tag_put(p, 1, SFB_WT_LEN); /* StringWrapper.value */
  i += sfb_varint_put(p + i, len);
  memcpy(p + i, s, len);
  v.data = p;
  v.len = i + len;
  return v;
}

sf_value sf_value_cstring(sf_context *ctx, const char *s) {
  if (!s) return sf_context_bad_value(ctx, SF_ERR_INVALID_ARGUMENT, "sf_value_cstring");
  return sf_value_string(ctx, s, strlen(s));
}

sf_value sf_value_bytes(sf_context *ctx, const sf_type *type, const void *data,
                        size_t len) {
  if (!type || sf_typename_validate(type->type_name) != SF_OK || (!data && len))
    return sf_context_bad_value(ctx, SF_ERR_INVALID_ARGUMENT, "sf_value_bytes");
  return make_value(ctx, type->type_name, data, len, "sf_value_bytes");
}

/* ---- state ------------------------------------------------------------------- */

/* sf_context_cell when `spec` is not one of the registered pointers: a
 * copy of a spec finds its cell by name. Out of line, so that the common
 * case stays a leaf. */
static __attribute__((noinline)) sf_cell *cell_by_name(
    sf_context *ctx, const sf_value_spec *spec) {
  size_t n = ctx->function->n_specs;
  for (size_t i = 0; i < n; i++)
    if (spec->name && strcmp(ctx->cells[i].spec->name, spec->name) == 0)
      return &ctx->cells[i];
  sf_why_state_undeclared(ctx, spec);
  return NULL;
}

sf_cell *sf_context_cell(sf_context *ctx, const sf_value_spec *spec) {
  if (!ctx || !spec) return NULL;
  size_t n = ctx->function->n_specs;
  for (size_t i = 0; i < n; i++)
    if (ctx->cells[i].spec == spec) return &ctx->cells[i];
  return cell_by_name(ctx, spec);
}

bool sf_state_has(sf_context *ctx, const sf_value_spec *spec) {
  sf_cell *c = sf_context_cell(ctx, spec);
  return c && c->value.has_value;
}

sf_status sf_state_get(sf_context *ctx, const sf_value_spec *spec,
                       sf_value *out) {
  if (!out) return SF_ERR_INVALID_ARGUMENT;
  sf_cell *c = sf_context_cell(ctx, spec);
  if (!c) return SF_ERR_UNKNOWN_STATE;
  if (!c->value.has_value) return SF_ERR_NO_VALUE;
  *out = c->value;
  return SF_OK;
}

sf_status sf_context_typed_cell(sf_context *ctx, const sf_value_spec *spec,
                                sf_type_kind kind, const void *out,
                                const sf_cell **cell) {
  if (!out) return SF_ERR_INVALID_ARGUMENT;
  const sf_cell *c = sf_context_cell(ctx, spec);
  if (!c) return SF_ERR_UNKNOWN_STATE;
  if (c->spec->type->kind != kind) {
    sf_why_state_kind(ctx, c->spec);
    return SF_ERR_TYPE_MISMATCH;
  }
  if (!c->value.has_value) return SF_ERR_NO_VALUE;
  /* Like the Python SDK: the stored typename must be the declared one. */
  if (c->value.type_name != c->spec->type->type_name && /* set by the SDK */
      strcmp(c->value.type_name, c->spec->type->type_name) != 0) {
    sf_why_state_stored(ctx, c->spec, c->value.type_name);
    return SF_ERR_TYPE_MISMATCH;
  }
  *cell = c;
  return SF_OK;
}

/* A typed read's decoding status, with a reason when the bytes are bad. */
static sf_status state_decoded(sf_context *ctx, const sf_cell *c,
                               sf_status st) {
  if (st != SF_OK) sf_why_state_decode(ctx, c->spec, c->value.len, NULL);
  return st;
}

#define STATE_GET(fn, T, KIND, dec)                                  \
  sf_status fn(sf_context *ctx, const sf_value_spec *spec, T *out) { \
    const sf_cell *c;                                                \
    sf_status st = sf_context_typed_cell(ctx, spec, KIND, out, &c);             \
    if (st != SF_OK) return st;                                      \
    return state_decoded(ctx, c, dec(c->value.data, c->value.len, out)); \
  }
STATE_GET(sf_state_get_bool, bool, SF_KIND_BOOL, sf_decode_bool)
STATE_GET(sf_state_get_int, int32_t, SF_KIND_INT, sf_decode_int)
STATE_GET(sf_state_get_long, int64_t, SF_KIND_LONG, sf_decode_long)
STATE_GET(sf_state_get_float, float, SF_KIND_FLOAT, sf_decode_float)
STATE_GET(sf_state_get_double, double, SF_KIND_DOUBLE, sf_decode_double)

sf_status sf_state_get_string(sf_context *ctx, const sf_value_spec *spec,
                              const char **out, size_t *len) {
  const sf_cell *c;
  sf_status st = sf_context_typed_cell(ctx, spec, SF_KIND_STRING, out, &c);
  if (st != SF_OK) return st;
  return state_decoded(ctx, c, sf_decode_string(c->value.data, c->value.len, out, len));
}

/* A read with a default: an absent value gives `dflt`; any other failure
 * (undeclared spec, wrong type, bad bytes) also gives `dflt` but is kept by
 * the context so the batch fails with a reason, as a bad sf_value_* does. */
static bool or_failed(sf_context *ctx, sf_status st) {
  if (st == SF_OK) return false;
  /* The failed read recorded its reason; it now fails the batch. */
  if (st != SF_ERR_NO_VALUE) sf_context_sticky(ctx, st, NULL);
  return true;
}

#define STATE_GET_OR(fn, get, T)                                      \
  T fn(sf_context *ctx, const sf_value_spec *spec, T dflt) {          \
    T v;                                                              \
    return or_failed(ctx, get(ctx, spec, &v)) ? dflt : v;       \
  }
STATE_GET_OR(sf_state_get_bool_or, sf_state_get_bool, bool)
STATE_GET_OR(sf_state_get_int_or, sf_state_get_int, int32_t)
STATE_GET_OR(sf_state_get_long_or, sf_state_get_long, int64_t)
STATE_GET_OR(sf_state_get_float_or, sf_state_get_float, float)
STATE_GET_OR(sf_state_get_double_or, sf_state_get_double, double)

const char *sf_state_get_string_or(sf_context *ctx, const sf_value_spec *spec,
                                   const char *dflt, size_t *len) {
  const char *s;
  size_t n;
  if (or_failed(ctx, sf_state_get_string(ctx, spec, &s, &n))) {
    if (len) *len = dflt ? strlen(dflt) : 0;
    return dflt;
  }
  char *copy = sf_arena_strndup(ctx->arena, s, n);
  if (!copy) {
    sf_context_bad_value(ctx, SF_ERR_NOMEM, "sf_state_get_string_or");
    if (len) *len = dflt ? strlen(dflt) : 0;
    return dflt;
  }
  if (len) *len = n;
  return copy;
}

/* Stores a value that already lives in the arena. */
static sf_status store(sf_context *ctx, const sf_value_spec *spec, sf_value v) {
  sf_cell *c = sf_context_cell(ctx, spec);
  if (!c) return SF_ERR_UNKNOWN_STATE;
  if (!v.type_name) return ctx->sticky != SF_OK ? ctx->sticky : SF_ERR_INVALID_ARGUMENT;
  if (v.type_name != c->spec->type->type_name && /* a typed setter's */
      strcmp(v.type_name, c->spec->type->type_name) != 0) {
    sf_why_state_set_type(ctx, c->spec, v.type_name);
    return SF_ERR_TYPE_MISMATCH;
  }
  c->value = v;
  c->value.type_name = c->spec->type->type_name;
  c->value.has_value = true;
  c->dirty = true;
  c->writable = false;
  return SF_OK;
}

sf_status sf_state_set(sf_context *ctx, const sf_value_spec *spec,
                       sf_value value) {
  if (!ctx) return SF_ERR_INVALID_ARGUMENT;
  if (!value.type_name) return ctx->sticky != SF_OK ? ctx->sticky : SF_ERR_INVALID_ARGUMENT;
  if (!value.has_value) return sf_state_clear(ctx, spec);
  /* As documented, the bytes are not copied: a 500 KB value set by each of
   * a batch's 100 invocations used to cost 50 MB of arena and as many bytes
   * copied; the caller's bytes already live until the reply. */
  if (value.len && !value.data) return SF_ERR_INVALID_ARGUMENT;
  return store(ctx, spec, value);
}

sf_status sf_state_set_bool(sf_context *ctx, const sf_value_spec *s, bool v) {
  return store(ctx, s, sf_value_bool(ctx, v));
}
sf_status sf_state_set_int(sf_context *ctx, const sf_value_spec *s, int32_t v) {
  return store(ctx, s, sf_value_int(ctx, v));
}
sf_status sf_state_set_long(sf_context *ctx, const sf_value_spec *s, int64_t v) {
  return store(ctx, s, sf_value_long(ctx, v));
}
sf_status sf_state_set_float(sf_context *ctx, const sf_value_spec *s, float v) {
  return store(ctx, s, sf_value_float(ctx, v));
}
sf_status sf_state_set_double(sf_context *ctx, const sf_value_spec *s, double v) {
  return store(ctx, s, sf_value_double(ctx, v));
}
sf_status sf_state_set_string(sf_context *ctx, const sf_value_spec *s,
                              const char *str, size_t len) {
  return store(ctx, s, sf_value_string(ctx, str, len));
}

sf_status sf_state_clear(sf_context *ctx, const sf_value_spec *spec) {
  sf_cell *c = sf_context_cell(ctx, spec);
  if (!c) return SF_ERR_UNKNOWN_STATE;
  c->value.has_value = false;
  c->value.data = NULL;
  c->value.len = 0;
  c->dirty = true;
  c->writable = false;
  return SF_OK;
}

sf_status sf_state_update(sf_context *ctx, const sf_value_spec *spec,
                          uint8_t **data, size_t *len) {
  if (!ctx || !data) return SF_ERR_INVALID_ARGUMENT;
  sf_cell *c = sf_context_cell(ctx, spec);
  if (!c) return SF_ERR_UNKNOWN_STATE;
  if (!c->value.has_value) return SF_ERR_NO_VALUE;
  /* The request's bytes are modified where they are (no copy); bytes a
   * function set may be read-only, so those are copied once. */
  if (!c->writable && c->value.len) {
    uint8_t *copy = sf_arena_memdup(ctx->arena, c->value.data, c->value.len);
    if (!copy) return SF_ERR_NOMEM;
    c->value.data = copy;
  }
  c->writable = true;
  c->dirty = true;
  *data = (uint8_t *)c->value.data;
  if (len) *len = c->value.len;
  return SF_OK;
}

/* ---- messages, delays, egress ------------------------------------------------ */

/* A TypedValue for an outgoing value: checked and copied into the arena. */
static pb_typed_value *outgoing_value(sf_context *ctx, const sf_value *v,
                                      sf_status *st, const char *what) {
  if (!v->type_name) {
    *st = ctx->sticky != SF_OK ? ctx->sticky : SF_ERR_INVALID_ARGUMENT;
    sf_why_value_untyped(ctx, what);
    return NULL;
  }
  if (sf_typename_validate(v->type_name) != SF_OK) {
    *st = SF_ERR_BAD_TYPENAME;
    sf_why_value_typename(ctx, what, v->type_name);
    return NULL;
  }
  sf_value copy;
  *st = sf_value_copy(ctx->arena, v, &copy);
  if (*st != SF_OK) return NULL;
  pb_typed_value *tv = sf_typed_value_to_pb(ctx->arena, &copy);
  if (!tv) *st = SF_ERR_NOMEM;
  return tv;
}

static pb_address *target_address(sf_context *ctx, const char *typename,
                                  const char *id, sf_status *st,
                                  const char *what) {
  if (!typename || !id) {
    *st = SF_ERR_INVALID_ARGUMENT;
    sf_why_target_missing(ctx, what, typename ? "id" : "function type");
    return NULL;
  }
  pb_address *a = sf_address_to_pb(ctx->arena, typename, id, st);
  if (!a) sf_why_target(ctx, what, typename, *st);
  return a;
}

sf_status sf_send(sf_context *ctx, const char *target_typename, const char *id,
                  sf_value value) {
  if (!ctx) return SF_ERR_INVALID_ARGUMENT;
  sf_status st;
  pb_address *target = target_address(ctx, target_typename, id, &st, "sf_send");
  if (!target) return st;
  pb_typed_value *arg = outgoing_value(ctx, &value, &st, "sf_send");
  if (!arg) return st;
  pb_out_invocation *m = sf_arena_alloc(ctx->arena, sizeof(*m));
  if (!m) return SF_ERR_NOMEM;
  io__statefun__sdk__reqreply__from_function__invocation__init(m);
  m->target = target;
  m->argument = arg;
  return sf_ptr_vec_push(ctx->arena, &ctx->messages, m);
}

static char *token_copy(sf_context *ctx, const char *token) {
  return sf_arena_strndup(ctx->arena, token ? token : "", token ? strlen(token) : 0);
}

sf_status sf_send_after(sf_context *ctx, int64_t delay_ms,
                        const char *cancellation_token,
                        const char *target_typename, const char *id,
                        sf_value value) {
  if (!ctx) return SF_ERR_INVALID_ARGUMENT;
  if (delay_ms < 0) {
    sf_why_negative_delay(ctx, delay_ms);
    return SF_ERR_INVALID_ARGUMENT;
  }
  sf_status st;
  pb_address *target = target_address(ctx, target_typename, id, &st, "sf_send_after");
  if (!target) return st;
  pb_typed_value *arg = outgoing_value(ctx, &value, &st, "sf_send_after");
  if (!arg) return st;
  pb_delayed *d = sf_arena_alloc(ctx->arena, sizeof(*d));
  char *tok = token_copy(ctx, cancellation_token);
  if (!d || !tok) return SF_ERR_NOMEM;
  io__statefun__sdk__reqreply__from_function__delayed_invocation__init(d);
  d->delay_in_ms = delay_ms;
  d->target = target;
  d->argument = arg;
  d->cancellation_token = tok;
  return sf_ptr_vec_push(ctx->arena, &ctx->delayed, d);
}

sf_status sf_cancel_delayed(sf_context *ctx, const char *cancellation_token) {
  if (!ctx) return SF_ERR_INVALID_ARGUMENT;
  if (!cancellation_token || !*cancellation_token) {
    sf_why_empty_token(ctx);
    return SF_ERR_INVALID_ARGUMENT;
  }
  pb_delayed *d = sf_arena_alloc(ctx->arena, sizeof(*d));
  char *tok = token_copy(ctx, cancellation_token);
  if (!d || !tok) return SF_ERR_NOMEM;
  io__statefun__sdk__reqreply__from_function__delayed_invocation__init(d);
  d->is_cancellation_request = true;
  d->cancellation_token = tok;
  return sf_ptr_vec_push(ctx->arena, &ctx->delayed, d);
}

/* The egress address split into namespace and type. A function sends to
 * the same egress over and over, so the last split is kept for the batch
 * (its strings live in the arena until the reply is sent). */
static sf_status egress_address(sf_context *ctx, const char *egress_typename,
                                pb_egress *e) {
  if (egress_typename && ctx->egress_last &&
      strcmp(egress_typename, ctx->egress_last) == 0) {
    e->egress_namespace = ctx->egress_ns;
    e->egress_type = ctx->egress_type;
    return SF_OK;
  }
  sf_status st = sf_split_typename(ctx->arena, egress_typename,
                                   &e->egress_namespace, &e->egress_type);
  if (st != SF_OK) {
    sf_why_egress_id(ctx, egress_typename, st);
    return st;
  }
  char *last = sf_arena_strndup(ctx->arena, egress_typename, strlen(egress_typename));
  if (last) {
    ctx->egress_last = last;
    ctx->egress_ns = e->egress_namespace;
    ctx->egress_type = e->egress_type;
  }
  return SF_OK;
}

/* Appends egress record `e` (NULL: one is allocated) to `egress_typename`:
 * with `arg` when it is ready in the arena, else a checked copy of `value`. */
static sf_status push_egress(sf_context *ctx, const char *egress_typename,
                             pb_egress *e, pb_typed_value *arg,
                             const sf_value *value) {
  if (!e) e = sf_arena_alloc(ctx->arena, sizeof(*e));
  if (!e) return SF_ERR_NOMEM;
  *e = (pb_egress)IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__EGRESS_MESSAGE__INIT;
  sf_status s = egress_address(ctx, egress_typename, e);
  if (s != SF_OK) return s;
  e->argument = arg ? arg : outgoing_value(ctx, value, &s, "sf_egress");
  if (!e->argument) return s;
  return sf_ptr_vec_push(ctx->arena, &ctx->egresses, e);
}

sf_status sf_egress(sf_context *ctx, const char *egress_typename,
                    sf_value value) {
  if (!ctx) return SF_ERR_INVALID_ARGUMENT;
  return push_egress(ctx, egress_typename, NULL, NULL, &value);
}

/* One string or bytes field of an egress record. */
typedef struct rec_field {
  uint32_t num;
  const void *p;
  size_t n;
} rec_field;

/* Writes a record of string/bytes fields (given in field-number order)
 * into the arena as its TypedValue: the bytes protobuf-c packs for it
 * (empty fields left out), with no copy after. */
static sf_status egress_record(sf_context *ctx, const char *egress_typename,
                               const char *typename, const rec_field *f,
                               size_t nf) {
  size_t total = 0;
  for (size_t i = 0; i < nf; i++)
    if (f[i].n) total += 1 + sfb_varint_size(f[i].n) + f[i].n;
  /* The egress message, its TypedValue and the record: one allocation. */
  struct rec {
    pb_egress e;
    pb_typed_value tv;
    uint8_t buf[];
  } *r = sf_arena_alloc(ctx->arena, sizeof(*r) + total);
  if (!r) return SF_ERR_NOMEM;
  pb_typed_value *tv = &r->tv;
  uint8_t *buf = r->buf;
  size_t at = 0;
  for (size_t i = 0; i < nf; i++) {
    if (!f[i].n) continue;
    at += sfb_tag_put(buf + at, f[i].num, SFB_WT_LEN);
    at += sfb_varint_put(buf + at, f[i].n);
    memcpy(buf + at, f[i].p, f[i].n);
    at += f[i].n;
  }
  *tv = (pb_typed_value)IO__STATEFUN__SDK__REQREPLY__TYPED_VALUE__INIT;
  tv->typename_ = (char *)typename; /* a constant of the SDK */
  tv->has_value = true;
  tv->value.data = total ? buf : NULL;
  tv->value.len = total;
  return push_egress(ctx, egress_typename, &r->e, tv, NULL);
}

/* A KafkaProducerRecord: the key is a proto3 string, which StateFun's Kafka
 * egress writes to Kafka as its UTF-8 bytes, so a key must be UTF-8. */
static sf_status kafka_record(sf_context *ctx, const char *egress_typename,
                              const char *topic, const void *key,
                              size_t key_len, const void *value,
                              size_t value_len) {
  if (!topic || !*topic) {
    sf_why_egress_missing(ctx, "sf_egress_kafka", "topic");
    return SF_ERR_INVALID_ARGUMENT;
  }
  if ((!value && value_len) || (!key && key_len)) return SF_ERR_INVALID_ARGUMENT;
  if (key_len && !sf_utf8_valid(key, key_len)) {
    sf_why_kafka_key(ctx, topic);
    return SF_ERR_INVALID_ARGUMENT;
  }
  /* KafkaProducerRecord: key = 1, value_bytes = 2, topic = 3. */
  const rec_field f[] = {{1, key, key_len},
                         {2, value, value_len},
                         {3, topic, strlen(topic)}};
  return egress_record(ctx, egress_typename, SF_TYPENAME_KAFKA_RECORD, f, 3);
}

sf_status sf_egress_kafka(sf_context *ctx, const char *egress_typename,
                          const char *topic, const char *key,
                          const void *value, size_t value_len) {
  if (!ctx) return SF_ERR_INVALID_ARGUMENT;
  return kafka_record(ctx, egress_typename, topic, key, key ? strlen(key) : 0,
                      value, value_len);
}

sf_status sf_egress_kafka_value(sf_context *ctx, const char *egress_typename,
                                const char *topic, const void *key,
                                size_t key_len, sf_value value) {
  if (!ctx) return SF_ERR_INVALID_ARGUMENT;
  if (!value.type_name)
    return ctx->sticky != SF_OK ? ctx->sticky : SF_ERR_INVALID_ARGUMENT;
  size_t n = value.has_value ? value.len : 0;
  return kafka_record(ctx, egress_typename, topic, key, key_len,
                      n ? value.data : NULL, n);
}

sf_status sf_egress_kinesis(sf_context *ctx, const char *egress_typename,
                            const char *stream, const char *partition_key,
                            const char *explicit_hash_key, const void *value,
                            size_t value_len) {
  if (!ctx) return SF_ERR_INVALID_ARGUMENT;
  if (!stream || !*stream || !partition_key || !*partition_key) {
    sf_why_egress_missing(ctx, "sf_egress_kinesis",
                          (!stream || !*stream) ? "stream" : "partition key");
    return SF_ERR_INVALID_ARGUMENT;
  }
  if (!value && value_len) return SF_ERR_INVALID_ARGUMENT;
  /* KinesisEgressRecord: partition_key = 1, value_bytes = 2, stream = 3,
   * explicit_hash_key = 4. */
  const rec_field f[] = {{1, partition_key, strlen(partition_key)},
                         {2, value, value_len},
                         {3, stream, strlen(stream)},
                         {4, explicit_hash_key,
                          explicit_hash_key ? strlen(explicit_hash_key) : 0}};
  return egress_record(ctx, egress_typename, SF_TYPENAME_KINESIS_RECORD, f, 4);
}
