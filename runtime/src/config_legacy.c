/*
 * config_legacy.c - the legacy single-document module.yaml format
 * (JsonServiceLoader -> LegacyRemoteModuleV30): its endpoints, ingresses
 * and egresses are converted to the same components and bound by the same
 * code as the multi-document format.
 */
#include "config_impl.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A copy of `spec` with `id` set to `id` (LegacyRemoteModuleV30 puts
 * meta.id into the spec, replacing any id there). */
static ynode *spec_with_id(ctx *c, const ynode *spec, ynode *id_key,
                           ynode *id) {
  ynode *n = cfg_node_new(c, YN_MAP, spec->line, spec->col);
  if (!n) return NULL;
  for (size_t i = 0; i + 1 < spec->n; i += 2) {
    if (spec->kids[i]->type == YN_SCALAR && !strcmp(spec->kids[i]->text, "id"))
      continue;
    if (cfg_node_add(n, spec->kids[i]) < 0 ||
        cfg_node_add(n, spec->kids[i + 1]) < 0)
      return NULL;
  }
  if (cfg_node_add(n, id_key) < 0 || cfg_node_add(n, id) < 0) return NULL;
  return n;
}

/* A required string at map[key] for the legacy format's meta blocks. */
static int legacy_str(ctx *c, const ynode *map, const char *key,
                      const char *where, ynode **out) {
  if (cfg_get_str(c, map, key, true, where, out) < 0) return -1;
  return 0;
}

/*
 * One entry of module.spec.endpoints / ingresses / egresses:
 *   - endpoint: {meta: {kind}, spec}
 *   - ingress: {meta: {type, id}, spec}      (egress alike)
 * The kind / type is converted as LegacyRemoteModuleV30 converts it
 * (http -> io.statefun.endpoints.v1/http, io.statefun.kafka/ingress ->
 * io.statefun.kafka.v1/ingress, ...); any other kind is taken as it is.
 */
static int parse_legacy_item(ctx *c, build_state *bs, const ynode *item,
                             const char *what_) {
  if (item->type != YN_MAP)
    return cfg_fail(c, item,
                    "each entry of '%ss' must be a mapping with '%s', "
                    "not %s",
                    what_, what_, cfg_what(item));
  if (cfg_check_keys(c, item) < 0) return -1;
  ynode *body, *meta, *kind, *id = NULL;
  char where[64];
  snprintf(where, sizeof where, "legacy %s", what_);
  if (cfg_get_map(c, item, what_, true, where, &body) < 0 ||
      cfg_get_map(c, body, "meta", true, where, &meta) < 0)
    return -1;
  bool endpoint = !strcmp(what_, "endpoint");
  if (legacy_str(c, meta, endpoint ? "kind" : "type", "meta", &kind) < 0)
    return -1;
  if (!endpoint && legacy_str(c, meta, "id", "meta", &id) < 0) return -1;
  ynode *spec = cfg_map_get(body, "spec");
  if (!spec || cfg_is_null(spec))
    return cfg_fail(c, body, "%s: missing required key 'spec'", where);
  if (spec->type != YN_MAP)
    return cfg_fail(c, spec, "'spec' must be a mapping, not %s",
                    cfg_what(spec));
  if (cfg_check_keys(c, spec) < 0) return -1;
  const char *k = cfg_legacy_kind_of(kind->text);
  if (id) {
    const ynode *id_key = NULL;
    for (size_t i = 0; i + 1 < meta->n; i += 2)
      if (!strcmp(meta->kids[i]->text, "id")) id_key = meta->kids[i];
    spec = spec_with_id(c, spec, (ynode *)id_key, id);
    if (!spec) return cfg_oom(c);
  }
  return cfg_bind_component(c, bs, item, kind, k ? k : kind->text, spec);
}

/*
 * The legacy format: the file's one document is
 *   version: "3.0"
 *   module: {meta: {type: remote}, spec: {endpoints, ingresses, egresses}}
 * checked as JsonServiceLoader checks it, then endpoints, ingresses and
 * egresses are bound in that order.
 */
int cfg_parse_legacy(ctx *c, build_state *bs, const ynode *doc) {
  ynode *v = cfg_map_get(doc, "version");
  if (v->type != YN_SCALAR || cfg_is_null(v))
    return cfg_fail(c, v, "'version' must be a string, not %s", cfg_what(v));
  if (v->plain && isdigit((unsigned char)v->text[0]))
    return cfg_fail(c, v,
                    "version %s must be quoted (version: \"%s\"): Flink "
                    "reads an unquoted %s as a number and fails (\"not a "
                    "string\")",
                    cfg_q(c, v), cfg_q(c, v), cfg_q(c, v));
  ynode *module, *meta, *type, *spec;
  if (cfg_get_map(c, doc, "module", true, "legacy module", &module) < 0 ||
      cfg_get_map(c, module, "meta", true, "module", &meta) < 0 ||
      cfg_get_str(c, meta, "type", true, "module meta", &type) < 0)
    return -1;
  if (strcasecmp(type->text, "remote"))
    return cfg_fail(c, type,
                    "unknown module type '%s', currently supported: "
                    "remote",
                    cfg_q(c, type));
  if (!strcmp(v->text, "1.0") || !strcmp(v->text, "2.0"))
    return cfg_fail(c, v,
                    "only format versions 3.0 and later are supported, "
                    "not %s",
                    cfg_q(c, v));
  if (strcmp(v->text, "3.0"))
    return cfg_fail(c, v,
                    "unrecognized format version '%s'; the legacy format "
                    "Flink 3.x reads is version: \"3.0\"",
                    cfg_q(c, v));
  if (cfg_get_map(c, module, "spec", true, "module", &spec) < 0) return -1;
  static const char *const lists[] = {"endpoints", "ingresses", "egresses"};
  static const char *const items[] = {"endpoint", "ingress", "egress"};
  for (int l = 0; l < 3; l++) {
    ynode *seq;
    if (cfg_get_seq(c, spec, lists[l], false, "module spec", &seq) < 0)
      return -1;
    for (size_t i = 0; seq && i < seq->n; i++)
      if (parse_legacy_item(c, bs, seq->kids[i], items[l]) < 0) return -1;
  }
  return 0;
}

/* Flink's JsonServiceLoader: a file whose only document has a 'version'
 * is in the legacy format. */
bool cfg_is_legacy(const ydocs *docs) {
  return docs->n == 1 && docs->v[0] && docs->v[0]->type == YN_MAP &&
         cfg_map_get(docs->v[0], "version") && !cfg_map_get(docs->v[0], "kind");
}
