/*
 * front_exchange.c - answering one HTTP exchange of sf-local's front
 * (responses with headers, JSON, text and one-line errors, the log line)
 * and reading what every handler reads from a request (query arguments,
 * headers, the idempotency key), plus the answer to an engine send.
 */
#include "front_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <statefun/statefun.h>

#include "sfb/buf.h"

/* Header values must be printable ASCII (MHD refuses CR/LF anyway). */
bool front_header_safe(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
    if (*p < 0x20 || *p >= 0x7F) return false;
  return true;
}

/* Queues resp (NULL: out of memory) with its headers, and logs it. */
static enum MHD_Result send_response(exchange *x, unsigned code,
                                     struct MHD_Response *resp,
                                     const char *ctype,
                                     const char *const *headers) {
  if (resp == NULL) return MHD_NO;
  if (ctype != NULL)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
  for (size_t i = 0; headers != NULL && headers[i] != NULL; i += 2)
    if (headers[i + 1] != NULL && front_header_safe(headers[i + 1]))
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
    fprintf(stderr, "sf-local: %s %s %s%s -> %u\n", x->server, x->method, path,
            x->url[n] != '\0' ? "..." : "", code);
  }
  return r;
}

enum MHD_Result front_send(exchange *x, unsigned code, const char *ctype,
                           const void *data, size_t len,
                           const char *const *headers) {
  return send_response(x, code,
                       MHD_create_response_from_buffer(
                           len, (void *)(uintptr_t)data, MHD_RESPMEM_MUST_COPY),
                       ctype, headers);
}

enum MHD_Result front_send_owned(exchange *x, unsigned code, const char *ctype,
                                 void *data, size_t len) {
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
  if (resp == NULL) free(data);
  return send_response(x, code, resp, ctype, NULL);
}

/* Answers a JSON object (taking the reference) followed by a newline. */
enum MHD_Result front_send_json(exchange *x, unsigned code, json_t *obj,
                                const char *const *headers) {
  char *s = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
  json_decref(obj);
  if (s == NULL) {
    static const char oom[] = "{\"error\":\"out of memory\"}\n";
    return front_send(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
                      oom, sizeof oom - 1, NULL);
  }
  size_t n = strlen(s);
  char *line = malloc(n + 2);
  enum MHD_Result r;
  if (line == NULL) {
    r = front_send(x, code, "application/json", s, n, headers);
  } else {
    memcpy(line, s, n);
    line[n] = '\n';
    r = front_send(x, code, "application/json", line, n + 1, headers);
    free(line);
  }
  free(s);
  return r;
}

enum MHD_Result front_send_error_h(exchange *x, unsigned code,
                                   const char *const *headers, const char *fmt,
                                   ...) {
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
  return front_send_json(x, code, o, headers);
}

enum MHD_Result front_send_text(exchange *x, unsigned code, const char *ctype,
                                const char *text) {
  return front_send(x, code, ctype, text, strlen(text), NULL);
}

/* A query argument, percent-decoded (malloc'd). *bad is set for a bad
 * escape; NULL without *bad means absent. */
char *front_query_arg(exchange *x, const char *key, bool *bad) {
  *bad = false;
  const char *raw = MHD_lookup_connection_value(x->conn, MHD_GET_ARGUMENT_KIND,
                                                key);
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

const char *front_header(exchange *x, const char *name) {
  return MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, name);
}

/* Maps an engine outcome of a send to its HTTP answer. */
static enum MHD_Result answer_send(exchange *x, sfl_result res,
                                   const char *err, const char *to_key,
                                   const char *to, ssize_t records) {
  switch (res) {
    case SFL_OK:
    case SFL_DUPLICATE: {
      /* {"accepted":true[,"duplicate":true],"<to_key>":"<to>"} */
      sfb_buf b = {0};
      static const char acc[] = "{\"accepted\":true,";
      static const char dup[] = "\"duplicate\":true,";
      sfb_buf_put(&b, acc, sizeof acc - 1);
      if (res == SFL_DUPLICATE) sfb_buf_put(&b, dup, sizeof dup - 1);
      sfb_buf_json_str(&b, to_key, strlen(to_key));
      sfb_buf_put(&b, ":", 1);
      sfb_buf_json_str(&b, to, strlen(to));
      if (records >= 0) {
        char n[48];
        sfb_buf_put(&b, n, (size_t)snprintf(n, sizeof n, ",\"records\":%zd", records));
      }
      sfb_buf_put(&b, "}\n", 2);
      enum MHD_Result r =
          b.oom ? MHD_NO
                : front_send(x, res == SFL_OK ? MHD_HTTP_ACCEPTED : MHD_HTTP_OK,
                             "application/json", b.p, b.len, NULL);
      sfb_buf_free(&b);
      return r;
    }
    case SFL_ERR_NO_FUNCTION:
    case SFL_ERR_NO_TOPIC:
    case SFL_ERR_NOT_FOUND:
      return front_send_error(x, MHD_HTTP_NOT_FOUND, "%s", err);
    case SFL_ERR_BAD_REQUEST:
      return front_send_error(x, MHD_HTTP_BAD_REQUEST, "%s", err);
    case SFL_ERR_BUSY: {
      static const char *const h[] = {"Retry-After", "1", NULL};
      return front_send_error_h(x, MHD_HTTP_SERVICE_UNAVAILABLE, h, "%s", err);
    }
    case SFL_ERR_TOO_LARGE:
      return front_send_error(x, HTTP_TOO_LARGE, "%s", err);
    case SFL_ERR_STORE:
      return front_send_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", err);
  }
  return front_send_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          "unexpected engine result %d: %s", (int)res, err);
}

/* A send whose commit is already decided (or had none to wait for). */
static enum MHD_Result resume_commit_now(exchange *x, sfl_result res,
                                         uint64_t gen, const char *to_key,
                                         const char *to, ssize_t records) {
  if (gen == 0 || sfl_engine_commit_state(x->f->engine, gen) == 1)
    return answer_send(x, res, "", to_key, to, records);
  return answer_send(x, SFL_ERR_STORE,
                     "durable store: the commit failed or sf-local is "
                     "stopping",
                     to_key, to, records);
}

#define COMMIT_WAIT_MS (10 * 60 * 1000) /* a store stuck longer: 503 */

/* A parked durable send goes on here: answered once its commit is. */
static enum MHD_Result resume_commit(exchange *x, request *r) {
  int st = sfl_engine_commit_state(x->f->engine, r->commit_gen);
  if (st == 0 && front_park(x, r, COMMIT_WAIT_MS)) return MHD_YES;
  if (st == 1)
    return answer_send(x, r->sent, "", r->to_key, r->to, r->records);
  static const char *const h[] = {"Retry-After", "1", NULL};
  return front_send_error_h(
      x, MHD_HTTP_SERVICE_UNAVAILABLE, h,
      "durable store: %s; the message may or may not have been kept",
      st < 0 ? "the commit failed or sf-local is stopping"
             : "no commit in time");
}

enum MHD_Result front_answer_send_nb(exchange *x, request *r, sfl_result res,
                                     uint64_t commit_gen, const char *err,
                                     const char *to_key, const char *to,
                                     ssize_t records) {
  if ((res != SFL_OK && res != SFL_DUPLICATE) || commit_gen == 0 ||
      sfl_engine_commit_state(x->f->engine, commit_gen) != 0)
    return res == SFL_OK || res == SFL_DUPLICATE
               ? resume_commit_now(x, res, commit_gen, to_key, to, records)
               : answer_send(x, res, err, to_key, to, records);
  r->to = strdup(to);
  if (r->to == NULL)
    return front_send_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
  r->sent = res;
  r->to_key = to_key;
  r->records = records;
  r->commit_gen = commit_gen;
  r->resume = resume_commit;
  r->park_deadline = 0;
  return resume_commit(x, r);
}

/* X-Idempotency-Key: optional, printable ASCII, bounded. */
int front_idempotency_key(exchange *x, const char **key, char *err,
                          size_t err_len) {
  const char *k = front_header(x, "X-Idempotency-Key");
  *key = NULL;
  if (k == NULL || k[0] == '\0') return 0;
  if (strlen(k) > MAX_IDEMPOTENCY_KEY || !front_header_safe(k)) {
    front_err(err, err_len,
              "X-Idempotency-Key must be 1 to %d printable ASCII characters",
              MAX_IDEMPOTENCY_KEY);
    return -1;
  }
  *key = k;
  return 0;
}
