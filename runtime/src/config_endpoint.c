/*
 * config_endpoint.c - function endpoints of module.yaml
 * (io.statefun.endpoints.v1/v2 http) as HttpEndpointBinderV1/V2 accept
 * them: the pattern, the URL template, the transport (async or okhttp)
 * with its timeouts and limits; and where each pattern and id was defined,
 * for the duplicate checks.
 */
#include "config_impl.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* `timeouts: {call, connect[, read, write]}` (both transports' Timeouts
 * classes: a block given replaces all of its defaults, values non-zero). */
static int parse_timeouts(ctx *c, const ynode *t, bool okhttp,
                          sfl_endpoint *ep) {
  static const char *const known_ok[] = {"call", "connect", "read", "write",
                                         NULL};
  static const char *const known_async[] = {"call", "connect", NULL};
  if (cfg_check_known(c, t, okhttp ? known_ok : known_async, "'timeouts'") < 0)
    return -1;
  /* Defaults of the Timeouts classes: call 1m, connect 10s, read/write 10s. */
  ep->call_timeout_ms = 60000;
  ep->connect_timeout_ms = 10000;
  if (okhttp) ep->read_timeout_ms = ep->write_timeout_ms = 10000;
  if (cfg_get_duration(c, t, "call", true, &ep->call_timeout_ms, NULL) < 0 ||
      cfg_get_duration(c, t, "connect", true, &ep->connect_timeout_ms, NULL) <
          0)
    return -1;
  if (!okhttp) return 0;
  if (cfg_get_duration(c, t, "read", true, &ep->read_timeout_ms, NULL) < 0 ||
      cfg_get_duration(c, t, "write", true, &ep->write_timeout_ms, NULL) < 0)
    return -1;
  /* DefaultHttpRequestReplyClientSpec.validateTimeouts, defaults included. */
  const char *names[] = {"connect", "read", "write"};
  int64_t vals[] = {ep->connect_timeout_ms, ep->read_timeout_ms,
                    ep->write_timeout_ms};
  for (int i = 0; i < 3; i++)
    if (vals[i] > ep->call_timeout_ms) {
      char a[32], b[32];
      cfg_fmt_ms(a, sizeof a, vals[i]);
      cfg_fmt_ms(b, sizeof b, ep->call_timeout_ms);
      return cfg_fail(c, t,
                      "%s timeout (%s) cannot be larger than call timeout (%s)",
                      names[i], a, b);
    }
  return 0;
}

/* v2 `transport:` block. */
static int parse_transport(ctx *c, const ynode *tr, sfl_endpoint *ep) {
  ynode *type;
  if (cfg_get_str(c, tr, "type", false, "transport", &type) < 0) return -1;
  if (type && !strcmp(type->text, OKHTTP_TYPE)) {
    static const char *const known[] = {"type", "timeouts", NULL};
    if (cfg_check_known(c, tr, known, "an okhttp 'transport'") < 0) return -1;
    ep->transport = SFL_TRANSPORT_OKHTTP;
    ep->payload_max_bytes = 0;
    ynode *t;
    if (cfg_get_map(c, tr, "timeouts", false, "transport", &t) < 0) return -1;
    if (t) return parse_timeouts(c, t, true, ep);
    ep->call_timeout_ms = 60000;
    ep->connect_timeout_ms = 10000;
    ep->read_timeout_ms = ep->write_timeout_ms = 10000;
    return 0;
  }
  if (type && strcmp(type->text, ASYNC_TYPE))
    return cfg_fail(c, type,
                    "unknown transport type '%s'; known types: " ASYNC_TYPE
                    ", " OKHTTP_TYPE,
                    cfg_q(c, type));
  static const char *const known[] = {"type",          "call",
                                      "connect",       "pool_ttl",
                                      "pool_size",     "payload_max_bytes",
                                      "trust_cacerts", "client_cert",
                                      "client_key",    "client_key_password",
                                      "timeouts",      NULL};
  if (cfg_check_known(c, tr, known, "an async 'transport'") < 0) return -1;
  int64_t ignored = 0, size = 0;
  if (cfg_get_duration(c, tr, "call", true, &ep->call_timeout_ms, NULL) < 0 ||
      cfg_get_duration(c, tr, "connect", true, &ep->connect_timeout_ms, NULL) <
          0 ||
      cfg_get_duration(c, tr, "pool_ttl", false, &ignored, NULL) < 0 ||
      cfg_get_int(c, tr, "pool_size", 1, INT32_MAX, "a positive integer",
                  &ignored) < 0)
    return -1;
  size = ep->payload_max_bytes;
  if (cfg_get_int(c, tr, "payload_max_bytes", 1, INT32_MAX,
                  "a positive integer", &size) < 0)
    return -1;
  ep->payload_max_bytes = (uint32_t)size;
  const char *strs[] = {"trust_cacerts", "client_cert", "client_key",
                        "client_key_password"};
  for (int i = 0; i < 4; i++) {
    ynode *s;
    if (cfg_get_str(c, tr, strs[i], false, "transport", &s) < 0) return -1;
  }
  /* The legacy `timeouts` block wins over call/connect (NettyRequestReplySpec
   * firstPresentOrDefault), with its own defaults 1m / 10s. */
  ynode *t;
  if (cfg_get_map(c, tr, "timeouts", false, "transport", &t) < 0) return -1;
  if (t) return parse_timeouts(c, t, false, ep);
  return 0;
}

/* ---- https: the async transport's TLS keys ---------------------------------- */

/* A TLS file bigger than this is not a certificate or a key. */
#define MAX_TLS_FILE ((size_t)4 * 1024 * 1024)

/* The local path of a resource location as Flink's ResourceLocator takes
 * it: "file:PATH" / "file:///PATH", or a plain path (relative to the
 * working directory, as in Flink). "classpath:" resources live on Flink's
 * classpath, which sf-local has not got. Returns a malloc'd path or NULL
 * with the error set. */
static char *tls_path(ctx *c, const ynode *n, const char *key) {
  const char *s = n->text;
  if (!strncasecmp(s, "classpath:", 10))
    return cfg_fail(c, n,
                    "%s '%s': classpath: resources are on Flink's classpath, "
                    "which sf-local cannot read; give a file path (Flink "
                    "reads plain paths and file: URLs too)",
                    key, cfg_q(c, n)),
           NULL;
  if (!strncasecmp(s, "file://", 7)) {
    s += 7;
    if (*s != '/')
      return cfg_fail(c, n, "%s '%s': a file: URL names a local file "
                      "(file:///PATH)", key, cfg_q(c, n)),
             NULL;
  } else if (!strncasecmp(s, "file:", 5)) {
    s += 5;
  } else {
    const char *p = s;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.') p++;
    if (*p == ':' && p - s > 1 && isalpha((unsigned char)*s))
      return cfg_fail(c, n, "%s '%s': sf-local reads local files only (a "
                      "path or file:PATH)", key, cfg_q(c, n)),
             NULL;
  }
  if (!*s) return cfg_fail(c, n, "%s is empty", key), NULL;
  char *path = strdup(s);
  if (!path) cfg_oom(c);
  return path;
}

/* Reads a TLS file named by node `n`; NULL with the error set. */
static char *tls_read(ctx *c, const ynode *n, const char *key,
                      const char *path) {
  char *text = cfg_read_file(path, MAX_TLS_FILE, NULL);
  if (!text)
    cfg_fail(c, n, "%s '%s': cannot read: %s", key, path,
             errno == EFBIG ? "larger than 4 MiB" : strerror(errno));
  return text;
}

/* `key` names a readable file holding `marker` (a PEM header). */
static int tls_check_pem(ctx *c, const ynode *n, const char *key,
                         const char *path, const char *const *markers,
                         const char *want) {
  char *text = tls_read(c, n, key, path);
  if (!text) return -1;
  bool found = false;
  for (size_t i = 0; markers[i] && !found; i++)
    found = strstr(text, markers[i]) != NULL;
  bool encrypted = strstr(text, "-----BEGIN ENCRYPTED PRIVATE KEY-----");
  free(text);
  if (!found)
    return cfg_fail(c, n, "%s '%s' holds no %s", key, path, want);
  return encrypted ? 1 : 0;
}

/* trust_cacerts, client_cert, client_key and client_key_password of an
 * https:// endpoint: as NettyClient.getSslContext uses them, checked here
 * so that a bad file is an error at load time rather than a failed call. */
static int parse_tls(ctx *c, const ynode *tr, sfl_endpoint *ep) {
  static const char *const keys[] = {"trust_cacerts", "client_cert",
                                     "client_key", "client_key_password"};
  ynode *n[4];
  for (int i = 0; i < 4; i++)
    if (cfg_get_str(c, tr, keys[i], false, "transport", &n[i]) < 0) return -1;
  if (!n[1] != !n[2])
    return cfg_fail(c, n[1] ? n[1] : n[2],
                    "%s without %s: mutual TLS needs both (Flink refuses one "
                    "without the other)",
                    n[1] ? "client_cert" : "client_key",
                    n[1] ? "client_key" : "client_cert");
  static const char *const cert_pem[] = {"-----BEGIN CERTIFICATE-----", NULL};
  static const char *const key_pem[] = {
      "-----BEGIN PRIVATE KEY-----", "-----BEGIN ENCRYPTED PRIVATE KEY-----",
      NULL};
  char **out[] = {&ep->trust_cacerts, &ep->client_cert, &ep->client_key};
  int encrypted = 0;
  for (int i = 0; i < 3; i++) {
    if (!n[i]) continue;
    if (!(*out[i] = tls_path(c, n[i], keys[i]))) return -1;
    int r = tls_check_pem(
        c, n[i], keys[i], *out[i], i < 2 ? cert_pem : key_pem,
        i < 2 ? "PEM certificate (-----BEGIN CERTIFICATE-----)"
              : "PKCS#8 PEM private key (-----BEGIN PRIVATE KEY----- or "
                "-----BEGIN ENCRYPTED PRIVATE KEY-----), the only form "
                "Flink's Netty client reads; convert with 'openssl pkcs8 "
                "-topk8 -nocrypt -in KEY -out KEY.pk8'");
    if (r < 0) return -1;
    if (i == 2) encrypted = r;
  }
  if (n[3] && n[1]) { /* Flink reads the password only with a client key */
    char *path = tls_path(c, n[3], keys[3]);
    if (!path) return -1;
    /* The whole file is the password, a trailing newline included, as
     * Flink reads it (IOUtils.toString). */
    ep->client_key_password = tls_read(c, n[3], keys[3], path);
    free(path);
    if (!ep->client_key_password) return -1;
  }
  if (encrypted && !ep->client_key_password)
    return cfg_fail(c, n[2],
                    "client_key '%s' is encrypted: give the file holding its "
                    "password as client_key_password",
                    ep->client_key);
  return 0;
}

static int check_url(ctx *c, const ynode *u, sfl_endpoint *ep) {
  const char *s = u->text;
  size_t skip = 0;
  if (!strncasecmp(s, "http://", 7)) skip = 7;
  else if (!strncasecmp(s, "https://", 8)) skip = 8;
  else if (!strncasecmp(s, "http+unix://", 12)) {
    skip = 12;
    ep->unix_socket = true;
  } else {
    return cfg_fail(c, u,
                    "urlPathTemplate '%s' must start with http:// or https://",
                    cfg_q(c, u));
  }
  if (!s[skip] || (s[skip] == '/' && !ep->unix_socket))
    return cfg_fail(c, u, "urlPathTemplate '%s' has no host", cfg_q(c, u));
  if (ep->unix_socket && ep->transport != SFL_TRANSPORT_OKHTTP)
    return cfg_fail(
        c, u,
        "urlPathTemplate '%s': http+unix:// needs the okhttp transport "
        "(type: " OKHTTP_TYPE ")",
        cfg_q(c, u));
  return 0;
}

static int check_pattern(ctx *c, const ynode *f) {
  const char *s = f->text, *slash = strchr(s, '/');
  bool ok = slash && slash != s && slash[1] && !strchr(slash + 1, '/') &&
            !memchr(s, '*', (size_t)(slash - s)) &&
            (!strcmp(slash + 1, "*") || !strchr(slash + 1, '*'));
  if (!ok)
    return cfg_fail(
        c, f,
        "invalid function pattern '%s': expected <namespace>/<name> or "
        "<namespace>/*",
        cfg_q(c, f));
  return 0;
}

int cfg_parse_endpoint(ctx *c, build_state *bs, const ynode *doc,
                       const ynode *spec, bool v2) {
  const char *where = v2 ? "io.statefun.endpoints.v2/http spec"
                         : "io.statefun.endpoints.v1/http spec";
  static const char *const known_v2[] = {
      "functions", "urlPathTemplate", "maxNumBatchRequests", "transport", NULL};
  static const char *const known_v1[] = {
      "functions", "urlPathTemplate", "maxNumBatchRequests", "timeouts", NULL};
  if (v2 && cfg_map_get(spec, "timeouts")) {
    const ynode *k = NULL;
    for (size_t i = 0; i + 1 < spec->n; i += 2)
      if (!strcmp(spec->kids[i]->text, "timeouts")) k = spec->kids[i];
    return cfg_fail(
        c, k,
        "'timeouts' is not read in io.statefun.endpoints.v2/http; put "
        "call/connect under 'transport'");
  }
  if (cfg_check_known(c, spec, v2 ? known_v2 : known_v1, where) < 0) return -1;

  ynode *fn, *url, *tr = NULL, *to = NULL;
  if (cfg_get_str(c, spec, "functions", true, "endpoint spec", &fn) < 0 ||
      check_pattern(c, fn) < 0 ||
      cfg_get_str(c, spec, "urlPathTemplate", true, "endpoint spec", &url) < 0)
    return -1;
  if (v2 && cfg_get_map(c, spec, "transport", false, "endpoint spec", &tr) < 0)
    return -1;
  if (!v2 && cfg_get_map(c, spec, "timeouts", false, "endpoint spec", &to) < 0)
    return -1;

  sfl_endpoint ep = {0};
  ep.max_batch = 1000;
  ep.line = doc->line;
  if (v2) {
    ep.transport = SFL_TRANSPORT_ASYNC;
    ep.call_timeout_ms = 120000;
    ep.connect_timeout_ms = 20000;
    ep.payload_max_bytes = 32u * 1048576u;
    if (tr && parse_transport(c, tr, &ep) < 0) return -1;
  } else {
    ep.transport = SFL_TRANSPORT_OKHTTP;
    ep.call_timeout_ms = 60000;
    ep.connect_timeout_ms = 10000;
    ep.read_timeout_ms = ep.write_timeout_ms = 10000;
    if (to && parse_timeouts(c, to, true, &ep) < 0) return -1;
  }
  if (check_url(c, url, &ep) < 0) return -1;
  /* A Java int; 0 or less means no limit (RequestReplyFunction checks
   * maxNumBatchRequests > 0). */
  int64_t mb = ep.max_batch;
  if (cfg_get_java_int(c, spec, "maxNumBatchRequests", &mb) < 0) return -1;
  ep.max_batch = mb > 0 ? (uint32_t)mb : 0;

  sfl_config *cfg = bs->cfg;
  char **pats = malloc((cfg->n_endpoints + 1) * sizeof *pats);
  if (!pats) return cfg_oom(c);
  for (size_t i = 0; i < cfg->n_endpoints; i++)
    pats[i] = cfg->endpoints[i].functions;
  int r = cfg_note_id(c, fn, fn->text, "endpoint for functions", pats,
                      cfg->n_endpoints, &bs->ep_line, &bs->ep_col,
                      &bs->cap_epl);
  free(pats);
  if (r < 0) return -1;
  /* Flink builds a TLS context for https:// URLs only (Endpoint.useTls);
   * for http:// the TLS keys are read and ignored. */
  if (tr && !strncasecmp(url->text, "https://", 8) &&
      parse_tls(c, tr, &ep) < 0) {
    sfl_endpoint_tls_free(&ep);
    return -1;
  }
  if (GROW(cfg->endpoints, cfg->n_endpoints, bs->cap_ep) < 0) {
    sfl_endpoint_tls_free(&ep);
    return cfg_oom(c);
  }
  ep.functions = cfg_dup_text(c, fn);
  ep.url_template = cfg_dup_text(c, url);
  cfg->endpoints[cfg->n_endpoints++] = ep; /* freed by sfl_config_free */
  if (!ep.functions || !ep.url_template) return -1;
  return 0;
}

/* Remembers where id `text` was defined (at node `at`); refuses
 * duplicates. `what_` names it in the message ("ingress id"). */
int cfg_note_id(ctx *c, const ynode *at, const char *text, const char *what_,
                char **ids, size_t n, int **lines, int **cols, size_t *cap) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(ids[i], text)) /* shortened as cfg_q does */
      return cfg_fail(c, at, "duplicate %s '%.92s%s' (first at %d:%d)", what_,
                      text, strlen(text) > 92 ? "..." : "", (*lines)[i],
                      (*cols)[i]);
  if (n >= *cap) {
    size_t nc = *cap ? 2 * *cap : 4;
    int *l = realloc(*lines, nc * sizeof *l);
    if (!l) return cfg_oom(c);
    *lines = l;
    int *k = realloc(*cols, nc * sizeof *k);
    if (!k) return cfg_oom(c);
    *cols = k;
    *cap = nc;
  }
  (*lines)[n] = at->line;
  (*cols)[n] = at->col;
  return 0;
}
