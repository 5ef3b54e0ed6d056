/*
 * config.c - reads a StateFun 3.x module.yaml into an sfl_config: the
 * API, the documents of a stream and binding each kind to its parser. The
 * other parts are config_*.c (see config_impl.h for which owns what).
 *
 * Two passes. First libyaml's event parser turns every YAML document of the
 * stream into a small tree of our own (ynode) that remembers the 1-based
 * line/column of each node (events give exact marks for all of them), and
 * the first YAML syntax error stops the load (config_yaml.c).
 * Like Flink (JsonServiceLoader reads all documents before binding any), no
 * document is interpreted until the whole stream has parsed.
 *
 * Then each document is checked against what StateFun's binders accept
 * (HttpEndpointBinderV1/V2, NettyRequestReplySpec,
 * DefaultHttpRequestReplyClientSpec, RoutableKafkaIngressSpec,
 * GenericKafkaEgressSpec, the Kinesis specs, the playground's specs) and the
 * parts sf-local needs are copied into the config. The first problem stops
 * the load with one "path:line:col: message" line.
 *
 * A file whose only document has 'version' is the legacy single-document
 * format (JsonServiceLoader -> LegacyRemoteModuleV30): its endpoints,
 * ingresses and egresses are converted to the same components and bound by
 * the same code.
 *
 * Strictness: Flink ignores unknown keys everywhere. We reject them where a
 * typo would silently change what the functions see: the endpoint spec (e.g.
 * `transports:` for `transport:`, which drops the whole transport block), the
 * transport block and `timeouts`. Elsewhere unknown keys are ignored.
 */
#include "config_impl.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
  const char *kind;
  enum { K_EP_V2, K_EP_V1, K_INGRESS, K_EGRESS, K_PG_IN, K_PG_EG } what;
  sfl_io_kind io;
} kinds[] = {
    {"io.statefun.endpoints.v2/http", K_EP_V2, SFL_KAFKA},
    {"io.statefun.endpoints.v1/http", K_EP_V1, SFL_KAFKA},
    {"io.statefun.kafka.v1/ingress", K_INGRESS, SFL_KAFKA},
    {"io.statefun.kafka.v1/egress", K_EGRESS, SFL_KAFKA},
    {"io.statefun.kinesis.v1/ingress", K_INGRESS, SFL_KINESIS},
    {"io.statefun.kinesis.v1/egress", K_EGRESS, SFL_KINESIS},
    {"io.statefun.playground.v1/ingress", K_PG_IN, SFL_PLAYGROUND},
    {"io.statefun.playground.v1/egress", K_PG_EG, SFL_PLAYGROUND},
};

/* The kinds only the legacy single-document format knows, and what
 * LegacyRemoteModuleV30 turns them into. No binder is registered under
 * them, so a multi-document file naming one fails at Flink's start-up. */
static const struct {
  const char *legacy, *kind;
} legacy_kinds[] = {
    {"http", "io.statefun.endpoints.v1/http"},
    {"io.statefun.kafka/ingress", "io.statefun.kafka.v1/ingress"},
    {"io.statefun.kafka/egress", "io.statefun.kafka.v1/egress"},
    {"io.statefun.kinesis/ingress", "io.statefun.kinesis.v1/ingress"},
    {"io.statefun.kinesis/egress", "io.statefun.kinesis.v1/egress"},
};

const char *cfg_legacy_kind_of(const char *kind) {
  for (size_t i = 0; i < sizeof legacy_kinds / sizeof *legacy_kinds; i++)
    if (!strcmp(legacy_kinds[i].legacy, kind)) return legacy_kinds[i].kind;
  return NULL;
}

/*
 * Binds one component: `kind` (already converted from a legacy name) with
 * its `spec`; `at` is the node errors about the kind point to, `doc` the
 * node whose line the component records.
 */
int cfg_bind_component(ctx *c, build_state *bs, const ynode *doc,
                       const ynode *at, const char *kind, const ynode *spec) {
  size_t k = 0, nk = sizeof kinds / sizeof *kinds;
  while (k < nk && strcmp(kinds[k].kind, kind)) k++;
  if (k == nk) {
    char list[512] = "";
    for (size_t i = 0; i < nk; i++) {
      if (*list) strncat(list, ", ", sizeof list - strlen(list) - 1);
      strncat(list, kinds[i].kind, sizeof list - strlen(list) - 1);
    }
    return cfg_fail(c, at, "unknown kind '%s'; known kinds: %s", kind, list);
  }
  if (spec->type != YN_MAP)
    return cfg_fail(c, spec, "'spec' must be a mapping, not %s",
                    cfg_what(spec));
  if (cfg_check_keys(c, spec) < 0) return -1;
  switch (kinds[k].what) {
    case K_EP_V2: return cfg_parse_endpoint(c, bs, doc, spec, true);
    case K_EP_V1: return cfg_parse_endpoint(c, bs, doc, spec, false);
    case K_INGRESS: return cfg_parse_ingress(c, bs, doc, spec, kinds[k].io);
    case K_EGRESS: return cfg_parse_egress(c, bs, doc, spec, kinds[k].io);
    case K_PG_IN: return cfg_parse_playground(c, bs, doc, spec, true);
    case K_PG_EG: return cfg_parse_playground(c, bs, doc, spec, false);
  }
  return 0;
}

static int parse_document(ctx *c, build_state *bs, const ynode *doc) {
  if (doc->type != YN_MAP)
    return cfg_fail(c, doc,
                    "a module.yaml document must be a mapping with 'kind' and "
                    "'spec', not %s",
                    cfg_what(doc));
  if (cfg_check_keys(c, doc) < 0) return -1;
  ynode *kind = cfg_map_get(doc, "kind");
  if (!kind) {
    ynode *v = cfg_map_get(doc, "version");
    if (v)
      return cfg_fail(
          c, v,
          "'version' in a file of several documents: Flink reads the "
          "legacy single-document format (version: \"3.0\", module: "
          "spec: ...) only when it is the file's one document; here "
          "each document needs 'kind' and 'spec'");
    return cfg_fail(c, doc,
                    "document has no 'kind' (each document needs 'kind' "
                    "and 'spec')");
  }
  if (kind->type != YN_SCALAR || cfg_is_null(kind))
    return cfg_fail(c, kind, "'kind' must be a string, not %s", cfg_what(kind));
  const char *v1 = cfg_legacy_kind_of(kind->text);
  if (v1 && strcmp(kind->text, "http"))
    return cfg_fail(
        c, kind,
        "kind '%s' exists only in the legacy single-document format "
        "(version: \"3.0\"); in a multi-document module.yaml Flink "
        "fails at start-up (\"An extension with type %s does not "
        "exist\"): use '%s'",
        kind->text, kind->text, v1);
  ynode *spec = cfg_map_get(doc, "spec");
  if (!spec)
    return cfg_fail(c, doc, "document of kind '%s' has no 'spec'", kind->text);
  return cfg_bind_component(c, bs, doc, kind, kind->text, spec);
}

/* ------------------------------------------------------------------ */
/* Public API                                                           */
/* ------------------------------------------------------------------ */

int sfl_config_parse(const char *name, const char *text, size_t len,
                     sfl_config *out, char *err, size_t err_len) {
  ctx c = {0};
  c.path = name ? name : "<module.yaml>";
  c.err = err;
  c.err_len = err_len;
  if (err && err_len) err[0] = 0;
  memset(out, 0, sizeof *out);
  out->path = strdup(c.path);
  if (!out->path) return cfg_fail_at(&c, 1, 1, "out of memory");

  ydocs docs = {0};
  int rc = cfg_parse_stream(&c, text, len, &docs);
  build_state bs = {0};
  bs.cfg = out;
  if (rc == 0 && cfg_is_legacy(&docs)) {
    rc = cfg_check_keys(&c, docs.v[0]);
    if (rc == 0) rc = cfg_parse_legacy(&c, &bs, docs.v[0]);
  } else {
    for (size_t i = 0; rc == 0 && i < docs.n; i++)
      if (docs.v[i]) rc = parse_document(&c, &bs, docs.v[i]);
  }

  free(docs.v);
  cfg_pool_free(&c.pool);
  free(c.anchors);
  free(bs.ep_line);
  free(bs.ep_col);
  free(bs.in_line);
  free(bs.in_col);
  free(bs.eg_line);
  free(bs.eg_col);
  if (rc < 0) {
    sfl_config_free(out);
    return -1;
  }
  return 0;
}

/* The whole file, NUL-terminated (also sizes *len); NULL with errno set
 * (ENOMEM when out of memory, EFBIG over `max` bytes, EIO on a read
 * error). */
char *cfg_read_file(const char *path, size_t max, size_t *len_out) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t len = 0, cap = 0;
  int e = 0;
  for (;;) {
    if (len + 4096 + 1 > cap) {
      cap = cap ? 2 * cap : 8192;
      char *b = realloc(buf, cap);
      if (!b) {
        e = ENOMEM;
        break;
      }
      buf = b;
    }
    size_t r = fread(buf + len, 1, cap - len - 1, f);
    len += r;
    if (len > max) e = EFBIG;
    if (r == 0 || e) break;
  }
  if (!e && ferror(f)) e = EIO;
  fclose(f);
  if (e) {
    free(buf);
    errno = e;
    return NULL;
  }
  buf[len] = 0;
  if (len_out) *len_out = len;
  return buf;
}

int sfl_config_load(const char *path, sfl_config *out, char *err,
                    size_t err_len) {
  memset(out, 0, sizeof *out);
  size_t len = 0;
  char *buf = cfg_read_file(path, SIZE_MAX / 2, &len);
  if (!buf) {
    if (err && err_len)
      snprintf(err, err_len, "%s:1:1: %s: %s", path,
               errno == ENOMEM || errno == EIO ? "cannot read" : "cannot open",
               strerror(errno));
    return -1;
  }
  int rc = sfl_config_parse(path, buf, len, out, err, err_len);
  free(buf);
  return rc;
}

void sfl_endpoint_tls_free(sfl_endpoint *ep) {
  free(ep->trust_cacerts);
  free(ep->client_cert);
  free(ep->client_key);
  if (ep->client_key_password) { /* a secret: wipe it */
    memset(ep->client_key_password, 0, strlen(ep->client_key_password));
    free(ep->client_key_password);
  }
  ep->trust_cacerts = ep->client_cert = ep->client_key = NULL;
  ep->client_key_password = NULL;
}

void sfl_config_free(sfl_config *cfg) {
  if (!cfg) return;
  for (size_t i = 0; i < cfg->n_endpoints; i++) {
    free(cfg->endpoints[i].functions);
    free(cfg->endpoints[i].url_template);
    sfl_endpoint_tls_free(&cfg->endpoints[i]);
  }
  free(cfg->endpoints);
  for (size_t i = 0; i < cfg->n_ingresses; i++)
    cfg_ingress_free(&cfg->ingresses[i]);
  free(cfg->ingresses);
  for (size_t i = 0; i < cfg->n_egresses; i++) {
    free(cfg->egresses[i].id);
    for (size_t j = 0; j < cfg->egresses[i].n_topics; j++)
      free(cfg->egresses[i].topics[j]);
    free(cfg->egresses[i].topics);
  }
  free(cfg->egresses);
  free(cfg->path);
  memset(cfg, 0, sizeof *cfg);
}

const sfl_endpoint *sfl_config_endpoint_for(const sfl_config *cfg,
                                            const char *typename) {
  if (!cfg || !typename) return NULL;
  const char *slash = strchr(typename, '/');
  if (!slash) return NULL;
  size_t nslen = (size_t)(slash - typename);
  const sfl_endpoint *wild = NULL;
  for (size_t i = 0; i < cfg->n_endpoints; i++) {
    const char *p = cfg->endpoints[i].functions;
    if (!strcmp(p, typename)) return &cfg->endpoints[i];
    if (!wild && strlen(p) == nslen + 2 && !strncmp(p, typename, nslen) &&
        !strcmp(p + nslen, "/*"))
      wild = &cfg->endpoints[i];
  }
  return wild;
}

char *sfl_endpoint_url(const sfl_endpoint *ep, const char *typename) {
  static const char hole[] = "{function.name}";
  const size_t hlen = sizeof hole - 1;
  if (!ep || !typename) return NULL;
  const char *slash = strchr(typename, '/');
  const char *name = slash ? slash + 1 : typename;
  size_t nlen = strlen(name), holes = 0;
  for (const char *p = ep->url_template; (p = strstr(p, hole)); p += hlen)
    holes++;
  size_t len = strlen(ep->url_template) + holes * nlen - holes * hlen;
  char *out = malloc(len + 1), *w = out;
  if (!out) return NULL;
  const char *p = ep->url_template, *h;
  while ((h = strstr(p, hole))) {
    memcpy(w, p, (size_t)(h - p));
    w += h - p;
    memcpy(w, name, nlen);
    w += nlen;
    p = h + hlen;
  }
  strcpy(w, p);
  return out;
}
