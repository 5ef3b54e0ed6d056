/*
 * front_ingress.c - the ingress server of sf-local (8090): messages to
 * function addresses (playground-style PUT/POST, raw, JSON or text),
 * records on module.yaml ingress topics, the state view of an address,
 * /metrics, /health and the summary at /. Entity calls (--ir) are
 * front_entity.c's.
 */
#include "front_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <statefun/statefun.h>

/* A 400 or 415 for a request that looks like an entity call (POST
 * /<ns>/<Type>/<key>/<method>) on a sf-local started without --ir: without
 * an IR that path is a plain message to the id "<key>/<method>", and the
 * answer says how to make it a call. */
static enum MHD_Result send_error_hint(exchange *x, const sfl_front_address *a,
                                       unsigned code, const char *err) {
  const char *slash = strrchr(a->id, '/');
  if (x->f->n_irs > 0 || strcmp(x->method, MHD_HTTP_METHOD_POST) != 0 ||
      slash == NULL || slash == a->id || slash[1] == '\0')
    return front_send_error(x, code, "%s", err);
  return front_send_error(
      x, code,
      "%s. An entity call? This sf-local was started without --ir, so "
      "POST /%s/%s is a message to %s with id \"%s\"; to call the entity "
      "method '%s' with JSON arguments, start sf-local with --ir <the "
      "entity IR of %s> (docs/sf-local-http.md, \"Calling entities\")",
      err, a->fn_typename, a->id, a->fn_typename, a->id, slash + 1,
      a->fn_typename);
}

static enum MHD_Result ingress_send(exchange *x, request *r) {
  char err[512] = "";
  sfl_front_address a;
  if (sfl_front_parse_address(x->url, &a, err, sizeof err) != 0)
    return front_send_error(x, MHD_HTTP_BAD_REQUEST, "%s", err);
  enum MHD_Result ret;
  uint8_t *owned = NULL;
  char *type = NULL;
  char tn[512];
  sfl_body_kind kind;
  const char *key;
  bool bad = false;
  if (sfl_front_content_type(front_header(x, MHD_HTTP_HEADER_CONTENT_TYPE),
                             &kind, tn, sizeof tn, err, sizeof err) != 0) {
    ret = send_error_hint(x, &a, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, err);
    goto done;
  }
  if (front_idempotency_key(x, &key, err, sizeof err) != 0) {
    ret = front_send_error(x, MHD_HTTP_BAD_REQUEST, "%s", err);
    goto done;
  }
  type = front_query_arg(x, "type", &bad);
  if (bad) {
    ret = front_send_error(x, MHD_HTTP_BAD_REQUEST,
                           "bad percent-encoding in ?type=");
    goto done;
  }
  if (type != NULL && kind != SFL_BODY_JSON) {
    ret = front_send_error(
        x, MHD_HTTP_BAD_REQUEST,
        "?type= applies to Content-Type: application/json only");
    goto done;
  }
  const void *value = r->body != NULL ? (const void *)r->body : "";
  size_t len = r->len;
  const char *value_tn = tn;
  if (kind == SFL_BODY_JSON) {
    if (sfl_front_json_encode(
            (const char *)r->body != NULL ? (const char *)r->body : "", r->len,
            type, &value_tn, &owned, &len, err, sizeof err) != 0) {
      ret = send_error_hint(x, &a, MHD_HTTP_BAD_REQUEST, err);
      goto done;
    }
    value = owned != NULL ? (const void *)owned : "";
  } else if (kind == SFL_BODY_TEXT) {
    if (!sf_utf8_valid(r->body, r->len) ||
        memchr(r->body != NULL ? (const void *)r->body : "", 0, r->len) !=
            NULL) {
      ret = front_send_error(
          x, MHD_HTTP_BAD_REQUEST,
          "a text/plain body must be UTF-8 without NUL bytes");
      goto done;
    }
    if (sfl_front_string_wrapper((const char *)r->body, r->len, &owned, &len) !=
        0) {
      ret = front_send_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR,
                             "out of memory");
      goto done;
    }
    value = owned != NULL ? (const void *)owned : "";
  }
  err[0] = '\0';
  uint64_t gen = 0;
  sfl_result res = sfl_engine_send_nb(x->f->engine, a.fn_typename, a.id,
                                      value_tn, value, len, key, &gen, err,
                                      sizeof err);
  if (res == SFL_ERR_BUSY && front_park(x, r, x->f->send_wait_ms)) {
    ret = MHD_YES; /* the backlog is full: tried again when it has room */
    goto done;
  }
  if (res == SFL_ERR_NO_FUNCTION && err[0] == '\0')
    snprintf(err, sizeof err,
             "no endpoint in module.yaml serves function "
             "type %s",
             a.fn_typename);
  size_t tl = strlen(a.fn_typename) + strlen(a.id) + 2;
  char *to = malloc(tl);
  if (to == NULL) {
    ret = front_send_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    goto done;
  }
  snprintf(to, tl, "%s/%s", a.fn_typename, a.id);
  ret = front_answer_send_nb(x, r, res, gen, err, "to", to, -1);
  free(to);
done:
  free(owned);
  free(type);
  sfl_front_address_free(&a);
  return ret;
}

/* Many records of one topic in one request (JSON lines), accepted all or
 * none: a Kafka producer's batch. */
static enum MHD_Result ingress_topic_batch(exchange *x, request *r,
                                           const char *topic) {
  char err[512] = "";
  if (front_header(x, "X-Key") != NULL ||
      MHD_lookup_connection_value(x->conn, MHD_GET_ARGUMENT_KIND, "key") !=
          NULL)
    return front_send_error(x, MHD_HTTP_BAD_REQUEST,
                            "a JSON-lines batch names each record's key in "
                            "its line (\"key\"), not in X-Key or ?key=");
  const char *idem;
  if (front_idempotency_key(x, &idem, err, sizeof err) != 0)
    return front_send_error(x, MHD_HTTP_BAD_REQUEST, "%s", err);
  sfl_front_records recs;
  int rc = sfl_front_parse_records(
      r->body != NULL ? (const char *)r->body : "", r->len, MAX_BATCH_RECORDS,
      &recs, err, sizeof err);
  if (rc != 0)
    return front_send_error(x,
                            rc == -2   ? HTTP_TOO_LARGE
                            : rc == -3 ? MHD_HTTP_INTERNAL_SERVER_ERROR
                                       : MHD_HTTP_BAD_REQUEST,
                            "%s", err);
  uint64_t gen = 0;
  sfl_result res = sfl_engine_send_topic_batch_nb(
      x->f->engine, topic, recs.recs, recs.n, idem, &gen, err, sizeof err);
  size_t n = recs.n;
  sfl_front_records_free(&recs);
  if (res == SFL_ERR_BUSY && front_park(x, r, x->f->send_wait_ms))
    return MHD_YES; /* the whole batch is tried again when there is room */
  if (res == SFL_ERR_NO_TOPIC && err[0] == '\0')
    snprintf(err, sizeof err, "no ingress in module.yaml routes topic %s",
             topic);
  return front_answer_send_nb(x, r, res, gen, err, "topic", topic,
                              (ssize_t)n);
}

static enum MHD_Result ingress_topic(exchange *x, request *r,
                                     const char *raw_topic) {
  char err[512] = "";
  char *topic = front_decode_part(raw_topic, strlen(raw_topic));
  if (topic == NULL)
    return front_send_error(x, MHD_HTTP_BAD_REQUEST,
                            "bad percent-encoding in the topic");
  enum MHD_Result ret;
  bool bad = false;
  char *qkey = NULL;
  const char *idem;
  if (front_check_name("topic", topic, false, err, sizeof err) != 0) {
    ret = front_send_error(x, MHD_HTTP_BAD_REQUEST, "%s", err);
    goto done;
  }
  if (sfl_front_media_is(front_header(x, MHD_HTTP_HEADER_CONTENT_TYPE),
                         "application/x-ndjson")) {
    ret = ingress_topic_batch(x, r, topic);
    goto done;
  }
  const char *key = front_header(x, "X-Key");
  if (key == NULL) {
    qkey = front_query_arg(x, "key", &bad);
    if (bad) {
      ret = front_send_error(x, MHD_HTTP_BAD_REQUEST,
                             "bad percent-encoding in ?key=");
      goto done;
    }
    key = qkey;
  }
  if (key == NULL || key[0] == '\0') {
    ret = front_send_error(
        x, MHD_HTTP_BAD_REQUEST,
        "a topic record needs a key (the target function id): "
        "header X-Key: <id> or ?key=<id>");
    goto done;
  }
  if (!sf_utf8_valid((const uint8_t *)key, strlen(key)) ||
      front_has_control(key)) {
    ret = front_send_error(x, MHD_HTTP_BAD_REQUEST,
                           "the key must be UTF-8 without control characters");
    goto done;
  }
  if (front_idempotency_key(x, &idem, err, sizeof err) != 0) {
    ret = front_send_error(x, MHD_HTTP_BAD_REQUEST, "%s", err);
    goto done;
  }
  uint64_t gen = 0;
  sfl_result res = sfl_engine_send_topic_nb(
      x->f->engine, topic, key, r->body != NULL ? (const void *)r->body : "",
      r->len, idem, &gen, err, sizeof err);
  if (res == SFL_ERR_BUSY && front_park(x, r, x->f->send_wait_ms)) {
    ret = MHD_YES;
    goto done;
  }
  if (res == SFL_ERR_NO_TOPIC && err[0] == '\0')
    snprintf(err, sizeof err, "no ingress in module.yaml routes topic %s",
             topic);
  ret = front_answer_send_nb(x, r, res, gen, err, "topic", topic, -1);
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
    "  send many records at once (JSON lines, all accepted or none):\n"
    "    curl -H 'Content-Type: application/x-ndjson' --data-binary "
    "$'{\"key\":\"a\",\"value\":\"...\"}\\n{\"key\":\"b\",\"value_base64\":\"...\"}' "
    "http://HOST/topics/<topic>\n"
    "  call an entity method with JSON arguments (sf-local --ir FILE):\n"
    "    curl -X POST -d '{\"items\":[\"apple\"]}' "
    "http://HOST/<ns>/<Entity>/<key>/<method>\n"
    "  look at an address (state, mailbox, last failure):\n"
    "    curl http://HOST/<ns>/<fntype>/<id>\n"
    "  drop a message a function keeps failing on (its seq from the view):\n"
    "    curl -X DELETE 'http://HOST/<ns>/<fntype>/<id>?seq=N'\n"
    "  GET /metrics (Prometheus), GET /health, GET /?format=json\n"
    "  egress: curl http://EGRESS/<topic>  or  "
    "curl 'http://EGRESS/egress/<ns>/<name>/<topic>?wait=5&max=10'\n"
    "  see docs/sf-local-http.md\n";

static enum MHD_Result ingress_root(exchange *x) {
  char *summary = sfl_engine_summary(x->f->engine);
  if (summary == NULL)
    return front_send_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR,
                            "no summary (out of memory)");
  bool bad = false;
  char *format = front_query_arg(x, "format", &bad);
  const char *accept = front_header(x, MHD_HTTP_HEADER_ACCEPT);
  bool json = (format != NULL && strcmp(format, "json") == 0) ||
              (accept != NULL && strstr(accept, "application/json") != NULL &&
               strstr(accept, "text/") == NULL);
  free(format);
  enum MHD_Result r;
  if (json) {
    size_t n = strlen(summary);
    char *line = malloc(n + 2);
    if (line == NULL) {
      r = front_send_text(x, MHD_HTTP_OK, "application/json", summary);
    } else {
      memcpy(line, summary, n);
      memcpy(line + n, "\n", 2);
      r = front_send_text(x, MHD_HTTP_OK, "application/json", line);
      free(line);
    }
  } else {
    static const char head[] =
        "sf-local ingress (compatible with the StateFun playground's)\n"
        "summary: ";
    size_t n = sizeof head - 1 + strlen(summary) + 2 + sizeof ingress_usage;
    char *text = malloc(n);
    if (text == NULL) {
      r = front_send_text(x, MHD_HTTP_OK, "application/json", summary);
    } else {
      snprintf(text, n, "%s%s\n\n%s", head, summary, ingress_usage);
      r = front_send_text(x, MHD_HTTP_OK, "text/plain; charset=utf-8", text);
      free(text);
    }
  }
  free(summary);
  return r;
}

/* DELETE /<ns>/<type>/<id>?seq=N: drops a message a function cannot take
 * (sf-local only; engine_failures.c) and answers with it. */
static enum MHD_Result ingress_drop(exchange *x, const char *url) {
  char err[512];
  sfl_front_address a;
  if (sfl_front_parse_address(url, &a, err, sizeof err) != 0)
    return front_send_error(x, MHD_HTTP_BAD_REQUEST, "%s", err);
  bool bad = false;
  char *seq_text = front_query_arg(x, "seq", &bad);
  char *end = NULL;
  unsigned long long seq =
      seq_text != NULL && *seq_text >= '0' && *seq_text <= '9' ? strtoull(seq_text, &end, 10) : 0;
  bool ok = !bad && end != NULL && *end == '\0';
  free(seq_text);
  enum MHD_Result ret;
  if (!ok) {
    ret = front_send_error(x, MHD_HTTP_BAD_REQUEST,
                           "DELETE %s/%s needs ?seq=N, the seq of a message its "
                           "mailbox lists (GET it)", a.fn_typename, a.id);
    sfl_front_address_free(&a);
    return ret;
  }
  char *dropped = NULL;
  sfl_result res = sfl_engine_drop(x->f->engine, a.fn_typename, a.id, seq, &dropped, err,
                                   sizeof err);
  sfl_front_address_free(&a);
  if (res == SFL_OK) {
    size_t n = strlen(dropped ? dropped : "null") + 16;
    char *body = malloc(n);
    if (body != NULL) snprintf(body, n, "{\"dropped\":%s}\n", dropped ? dropped : "null");
    ret = front_send_text(x, MHD_HTTP_OK, "application/json", body ? body : "{}\n");
    free(body);
  } else {
    unsigned code = res == SFL_ERR_NOT_FOUND ? MHD_HTTP_NOT_FOUND
                    : res == SFL_ERR_BUSY    ? MHD_HTTP_CONFLICT
                                             : MHD_HTTP_INTERNAL_SERVER_ERROR;
    ret = front_send_error(x, code, "%s", err);
  }
  free(dropped);
  return ret;
}

enum MHD_Result front_ingress_route(exchange *x, request *r) {
  const char *url = x->url;
  bool get = strcmp(x->method, MHD_HTTP_METHOD_GET) == 0;
  bool put_or_post = strcmp(x->method, MHD_HTTP_METHOD_PUT) == 0 ||
                     strcmp(x->method, MHD_HTTP_METHOD_POST) == 0;
  if (r->too_large)
    return front_send_error(x, HTTP_TOO_LARGE, "body larger than %zu bytes",
                            x->f->max_body);

  /* One-part paths: the service endpoints. */
  if (url[0] != '/' || strchr(url + 1, '/') == NULL) {
    const char *name = url[0] == '/' ? url + 1 : url;
    bool known = strcmp(name, "") == 0 || strcmp(name, "health") == 0 ||
                 strcmp(name, "metrics") == 0;
    if (!known)
      return front_send_error(
          x, MHD_HTTP_NOT_FOUND,
          "no such endpoint: expected /<namespace>/<type>/<id>, "
          "/topics/<topic>, /metrics, /health or /");
    if (!get) {
      static const char *const h[] = {"Allow", "GET", NULL};
      return front_send_error_h(x, MHD_HTTP_METHOD_NOT_ALLOWED, h,
                                "only GET on /%s", name);
    }
    if (name[0] == '\0') return ingress_root(x);
    if (strcmp(name, "health") == 0) {
      if (atomic_load(&x->f->stopping))
        return front_send_text(x, MHD_HTTP_SERVICE_UNAVAILABLE,
                               "application/json",
                               "{\"status\":\"stopping\"}\n");
      return front_send_text(x, MHD_HTTP_OK, "application/json",
                             "{\"status\":\"ok\"}\n");
    }
    char *m = sfl_engine_metrics(x->f->engine);
    if (m == NULL)
      return front_send_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR,
                              "no metrics (out of memory)");
    enum MHD_Result ret = front_send_text(
        x, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", m);
    free(m);
    return ret;
  }

  /* /topics/<topic>: exactly two parts. */
  static const char tp[] = "/topics/";
  if (strncmp(url, tp, sizeof tp - 1) == 0 &&
      strchr(url + sizeof tp - 1, '/') == NULL) {
    if (!put_or_post) {
      static const char *const h[] = {"Allow", "POST, PUT", NULL};
      return front_send_error_h(x, MHD_HTTP_METHOD_NOT_ALLOWED, h,
                                "POST or PUT a record to /topics/<topic>");
    }
    return ingress_topic(x, r, url + sizeof tp - 1);
  }

  if (strcmp(x->method, MHD_HTTP_METHOD_POST) == 0) {
    enum MHD_Result ret;
    if (front_entity_post(x, r, &ret)) return ret;
  }
  if (put_or_post) return ingress_send(x, r);
  if (get) {
    char err[512];
    sfl_front_address a;
    if (sfl_front_parse_address(url, &a, err, sizeof err) != 0)
      return front_send_error(x, MHD_HTTP_BAD_REQUEST, "%s", err);
    char *view = sfl_engine_describe_address(x->f->engine, a.fn_typename, a.id);
    if (view != NULL && x->f->n_irs > 0)
      view = front_entity_fields(x->f, a.fn_typename, view);
    enum MHD_Result ret;
    if (view == NULL) {
      ret = front_send_error(x, MHD_HTTP_NOT_FOUND,
                             "address %s/%s has never been seen", a.fn_typename,
                             a.id);
    } else {
      size_t n = strlen(view);
      bool nl = n > 0 && view[n - 1] == '\n';
      if (nl) {
        ret = front_send_text(x, MHD_HTTP_OK, "application/json", view);
      } else {
        char *line = malloc(n + 2);
        if (line != NULL) {
          memcpy(line, view, n);
          memcpy(line + n, "\n", 2);
        }
        ret = front_send_text(x, MHD_HTTP_OK, "application/json",
                              line != NULL ? line : view);
        free(line);
      }
      free(view);
    }
    sfl_front_address_free(&a);
    return ret;
  }
  if (strcmp(x->method, MHD_HTTP_METHOD_DELETE) == 0) return ingress_drop(x, url);
  static const char *const h[] = {"Allow", "GET, POST, PUT, DELETE", NULL};
  return front_send_error_h(
      x, MHD_HTTP_METHOD_NOT_ALLOWED, h,
      "%s is not supported: PUT/POST sends a message, GET "
      "shows the address, DELETE ?seq=N drops a message",
      x->method);
}
