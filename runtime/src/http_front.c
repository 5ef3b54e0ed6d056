/*
 * http_front.c - the ingress and egress HTTP servers of sf-local.
 *
 * Ingress (8090): what a StateFun playground user or a test sends in:
 * messages to function addresses (playground-style PUT/POST), records on
 * module.yaml ingress topics (what a Kafka producer would do), plus the
 * state view of an address, /metrics, /health and a summary at /.
 * Egress (8091): what the functions sent out, popped one record at a time
 * (playground-style GET /<topic>) or as JSON lines per egress id.
 *
 * Every handler validates its input at the edge and answers a 4xx with a
 * one-line reason; nothing from the network can abort the process. The
 * servers run a thread per connection so that long-polls (?wait=) and the
 * engine's backpressure waits block only their own client. Long waits are
 * cut into short slices so that sfl_front_stop never waits on them.
 *
 * libmicrohttpd would percent-decode the path before we see it, which
 * makes "a%2Fb" and "a/b" indistinguishable; we install a no-op unescape
 * callback and decode each part ourselves.
 */
#include "http_front.h"
#include "entities.pb-c.h"
#include "ir.h"
#include "ir_json.h"
#include "sfb/base64.h"
#include "sfb/listen.h"
#include "util.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <statefun/statefun.h>

#define DEFAULT_SEND_WAIT_MS 2000
#define DEFAULT_MAX_POLL_MS 60000
#define POLL_SLICE_MS 200
#define DEFAULT_EGRESS_MAX 100
#define MAX_EGRESS_MAX 10000
#define MAX_IDEMPOTENCY_KEY 256
#define CONNECTION_LIMIT 512
#define CONNECTION_TIMEOUT_S 300
#define HTTP_TOO_LARGE 413 /* MHD renamed the constant across versions */

/* ======================================================================== */
/* Pure helpers                                                             */
/* ======================================================================== */

static void set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t err_len, const char *fmt, ...) {
  if (err == NULL || err_len == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, err_len, fmt, ap);
  va_end(ap);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

long sfl_front_percent_decode(const char *in, size_t len, bool plus_is_space,
                              char *out) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    char c = in[i];
    if (c == '%') {
      if (len - i < 3) return -1;
      int h = hexval(in[i + 1]);
      int l = hexval(in[i + 2]);
      if (h < 0 || l < 0) return -1;
      int v = h * 16 + l;
      if (v == 0) return -1;
      out[o++] = (char)v;
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out[o++] = ' ';
    } else if (c == '\0') {
      return -1;
    } else {
      out[o++] = c;
    }
  }
  out[o] = '\0';
  return (long)o;
}


static bool has_control(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
    if (*p < 0x20 || *p == 0x7F) return true;
  return false;
}

/* Decodes one path part into a fresh string; NULL on a bad escape. */
static char *decode_part(const char *in, size_t len) {
  char *out = malloc(len + 1);
  if (out == NULL) return NULL;
  if (sfl_front_percent_decode(in, len, false, out) < 0) {
    free(out);
    return NULL;
  }
  return out;
}

void sfl_front_address_free(sfl_front_address *a) {
  if (a == NULL) return;
  free(a->fn_typename);
  free(a->id);
  a->fn_typename = NULL;
  a->id = NULL;
}

/* Checks a decoded name part (namespace, type, topic, egress parts). */
static int check_name(const char *what, const char *s, bool allow_empty,
                      char *err, size_t err_len) {
  if (s[0] == '\0' && !allow_empty) {
    set_err(err, err_len, "empty %s", what);
    return -1;
  }
  if (strchr(s, '/') != NULL) {
    set_err(err, err_len, "the %s must not contain '/'", what);
    return -1;
  }
  if (!sf_utf8_valid((const uint8_t *)s, strlen(s))) {
    set_err(err, err_len, "the %s is not valid UTF-8", what);
    return -1;
  }
  if (has_control(s)) {
    set_err(err, err_len, "the %s contains control characters", what);
    return -1;
  }
  return 0;
}

int sfl_front_parse_address(const char *path, sfl_front_address *out,
                            char *err, size_t err_len) {
  static const char usage[] = "expected /<namespace>/<type>/<id>";
  out->fn_typename = NULL;
  out->id = NULL;
  if (path == NULL || path[0] != '/') {
    set_err(err, err_len, "%s", usage);
    return -1;
  }
  const char *ns = path + 1;
  const char *s1 = strchr(ns, '/');
  if (s1 == NULL) {
    set_err(err, err_len, "%s", usage);
    return -1;
  }
  const char *ty = s1 + 1;
  const char *s2 = strchr(ty, '/');
  if (s2 == NULL) {
    set_err(err, err_len, "%s (no id)", usage);
    return -1;
  }
  const char *id = s2 + 1;
  char *dns = decode_part(ns, (size_t)(s1 - ns));
  char *dty = decode_part(ty, (size_t)(s2 - ty));
  char *did = decode_part(id, strlen(id));
  int rc = -1;
  if (dns == NULL || dty == NULL || did == NULL) {
    set_err(err, err_len, "bad percent-encoding in the path (or %%00)");
    goto done;
  }
  if (check_name("namespace", dns, false, err, err_len) != 0) goto done;
  if (check_name("function type", dty, false, err, err_len) != 0) goto done;
  if (did[0] == '\0') {
    set_err(err, err_len, "%s (empty id)", usage);
    goto done;
  }
  if (!sf_utf8_valid((const uint8_t *)did, strlen(did))) {
    set_err(err, err_len, "the id is not valid UTF-8");
    goto done;
  }
  if (has_control(did)) {
    set_err(err, err_len, "the id contains control characters");
    goto done;
  }
  size_t n = strlen(dns) + 1 + strlen(dty) + 1;
  out->fn_typename = malloc(n);
  if (out->fn_typename == NULL) {
    set_err(err, err_len, "out of memory");
    goto done;
  }
  snprintf(out->fn_typename, n, "%s/%s", dns, dty);
  out->id = did;
  did = NULL;
  rc = 0;
done:
  free(dns);
  free(dty);
  free(did);
  return rc;
}

static const char form_hint[] =
    "use -H 'Content-Type: application/vnd.<namespace>/<name>' for the raw "
    "bytes of a type, application/json for the JSON convenience, or "
    "text/plain for a string";

int sfl_front_content_type(const char *ct, sfl_body_kind *kind,
                           char *typename, size_t tn_len, char *err,
                           size_t err_len) {
  if (tn_len > 0) typename[0] = '\0';
  const char *p = ct != NULL ? ct : "";
  while (*p == ' ' || *p == '\t') p++;
  size_t n = strcspn(p, ";");
  while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
  if (n == 0) {
    *kind = SFL_BODY_RAW;
    snprintf(typename, tn_len, "%s", SF_TYPENAME_STRING);
    return 0;
  }
  static const char vnd[] = "application/vnd.";
  const size_t vlen = sizeof vnd - 1;
  if (n > vlen && strncasecmp(p, vnd, vlen) == 0) {
    size_t tl = n - vlen;
    if (tl >= tn_len) {
      set_err(err, err_len, "typename in Content-Type too long (%zu bytes)",
              tl);
      return -1;
    }
    memcpy(typename, p + vlen, tl);
    typename[tl] = '\0';
    bool bad = sf_typename_validate(typename) != SF_OK ||
               has_control(typename) ||
               strpbrk(typename, " \t\"") != NULL ||
               !sf_utf8_valid((const uint8_t *)typename, tl);
    if (bad) {
      set_err(err, err_len,
              "bad typename '%.*s' in Content-Type: expected "
              "application/vnd.<namespace>/<name>",
              (int)(tl > 100 ? 100 : tl), p + vlen);
      typename[0] = '\0';
      return -1;
    }
    *kind = SFL_BODY_RAW;
    return 0;
  }
  if (n == 16 && strncasecmp(p, "application/json", 16) == 0) {
    *kind = SFL_BODY_JSON;
    return 0;
  }
  if (n == 10 && strncasecmp(p, "text/plain", 10) == 0) {
    *kind = SFL_BODY_TEXT;
    snprintf(typename, tn_len, "%s", SF_TYPENAME_STRING);
    return 0;
  }
  if (n == 33 && strncasecmp(p, "application/x-www-form-urlencoded", 33) == 0) {
    set_err(err, err_len,
            "Content-Type application/x-www-form-urlencoded (curl -d sets it "
            "when no -H 'Content-Type: ...' is given): %s",
            form_hint);
    return -1;
  }
  set_err(err, err_len, "unsupported Content-Type '%.*s': %s",
          (int)(n > 100 ? 100 : n), p, form_hint);
  return -1;
}

int sfl_front_string_wrapper(const char *s, size_t len, uint8_t **out,
                             size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  if (len == 0) return 0; /* proto3: "" is the default, zero bytes */
  uint8_t hdr[11];
  size_t h = 0;
  hdr[h++] = 0x0A; /* field 1, wire type 2 */
  uint64_t v = len;
  while (v >= 0x80) {
    hdr[h++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  hdr[h++] = (uint8_t)v;
  uint8_t *b = malloc(h + len);
  if (b == NULL) return -1;
  memcpy(b, hdr, h);
  memcpy(b + h, s, len);
  *out = b;
  *out_len = h + len;
  return 0;
}

static const char *json_kind(const json_t *j) {
  switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a non-integer number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
  }
  return "something else";
}

/* The built-in type a ?type= value names ("int" or the full typename). */
static const char *builtin_for(const char *type) {
  static const char *const names[][2] = {
      {"bool", SF_TYPENAME_BOOL},     {"boolean", SF_TYPENAME_BOOL},
      {"int", SF_TYPENAME_INT},       {"long", SF_TYPENAME_LONG},
      {"float", SF_TYPENAME_FLOAT},   {"double", SF_TYPENAME_DOUBLE},
      {"string", SF_TYPENAME_STRING},
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(type, names[i][0]) == 0 || strcmp(type, names[i][1]) == 0)
      return names[i][1];
  return NULL;
}

static int copy_out(const uint8_t *buf, size_t n, uint8_t **out,
                    size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  if (n == 0) return 0;
  *out = malloc(n);
  if (*out == NULL) return -1;
  memcpy(*out, buf, n);
  *out_len = n;
  return 0;
}

int sfl_front_json_encode(const char *body, size_t len, const char *type,
                          const char **typename, uint8_t **out,
                          size_t *out_len, char *err, size_t err_len) {
  *out = NULL;
  *out_len = 0;
  *typename = NULL;
  const char *tn = NULL;
  if (type != NULL && type[0] != '\0') {
    tn = builtin_for(type);
    if (tn == NULL) {
      set_err(err, err_len,
              "unknown ?type=%.40s: expected bool, int, long, float, double "
              "or string",
              type);
      return -1;
    }
  }
  json_error_t jerr;
  json_t *j = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
  if (j == NULL) {
    set_err(err, err_len, "body is not JSON: %s (line %d, column %d)",
            jerr.text, jerr.line, jerr.column);
    return -1;
  }
  if (tn == NULL) {
    switch (json_typeof(j)) {
      case JSON_STRING: tn = SF_TYPENAME_STRING; break;
      case JSON_TRUE:
      case JSON_FALSE: tn = SF_TYPENAME_BOOL; break;
      case JSON_INTEGER: tn = SF_TYPENAME_LONG; break;
      case JSON_REAL: tn = SF_TYPENAME_DOUBLE; break;
      default:
        set_err(err, err_len,
                "the JSON convenience takes a string, a number or a boolean, "
                "not %s; to send JSON as a user type use "
                "-H 'Content-Type: application/vnd.<namespace>/<name>'",
                json_kind(j));
        json_decref(j);
        return -1;
    }
  }
  uint8_t buf[9];
  size_t n = 0;
  int rc = -1;
  if (strcmp(tn, SF_TYPENAME_BOOL) == 0) {
    if (!json_is_boolean(j)) {
      set_err(err, err_len, "type bool needs true or false, got %s",
              json_kind(j));
      goto done;
    }
    n = sf_encode_bool(json_is_true(j), buf);
  } else if (strcmp(tn, SF_TYPENAME_INT) == 0) {
    if (!json_is_integer(j) || json_integer_value(j) < INT32_MIN ||
        json_integer_value(j) > INT32_MAX) {
      set_err(err, err_len,
              "type int needs an integer in [-2147483648, 2147483647], got "
              "%s%s",
              json_kind(j),
              json_is_integer(j) ? " out of range (use type=long)" : "");
      goto done;
    }
    n = sf_encode_int((int32_t)json_integer_value(j), buf);
  } else if (strcmp(tn, SF_TYPENAME_LONG) == 0) {
    if (!json_is_integer(j)) {
      set_err(err, err_len, "type long needs an integer, got %s",
              json_kind(j));
      goto done;
    }
    n = sf_encode_long((int64_t)json_integer_value(j), buf);
  } else if (strcmp(tn, SF_TYPENAME_FLOAT) == 0) {
    if (!json_is_number(j)) {
      set_err(err, err_len, "type float needs a number, got %s",
              json_kind(j));
      goto done;
    }
    double d = json_number_value(j);
    if (!isfinite(d) || fabs(d) > FLT_MAX) {
      set_err(err, err_len, "%g is out of float range (use type=double)", d);
      goto done;
    }
    n = sf_encode_float((float)d, buf);
  } else if (strcmp(tn, SF_TYPENAME_DOUBLE) == 0) {
    if (!json_is_number(j)) {
      set_err(err, err_len, "type double needs a number, got %s",
              json_kind(j));
      goto done;
    }
    n = sf_encode_double(json_number_value(j), buf);
  } else { /* string */
    if (!json_is_string(j)) {
      set_err(err, err_len,
              "type string needs a JSON string (in quotes), got %s",
              json_kind(j));
      goto done;
    }
    if (sfl_front_string_wrapper(json_string_value(j), json_string_length(j),
                                 out, out_len) != 0) {
      set_err(err, err_len, "out of memory");
      goto done;
    }
    *typename = tn;
    rc = 0;
    goto done;
  }
  if (copy_out(buf, n, out, out_len) != 0) {
    set_err(err, err_len, "out of memory");
    goto done;
  }
  *typename = tn;
  rc = 0;
done:
  json_decref(j);
  return rc;
}

/* The one base64 of the tree (sfbase); kept under this name for the
 * front's callers and tests. */
char *sfl_front_base64(const uint8_t *data, size_t len) {
  return sfb_base64_encode(data, len);
}

int64_t sfl_front_parse_wait(const char *s, int64_t max_ms) {
  if (s == NULL || !((s[0] >= '0' && s[0] <= '9') || s[0] == '.')) return -1;
  for (const char *p = s; *p != '\0'; p++)
    if (!((*p >= '0' && *p <= '9') || *p == '.')) return -1;
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || !isfinite(v) || v < 0) return -1;
  double ms = v * 1000.0;
  if (ms >= (double)max_ms) return max_ms;
  return (int64_t)ms;
}

/* ======================================================================== */
/* The servers                                                              */
/* ======================================================================== */

struct sfl_front {
  sfl_engine *engine;
  const sfl_config *config;
  size_t max_body;
  int64_t send_wait_ms;
  int64_t max_poll_ms;
  int verbose;
  const sfc_ir *irs; /* --ir files */
  size_t n_irs;
  atomic_bool stopping;
  struct MHD_Daemon *ingress;
  struct MHD_Daemon *egress;
  uint16_t ingress_port;
  uint16_t egress_port;
  char bind[256];
};

/* Per-request state: the body as it arrives. */
typedef struct request {
  uint8_t *body;
  size_t len;
  size_t cap;
  bool too_large;
} request;

/* What a handler needs to answer. */
typedef struct exchange {
  sfl_front *f;
  struct MHD_Connection *conn;
  const char *server; /* "ingress" / "egress" for the log */
  const char *method;
  const char *url;
} exchange;

/* Header values must be printable ASCII (MHD refuses CR/LF anyway). */
static bool header_safe(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
    if (*p < 0x20 || *p >= 0x7F) return false;
  return true;
}

static enum MHD_Result send_response(exchange *x, unsigned code,
                                     const char *ctype, const void *data,
                                     size_t len,
                                     const char *const *headers) {
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      len, (void *)(uintptr_t)data, MHD_RESPMEM_MUST_COPY);
  if (resp == NULL) return MHD_NO;
  if (ctype != NULL)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
  for (size_t i = 0; headers != NULL && headers[i] != NULL; i += 2)
    if (headers[i + 1] != NULL && header_safe(headers[i + 1]))
      MHD_add_response_header(resp, headers[i], headers[i + 1]);
  enum MHD_Result r = MHD_queue_response(x->conn, code, resp);
  MHD_destroy_response(resp);
  if (x->f->verbose) {
    /* The raw path may hold any byte: keep the terminal safe. */
    char path[256];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)x->url;
         *p != '\0' && n + 1 < sizeof path; p++)
      path[n++] = *p < 0x20 || *p == 0x7F ? '?' : (char)*p;
    path[n] = '\0';
    fprintf(stderr, "sf-local: %s %s %s%s -> %u\n", x->server, x->method,
            path, x->url[n] != '\0' ? "..." : "", code);
  }
  return r;
}

/* Answers a JSON object (taking the reference) followed by a newline. */
static enum MHD_Result send_json(exchange *x, unsigned code, json_t *obj,
                                 const char *const *headers) {
  char *s = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
  json_decref(obj);
  if (s == NULL) {
    static const char oom[] = "{\"error\":\"out of memory\"}\n";
    return send_response(x, MHD_HTTP_INTERNAL_SERVER_ERROR,
                         "application/json", oom, sizeof oom - 1, NULL);
  }
  size_t n = strlen(s);
  char *line = malloc(n + 2);
  enum MHD_Result r;
  if (line == NULL) {
    r = send_response(x, code, "application/json", s, n, headers);
  } else {
    memcpy(line, s, n);
    line[n] = '\n';
    r = send_response(x, code, "application/json", line, n + 1, headers);
    free(line);
  }
  free(s);
  return r;
}

static enum MHD_Result send_error_h(exchange *x, unsigned code,
                                    const char *const *headers,
                                    const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum MHD_Result send_error_h(exchange *x, unsigned code,
                                    const char *const *headers,
                                    const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* Messages may echo request bytes; JSON needs valid UTF-8 (truncation
   * may also have cut a sequence in two). */
  if (!sf_utf8_valid((const uint8_t *)msg, strlen(msg)))
    for (unsigned char *p = (unsigned char *)msg; *p != '\0'; p++)
      if (*p >= 0x80) *p = '?';
  json_t *o = json_object();
  if (o != NULL) json_object_set_new(o, "error", json_string(msg));
  return send_json(x, code, o, headers);
}

#define send_error(x, code, ...) send_error_h((x), (code), NULL, __VA_ARGS__)

static enum MHD_Result send_text(exchange *x, unsigned code,
                                 const char *ctype, const char *text) {
  return send_response(x, code, ctype, text, strlen(text), NULL);
}

/* A query argument, percent-decoded (malloc'd). *bad is set for a bad
 * escape; NULL without *bad means absent. */
static char *query_arg(exchange *x, const char *key, bool *bad) {
  *bad = false;
  const char *raw =
      MHD_lookup_connection_value(x->conn, MHD_GET_ARGUMENT_KIND, key);
  if (raw == NULL) return NULL;
  size_t n = strlen(raw);
  char *out = malloc(n + 1);
  if (out == NULL || sfl_front_percent_decode(raw, n, true, out) < 0) {
    free(out);
    *bad = true;
    return NULL;
  }
  return out;
}

static const char *header(exchange *x, const char *name) {
  return MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, name);
}

/* Maps an engine outcome of a send to its HTTP answer. */
static enum MHD_Result answer_send(exchange *x, sfl_result res,
                                   const char *err, const char *to_key,
                                   const char *to) {
  switch (res) {
    case SFL_OK:
    case SFL_DUPLICATE: {
      json_t *o = json_object();
      if (o != NULL) {
        json_object_set_new(o, "accepted", json_true());
        if (res == SFL_DUPLICATE)
          json_object_set_new(o, "duplicate", json_true());
        json_object_set_new(o, to_key, json_string(to));
      }
      return send_json(x, res == SFL_OK ? MHD_HTTP_ACCEPTED : MHD_HTTP_OK, o,
                       NULL);
    }
    case SFL_ERR_NO_FUNCTION:
    case SFL_ERR_NO_TOPIC:
    case SFL_ERR_NOT_FOUND:
      return send_error(x, MHD_HTTP_NOT_FOUND, "%s", err);
    case SFL_ERR_BAD_REQUEST:
      return send_error(x, MHD_HTTP_BAD_REQUEST, "%s", err);
    case SFL_ERR_BUSY: {
      static const char *const h[] = {"Retry-After", "1", NULL};
      return send_error_h(x, MHD_HTTP_SERVICE_UNAVAILABLE, h, "%s", err);
    }
    case SFL_ERR_STORE:
      return send_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", err);
  }
  return send_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR,
                    "unexpected engine result %d: %s", (int)res, err);
}

/* X-Idempotency-Key: optional, printable ASCII, bounded. */
static int idempotency_key(exchange *x, const char **key, char *err,
                           size_t err_len) {
  const char *k = header(x, "X-Idempotency-Key");
  *key = NULL;
  if (k == NULL || k[0] == '\0') return 0;
  if (strlen(k) > MAX_IDEMPOTENCY_KEY || !header_safe(k)) {
    set_err(err, err_len,
            "X-Idempotency-Key must be 1 to %d printable ASCII characters",
            MAX_IDEMPOTENCY_KEY);
    return -1;
  }
  *key = k;
  return 0;
}

static enum MHD_Result ingress_send(exchange *x, request *r) {
  char err[512] = "";
  sfl_front_address a;
  if (sfl_front_parse_address(x->url, &a, err, sizeof err) != 0)
    return send_error(x, MHD_HTTP_BAD_REQUEST, "%s", err);
  enum MHD_Result ret;
  uint8_t *owned = NULL;
  char *type = NULL;
  char tn[512];
  sfl_body_kind kind;
  const char *key;
  bool bad = false;
  if (sfl_front_content_type(header(x, MHD_HTTP_HEADER_CONTENT_TYPE), &kind,
                             tn, sizeof tn, err, sizeof err) != 0) {
    ret = send_error(x, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "%s", err);
    goto done;
  }
  if (idempotency_key(x, &key, err, sizeof err) != 0) {
    ret = send_error(x, MHD_HTTP_BAD_REQUEST, "%s", err);
    goto done;
  }
  type = query_arg(x, "type", &bad);
  if (bad) {
    ret = send_error(x, MHD_HTTP_BAD_REQUEST, "bad percent-encoding in ?type=");
    goto done;
  }
  if (type != NULL && kind != SFL_BODY_JSON) {
    ret = send_error(x, MHD_HTTP_BAD_REQUEST,
                     "?type= applies to Content-Type: application/json only");
    goto done;
  }
  const void *value = r->body != NULL ? (const void *)r->body : "";
  size_t len = r->len;
  const char *value_tn = tn;
  if (kind == SFL_BODY_JSON) {
    if (sfl_front_json_encode((const char *)r->body != NULL
                                  ? (const char *)r->body
                                  : "",
                              r->len, type, &value_tn, &owned, &len, err,
                              sizeof err) != 0) {
      ret = send_error(x, MHD_HTTP_BAD_REQUEST, "%s", err);
      goto done;
    }
    value = owned != NULL ? (const void *)owned : "";
  } else if (kind == SFL_BODY_TEXT) {
    if (!sf_utf8_valid(r->body, r->len) ||
        memchr(r->body != NULL ? (const void *)r->body : "", 0, r->len) !=
            NULL) {
      ret = send_error(x, MHD_HTTP_BAD_REQUEST,
                       "a text/plain body must be UTF-8 without NUL bytes");
      goto done;
    }
    if (sfl_front_string_wrapper((const char *)r->body, r->len, &owned,
                                 &len) != 0) {
      ret = send_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
      goto done;
    }
    value = owned != NULL ? (const void *)owned : "";
  }
  err[0] = '\0';
  sfl_result res =
      sfl_engine_send(x->f->engine, a.fn_typename, a.id, value_tn, value, len,
                      key, x->f->send_wait_ms, err, sizeof err);
  if (res == SFL_ERR_NO_FUNCTION && err[0] == '\0')
    snprintf(err, sizeof err, "no endpoint in module.yaml serves function "
             "type %s", a.fn_typename);
  size_t tl = strlen(a.fn_typename) + strlen(a.id) + 2;
  char *to = malloc(tl);
  if (to == NULL) {
    ret = send_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    goto done;
  }
  snprintf(to, tl, "%s/%s", a.fn_typename, a.id);
  ret = answer_send(x, res, err, "to", to);
  free(to);
done:
  free(owned);
  free(type);
  sfl_front_address_free(&a);
  return ret;
}

static enum MHD_Result ingress_topic(exchange *x, request *r,
                                     const char *raw_topic) {
  char err[512] = "";
  char *topic = decode_part(raw_topic, strlen(raw_topic));
  if (topic == NULL)
    return send_error(x, MHD_HTTP_BAD_REQUEST,
                      "bad percent-encoding in the topic");
  enum MHD_Result ret;
  bool bad = false;
  char *qkey = NULL;
  const char *idem;
  if (check_name("topic", topic, false, err, sizeof err) != 0) {
    ret = send_error(x, MHD_HTTP_BAD_REQUEST, "%s", err);
    goto done;
  }
  const char *key = header(x, "X-Key");
  if (key == NULL) {
    qkey = query_arg(x, "key", &bad);
    if (bad) {
      ret = send_error(x, MHD_HTTP_BAD_REQUEST, "bad percent-encoding in ?key=");
      goto done;
    }
    key = qkey;
  }
  if (key == NULL || key[0] == '\0') {
    ret = send_error(x, MHD_HTTP_BAD_REQUEST,
                     "a topic record needs a key (the target function id): "
                     "header X-Key: <id> or ?key=<id>");
    goto done;
  }
  if (!sf_utf8_valid((const uint8_t *)key, strlen(key)) ||
      has_control(key)) {
    ret = send_error(x, MHD_HTTP_BAD_REQUEST,
                     "the key must be UTF-8 without control characters");
    goto done;
  }
  if (idempotency_key(x, &idem, err, sizeof err) != 0) {
    ret = send_error(x, MHD_HTTP_BAD_REQUEST, "%s", err);
    goto done;
  }
  sfl_result res = sfl_engine_send_topic(
      x->f->engine, topic, key, r->body != NULL ? (const void *)r->body : "",
      r->len, idem, x->f->send_wait_ms, err, sizeof err);
  if (res == SFL_ERR_NO_TOPIC && err[0] == '\0')
    snprintf(err, sizeof err, "no ingress in module.yaml routes topic %s",
             topic);
  ret = answer_send(x, res, err, "topic", topic);
done:
  free(qkey);
  free(topic);
  return ret;
}

static const char ingress_usage[] =
    "usage:\n"
    "  send a message (playground style; the body is the raw bytes of the "
    "type):\n"
    "    curl -X PUT -H 'Content-Type: application/vnd.<ns>/<msgtype>' "
    "--data-binary @msg.bin http://HOST/<ns>/<fntype>/<id>\n"
    "  send a built-in value from JSON (string, bool, long, double; "
    "?type=int|float|... to choose):\n"
    "    curl -H 'Content-Type: application/json' -d '\"Bob\"' "
    "http://HOST/<ns>/<fntype>/<id>\n"
    "  send a record on a module.yaml ingress topic:\n"
    "    curl -H 'X-Key: <id>' --data-binary @value.bin "
    "http://HOST/topics/<topic>\n"
    "  call an entity method with JSON arguments (sf-local --ir FILE):\n"
    "    curl -X POST -d '{\"items\":[\"apple\"]}' "
    "http://HOST/<ns>/<Entity>/<key>/<method>\n"
    "  look at an address (state, mailbox, last failure):\n"
    "    curl http://HOST/<ns>/<fntype>/<id>\n"
    "  GET /metrics (Prometheus), GET /health, GET /?format=json\n"
    "  egress: curl http://EGRESS/<topic>  or  "
    "curl 'http://EGRESS/egress/<ns>/<name>/<topic>?wait=5&max=10'\n"
    "  see docs/sf-local-http.md\n";

static enum MHD_Result ingress_root(exchange *x) {
  char *summary = sfl_engine_summary(x->f->engine);
  if (summary == NULL)
    return send_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR,
                      "no summary (out of memory)");
  bool bad = false;
  char *format = query_arg(x, "format", &bad);
  const char *accept = header(x, MHD_HTTP_HEADER_ACCEPT);
  bool json = (format != NULL && strcmp(format, "json") == 0) ||
              (accept != NULL && strstr(accept, "application/json") != NULL &&
               strstr(accept, "text/") == NULL);
  free(format);
  enum MHD_Result r;
  if (json) {
    size_t n = strlen(summary);
    char *line = malloc(n + 2);
    if (line == NULL) {
      r = send_text(x, MHD_HTTP_OK, "application/json", summary);
    } else {
      memcpy(line, summary, n);
      memcpy(line + n, "\n", 2);
      r = send_text(x, MHD_HTTP_OK, "application/json", line);
      free(line);
    }
  } else {
    static const char head[] =
        "sf-local ingress (compatible with the StateFun playground's)\n"
        "summary: ";
    size_t n = sizeof head - 1 + strlen(summary) + 2 + sizeof ingress_usage;
    char *text = malloc(n);
    if (text == NULL) {
      r = send_text(x, MHD_HTTP_OK, "application/json", summary);
    } else {
      snprintf(text, n, "%s%s\n\n%s", head, summary, ingress_usage);
      r = send_text(x, MHD_HTTP_OK, "text/plain; charset=utf-8", text);
      free(text);
    }
  }
  free(summary);
  return r;
}

/* ---- entity calls (--ir): POST /<ns>/<Entity>/<key>/<method> ----------- */

#define ENTITY_DEFAULT_WAIT_MS 30000
#define MAX_REQUEST_ID 200
#define CALL_TYPENAME "statefun.entities/Call"

static sfl_result pop_wait(sfl_front *f, const char *egress_id,
                           const char *topic, int64_t wait_ms,
                           sfl_record *out);

/* The IR entity of "ns/Entity" (NULL if none); *ir_out gets its IR, and
 * *ns_known whether some IR has that namespace. */
static const sfc_entity *ir_entity(const sfl_front *f, const char *fn_typename,
                                   const sfc_ir **ir_out, bool *ns_known) {
  const char *slash = strchr(fn_typename, '/');
  *ns_known = false;
  if (slash == NULL) return NULL;
  size_t nl = (size_t)(slash - fn_typename);
  for (size_t i = 0; i < f->n_irs; i++) {
    const sfc_ir *ir = &f->irs[i];
    if (strlen(ir->namespace_) != nl ||
        strncmp(ir->namespace_, fn_typename, nl) != 0)
      continue;
    *ns_known = true;
    const sfc_entity *e = sfc_ir_entity(ir, slash + 1);
    if (e != NULL) {
      *ir_out = ir;
      return e;
    }
  }
  return NULL;
}

/* "a, b, c" of the entity names of namespace ns (or of an entity's
 * methods), truncated to fit. */
static void list_names(char *out, size_t n, const sfl_front *f,
                       const char *ns, size_t nl, const sfc_entity *e) {
  size_t o = 0;
  out[0] = '\0';
  if (e != NULL) {
    for (size_t k = 0; k < e->n_methods && o + 1 < n; k++) {
      int w = snprintf(out + o, n - o, "%s%s", o ? ", " : "",
                       e->methods[k].name);
      if (w > 0) o += (size_t)w;
    }
    return;
  }
  for (size_t i = 0; i < f->n_irs; i++) {
    const sfc_ir *ir = &f->irs[i];
    if (strlen(ir->namespace_) != nl || strncmp(ir->namespace_, ns, nl) != 0)
      continue;
    for (size_t k = 0; k < ir->n_entities && o + 1 < n; k++) {
      int w = snprintf(out + o, n - o, "%s%s", o ? ", " : "",
                       ir->entities[k].name);
      if (w > 0) o += (size_t)w;
    }
  }
}

/* A unique request id: time, process, counter and randomness. */
static void new_request_id(char *out, size_t n) {
  static atomic_uint_fast64_t counter;
  uint64_t c = atomic_fetch_add(&counter, 1) + 1;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t mix = ((uint64_t)ts.tv_nsec << 20) ^ ((uint64_t)getpid() << 40) ^
                 (c * 0x9E3779B97F4A7C15ull) ^ (uint64_t)(uintptr_t)&c;
  snprintf(out, n, "sfl-%llx-%llx-%llu",
           (unsigned long long)ts.tv_sec, (unsigned long long)(mix & 0xFFFFFFFFFFull),
           (unsigned long long)c);
}

/* X-Request-Id: it names the Reply's egress topic, so keep it to a
 * Kafka topic's characters. */
static bool request_id_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > MAX_REQUEST_ID) return false;
  for (const char *p = s; *p != '\0'; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
      return false;
  return true;
}

/* Answers {"ok":false,"error":msg,"request_id":rid} (rid may be NULL). */
static enum MHD_Result send_call_error(exchange *x, unsigned code,
                                       const char *rid, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum MHD_Result send_call_error(exchange *x, unsigned code,
                                       const char *rid, const char *fmt, ...) {
  char msg[1536];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (!sf_utf8_valid((const uint8_t *)msg, strlen(msg)))
    for (unsigned char *p = (unsigned char *)msg; *p != '\0'; p++)
      if (*p >= 0x80) *p = '?';
  json_t *o = json_object();
  if (o != NULL) {
    json_object_set_new(o, "ok", json_false());
    json_object_set_new(o, "error", json_string(msg));
    if (rid != NULL) json_object_set_new(o, "request_id", json_string(rid));
  }
  return send_json(x, code, o, NULL);
}

/* The method's Args record from the body, a JSON object of the arguments
 * (a blank body = none). False when it answered an error. */
static bool call_args(exchange *x, request *r, const sfc_entity *ent,
                      const sfc_method *m, uint8_t **argb, size_t *argn,
                      enum MHD_Result *ret) {
  char err[1024] = "";
  json_t *args = NULL;
  bool blank = true;
  for (size_t i = 0; i < r->len && blank; i++)
    blank = r->body[i] == ' ' || r->body[i] == '\t' || r->body[i] == '\r' ||
            r->body[i] == '\n';
  if (!blank) {
    json_error_t je;
    args = json_loadb((const char *)r->body, r->len,
                      JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (args == NULL) {
      *ret = send_call_error(x, MHD_HTTP_BAD_REQUEST, NULL,
                             "the body is not JSON (line %d, column %d): %s",
                             je.line, je.column, je.text);
      return false;
    }
  }
  int rc = sfc_json_encode_args(m, args, argb, argn, err, sizeof err);
  json_decref(args);
  if (rc != 0) {
    *ret = send_call_error(x, MHD_HTTP_BAD_REQUEST, NULL, "%s.%s: %s",
                           ent->name, m->name, err);
    return false;
  }
  return true;
}

/* The call's options from the request: its id (X-Request-Id or a new
 * one; it names the Reply's topic), ?wait= and the idempotency key.
 * False when it answered an error. */
static bool call_options(exchange *x, char rid[MAX_REQUEST_ID + 1],
                         int64_t *wait_ms, const char **idem,
                         enum MHD_Result *ret) {
  const char *hrid = header(x, "X-Request-Id");
  if (hrid != NULL && hrid[0] != '\0') {
    if (!request_id_ok(hrid)) {
      *ret = send_call_error(x, MHD_HTTP_BAD_REQUEST, NULL,
                             "X-Request-Id must be 1 to %d characters of "
                             "[A-Za-z0-9._-]",
                             MAX_REQUEST_ID);
      return false;
    }
    snprintf(rid, MAX_REQUEST_ID + 1, "%s", hrid);
  } else {
    new_request_id(rid, MAX_REQUEST_ID + 1);
  }
  *wait_ms = ENTITY_DEFAULT_WAIT_MS;
  bool bad = false;
  char *w = query_arg(x, "wait", &bad);
  if (w != NULL) *wait_ms = sfl_front_parse_wait(w, x->f->max_poll_ms);
  free(w);
  if (bad || *wait_ms < 0) {
    *ret = send_call_error(x, MHD_HTTP_BAD_REQUEST, rid,
                           "bad ?wait= (seconds, e.g. 5 or 0.5; at most %lld)",
                           (long long)(x->f->max_poll_ms / 1000));
    return false;
  }
  char err[512];
  if (idempotency_key(x, idem, err, sizeof err) != 0) {
    *ret = send_call_error(x, MHD_HTTP_BAD_REQUEST, rid, "%s", err);
    return false;
  }
  return true;
}

/* Sends the Call envelope (the generated codec of proto/entities.proto)
 * to the entity: an external call, its Reply to the reply egress under
 * topic `rid`. False when it answered an error. */
static bool call_send(exchange *x, const sfl_front_address *a,
                      const sfc_method *m, uint8_t *argb, size_t argn,
                      const char *rid, const char *idem,
                      enum MHD_Result *ret) {
  Statefun__Entities__Call call = STATEFUN__ENTITIES__CALL__INIT;
  call.method = (char *)m->name;
  call.args.data = argb;
  call.args.len = argn;
  call.call_id = call.request_id = call.reply_topic = (char *)rid;
  call.reply_egress = (char *)SFL_REPLY_EGRESS;
  size_t n = statefun__entities__call__get_packed_size(&call);
  uint8_t *wire = malloc(n ? n : 1);
  if (wire == NULL) {
    *ret = send_call_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, rid,
                           "out of memory");
    return false;
  }
  statefun__entities__call__pack(&call, wire);
  char err[1024] = "";
  sfl_result res = sfl_engine_send(x->f->engine, a->fn_typename, a->id,
                                   CALL_TYPENAME, wire, n, idem,
                                   x->f->send_wait_ms, err, sizeof err);
  free(wire);
  switch (res) {
    case SFL_OK:
    case SFL_DUPLICATE: return true;
    case SFL_ERR_NO_FUNCTION:
      *ret = send_call_error(x, MHD_HTTP_NOT_FOUND, rid,
                             "no endpoint in module.yaml serves %s%s%s",
                             a->fn_typename, err[0] ? ": " : "", err);
      return false;
    case SFL_ERR_BUSY: {
      static const char *const h[] = {"Retry-After", "1", NULL};
      *ret = send_error_h(x, MHD_HTTP_SERVICE_UNAVAILABLE, h, "%s", err);
      return false;
    }
    case SFL_ERR_BAD_REQUEST:
      *ret = send_call_error(x, MHD_HTTP_BAD_REQUEST, rid, "%s", err);
      return false;
    default:
      *ret = send_call_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, rid,
                             "the call was not accepted: %s", err);
      return false;
  }
}

/* Answers with the entity's Reply record `rec`: the result as JSON, the
 * method's error (422), or why the Reply does not decode (502). */
static enum MHD_Result call_answer(exchange *x, const sfc_method *m,
                                   const char *rid, const sfl_record *rec) {
  Statefun__Entities__Reply *rp = statefun__entities__reply__unpack(
      NULL, rec->len, rec->value ? rec->value : (const uint8_t *)"");
  if (rp == NULL)
    return send_call_error(x, MHD_HTTP_BAD_GATEWAY, rid,
                           "the entity's Reply (%zu bytes, type %s) is not a "
                           "statefun.entities/Reply",
                           rec->len, rec->typename);
  enum MHD_Result ret;
  char err[1024] = "";
  json_t *result = NULL;
  if (!rp->ok) {
    ret = send_call_error(x, 422, rid, "%s",
                          rp->error != NULL && rp->error[0] != '\0'
                              ? rp->error
                              : "the method failed (no reason given)");
  } else if ((result = sfc_json_decode_result(m, rp->result.data,
                                              rp->result.len, err,
                                              sizeof err)) == NULL) {
    ret = send_call_error(x, MHD_HTTP_BAD_GATEWAY, rid,
                          "the entity's result does not decode as %s: %s",
                          m->result->text, err);
  } else {
    json_t *o = json_object();
    if (o != NULL) {
      json_object_set_new(o, "ok", json_true());
      json_object_set_new(o, "result", result);
      json_object_set_new(o, "request_id", json_string(rid));
    } else {
      json_decref(result);
    }
    ret = send_json(x, MHD_HTTP_OK, o, NULL);
  }
  statefun__entities__reply__free_unpacked(rp, NULL);
  return ret;
}

/* POST /<ns>/<Entity>/<key>/<method> (`raw_method` is the last part of
 * the path, still percent-encoded): the arguments and options, the Call
 * sent, then a wait for its Reply on the reply egress. */
static enum MHD_Result entity_call(exchange *x, request *r,
                                   const sfl_front_address *a,
                                   const sfc_entity *ent,
                                   const char *raw_method) {
  char *mname = decode_part(raw_method, strlen(raw_method));
  if (mname == NULL)
    return send_call_error(x, MHD_HTTP_BAD_REQUEST, NULL,
                           "bad percent-encoding in the method name");
  enum MHD_Result ret;
  uint8_t *argb = NULL;
  size_t argn = 0;
  char rid[MAX_REQUEST_ID + 1];
  int64_t wait_ms;
  const char *idem;
  sfl_record rec;
  const sfc_method *m = sfc_entity_method(ent, mname);
  if (m == NULL) {
    char names[512];
    list_names(names, sizeof names, x->f, NULL, 0, ent);
    ret = send_call_error(x, MHD_HTTP_NOT_FOUND, NULL,
                          "entity %s has no method '%s' (methods: %s)",
                          a->fn_typename, mname, names);
  } else if (call_args(x, r, ent, m, &argb, &argn, &ret) &&
             call_options(x, rid, &wait_ms, &idem, &ret) &&
             call_send(x, a, m, argb, argn, rid, idem, &ret)) {
    if (pop_wait(x->f, SFL_REPLY_EGRESS, rid, wait_ms, &rec) != SFL_OK) {
      ret = send_call_error(
          x, MHD_HTTP_GATEWAY_TIMEOUT, rid,
          "no reply within %.3g s; the call was accepted and may still "
          "complete: its Reply will be on egress %s, topic %s (GET "
          "http://<egress>/egress/%s/%s)",
          (double)wait_ms / 1000.0, SFL_REPLY_EGRESS, rid, SFL_REPLY_EGRESS,
          rid);
    } else {
      ret = call_answer(x, m, rid, &rec);
      sfl_record_free(&rec);
    }
  }
  free(argb);
  free(mname);
  return ret;
}

/* Routes a POST whose address may name an IR entity. Returns true when it
 * answered (an entity call or an entity error), false to fall through to
 * the plain send. */
static bool try_entity_post(exchange *x, request *r, enum MHD_Result *ret) {
  sfl_front *f = x->f;
  if (f->n_irs == 0) return false;
  /* A raw typed message (playground style) stays a plain send. */
  const char *ct = header(x, MHD_HTTP_HEADER_CONTENT_TYPE);
  if (ct != NULL && strncasecmp(ct, "application/vnd.", 16) == 0) return false;
  const char *url = x->url;
  const char *last = strrchr(url, '/');
  if (last == NULL || last == url) return false;
  size_t plen = (size_t)(last - url);
  char *prefix = strndup(url, plen);
  if (prefix == NULL) return false;
  sfl_front_address a;
  char err[512], perr[512] = "";
  bool answered = false;
  if (sfl_front_parse_address(prefix, &a, perr, sizeof perr) == 0) {
    perr[0] = '\0';
    const sfc_ir *ir = NULL;
    bool ns_known = false;
    const sfc_entity *e = ir_entity(f, a.fn_typename, &ir, &ns_known);
    if (e != NULL) {
      *ret = entity_call(x, r, &a, e, last + 1);
      answered = true;
    } else if (ns_known) {
      const char *slash = strchr(a.fn_typename, '/');
      char names[512];
      list_names(names, sizeof names, f, a.fn_typename,
                 (size_t)(slash - a.fn_typename), NULL);
      *ret = send_call_error(x, MHD_HTTP_NOT_FOUND, NULL,
                             "no entity '%s' in the IR of namespace %.*s "
                             "(entities: %s)",
                             slash + 1, (int)(slash - a.fn_typename),
                             a.fn_typename, names);
      answered = true;
    }
    sfl_front_address_free(&a);
  }
  if (!answered) {
    /* "/<ns>/<Entity>/<key>" without a method */
    if (sfl_front_parse_address(url, &a, err, sizeof err) == 0) {
      const sfc_ir *ir = NULL;
      bool ns_known = false;
      const sfc_entity *e = ir_entity(f, a.fn_typename, &ir, &ns_known);
      if (e != NULL && strchr(a.id, '/') == NULL) {
        char names[512];
        list_names(names, sizeof names, f, NULL, 0, e);
        *ret = send_call_error(
            x, MHD_HTTP_NOT_FOUND, NULL,
            "%s is an entity: POST /%s/%s/<method> with the JSON arguments "
            "(methods: %s), or PUT a raw message",
            a.fn_typename, a.fn_typename, a.id, names);
        answered = true;
      } else if (e != NULL) {
        /* e.g. /ns/Entity//method: an entity call with a bad key */
        *ret = send_call_error(x, MHD_HTTP_BAD_REQUEST, NULL,
                               "an entity call is POST /%s/<key>/<method>: "
                               "%s",
                               a.fn_typename,
                               perr[0] ? perr : "bad path");
        answered = true;
      }
      sfl_front_address_free(&a);
    }
  }
  free(prefix);
  return answered;
}

/* Adds "fields" (the IR's state fields, decoded) to an address view. */
static char *add_entity_fields(sfl_front *f, const char *fn_typename,
                               char *view) {
  const sfc_ir *ir = NULL;
  bool ns_known = false;
  const sfc_entity *e = ir_entity(f, fn_typename, &ir, &ns_known);
  if (e == NULL) return view;
  json_t *o = json_loads(view, 0, NULL);
  if (!json_is_object(o)) {
    json_decref(o);
    return view;
  }
  json_t *st = json_object_get(o, "state");
  json_t *fields = json_object();
  for (size_t i = 0; fields != NULL && i < e->n_state; i++) {
    const sfc_field *sf = &e->state[i];
    json_t *v = json_object_get(st, sf->name);
    json_t *dec = NULL;
    if (v == NULL) {
      /* never written: the default */
      dec = sf->default_json != NULL
                ? json_loads(sf->default_json, JSON_DECODE_ANY, NULL)
                : sfc_json_zero(sf->type);
    } else if (json_object_get(v, "value") != NULL) {
      dec = json_incref(json_object_get(v, "value"));
    } else {
      const char *b64 = json_string_value(json_object_get(v, "base64"));
      uint8_t *bytes = NULL;
      size_t n = 0;
      char err[512];
      if (b64 != NULL &&
          sfc_base64_decode(b64, strlen(b64), &bytes, &n) == 0) {
        dec = sfc_json_decode_state(sf->type, bytes, n, err, sizeof err);
        if (dec == NULL) {
          dec = json_object();
          if (dec != NULL)
            json_object_set_new(dec, "undecodable", json_string(err));
        }
      }
      free(bytes);
    }
    if (dec != NULL) json_object_set_new(fields, sf->name, dec);
  }
  if (fields != NULL) json_object_set_new(o, "fields", fields);
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  if (s == NULL) return view;
  free(view);
  return s;
}

static enum MHD_Result ingress_route(exchange *x, request *r) {
  const char *url = x->url;
  bool get = strcmp(x->method, MHD_HTTP_METHOD_GET) == 0;
  bool put_or_post = strcmp(x->method, MHD_HTTP_METHOD_PUT) == 0 ||
                     strcmp(x->method, MHD_HTTP_METHOD_POST) == 0;
  if (r->too_large)
    return send_error(x, HTTP_TOO_LARGE,
                      "body larger than %zu bytes", x->f->max_body);

  /* One-part paths: the service endpoints. */
  if (url[0] != '/' || strchr(url + 1, '/') == NULL) {
    const char *name = url[0] == '/' ? url + 1 : url;
    bool known = strcmp(name, "") == 0 || strcmp(name, "health") == 0 ||
                 strcmp(name, "metrics") == 0;
    if (!known)
      return send_error(x, MHD_HTTP_NOT_FOUND,
                        "no such endpoint: expected /<namespace>/<type>/<id>, "
                        "/topics/<topic>, /metrics, /health or /");
    if (!get) {
      static const char *const h[] = {"Allow", "GET", NULL};
      return send_error_h(x, MHD_HTTP_METHOD_NOT_ALLOWED, h,
                          "only GET on /%s", name);
    }
    if (name[0] == '\0') return ingress_root(x);
    if (strcmp(name, "health") == 0) {
      if (atomic_load(&x->f->stopping))
        return send_text(x, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json",
                         "{\"status\":\"stopping\"}\n");
      return send_text(x, MHD_HTTP_OK, "application/json",
                       "{\"status\":\"ok\"}\n");
    }
    char *m = sfl_engine_metrics(x->f->engine);
    if (m == NULL)
      return send_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR,
                        "no metrics (out of memory)");
    enum MHD_Result ret =
        send_text(x, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", m);
    free(m);
    return ret;
  }

  /* /topics/<topic>: exactly two parts. */
  static const char tp[] = "/topics/";
  if (strncmp(url, tp, sizeof tp - 1) == 0 &&
      strchr(url + sizeof tp - 1, '/') == NULL) {
    if (!put_or_post) {
      static const char *const h[] = {"Allow", "POST, PUT", NULL};
      return send_error_h(x, MHD_HTTP_METHOD_NOT_ALLOWED, h,
                          "POST or PUT a record to /topics/<topic>");
    }
    return ingress_topic(x, r, url + sizeof tp - 1);
  }

  if (strcmp(x->method, MHD_HTTP_METHOD_POST) == 0) {
    enum MHD_Result ret;
    if (try_entity_post(x, r, &ret)) return ret;
  }
  if (put_or_post) return ingress_send(x, r);
  if (get) {
    char err[512];
    sfl_front_address a;
    if (sfl_front_parse_address(url, &a, err, sizeof err) != 0)
      return send_error(x, MHD_HTTP_BAD_REQUEST, "%s", err);
    char *view = sfl_engine_describe_address(x->f->engine, a.fn_typename,
                                             a.id);
    if (view != NULL && x->f->n_irs > 0)
      view = add_entity_fields(x->f, a.fn_typename, view);
    enum MHD_Result ret;
    if (view == NULL) {
      ret = send_error(x, MHD_HTTP_NOT_FOUND,
                       "address %s/%s has never been seen", a.fn_typename,
                       a.id);
    } else {
      size_t n = strlen(view);
      bool nl = n > 0 && view[n - 1] == '\n';
      if (nl) {
        ret = send_text(x, MHD_HTTP_OK, "application/json", view);
      } else {
        char *line = malloc(n + 2);
        if (line != NULL) {
          memcpy(line, view, n);
          memcpy(line + n, "\n", 2);
        }
        ret = send_text(x, MHD_HTTP_OK, "application/json",
                        line != NULL ? line : view);
        free(line);
      }
      free(view);
    }
    sfl_front_address_free(&a);
    return ret;
  }
  static const char *const h[] = {"Allow", "GET, POST, PUT", NULL};
  return send_error_h(x, MHD_HTTP_METHOD_NOT_ALLOWED, h,
                      "%s is not supported: PUT/POST sends a message, GET "
                      "shows the address",
                      x->method);
}

/* Pops with a wait cut into slices, so that a stop is seen quickly. */
static sfl_result pop_wait(sfl_front *f, const char *egress_id,
                           const char *topic, int64_t wait_ms,
                           sfl_record *out) {
  int64_t deadline = sfl_mono_ms() + wait_ms;
  for (;;) {
    int64_t left = deadline - sfl_mono_ms();
    if (left < 0) left = 0;
    int64_t slice = left > POLL_SLICE_MS ? POLL_SLICE_MS : left;
    memset(out, 0, sizeof *out);
    sfl_result r = sfl_engine_egress_pop(f->engine, egress_id, topic, slice,
                                         out);
    if (r != SFL_ERR_NOT_FOUND) return r;
    if (left <= slice || atomic_load(&f->stopping)) return r;
  }
}

static bool config_has_egress(const sfl_config *cfg, const char *id) {
  if (cfg == NULL) return true; /* nothing to check against */
  if (strcmp(id, SFL_REPLY_EGRESS) == 0) return true; /* reserved */
  for (size_t i = 0; i < cfg->n_egresses; i++)
    if (cfg->egresses[i].id != NULL && strcmp(cfg->egresses[i].id, id) == 0)
      return true;
  return false;
}

/* ?wait= in ms (0 when absent); -1 on a malformed value. */
static int64_t wait_arg(exchange *x) {
  bool bad = false;
  char *w = query_arg(x, "wait", &bad);
  if (bad) return -1;
  if (w == NULL) return 0;
  int64_t ms = sfl_front_parse_wait(w, x->f->max_poll_ms);
  free(w);
  return ms;
}

/* The playground egress of the module that lists `topic`, or NULL. */
static const sfl_egress *playground_topic(const sfl_config *cfg,
                                          const char *topic) {
  for (size_t i = 0; cfg != NULL && i < cfg->n_egresses; i++) {
    const sfl_egress *e = &cfg->egresses[i];
    if (e->kind != SFL_PLAYGROUND) continue;
    for (size_t t = 0; t < e->n_topics; t++)
      if (strcmp(e->topics[t], topic) == 0) return e;
  }
  return NULL;
}

/* Whether GET /<topic> of a topic nobody emitted to answers 405, as the
 * playground's egress does for a topic it does not list: only when the
 * module has a playground egress and no Kafka or Kinesis egress (whose
 * topics are not known in advance). */
static bool topic_unlisted(const sfl_config *cfg) {
  bool playground = false;
  for (size_t i = 0; cfg != NULL && i < cfg->n_egresses; i++) {
    if (cfg->egresses[i].kind != SFL_PLAYGROUND) return false;
    playground = true;
  }
  return playground;
}

/* A popped record of the playground egress, answered as the playground's
 * EgressWebServer does: 200, the payload as the body, no Content-Type, and
 * its "Status" header (Undertow writes it as a plain header). */
static enum MHD_Result send_playground_record(exchange *x, sfl_record *rec) {
  static const char *const h[] = {"Status", "200", NULL};
  return send_response(x, MHD_HTTP_OK, NULL,
                       rec->value != NULL ? (const void *)rec->value : "",
                       rec->len, h);
}

/* GET /<topic>: the playground's egress (one record per GET). */
static enum MHD_Result egress_pop_one(exchange *x, const char *raw_topic) {
  char err[256];
  char *topic = decode_part(raw_topic, strlen(raw_topic));
  if (topic == NULL)
    return send_error(x, MHD_HTTP_BAD_REQUEST,
                      "bad percent-encoding in the topic");
  enum MHD_Result ret;
  if (check_name("topic", topic, false, err, sizeof err) != 0) {
    ret = send_error(x, MHD_HTTP_BAD_REQUEST, "%s", err);
    goto done;
  }
  int64_t wait = wait_arg(x);
  if (wait < 0) {
    ret = send_error(x, MHD_HTTP_BAD_REQUEST,
                     "?wait= takes seconds, e.g. 5 or 0.5");
    goto done;
  }
  const sfl_egress *pg = playground_topic(x->f->config, topic);
  if (pg == NULL && topic_unlisted(x->f->config) &&
      !sfl_engine_knows_topic(x->f->engine, topic)) {
    static const char *const h[] = {"Status", "405", NULL};
    ret = send_error_h(x, MHD_HTTP_METHOD_NOT_ALLOWED, h,
                       "topic %s is not in the topics of the playground egress "
                       "in module.yaml (the playground answers 405 too)",
                       topic);
    goto done;
  }
  sfl_record rec;
  sfl_result res = pop_wait(x->f, NULL, topic, wait, &rec);
  if (res != SFL_OK) {
    static const char *const h404[] = {"Status", "404", NULL};
    if (res == SFL_ERR_NOT_FOUND)
      ret = send_error_h(x, MHD_HTTP_NOT_FOUND, pg != NULL ? h404 : NULL,
                         sfl_engine_knows_topic(x->f->engine, topic)
                             ? "no unread record on topic %s"
                             : "no record has been emitted on topic %s (yet)",
                         topic);
    else
      ret = send_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR,
                       "egress failed (engine result %d)", (int)res);
    goto done;
  }
  if (pg != NULL && rec.egress_id != NULL && strcmp(rec.egress_id, pg->id) == 0) {
    ret = send_playground_record(x, &rec);
    sfl_record_free(&rec);
    goto done;
  }
  char seq[24];
  snprintf(seq, sizeof seq, "%" PRIu64, rec.seq);
  char *key64 = NULL;
  const char *key = rec.key != NULL ? rec.key : "";
  bool key_ok = header_safe(key);
  if (!key_ok) key64 = sfl_front_base64((const uint8_t *)key, strlen(key));
  const char *const h[] = {
      "X-Egress-Id", rec.egress_id,
      "X-Topic", rec.topic,
      key_ok ? "X-Key" : "X-Key-Base64", key_ok ? key : key64,
      "X-Typename", rec.typename,
      "X-Seq", seq,
      NULL};
  ret = send_response(x, MHD_HTTP_OK, "application/octet-stream",
                      rec.value != NULL ? (const void *)rec.value : "",
                      rec.len, h);
  free(key64);
  sfl_record_free(&rec);
done:
  free(topic);
  return ret;
}

/* One JSON line for a record; NULL on OOM. */
static char *record_line(const sfl_record *rec) {
  json_t *o = json_object();
  if (o == NULL) return NULL;
  json_object_set_new(o, "seq", json_integer((json_int_t)rec->seq));
  json_object_set_new(o, "egress",
                      json_string(rec->egress_id ? rec->egress_id : ""));
  json_object_set_new(o, "topic", json_string(rec->topic ? rec->topic : ""));
  json_object_set_new(o, "key", json_string(rec->key ? rec->key : ""));
  json_object_set_new(o, "typename",
                      json_string(rec->typename ? rec->typename : ""));
  const char *v = rec->value != NULL ? (const char *)rec->value : "";
  json_t *vs = sf_utf8_valid((const uint8_t *)v, rec->len)
                   ? json_stringn(v, rec->len)
                   : NULL;
  json_object_set_new(o, "value", vs != NULL ? vs : json_null());
  char *b64 = sfl_front_base64((const uint8_t *)v, rec->len);
  json_object_set_new(o, "value_base64", json_string(b64 ? b64 : ""));
  free(b64);
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return s;
}

/* GET /egress/<ns>/<name>/<topic>?wait=S&max=N: JSON lines. */
static enum MHD_Result egress_lines(exchange *x, const char *rest) {
  static const char usage[] =
      "expected /egress/<namespace>/<name>/<topic> (an empty topic, "
      "/egress/<namespace>/<name>/, reads records without a topic)";
  const char *s1 = strchr(rest, '/');
  const char *s2 = s1 != NULL ? strchr(s1 + 1, '/') : NULL;
  if (s1 == NULL || s2 == NULL)
    return send_error(x, MHD_HTTP_BAD_REQUEST, "%s", usage);
  char err[256];
  char *ns = decode_part(rest, (size_t)(s1 - rest));
  char *name = decode_part(s1 + 1, (size_t)(s2 - s1 - 1));
  char *topic = decode_part(s2 + 1, strlen(s2 + 1));
  char *eid = NULL;
  char *max_s = NULL;
  char *body = NULL;
  enum MHD_Result ret;
  bool bad = false;
  if (ns == NULL || name == NULL || topic == NULL) {
    ret = send_error(x, MHD_HTTP_BAD_REQUEST,
                     "bad percent-encoding in the path");
    goto done;
  }
  if (check_name("egress namespace", ns, false, err, sizeof err) != 0 ||
      check_name("egress name", name, false, err, sizeof err) != 0 ||
      check_name("topic", topic, true, err, sizeof err) != 0) {
    ret = send_error(x, MHD_HTTP_BAD_REQUEST, "%s (%s)", err, usage);
    goto done;
  }
  size_t el = strlen(ns) + strlen(name) + 2;
  eid = malloc(el);
  if (eid == NULL) {
    ret = send_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    goto done;
  }
  snprintf(eid, el, "%s/%s", ns, name);
  if (!config_has_egress(x->f->config, eid)) {
    ret = send_error(x, MHD_HTTP_NOT_FOUND,
                     "module.yaml declares no egress %s", eid);
    goto done;
  }
  int64_t wait = wait_arg(x);
  if (wait < 0) {
    ret = send_error(x, MHD_HTTP_BAD_REQUEST,
                     "?wait= takes seconds, e.g. 5 or 0.5");
    goto done;
  }
  long max = DEFAULT_EGRESS_MAX;
  max_s = query_arg(x, "max", &bad);
  if (bad) {
    ret = send_error(x, MHD_HTTP_BAD_REQUEST, "bad percent-encoding in ?max=");
    goto done;
  }
  if (max_s != NULL) {
    char *end = NULL;
    errno = 0;
    max = strtol(max_s, &end, 10);
    if (max_s[0] < '0' || max_s[0] > '9' || *end != '\0' || errno != 0 ||
        max < 1 || max > MAX_EGRESS_MAX) {
      ret = send_error(x, MHD_HTTP_BAD_REQUEST,
                       "?max= takes a count from 1 to %d", MAX_EGRESS_MAX);
      goto done;
    }
  }
  size_t used = 0, cap = 0;
  for (long i = 0; i < max; i++) {
    sfl_record rec;
    /* Only the first record is waited for; then take what is there. */
    sfl_result res = pop_wait(x->f, eid, topic, i == 0 ? wait : 0, &rec);
    if (res != SFL_OK) break;
    char *line = record_line(&rec);
    sfl_record_free(&rec);
    /* A record already taken is lost if we cannot write it out: keep
     * going only while memory lasts, and answer what we have. */
    if (line == NULL) break;
    size_t n = strlen(line);
    if (used + n + 2 > cap) {
      size_t nc = cap == 0 ? 4096 : cap;
      while (nc < used + n + 2) nc *= 2;
      char *nb = realloc(body, nc);
      if (nb == NULL) {
        free(line);
        break;
      }
      body = nb;
      cap = nc;
    }
    memcpy(body + used, line, n);
    used += n;
    body[used++] = '\n';
    body[used] = '\0';
    free(line);
  }
  if (used == 0)
    ret = send_response(x, MHD_HTTP_NO_CONTENT, NULL, "", 0, NULL);
  else
    ret = send_response(x, MHD_HTTP_OK, "application/x-ndjson", body, used,
                        NULL);
done:
  free(body);
  free(max_s);
  free(eid);
  free(ns);
  free(name);
  free(topic);
  return ret;
}

static const char egress_usage[] =
    "sf-local egress\n"
    "  GET /<topic>[?wait=SECONDS]    pop the next record of a topic "
    "(value bytes; headers X-Egress-Id, X-Key, X-Typename); 404 when none\n"
    "  GET /egress/<ns>/<name>/<topic>?wait=S&max=N   up to N records of "
    "that egress as JSON lines; 204 when none\n"
    "  see docs/sf-local-http.md\n";

static enum MHD_Result egress_route(exchange *x, request *r) {
  if (r->too_large || r->len > 0)
    return send_error(x, MHD_HTTP_BAD_REQUEST,
                      "the egress takes GET requests without a body");
  if (strcmp(x->method, MHD_HTTP_METHOD_GET) != 0) {
    static const char *const h[] = {"Allow", "GET", NULL};
    return send_error_h(x, MHD_HTTP_METHOD_NOT_ALLOWED, h,
                        "the egress only answers GET");
  }
  const char *url = x->url;
  if (strcmp(url, "/") == 0)
    return send_text(x, MHD_HTTP_OK, "text/plain; charset=utf-8",
                     egress_usage);
  static const char eg[] = "/egress/";
  if (strncmp(url, eg, sizeof eg - 1) == 0)
    return egress_lines(x, url + sizeof eg - 1);
  if (url[0] == '/' && strchr(url + 1, '/') == NULL)
    return egress_pop_one(x, url + 1);
  return send_error(x, MHD_HTTP_NOT_FOUND,
                    "expected /<topic> or /egress/<namespace>/<name>/<topic>");
}

/* ---- libmicrohttpd glue ------------------------------------------------- */

typedef struct server_cls {
  sfl_front *f;
  bool ingress;
} server_cls;

static server_cls *cls_of(sfl_front *f, bool ingress);

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls) {
  server_cls *sc = cls;
  sfl_front *f = sc->f;
  exchange x = {f, conn, sc->ingress ? "ingress" : "egress", method, url};
  request *r = *con_cls;
  if (r == NULL) {
    r = calloc(1, sizeof *r);
    if (r == NULL) return MHD_NO;
    *con_cls = r;
    const char *cl = header(&x, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL) {
      char *end = NULL;
      errno = 0;
      unsigned long long n = strtoull(cl, &end, 10);
      if (errno != 0 || end == cl || n > f->max_body) {
        r->too_large = true;
        /* Answering before the body arrives makes MHD close the
         * connection instead of reading it. */
        if (sc->ingress)
          return send_error(&x, HTTP_TOO_LARGE,
                            "body larger than %zu bytes", f->max_body);
      }
    }
    return MHD_YES;
  }
  if (*upload_data_size != 0) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    if (r->too_large) return MHD_YES;
    if (n > f->max_body - r->len) {
      r->too_large = true; /* chunked upload over the limit: drain, 413 */
      free(r->body);
      r->body = NULL;
      r->len = r->cap = 0;
      return MHD_YES;
    }
    if (r->len + n > r->cap) {
      size_t nc = r->cap == 0 ? 4096 : r->cap;
      while (nc < r->len + n) nc *= 2;
      if (nc > f->max_body) nc = f->max_body;
      uint8_t *nb = realloc(r->body, nc);
      if (nb == NULL) return MHD_NO;
      r->body = nb;
      r->cap = nc;
    }
    memcpy(r->body + r->len, upload_data, n);
    r->len += n;
    return MHD_YES;
  }
  return sc->ingress ? ingress_route(&x, r) : egress_route(&x, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn,
                         void **con_cls, enum MHD_RequestTerminationCode toe) {
  request *r = *con_cls;
  if (r == NULL) return;
  free(r->body);
  free(r);
  *con_cls = NULL;
}

/* Keeps "%2F" as it is: we decode each path part ourselves. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s) {
  return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  sfl_front *f = cls;
  if (!f->verbose) return;
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  size_t n = strlen(line);
  while (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
  fprintf(stderr, "sf-local: http: %s\n", line);
}

/* The two closures live inside the front so that they die with it. */
struct front_with_cls {
  sfl_front front;
  server_cls cls[2];
};

static server_cls *cls_of(sfl_front *f, bool ingress) {
  struct front_with_cls *fc = (struct front_with_cls *)f;
  return &fc->cls[ingress ? 0 : 1];
}

/* The listening socket of one server (sfbase), with sf-local's wording of
 * what went wrong. -1 with err set on failure. */
static int open_listener(const char *host, uint16_t port, uint16_t *bound,
                         bool *v6, char *err, size_t err_len,
                         const char *what) {
  sfb_listener l;
  if (sfb_listen_tcp(host, port, &l) == 0) {
    *bound = l.port;
    *v6 = l.ipv6;
    return l.fd;
  }
  if (l.gai_error != 0)
    set_err(err, err_len, "cannot resolve --bind address '%s': %s", host,
            sfb_listen_strerror(&l));
  else
    set_err(err, err_len, "cannot listen for the %s on %s:%u: %s%s", what,
            host, (unsigned)port, sfb_listen_strerror(&l),
            l.sys_errno == EADDRINUSE
                ? " (another sf-local or playground running? "
                  "see --ingress-port/--egress-port)"
                : "");
  return -1;
}

static struct MHD_Daemon *start_daemon(sfl_front *f, bool ingress,
                                       uint16_t port, uint16_t *bound,
                                       char *err, size_t err_len) {
  const char *what = ingress ? "ingress" : "egress";
  bool v6 = false;
  int fd = open_listener(f->bind, port, bound, &v6, err, err_len, what);
  if (fd < 0) return NULL;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                   MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                   MHD_USE_ITC | MHD_USE_ERROR_LOG;
  if (v6) flags |= MHD_USE_IPv6;
  server_cls *sc = cls_of(f, ingress);
  sc->f = f;
  sc->ingress = ingress;
  struct MHD_Daemon *d = MHD_start_daemon(
      flags, *bound, NULL, NULL, on_access, sc,
      MHD_OPTION_EXTERNAL_LOGGER, mhd_log, f, /* must come first */
      MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
      MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONNECTION_LIMIT,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
      MHD_OPTION_END);
  if (d == NULL) {
    set_err(err, err_len, "cannot start the %s HTTP server on %s:%u", what,
            f->bind, (unsigned)*bound);
    close(fd);
  }
  return d;
}

sfl_front *sfl_front_start(const sfl_front_options *o, char *err,
                           size_t err_len) {
  if (err != NULL && err_len > 0) err[0] = '\0';
  if (o == NULL || o->engine == NULL) {
    set_err(err, err_len, "no engine given");
    return NULL;
  }
  const char *bind_to = o->bind != NULL && o->bind[0] != '\0'
                            ? o->bind
                            : SFL_FRONT_DEFAULT_BIND;
  if (strlen(bind_to) >= sizeof ((sfl_front *)0)->bind) {
    set_err(err, err_len, "--bind address too long");
    return NULL;
  }
  struct front_with_cls *fc = calloc(1, sizeof *fc);
  if (fc == NULL) {
    set_err(err, err_len, "out of memory");
    return NULL;
  }
  sfl_front *f = &fc->front;
  f->engine = o->engine;
  f->config = o->config;
  f->max_body = o->max_body != 0 ? o->max_body : SFL_FRONT_DEFAULT_MAX_BODY;
  f->send_wait_ms = o->send_wait_ms > 0 ? o->send_wait_ms
                                        : DEFAULT_SEND_WAIT_MS;
  f->max_poll_ms = o->max_poll_ms > 0 ? o->max_poll_ms : DEFAULT_MAX_POLL_MS;
  f->verbose = o->verbose;
  f->irs = o->irs;
  f->n_irs = o->irs != NULL ? o->n_irs : 0;
  atomic_init(&f->stopping, false);
  snprintf(f->bind, sizeof f->bind, "%s", bind_to);
  f->ingress = start_daemon(f, true, o->ingress_port, &f->ingress_port, err,
                            err_len);
  if (f->ingress == NULL) {
    free(fc);
    return NULL;
  }
  f->egress = start_daemon(f, false, o->egress_port, &f->egress_port, err,
                           err_len);
  if (f->egress == NULL) {
    MHD_stop_daemon(f->ingress);
    free(fc);
    return NULL;
  }
  return f;
}

uint16_t sfl_front_ingress_port(const sfl_front *f) {
  return f != NULL ? f->ingress_port : 0;
}

uint16_t sfl_front_egress_port(const sfl_front *f) {
  return f != NULL ? f->egress_port : 0;
}

void sfl_front_stop(sfl_front *f) {
  if (f == NULL) return;
  atomic_store(&f->stopping, true);
  /* Joins every connection thread; long-polls notice `stopping` within a
   * slice, sends within send_wait_ms. MHD closes the listen sockets. */
  MHD_stop_daemon(f->ingress);
  MHD_stop_daemon(f->egress);
  free((struct front_with_cls *)f);
}
