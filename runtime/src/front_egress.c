/*
 * front_egress.c - the egress server of sf-local (8091): what the
 * functions sent out, popped one record at a time (playground-style
 * GET /<topic>) or as JSON lines per egress id; the pop-or-park that
 * entity calls use too.
 */
#include "front_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <statefun/statefun.h>

#include "sfb/base64.h"
#include "sfb/buf.h"
#include "util.h"

/* Pops the oldest record of `topic` now; when there is none and the
 * request may wait, parks it (*parked; the handler runs again on the next
 * egress change or when the wait is over). */
sfl_result front_pop_or_park(exchange *x, request *r, const char *egress_id,
                             const char *topic, int64_t wait_ms,
                             sfl_record *out, bool *parked) {
  *parked = false;
  memset(out, 0, sizeof *out);
  sfl_result res = sfl_engine_egress_pop(x->f->engine, egress_id, topic, 0, out);
  if (res == SFL_ERR_NOT_FOUND && wait_ms > 0 && front_park(x, r, wait_ms))
    *parked = true;
  return res;
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
  char *w = front_query_arg(x, "wait", &bad);
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
 * its "Status" front_header (Undertow writes it as a plain header). */
static enum MHD_Result send_playground_record(exchange *x, sfl_record *rec) {
  static const char *const h[] = {"Status", "200", NULL};
  return front_send(x, MHD_HTTP_OK, NULL,
                    rec->value != NULL ? (const void *)rec->value : "",
                    rec->len, h);
}

/* GET /<topic>: the playground's egress (one record per GET). */
static enum MHD_Result egress_pop_one(exchange *x, request *r,
                                      const char *raw_topic) {
  char err[256];
  char *topic = front_decode_part(raw_topic, strlen(raw_topic));
  if (topic == NULL)
    return front_send_error(x, MHD_HTTP_BAD_REQUEST,
                            "bad percent-encoding in the topic");
  enum MHD_Result ret;
  if (front_check_name("topic", topic, false, err, sizeof err) != 0) {
    ret = front_send_error(x, MHD_HTTP_BAD_REQUEST, "%s", err);
    goto done;
  }
  int64_t wait = wait_arg(x);
  if (wait < 0) {
    ret = front_send_error(x, MHD_HTTP_BAD_REQUEST,
                           "?wait= takes seconds, e.g. 5 or 0.5");
    goto done;
  }
  const sfl_egress *pg = playground_topic(x->f->config, topic);
  if (pg == NULL && topic_unlisted(x->f->config) &&
      !sfl_engine_knows_topic(x->f->engine, topic)) {
    static const char *const h[] = {"Status", "405", NULL};
    ret = front_send_error_h(
        x, MHD_HTTP_METHOD_NOT_ALLOWED, h,
        "topic %s is not in the topics of the playground egress "
        "in module.yaml (the playground answers 405 too)",
        topic);
    goto done;
  }
  sfl_record rec;
  bool parked;
  sfl_result res = front_pop_or_park(x, r, NULL, topic, wait, &rec, &parked);
  if (parked) {
    ret = MHD_YES;
    goto done;
  }
  if (res != SFL_OK) {
    static const char *const h404[] = {"Status", "404", NULL};
    if (res == SFL_ERR_NOT_FOUND)
      ret = front_send_error_h(
          x, MHD_HTTP_NOT_FOUND, pg != NULL ? h404 : NULL,
          sfl_engine_knows_topic(x->f->engine, topic)
              ? "no unread record on topic %s"
              : "no record has been emitted on topic %s (yet)",
          topic);
    else
      ret = front_send_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR,
                             "egress failed (engine result %d)", (int)res);
    goto done;
  }
  if (pg != NULL && rec.egress_id != NULL &&
      strcmp(rec.egress_id, pg->id) == 0) {
    ret = send_playground_record(x, &rec);
    sfl_record_free(&rec);
    goto done;
  }
  char seq[24];
  snprintf(seq, sizeof seq, "%" PRIu64, rec.seq);
  char *key64 = NULL;
  const char *key = rec.key != NULL ? rec.key : "";
  bool key_ok = front_header_safe(key);
  if (!key_ok) key64 = sfl_front_base64((const uint8_t *)key, strlen(key));
  const char *const h[] = {"X-Egress-Id",
                           rec.egress_id,
                           "X-Topic",
                           rec.topic,
                           key_ok ? "X-Key" : "X-Key-Base64",
                           key_ok ? key : key64,
                           "X-Typename",
                           rec.typename,
                           "X-Seq",
                           seq,
                           NULL};
  ret = front_send(x, MHD_HTTP_OK, "application/octet-stream",
                   rec.value != NULL ? (const void *)rec.value : "", rec.len,
                   h);
  free(key64);
  sfl_record_free(&rec);
done:
  free(topic);
  return ret;
}

/* One JSON line for a record; NULL on OOM. */
/* A string field ,"name":"value" (left out when the value is not valid
 * UTF-8, as jansson would). */
static void str_field(sfb_buf *b, const char *name, const char *v, size_t n,
                      bool first) {
  if (!sf_utf8_valid((const uint8_t *)v, n)) return;
  if (!first) sfb_buf_put(b, ",", 1);
  sfb_buf_json_str(b, name, strlen(name));
  sfb_buf_put(b, ":", 1);
  sfb_buf_json_str(b, v, n);
}

/* Records are taken from the engine EGRESS_CHUNK at a time, after
 * reserving EGRESS_ROOM bytes of the answer (more for a larger record). */
#define EGRESS_CHUNK 64
#define EGRESS_ROOM (64 * 1024)

/* The most a JSON line of a record of `bytes` (sfl_record_bytes) takes:
 * each string escaped at most 6 to 1, the base64 copy of the value 4/3 of
 * it plus padding, the field names and seq under 160. */
static size_t line_room(size_t bytes) { return 8 * bytes + 160; }

/* The record bytes whose `n` lines surely fit in `room` bytes. */
static size_t line_bytes(size_t room, size_t n) {
  return room > 160 * n ? (room - 160 * n) / 8 : 0;
}

/* One record as a JSON line: seq, egress, topic, key, typename, value
 * (null unless UTF-8), value_base64. */
static void record_line(sfb_buf *b, const sfl_record *rec) {
  char seq[40];
  int sn = snprintf(seq, sizeof seq, "{\"seq\":%" PRIu64, rec->seq);
  sfb_buf_put(b, seq, (size_t)sn);
#define S(f) ((f) != NULL ? (f) : "")
  str_field(b, "egress", S(rec->egress_id), strlen(S(rec->egress_id)), false);
  str_field(b, "topic", S(rec->topic), strlen(S(rec->topic)), false);
  str_field(b, "key", S(rec->key), strlen(S(rec->key)), false);
  str_field(b, "typename", S(rec->typename), strlen(S(rec->typename)), false);
#undef S
  const char *v = rec->value != NULL ? (const char *)rec->value : "";
  if (sf_utf8_valid((const uint8_t *)v, rec->len))
    str_field(b, "value", v, rec->len, false);
  else
    sfb_buf_put(b, ",\"value\":null", 13);
  /* The base64 alphabet needs no JSON escaping: written in place. */
  static const char b64_key[] = ",\"value_base64\":\"";
  sfb_buf_put(b, b64_key, sizeof b64_key - 1);
  sfb_base64_put(b, v, rec->len);
  sfb_buf_put(b, "\"}\n", 3);
}

/* GET /egress/<ns>/<name>/<topic>?wait=S&max=N: JSON lines. */
static enum MHD_Result egress_lines(exchange *x, request *r,
                                    const char *rest) {
  static const char usage[] =
      "expected /egress/<namespace>/<name>/<topic> (an empty topic, "
      "/egress/<namespace>/<name>/, reads records without a topic)";
  const char *s1 = strchr(rest, '/');
  const char *s2 = s1 != NULL ? strchr(s1 + 1, '/') : NULL;
  if (s1 == NULL || s2 == NULL)
    return front_send_error(x, MHD_HTTP_BAD_REQUEST, "%s", usage);
  char err[256];
  char *ns = front_decode_part(rest, (size_t)(s1 - rest));
  char *name = front_decode_part(s1 + 1, (size_t)(s2 - s1 - 1));
  char *topic = front_decode_part(s2 + 1, strlen(s2 + 1));
  char *eid = NULL;
  char *max_s = NULL;
  enum MHD_Result ret;
  bool bad = false;
  if (ns == NULL || name == NULL || topic == NULL) {
    ret = front_send_error(x, MHD_HTTP_BAD_REQUEST,
                           "bad percent-encoding in the path");
    goto done;
  }
  if (front_check_name("egress namespace", ns, false, err, sizeof err) != 0 ||
      front_check_name("egress name", name, false, err, sizeof err) != 0 ||
      front_check_name("topic", topic, true, err, sizeof err) != 0) {
    ret = front_send_error(x, MHD_HTTP_BAD_REQUEST, "%s (%s)", err, usage);
    goto done;
  }
  size_t el = strlen(ns) + strlen(name) + 2;
  eid = malloc(el);
  if (eid == NULL) {
    ret = front_send_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    goto done;
  }
  snprintf(eid, el, "%s/%s", ns, name);
  if (!config_has_egress(x->f->config, eid)) {
    ret = front_send_error(x, MHD_HTTP_NOT_FOUND,
                           "module.yaml declares no egress %s", eid);
    goto done;
  }
  int64_t wait = wait_arg(x);
  if (wait < 0) {
    ret = front_send_error(x, MHD_HTTP_BAD_REQUEST,
                           "?wait= takes seconds, e.g. 5 or 0.5");
    goto done;
  }
  long max = DEFAULT_EGRESS_MAX;
  max_s = front_query_arg(x, "max", &bad);
  if (bad) {
    ret = front_send_error(x, MHD_HTTP_BAD_REQUEST,
                           "bad percent-encoding in ?max=");
    goto done;
  }
  if (max_s != NULL) {
    char *end = NULL;
    errno = 0;
    max = strtol(max_s, &end, 10);
    if (max_s[0] < '0' || max_s[0] > '9' || *end != '\0' || errno != 0 ||
        max < 1 || max > MAX_EGRESS_MAX) {
      ret = front_send_error(x, MHD_HTTP_BAD_REQUEST,
                             "?max= takes a count from 1 to %d",
                             MAX_EGRESS_MAX);
      goto done;
    }
  }
  sfb_buf lines = {0};
  /* Only the first record is waited for; then take what is there, a
   * chunk at a time, each only once the answer has room for it: a record
   * taken and then not written out would be lost, one left queued is read
   * by the next request. */
  sfl_record recs[EGRESS_CHUNK];
  bool parked;
  size_t n = front_pop_or_park(x, r, eid, topic, wait, &recs[0], &parked) == SFL_OK;
  if (parked) {
    ret = MHD_YES;
    goto done;
  }
  size_t need = 0;
  for (long taken = (long)n; n > 0 || need > 0;) {
    for (size_t i = 0; i < n; i++) {
      size_t before = lines.len;
      record_line(&lines, &recs[i]); /* the room is reserved but for the first */
      if (lines.oom) lines.len = before;
      sfl_record_free(&recs[i]);
    }
    if (lines.oom || taken >= max) break;
    /* After a record that did not fit a chunk's room: room for it alone. */
    bool alone = need > 0;
    size_t want = alone ? 1
                  : (size_t)(max - taken) < EGRESS_CHUNK ? (size_t)(max - taken)
                                                          : EGRESS_CHUNK;
    if (!sfb_buf_reserve(&lines, alone ? line_room(need) : EGRESS_ROOM)) break;
    n = sfl_engine_egress_pop_some(x->f->engine, eid, topic, recs, want,
                                   line_bytes(lines.cap - lines.len, want), &need);
    if (n == 0 && alone) break; /* room was made for it: not expected */
    taken += (long)n;
  }
  if (lines.len == 0) {
    ret = front_send(x, MHD_HTTP_NO_CONTENT, NULL, "", 0, NULL);
    sfb_buf_free(&lines);
  } else {
    ret = front_send_owned(x, MHD_HTTP_OK, "application/x-ndjson", lines.p,
                           lines.len);
  }
done:
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

enum MHD_Result front_egress_route(exchange *x, request *r) {
  if (r->too_large || r->len > 0)
    return front_send_error(x, MHD_HTTP_BAD_REQUEST,
                            "the egress takes GET requests without a body");
  if (strcmp(x->method, MHD_HTTP_METHOD_GET) != 0) {
    static const char *const h[] = {"Allow", "GET", NULL};
    return front_send_error_h(x, MHD_HTTP_METHOD_NOT_ALLOWED, h,
                              "the egress only answers GET");
  }
  const char *url = x->url;
  if (strcmp(url, "/") == 0)
    return front_send_text(x, MHD_HTTP_OK, "text/plain; charset=utf-8",
                           egress_usage);
  static const char eg[] = "/egress/";
  if (strncmp(url, eg, sizeof eg - 1) == 0)
    return egress_lines(x, r, url + sizeof eg - 1);
  if (url[0] == '/' && strchr(url + 1, '/') == NULL)
    return egress_pop_one(x, r, url + 1);
  return front_send_error(
      x, MHD_HTTP_NOT_FOUND,
      "expected /<topic> or /egress/<namespace>/<name>/<topic>");
}
