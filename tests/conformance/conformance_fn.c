/*
 * conformance_fn - the C half of the conformance suite.
 *
 * It registers the suite's functions (a small command interpreter, the same
 * logic as interpret() in run_conformance.py, which runs it on the official
 * Python SDK) with our SDK and answers requests:
 *
 *   conformance_fn FILE     handles one serialized ToFunction; the
 *                           FromFunction goes to stdout (exit 0), or the
 *                           status and reason to stderr (exit 3).
 *   conformance_fn --serve  framed requests on stdin, framed answers on
 *                           stdout, one process for the whole suite:
 *     in:  op (1 byte) | u32 LE length | payload
 *     out: i32 LE status | u32 LE length | payload
 *     op 'H': payload = ToFunction; out = FromFunction, or on failure the
 *             reason text.
 *     op 'E': payload = kind (1 byte) | 8 bytes LE; out = sf_encode_* bytes.
 *     op 'D': payload = kind (1 byte) | wrapper bytes; out = sf_decode_*
 *             result (8 bytes LE bit pattern, or the string bytes).
 *     kinds: 0 bool, 1 int, 2 long, 3 float, 4 double, 5 string.
 *
 * The program language (a string message starting with '!'), the
 * literals and the function table are documented in run_conformance.py.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <statefun/statefun.h>

#include "conformance.pb-c.h"
#include "request_reply.pb-c.h"

/* ---- types and functions (mirror of TYPES / SPECS in the driver) ------ */

static const sf_type conf_json_type = SF_TYPE_JSON("conf.types/json");
static const sf_type raw_type = SF_TYPE_RAW("conf.types/raw");
static const sf_type point_type =
    SF_TYPE_PROTO("type.googleapis.com/statefun.conformance.Point",
                  &statefun__conformance__point__descriptor);

typedef struct named_type {
  const char *name;
  const sf_type *type;
} named_type;

/* In the order the interpreter tries them for data messages. */
static const named_type type_table[] = {
    {"bool", &sf_type_bool},     {"int", &sf_type_int},
    {"long", &sf_type_long},     {"float", &sf_type_float},
    {"double", &sf_type_double}, {"string", &sf_type_string},
    {"json", &conf_json_type},        {"proto", &point_type},
    {"raw", &raw_type},
};
#define N_TYPES (sizeof type_table / sizeof type_table[0])

static const named_type *type_by_name(const char *name) {
  for (size_t i = 0; i < N_TYPES; i++)
    if (strcmp(type_table[i].name, name) == 0) return &type_table[i];
  return NULL;
}

static const char *type_name_of(const sf_type *t) {
  for (size_t i = 0; i < N_TYPES; i++)
    if (type_table[i].type == t) return type_table[i].name;
  return "?";
}

/* conf/all: one state of every type, no expiration. */
static const sf_value_spec all_b = SF_VALUE_SPEC("b", &sf_type_bool);
static const sf_value_spec all_i = SF_VALUE_SPEC("i", &sf_type_int);
static const sf_value_spec all_l = SF_VALUE_SPEC("l", &sf_type_long);
static const sf_value_spec all_f = SF_VALUE_SPEC("f", &sf_type_float);
static const sf_value_spec all_d = SF_VALUE_SPEC("d", &sf_type_double);
static const sf_value_spec all_s = SF_VALUE_SPEC("s", &sf_type_string);
static const sf_value_spec all_j = SF_VALUE_SPEC("j", &conf_json_type);
static const sf_value_spec all_p = SF_VALUE_SPEC("p", &point_type);
static const sf_value_spec all_r = SF_VALUE_SPEC("r", &raw_type);
static const sf_value_spec *const all_specs[] = {
    &all_b, &all_i, &all_l, &all_f, &all_d, &all_s, &all_j, &all_p, &all_r};

/* conf/expire: each expiration mode. */
static const sf_value_spec exp_w =
    SF_VALUE_SPEC_EXPIRE_AFTER_WRITE("w", &sf_type_int, 5000);
static const sf_value_spec exp_c =
    SF_VALUE_SPEC_EXPIRE_AFTER_CALL("c", &sf_type_string, 60000);
static const sf_value_spec exp_n = SF_VALUE_SPEC("n", &sf_type_long);
static const sf_value_spec exp_big =
    SF_VALUE_SPEC_EXPIRE_AFTER_WRITE("big", &sf_type_long, 86400000);
static const sf_value_spec exp_tiny =
    SF_VALUE_SPEC_EXPIRE_AFTER_CALL("tiny", &sf_type_bool, 1);
static const sf_value_spec *const expire_specs[] = {&exp_w, &exp_c, &exp_n,
                                                    &exp_big, &exp_tiny};

/* conf/order: declaration order differs from name order. */
static const sf_value_spec ord_zeta = SF_VALUE_SPEC("zeta", &sf_type_string);
static const sf_value_spec ord_alpha = SF_VALUE_SPEC("alpha", &sf_type_int);
static const sf_value_spec ord_mid =
    SF_VALUE_SPEC_EXPIRE_AFTER_WRITE("mid", &sf_type_double, 250);
static const sf_value_spec *const order_specs[] = {&ord_zeta, &ord_alpha,
                                                   &ord_mid};

typedef struct fn_def {
  const char *typename;
  const sf_value_spec *const *specs;
  size_t n_specs;
} fn_def;

static const fn_def fn_defs[] = {
    {"conf/all", all_specs, sizeof all_specs / sizeof all_specs[0]},
    {"conf/expire", expire_specs, sizeof expire_specs / sizeof expire_specs[0]},
    {"conf/order", order_specs, sizeof order_specs / sizeof order_specs[0]},
    {"conf/nostate", NULL, 0},
};

static const sf_value_spec *spec_by_name(const fn_def *fn, const char *name) {
  for (size_t i = 0; i < fn->n_specs; i++)
    if (strcmp(fn->specs[i]->name, name) == 0) return fn->specs[i];
  return NULL;
}

/* ---- literals ---------------------------------------------------------- */

#define TRY(expr)                   \
  do {                              \
    sf_status try_st_ = (expr);     \
    if (try_st_ != SF_OK) return try_st_; \
  } while (0)

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes `len` hex digits into the arena; *out is NUL-terminated. */
static sf_status unhex(sf_context *ctx, const char *s, size_t len,
                       uint8_t **out, size_t *out_len) {
  if (len % 2) return sf_context_fail(ctx, "odd hex literal");
  uint8_t *buf = sf_arena_alloc(sf_context_arena(ctx), len / 2 + 1);
  if (!buf) return SF_ERR_NOMEM;
  for (size_t i = 0; i < len / 2; i++) {
    int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return sf_context_fail(ctx, "bad hex literal");
    buf[i] = (uint8_t)(hi << 4 | lo);
  }
  buf[len / 2] = 0;
  *out = buf;
  *out_len = len / 2;
  return SF_OK;
}

/* "x:<hex>" */
static sf_status hexlit(sf_context *ctx, const char *tok, uint8_t **out,
                        size_t *out_len) {
  if (strncmp(tok, "x:", 2) != 0)
    return sf_context_fail(ctx, "expected x:<hex>, got %s", tok);
  return unhex(ctx, tok + 2, strlen(tok + 2), out, out_len);
}

static sf_status parse_i64(sf_context *ctx, const char *tok, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(tok, &end, 10);
  /* *out is written on every path: the compiler cannot see that
   * sf_context_fail never returns SF_OK, so callers must not depend on it. */
  *out = v;
  if (errno || *end || end == tok)
    return sf_context_fail(ctx, "bad integer %s", tok);
  return SF_OK;
}

static sf_status parse_hex_u64(sf_context *ctx, const char *tok,
                               uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(tok, &end, 16);
  *out = v; /* on every path, as in parse_i64 */
  if (errno || *end || end == tok)
    return sf_context_fail(ctx, "bad bit pattern %s", tok);
  return SF_OK;
}

/* "p:<label hex>:<x>:<tags joined by '.'>:<blob hex>:<flag 0|1>" */
static sf_status parse_point(sf_context *ctx, const char *tok,
                             Statefun__Conformance__Point *p) {
  sf_arena *a = sf_context_arena(ctx);
  char *copy = sf_context_strdup(ctx, tok, strlen(tok));
  if (!copy) return SF_ERR_NOMEM;
  char *parts[6];
  size_t n = 0;
  char *s = copy;
  for (;;) {
    if (n == 6) return sf_context_fail(ctx, "bad point literal %s", tok);
    parts[n++] = s;
    char *colon = strchr(s, ':');
    if (!colon) break;
    *colon = 0;
    s = colon + 1;
  }
  if (n != 6 || strcmp(parts[0], "p") != 0)
    return sf_context_fail(ctx, "bad point literal %s", tok);
  statefun__conformance__point__init(p);
  uint8_t *label;
  size_t label_len;
  TRY(unhex(ctx, parts[1], strlen(parts[1]), &label, &label_len));
  p->label = (char *)label;
  TRY(parse_i64(ctx, parts[2], &p->x));
  size_t ntags = 0;
  if (*parts[3]) {
    ntags = 1;
    for (const char *c = parts[3]; *c; c++) ntags += *c == '.';
    p->tags = sf_arena_alloc(a, ntags * sizeof *p->tags);
    if (!p->tags) return SF_ERR_NOMEM;
    char *t = parts[3];
    for (size_t i = 0; i < ntags; i++) {
      char *dot = strchr(t, '.');
      if (dot) *dot = 0;
      int64_t v;
      TRY(parse_i64(ctx, t, &v));
      p->tags[i] = (int32_t)v;
      t = dot ? dot + 1 : t + strlen(t);
    }
  }
  p->n_tags = ntags;
  uint8_t *blob;
  size_t blob_len;
  TRY(unhex(ctx, parts[4], strlen(parts[4]), &blob, &blob_len));
  p->blob.data = blob;
  p->blob.len = blob_len;
  p->flag = strcmp(parts[5], "1") == 0;
  return SF_OK;
}

static sf_status checked(sf_value v) {
  return v.type_name ? SF_OK : SF_ERR_ENCODE;
}

/* A value of `type` from a literal token. */
static sf_status parse_lit(sf_context *ctx, const sf_type *type,
                           const char *tok, sf_value *out) {
  if (type == &sf_type_bool) {
    if (strcmp(tok, "true") && strcmp(tok, "false"))
      return sf_context_fail(ctx, "bad bool %s", tok);
    *out = sf_value_bool(ctx, strcmp(tok, "true") == 0);
  } else if (type == &sf_type_int || type == &sf_type_long) {
    int64_t v;
    TRY(parse_i64(ctx, tok, &v));
    *out = type == &sf_type_int ? sf_value_int(ctx, (int32_t)v)
                                : sf_value_long(ctx, v);
  } else if (type == &sf_type_float) {
    uint64_t bits;
    TRY(parse_hex_u64(ctx, tok, &bits));
    uint32_t b32 = (uint32_t)bits;
    float f;
    memcpy(&f, &b32, 4);
    *out = sf_value_float(ctx, f);
  } else if (type == &sf_type_double) {
    uint64_t bits;
    TRY(parse_hex_u64(ctx, tok, &bits));
    double d;
    memcpy(&d, &bits, 8);
    *out = sf_value_double(ctx, d);
  } else if (type == &sf_type_string) {
    uint8_t *s;
    size_t len;
    TRY(hexlit(ctx, tok, &s, &len));
    *out = sf_value_string(ctx, (const char *)s, len);
  } else if (type == &conf_json_type) {
    uint8_t *s;
    size_t len;
    TRY(hexlit(ctx, tok, &s, &len));
    json_error_t err;
    json_t *j = json_loadb((const char *)s, len, JSON_DECODE_ANY, &err);
    if (!j) return sf_context_fail(ctx, "bad json literal: %s", err.text);
    *out = sf_value_json(ctx, type, j);
    json_decref(j);
  } else if (type == &point_type) {
    Statefun__Conformance__Point p;
    TRY(parse_point(ctx, tok, &p));
    *out = sf_value_proto(ctx, type, &p.base);
  } else if (type == &raw_type) {
    uint8_t *s;
    size_t len;
    TRY(hexlit(ctx, tok, &s, &len));
    *out = sf_value_bytes(ctx, type, s, len);
  } else {
    return sf_context_fail(ctx, "no such type");
  }
  return checked(*out);
}

static sf_status parse_typed_lit(sf_context *ctx, const char *type_tok,
                                 const char *tok, sf_value *out) {
  const named_type *nt = type_by_name(type_tok);
  if (!nt) return sf_context_fail(ctx, "unknown type %s", type_tok);
  return parse_lit(ctx, nt->type, tok, out);
}

/* ---- decode + re-encode (state and messages) ---------------------------- */

/* Reads a present state through the typed API and encodes it again. */
static sf_status reencode_state(sf_context *ctx, const sf_value_spec *spec,
                                sf_value *out) {
  const sf_type *t = spec->type;
  if (t == &sf_type_bool) {
    bool v;
    TRY(sf_state_get_bool(ctx, spec, &v));
    *out = sf_value_bool(ctx, v);
  } else if (t == &sf_type_int) {
    int32_t v;
    TRY(sf_state_get_int(ctx, spec, &v));
    *out = sf_value_int(ctx, v);
  } else if (t == &sf_type_long) {
    int64_t v;
    TRY(sf_state_get_long(ctx, spec, &v));
    *out = sf_value_long(ctx, v);
  } else if (t == &sf_type_float) {
    float v;
    TRY(sf_state_get_float(ctx, spec, &v));
    *out = sf_value_float(ctx, v);
  } else if (t == &sf_type_double) {
    double v;
    TRY(sf_state_get_double(ctx, spec, &v));
    *out = sf_value_double(ctx, v);
  } else if (t == &sf_type_string) {
    const char *s;
    size_t len;
    TRY(sf_state_get_string(ctx, spec, &s, &len));
    *out = sf_value_string(ctx, s, len);
  } else if (t == &conf_json_type) {
    json_t *j;
    TRY(sf_state_get_json(ctx, spec, &j));
    *out = sf_value_json(ctx, t, j);
  } else if (t == &point_type) {
    ProtobufCMessage *m;
    TRY(sf_state_get_proto(ctx, spec, &m));
    *out = sf_value_proto(ctx, t, m);
  } else {
    sf_value raw;
    TRY(sf_state_get(ctx, spec, &raw));
    *out = sf_value_bytes(ctx, t, raw.data, raw.len);
  }
  return checked(*out);
}

static sf_status reencode_msg(sf_context *ctx, const sf_message *msg,
                              const sf_type *t, sf_value *out) {
  if (t == &sf_type_bool) {
    bool v;
    TRY(sf_message_as_bool(msg, &v));
    *out = sf_value_bool(ctx, v);
  } else if (t == &sf_type_int) {
    int32_t v;
    TRY(sf_message_as_int(msg, &v));
    *out = sf_value_int(ctx, v);
  } else if (t == &sf_type_long) {
    int64_t v;
    TRY(sf_message_as_long(msg, &v));
    *out = sf_value_long(ctx, v);
  } else if (t == &sf_type_float) {
    float v;
    TRY(sf_message_as_float(msg, &v));
    *out = sf_value_float(ctx, v);
  } else if (t == &sf_type_double) {
    double v;
    TRY(sf_message_as_double(msg, &v));
    *out = sf_value_double(ctx, v);
  } else if (t == &sf_type_string) {
    const char *s;
    size_t len;
    TRY(sf_message_as_string(msg, &s, &len));
    *out = sf_value_string(ctx, s, len);
  } else if (t == &conf_json_type) {
    json_t *j;
    TRY(sf_message_as_json(ctx, msg, t, &j));
    *out = sf_value_json(ctx, t, j);
  } else if (t == &point_type) {
    ProtobufCMessage *m;
    TRY(sf_message_as_proto(ctx, msg, t, &m));
    *out = sf_value_proto(ctx, t, m);
  } else {
    *out = sf_value_bytes(ctx, t, msg->value.data, msg->value.len);
  }
  return checked(*out);
}

/* ---- the interpreter ---------------------------------------------------- */

/* Set by SF_CONFORMANCE_INJECT_BUG=1 (self-check of the driver only). */
static bool inject_bug;

static char *addr_typename(sf_context *ctx, const sf_address *a) {
  size_t n = strlen(a->namespace_) + strlen(a->type) + 2;
  char *s = sf_arena_alloc(sf_context_arena(ctx), n);
  if (s) snprintf(s, n, "%s/%s", a->namespace_, a->type);
  return s;
}

static char *addr_string(sf_context *ctx, const sf_address *a) {
  size_t n = strlen(a->namespace_) + strlen(a->type) + strlen(a->id) + 3;
  char *s = sf_arena_alloc(sf_context_arena(ctx), n);
  if (s) snprintf(s, n, "%s/%s/%s", a->namespace_, a->type, a->id);
  return s;
}

static char *concat(sf_context *ctx, const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 1;
  char *s = sf_arena_alloc(sf_context_arena(ctx), n);
  if (s) snprintf(s, n, "%s%s", a, b);
  return s;
}

static sf_status egress_string(sf_context *ctx, const char *egress,
                               const char *s) {
  return sf_egress(ctx, egress, sf_value_cstring(ctx, s));
}

/* "-" means none (NULL), "~" means the empty string. */
static const char *opt(const char *tok) {
  if (strcmp(tok, "-") == 0) return NULL;
  return strcmp(tok, "~") == 0 ? "" : tok;
}

static sf_status wrong_arity(sf_context *ctx, const char *op) {
  return sf_context_fail(ctx, "wrong number of arguments for %s", op);
}

static sf_status run_command(sf_context *ctx, const fn_def *fn, char **tok,
                             size_t n) {
  const char *op = tok[0];
#define ARGS(k) \
  if (n != (k) + 1) return wrong_arity(ctx, op)
#define SPEC(var, name_tok)                                           \
  const sf_value_spec *var = spec_by_name(fn, name_tok);              \
  if (!var) return sf_context_fail(ctx, "no state named %s", name_tok)

  if (strcmp(op, "set") == 0) {
    ARGS(2);
    SPEC(spec, tok[1]);
    sf_value v;
    TRY(parse_lit(ctx, spec->type, tok[2], &v));
    /* The driver's self-check: a deliberate bug it must report. */
    if (inject_bug && spec->type == &sf_type_int && v.len == 5)
      v = sf_value_int(ctx, (int32_t)(v.data[1] + 1));
    return sf_state_set(ctx, spec, v);
  }
  if (strcmp(op, "clear") == 0) {
    ARGS(1);
    SPEC(spec, tok[1]);
    return sf_state_clear(ctx, spec);
  }
  if (strcmp(op, "emit") == 0) {
    ARGS(1);
    SPEC(spec, tok[1]);
    if (!sf_state_has(ctx, spec))
      return egress_string(ctx, "conf.trace/absent", spec->name);
    sf_value v;
    TRY(reencode_state(ctx, spec, &v));
    char *eg = concat(ctx, "conf.trace/", spec->name);
    if (!eg) return SF_ERR_NOMEM;
    return sf_egress(ctx, eg, v);
  }
  if (strcmp(op, "add") == 0) {
    ARGS(2);
    SPEC(spec, tok[1]);
    int64_t d;
    TRY(parse_i64(ctx, tok[2], &d));
    bool has = sf_state_has(ctx, spec);
    if (spec->type == &sf_type_int) {
      int32_t v = 0;
      if (has) TRY(sf_state_get_int(ctx, spec, &v));
      return sf_state_set_int(ctx, spec,
                              (int32_t)((uint32_t)v + (uint32_t)(uint64_t)d));
    }
    if (spec->type == &sf_type_long) {
      int64_t v = 0;
      if (has) TRY(sf_state_get_long(ctx, spec, &v));
      return sf_state_set_long(ctx, spec, (int64_t)((uint64_t)v + (uint64_t)d));
    }
    return sf_context_fail(ctx, "add on a non-integer state");
  }
  if (strcmp(op, "append") == 0) {
    ARGS(2);
    SPEC(spec, tok[1]);
    const char *cur = "";
    size_t cur_len = 0;
    if (sf_state_has(ctx, spec))
      TRY(sf_state_get_string(ctx, spec, &cur, &cur_len));
    uint8_t *add;
    size_t add_len;
    TRY(hexlit(ctx, tok[2], &add, &add_len));
    char *s = sf_arena_alloc(sf_context_arena(ctx), cur_len + add_len + 1);
    if (!s) return SF_ERR_NOMEM;
    memcpy(s, cur, cur_len);
    memcpy(s + cur_len, add, add_len);
    return sf_state_set_string(ctx, spec, s, cur_len + add_len);
  }
  if (strcmp(op, "send") == 0) {
    ARGS(4);
    sf_value v;
    TRY(parse_typed_lit(ctx, tok[3], tok[4], &v));
    return sf_send(ctx, tok[1], tok[2], v);
  }
  if (strcmp(op, "send_after") == 0) {
    ARGS(6);
    int64_t ms;
    TRY(parse_i64(ctx, tok[1], &ms));
    sf_value v;
    TRY(parse_typed_lit(ctx, tok[5], tok[6], &v));
    return sf_send_after(ctx, ms, opt(tok[2]), tok[3], tok[4], v);
  }
  if (strcmp(op, "cancel") == 0) {
    ARGS(1);
    return sf_cancel_delayed(ctx, tok[1]);
  }
  if (strcmp(op, "reply") == 0) {
    ARGS(2);
    sf_value v;
    TRY(parse_typed_lit(ctx, tok[1], tok[2], &v));
    const sf_address *caller = sf_caller(ctx);
    if (!caller) return egress_string(ctx, "conf.trace/nocaller", "");
    char *tn = addr_typename(ctx, caller);
    if (!tn) return SF_ERR_NOMEM;
    return sf_send(ctx, tn, caller->id, v);
  }
  if (strcmp(op, "whoami") == 0) {
    ARGS(0);
    char *self = addr_string(ctx, sf_self(ctx));
    if (!self) return SF_ERR_NOMEM;
    TRY(egress_string(ctx, "conf.trace/self", self));
    const sf_address *caller = sf_caller(ctx);
    const char *c = caller ? addr_string(ctx, caller) : "none";
    if (!c) return SF_ERR_NOMEM;
    return egress_string(ctx, "conf.trace/caller", c);
  }
  if (strcmp(op, "kafka") == 0) {
    ARGS(4);
    uint8_t *val;
    size_t len;
    TRY(hexlit(ctx, tok[4], &val, &len));
    return sf_egress_kafka(ctx, tok[1], opt(tok[2]), opt(tok[3]), val, len);
  }
  if (strcmp(op, "kafka_typed") == 0) {
    ARGS(5);
    sf_value v;
    TRY(parse_typed_lit(ctx, tok[4], tok[5], &v));
    return sf_egress_kafka(ctx, tok[1], opt(tok[2]), opt(tok[3]), v.data,
                           v.len);
  }
  if (strcmp(op, "kinesis") == 0) {
    ARGS(5);
    uint8_t *val;
    size_t len;
    TRY(hexlit(ctx, tok[5], &val, &len));
    return sf_egress_kinesis(ctx, tok[1], opt(tok[2]), opt(tok[3]), opt(tok[4]),
                             val, len);
  }
  if (strcmp(op, "egress") == 0) {
    ARGS(3);
    sf_value v;
    TRY(parse_typed_lit(ctx, tok[2], tok[3], &v));
    return sf_egress(ctx, tok[1], v);
  }
  if (strcmp(op, "fail") == 0) {
    return sf_context_fail(ctx, "fail command");
  }
  return sf_context_fail(ctx, "unknown command %s", op);
#undef ARGS
#undef SPEC
}

static bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

static sf_status run_program(sf_context *ctx, const fn_def *fn,
                             const char *text, size_t len) {
  char *prog = sf_context_strdup(ctx, text, len);
  if (!prog) return SF_ERR_NOMEM;
  char *save = NULL;
  for (char *cmd = strtok_r(prog, ";", &save); cmd;
       cmd = strtok_r(NULL, ";", &save)) {
    char *tok[16];
    size_t n = 0;
    char *p = cmd;
    for (;;) {
      while (*p && is_space(*p)) p++;
      if (!*p) break;
      if (n == 16) return sf_context_fail(ctx, "too many tokens");
      tok[n++] = p;
      while (*p && !is_space(*p)) p++;
      if (*p) *p++ = 0;
    }
    if (n == 0) continue;
    TRY(run_command(ctx, fn, tok, n));
  }
  return SF_OK;
}

static sf_status absorb(sf_context *ctx, const fn_def *fn, const sf_message *msg,
                        const sf_type *t) {
  if (!msg->value.has_value)
    return egress_string(ctx, "conf.trace/novalue", type_name_of(t));
  sf_value v;
  TRY(reencode_msg(ctx, msg, t, &v));
  for (size_t i = 0; i < fn->n_specs; i++) {
    if (fn->specs[i]->type == t) {
      TRY(sf_state_set(ctx, fn->specs[i], v));
      break;
    }
  }
  TRY(sf_send(ctx, "conf.echo/sink", sf_self(ctx)->id, v));
  const sf_address *caller = sf_caller(ctx);
  if (caller) {
    char *tn = addr_typename(ctx, caller);
    if (!tn) return SF_ERR_NOMEM;
    TRY(sf_send(ctx, tn, caller->id, v));
  }
  return sf_egress(ctx, "conf.trace/absorbed", v);
}

static sf_status interpret(sf_context *ctx, const sf_message *msg,
                           void *user_data) {
  const fn_def *fn = user_data;
  if (sf_message_is_string(msg) && msg->value.has_value) {
    const char *s;
    size_t len;
    TRY(sf_message_as_string(msg, &s, &len));
    if (len > 0 && s[0] == '!') return run_program(ctx, fn, s + 1, len - 1);
  }
  for (size_t i = 0; i < N_TYPES; i++)
    if (sf_message_is(msg, type_table[i].type))
      return absorb(ctx, fn, msg, type_table[i].type);
  return sf_context_fail(ctx, "unsupported message type %s",
                         msg->value.type_name ? msg->value.type_name : "(null)");
}

/* ---- codec ops ---------------------------------------------------------- */

static sf_status op_encode(const uint8_t *p, size_t n, uint8_t *out,
                           size_t *out_len) {
  if (n != 9) return SF_ERR_INVALID_ARGUMENT;
  uint64_t bits = 0;
  for (int i = 7; i >= 0; i--) bits = bits << 8 | p[1 + i];
  uint32_t b32 = (uint32_t)bits;
  switch (p[0]) {
    case 0: *out_len = sf_encode_bool(bits != 0, out); break;
    case 1: *out_len = sf_encode_int((int32_t)b32, out); break;
    case 2: *out_len = sf_encode_long((int64_t)bits, out); break;
    case 3: {
      float f;
      memcpy(&f, &b32, 4);
      *out_len = sf_encode_float(f, out);
      break;
    }
    case 4: {
      double d;
      memcpy(&d, &bits, 8);
      *out_len = sf_encode_double(d, out);
      break;
    }
    default: return SF_ERR_INVALID_ARGUMENT;
  }
  return SF_OK;
}

/* `out` must hold max(8, n) bytes. */
static sf_status op_decode(const uint8_t *p, size_t n, uint8_t *out,
                           size_t *out_len) {
  if (n < 1) return SF_ERR_INVALID_ARGUMENT;
  const uint8_t *d = p + 1;
  size_t len = n - 1;
  uint64_t bits = 0;
  switch (p[0]) {
    case 0: {
      bool v;
      TRY(sf_decode_bool(d, len, &v));
      bits = v;
      break;
    }
    case 1: {
      int32_t v;
      TRY(sf_decode_int(d, len, &v));
      bits = (uint64_t)(int64_t)v;
      break;
    }
    case 2: {
      int64_t v;
      TRY(sf_decode_long(d, len, &v));
      bits = (uint64_t)v;
      break;
    }
    case 3: {
      float v;
      uint32_t b;
      TRY(sf_decode_float(d, len, &v));
      memcpy(&b, &v, 4);
      bits = b;
      break;
    }
    case 4: {
      double v;
      TRY(sf_decode_double(d, len, &v));
      memcpy(&bits, &v, 8);
      break;
    }
    case 5: {
      const char *s;
      size_t slen;
      TRY(sf_decode_string(d, len, &s, &slen));
      if (slen) memcpy(out, s, slen);
      *out_len = slen;
      return SF_OK;
    }
    default: return SF_ERR_INVALID_ARGUMENT;
  }
  for (int i = 0; i < 8; i++) out[i] = (uint8_t)(bits >> (8 * i));
  *out_len = 8;
  return SF_OK;
}

/* ---- main --------------------------------------------------------------- */

static sf_handler *make_handler(void) {
  sf_handler *h = sf_handler_new();
  if (!h) return NULL;
  for (size_t i = 0; i < sizeof fn_defs / sizeof fn_defs[0]; i++) {
    sf_status st =
        sf_handler_register(h, fn_defs[i].typename, interpret,
                            (void *)&fn_defs[i], fn_defs[i].specs,
                            fn_defs[i].n_specs);
    if (st != SF_OK) {
      fprintf(stderr, "conformance_fn: register %s: %s\n", fn_defs[i].typename,
              sf_strerror(st));
      sf_handler_free(h);
      return NULL;
    }
  }
  return h;
}

static int read_all(FILE *f, uint8_t **buf, size_t *len) {
  size_t cap = 4096, n = 0;
  uint8_t *b = malloc(cap);
  if (!b) return -1;
  for (;;) {
    if (n == cap) {
      uint8_t *nb = realloc(b, cap *= 2);
      if (!nb) {
        free(b);
        return -1;
      }
      b = nb;
    }
    size_t r = fread(b + n, 1, cap - n, f);
    n += r;
    if (r == 0) break;
  }
  if (ferror(f)) {
    free(b);
    return -1;
  }
  *buf = b;
  *len = n;
  return 0;
}

static int read_exact(uint8_t *buf, size_t n) {
  return n == 0 || fread(buf, 1, n, stdin) == n ? 0 : -1;
}

static int write_frame(int32_t status, const void *data, size_t len) {
  uint8_t hdr[8];
  uint32_t s = (uint32_t)status, l = (uint32_t)len;
  for (int i = 0; i < 4; i++) {
    hdr[i] = (uint8_t)(s >> (8 * i));
    hdr[4 + i] = (uint8_t)(l >> (8 * i));
  }
  if (fwrite(hdr, 1, 8, stdout) != 8) return -1;
  if (len && fwrite(data, 1, len, stdout) != len) return -1;
  return 0;
}

/* The SDK writes replies with its own encoder (sdk/src/wire_encode.c);
 * they must be the bytes protobuf-c packs for the same FromFunction, so
 * every reply of the suite is unpacked and packed again with protobuf-c
 * and compared byte for byte. */
static bool packed_as_protobuf_c(const uint8_t *reply, size_t len) {
  ProtobufCMessage *m = protobuf_c_message_unpack(
      &io__statefun__sdk__reqreply__from_function__descriptor, NULL, len, reply);
  if (!m) return false;
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *again = malloc(n ? n : 1);
  bool same = again && n == len;
  if (same) {
    protobuf_c_message_pack(m, again);
    same = memcmp(again, reply, len) == 0;
  }
  free(again);
  protobuf_c_message_free_unpacked(m, NULL);
  return same;
}

static int serve(const sf_handler *h) {
  /* One arena for the whole run, reset between requests: this also checks
   * that nothing of one request leaks into the next. */
  sf_arena *arena = sf_arena_new(0);
  if (!arena) return 2;
  int rc = 0;
  for (;;) {
    uint8_t hdr[5];
    size_t got = fread(hdr, 1, 5, stdin);
    if (got == 0 && feof(stdin)) break;
    if (got != 5) {
      fprintf(stderr, "conformance_fn: truncated frame header\n");
      rc = 2;
      break;
    }
    size_t len = (size_t)hdr[1] | (size_t)hdr[2] << 8 | (size_t)hdr[3] << 16 |
                 (size_t)hdr[4] << 24;
    uint8_t *payload = malloc(len ? len : 1);
    if (!payload || read_exact(payload, len)) {
      fprintf(stderr, "conformance_fn: truncated frame\n");
      free(payload);
      rc = 2;
      break;
    }
    int wrc = 0;
    if (hdr[0] == 'H') {
      uint8_t *reply = NULL;
      size_t reply_len = 0;
      sf_handle_info info;
      sf_status st =
          sf_handler_handle(h, payload, len, arena, &reply, &reply_len, &info);
      if (st == SF_OK && !packed_as_protobuf_c(reply, reply_len)) {
        fprintf(stderr, "conformance_fn: reply bytes differ from protobuf-c's "
                        "packing of the same FromFunction\n");
        rc = 2;
      }
      if (st == SF_OK)
        wrc = write_frame(0, reply, reply_len);
      else
        wrc = write_frame(st, info.error, strlen(info.error));
      sf_arena_reset(arena);
    } else if (hdr[0] == 'E' || hdr[0] == 'D') {
      uint8_t *out = malloc(len + 16);
      size_t out_len = 0;
      sf_status st = out ? (hdr[0] == 'E' ? op_encode(payload, len, out, &out_len)
                                          : op_decode(payload, len, out, &out_len))
                         : SF_ERR_NOMEM;
      wrc = write_frame(st, out, st == SF_OK ? out_len : 0);
      free(out);
    } else {
      fprintf(stderr, "conformance_fn: unknown op %c\n", hdr[0]);
      rc = 2;
    }
    free(payload);
    if (wrc) {
      rc = 2;
      break;
    }
    if (rc) break;
  }
  fflush(stdout);
  sf_arena_free(arena);
  return rc;
}

static int handle_file(const sf_handler *h, const char *path) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) {
    perror(path);
    return 2;
  }
  uint8_t *req;
  size_t req_len;
  int r = read_all(f, &req, &req_len);
  if (f != stdin) fclose(f);
  if (r) {
    fprintf(stderr, "conformance_fn: cannot read %s\n", path);
    return 2;
  }
  sf_arena *arena = sf_arena_new(0);
  uint8_t *reply;
  size_t reply_len;
  sf_handle_info info;
  sf_status st = sf_handler_handle(h, req, req_len, arena, &reply, &reply_len,
                                   &info);
  int rc = 0;
  if (st == SF_OK) {
    if (fwrite(reply, 1, reply_len, stdout) != reply_len) rc = 2;
  } else {
    fprintf(stderr, "conformance_fn: %s (%d): %s\n", sf_strerror(st), (int)st,
            info.error);
    rc = 3;
  }
  sf_arena_free(arena);
  free(req);
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s --serve | FILE | -\n", argv[0]);
    return 2;
  }
  const char *bug = getenv("SF_CONFORMANCE_INJECT_BUG");
  inject_bug = bug && strcmp(bug, "1") == 0;
  sf_handler *h = make_handler();
  if (!h) return 2;
  int rc = strcmp(argv[1], "--serve") == 0 ? serve(h) : handle_file(h, argv[1]);
  sf_handler_free(h);
  return rc;
}
