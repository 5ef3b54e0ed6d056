/*
 * ir_input.c - --ir FILE.json: the entities of an entity IR
 * (docs/entity-ir.md) as function types.
 *
 * The IR is read and checked by codegen's own reader (sfc_ir, ir.c), so an
 * IR that sf-codegen refuses is refused here with the same message. Every
 * entity becomes the function type "<namespace>/<Entity>"; sfm_app_finish
 * merges them into the endpoints (a type the command line or the config
 * file already declares is not repeated), adds the replies egress
 * "<namespace>.io/replies" when no egress is declared, and, with
 * --entity-topics, one Kafka topic "<namespace>.<Entity>" of
 * statefun.entities/Call per entity.
 */
#include "modgen.h"

#include "ir.h"

#include <stdlib.h>
#include <string.h>

static char *fmt_dup(const char *a, const char *sep, const char *b) {
  size_t n = strlen(a) + strlen(sep) + strlen(b) + 1;
  char *s = malloc(n);
  if (s) snprintf(s, n, "%s%s%s", a, sep, b);
  return s;
}

int sfm_ir_load(sfm_app *app, const char *path) {
  sfc_ir ir;
  char err[4096 + 512];
  if (sfc_ir_load(path, &ir, err, sizeof err) < 0) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  int rc = 0;
  bool have_ns = false;
  for (size_t i = 0; i < app->n_ir_namespaces; i++)
    have_ns |= !strcmp(app->ir_namespaces[i], ir.namespace_);
  if (!have_ns) {
    char **ns = realloc(app->ir_namespaces,
                        (app->n_ir_namespaces + 1) * sizeof *ns);
    char *d = strdup(ir.namespace_);
    if (!ns || !d) {
      free(d);
      if (ns) app->ir_namespaces = ns;
      sfc_ir_free(&ir);
      return sfm_error(NULL, "out of memory");
    }
    app->ir_namespaces = ns;
    app->ir_namespaces[app->n_ir_namespaces++] = d;
  }
  for (size_t i = 0; i < ir.n_entities && rc == 0; i++) {
    const sfc_entity *e = &ir.entities[i];
    char where[4096 + 64];
    snprintf(where, sizeof where, "%s:%d:%d", path, e->pos.line, e->pos.col);
    char *type = fmt_dup(ir.namespace_, "/", e->name);
    if (!type) {
      rc = sfm_error(NULL, "out of memory");
      break;
    }
    rc = sfm_check_typename(where, "function type", type);
    for (size_t k = 0; k < app->n_ir_types && rc == 0; k++)
      if (!strcmp(app->ir_types[k].pattern, type))
        rc = sfm_error(where, "entity '%s' is declared twice (first at "
                       "%s)", type, app->ir_types[k].where);
    if (rc == 0) {
      sfm_function *t = realloc(app->ir_types,
                                (app->n_ir_types + 1) * sizeof *t);
      char *w = strdup(where);
      if (!t || !w) {
        free(w);
        if (t) app->ir_types = t;
        free(type);
        rc = sfm_error(NULL, "out of memory");
        break;
      }
      app->ir_types = t;
      t[app->n_ir_types].pattern = type;
      t[app->n_ir_types].where = w;
      t[app->n_ir_types].from_ir = true;
      app->n_ir_types++;
    } else {
      free(type);
    }
  }
  sfc_ir_free(&ir);
  return rc;
}
