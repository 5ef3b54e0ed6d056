/*
 * client.c - libcurl and protobuf-c helpers for the server tests.
 */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef Io__Statefun__Sdk__Reqreply__Address Address;
typedef Io__Statefun__Sdk__Reqreply__ToFunction ToFunction;
typedef Io__Statefun__Sdk__Reqreply__ToFunction__InvocationBatchRequest Batch;
typedef Io__Statefun__Sdk__Reqreply__ToFunction__Invocation Invocation;
typedef Io__Statefun__Sdk__Reqreply__ToFunction__PersistedValue PersistedValue;

/* ---- HTTP ---------------------------------------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
  http_reply *r = userdata;
  size_t n = size * nmemb;
  char *grown = realloc(r->body, r->len + n + 1);
  if (grown == NULL) return 0;
  memcpy(grown + r->len, ptr, n);
  r->body = grown;
  r->len += n;
  r->body[r->len] = '\0';
  return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata) {
  http_reply *r = userdata;
  size_t n = size * nmemb;
  if (n > 6 && strncasecmp(ptr, "Allow:", 6) == 0) {
    size_t start = 6;
    while (start < n && ptr[start] == ' ') start++;
    size_t end = n;
    while (end > start && (ptr[end - 1] == '\r' || ptr[end - 1] == '\n')) end--;
    size_t len = end - start < sizeof r->allow - 1 ? end - start
                                                  : sizeof r->allow - 1;
    memcpy(r->allow, ptr + start, len);
    r->allow[len] = '\0';
  }
  return n;
}

typedef struct upload {
  const uint8_t *data;
  size_t len;
  size_t pos;
} upload;

static size_t on_read(char *buf, size_t size, size_t nitems, void *userdata) {
  upload *u = userdata;
  size_t n = size * nitems;
  if (n > u->len - u->pos) n = u->len - u->pos;
  memcpy(buf, u->data + u->pos, n);
  u->pos += n;
  return n;
}

bool http_request(CURL *curl, const char *method, const char *url,
                  const void *body, size_t len, bool chunked, http_reply *out) {
  memset(out, 0, sizeof *out);
  CURL *c = curl != NULL ? curl : curl_easy_init();
  if (c == NULL) return false;
  curl_easy_reset(c);
  struct curl_slist *headers = NULL;
  headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
  headers = curl_slist_append(headers, "Expect:"); /* no 100-continue */
  upload up = {body, len, 0};
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
  if (strcmp(method, "GET") != 0) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (body != NULL) {
    if (chunked) {
      headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
      curl_easy_setopt(c, CURLOPT_POST, 1L);
      curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
      curl_easy_setopt(c, CURLOPT_READDATA, &up);
    } else {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)body);
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  out->curl = curl_easy_perform(c);
  if (out->curl == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->code);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    if (ct != NULL) snprintf(out->content_type, sizeof out->content_type, "%s", ct);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &out->num_connects);
  }
  if (out->body == NULL) {
    out->body = calloc(1, 1);
  }
  curl_slist_free_all(headers);
  if (curl == NULL) curl_easy_cleanup(c);
  return out->curl == CURLE_OK;
}

void http_reply_free(http_reply *reply) {
  free(reply->body);
  reply->body = NULL;
}

/* ---- the wire ------------------------------------------------------------ */

uint8_t *wire_request(const char *typename_, const char *id,
                      size_t n_invocations, state_kind kind, int32_t seen,
                      size_t *len) {
  char ns[256];
  snprintf(ns, sizeof ns, "%s", typename_);
  char *slash = strchr(ns, '/');
  char *type = "";
  if (slash != NULL) {
    *slash = '\0';
    type = slash + 1;
  }
  Address target = IO__STATEFUN__SDK__REQREPLY__ADDRESS__INIT;
  target.namespace_ = ns;
  target.type = type;
  target.id = (char *)id;

  Io__Statefun__Sdk__Types__StringWrapper text =
      IO__STATEFUN__SDK__TYPES__STRING_WRAPPER__INIT;
  text.value = (char *)id;
  size_t arg_len = io__statefun__sdk__types__string_wrapper__get_packed_size(&text);
  uint8_t *arg_bytes = malloc(arg_len + 1);
  io__statefun__sdk__types__string_wrapper__pack(&text, arg_bytes);
  TypedValue argument = IO__STATEFUN__SDK__REQREPLY__TYPED_VALUE__INIT;
  argument.typename_ = "io.statefun.types/string";
  argument.has_value = true;
  argument.value.data = arg_bytes;
  argument.value.len = arg_len;

  Invocation invocation = IO__STATEFUN__SDK__REQREPLY__TO_FUNCTION__INVOCATION__INIT;
  invocation.argument = &argument;
  Invocation **invocations = malloc(n_invocations * sizeof *invocations);
  for (size_t i = 0; i < n_invocations; i++) invocations[i] = &invocation;

  Io__Statefun__Sdk__Types__IntWrapper iw = IO__STATEFUN__SDK__TYPES__INT_WRAPPER__INIT;
  iw.value = seen;
  uint8_t int_bytes[8];
  TypedValue state_value = IO__STATEFUN__SDK__REQREPLY__TYPED_VALUE__INIT;
  state_value.typename_ = "io.statefun.types/int";
  state_value.has_value = true;
  state_value.value.data = int_bytes;
  state_value.value.len = io__statefun__sdk__types__int_wrapper__pack(&iw, int_bytes);
  PersistedValue pv = IO__STATEFUN__SDK__REQREPLY__TO_FUNCTION__PERSISTED_VALUE__INIT;
  pv.state_name = "seen";
  if (kind == STATE_INT) pv.state_value = &state_value;
  PersistedValue *state[] = {&pv};

  Batch batch = IO__STATEFUN__SDK__REQREPLY__TO_FUNCTION__INVOCATION_BATCH_REQUEST__INIT;
  batch.target = &target;
  batch.n_state = kind == STATE_ABSENT ? 0 : 1;
  batch.state = state;
  batch.n_invocations = n_invocations;
  batch.invocations = invocations;
  ToFunction to = IO__STATEFUN__SDK__REQREPLY__TO_FUNCTION__INIT;
  to.request_case = IO__STATEFUN__SDK__REQREPLY__TO_FUNCTION__REQUEST_INVOCATION;
  to.invocation = &batch;

  *len = io__statefun__sdk__reqreply__to_function__get_packed_size(&to);
  uint8_t *bytes = malloc(*len);
  io__statefun__sdk__reqreply__to_function__pack(&to, bytes);
  free(invocations);
  free(arg_bytes);
  return bytes;
}

FromFunction *wire_reply(const http_reply *reply) {
  return io__statefun__sdk__reqreply__from_function__unpack(
      NULL, reply->len, (const uint8_t *)reply->body);
}

void wire_reply_free(FromFunction *from) {
  if (from != NULL)
    io__statefun__sdk__reqreply__from_function__free_unpacked(from, NULL);
}

bool wire_int(const TypedValue *value, int32_t *out) {
  if (value == NULL || strcmp(value->typename_, "io.statefun.types/int") != 0)
    return false;
  Io__Statefun__Sdk__Types__IntWrapper *w =
      io__statefun__sdk__types__int_wrapper__unpack(NULL, value->value.len,
                                                    value->value.data);
  if (w == NULL) return false;
  *out = w->value;
  io__statefun__sdk__types__int_wrapper__free_unpacked(w, NULL);
  return true;
}

long wire_visit(CURL *curl, const char *url, const char *id,
                size_t n_invocations, bool *has_seen, int32_t *seen) {
  size_t len = 0;
  uint8_t *req = wire_request("greeter.fns/greet", id, n_invocations,
                              *has_seen ? STATE_INT : STATE_EMPTY, *seen, &len);
  http_reply r;
  http_request(curl, "POST", url, req, len, false, &r);
  free(req);
  long code = r.code;
  if (code == 200) {
    FromFunction *from = wire_reply(&r);
    if (from == NULL || from->response_case !=
                            IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INVOCATION_RESULT)
      code = -1;
    else
      for (size_t i = 0; i < from->invocation_result->n_state_mutations; i++) {
        const Io__Statefun__Sdk__Reqreply__FromFunction__PersistedValueMutation
            *m = from->invocation_result->state_mutations[i];
        if (strcmp(m->state_name, "seen") == 0 &&
            wire_int(m->state_value, seen))
          *has_seen = true;
      }
    wire_reply_free(from);
  }
  http_reply_free(&r);
  return code;
}
