/*
 * gen.c - sf-codegen's C generator: an sfc_ir in, <base>.h and <base>.c
 * out (docs/codegen.md describes what is generated and why). This file
 * puts the parts together in the order of the output and writes the
 * files; the parts are listed in gen_impl.h (names, header, codecs, state,
 * methods and entities).
 */
#define _GNU_SOURCE /* open_memstream */
#include "gen_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------ */
/* Putting it together                                                  */
/* ------------------------------------------------------------------ */

static int close_mem(gen *g, FILE *f) {
  if (f && fclose(f) != 0) g->oom = true;
  return 0;
}

/* The body of <base>.c: record codecs, per entity its state and methods,
 * the register function (into g->c), then the list/map/{1: value} codecs
 * the body turned out to need (into g->wr). */
static void emit_source_body(gen *g) {
  const sfc_ir *ir = g->ir;
  for (size_t i = 0; i < ir->n_records; i++)
    emit_record(g, g->c, &ir->records[i]);
  for (size_t i = 0; i < ir->n_entities; i++)
    emit_entity(g, g->c, &ir->entities[i]);
  fprintf(g->c,
          "sf_status %s_register(sf_handler *h) {\n  sf_status st = SF_OK;\n",
          g->base);
  for (size_t i = 0; i < ir->n_entities; i++)
    fprintf(g->c,
            "  if (st == SF_OK) st = sf_entity_register(h, &%s_entity);\n",
            ir->entities[i].name);
  fprintf(g->c, "  return st;\n}\n");
  fprintf(g->wr, "\n/* ---- list, map and {1: value} codecs ---- */\n\n");
  emit_helpers(g, g->wr);
}

/* The top of <base>.c: banner, includes, prototypes of the static codecs
 * used before their definition, and the shared statics. */
static void emit_source_top(gen *g, FILE *t) {
  const sfc_ir *ir = g->ir;
  const char *base = g->base;
  emit_banner(g, t, S(g, "%s.c", base),
              "wire codecs, state, descriptors of the entities");
  fprintf(t,
          "#include \"%s.h\"\n\n#include <stddef.h>\n#include <stdint.h>\n"
          "#include <string.h>\n\n",
          base);
  if (g->n_helpers || ir->n_records)
    fprintf(t, "/* Codecs used before their definition. */\n");
  for (size_t i = 0; i < ir->n_records; i++)
    fprintf(t,
            "static sf_status sf__read_%s(sf_arena *a, sf_rbuf *r, %s *v);\n",
            ir->records[i].name, ir->records[i].name);
  for (size_t i = 0; i < g->n_helpers; i++)
    for (int k = 0; k < H_N; k++)
      if (g->helpers[i].need[k]) emit_helper_proto(g, t, g->helpers[i].type, k);
  fputc('\n', t);
  if (ir->n_records)
    fprintf(t,
            "/* Records nest at most this deep in decoded input (a record "
            "may contain\n * itself through a list or map). */\n"
            "#define SF__MAX_DEPTH 100\nstatic _Thread_local unsigned "
            "sf__depth;\n\n");
}

int sfc_gen_text(const sfc_ir *ir, const char *source, const char *base,
                 char **header, size_t *header_len, char **source_text,
                 size_t *source_len, char *err, size_t err_len) {
  gen g;
  memset(&g, 0, sizeof g);
  g.ir = ir;
  g.source = source;
  g.base = base;
  g.err = err;
  g.err_len = err_len;
  *header = *source_text = NULL;
  *header_len = *source_len = 0;
  g.ns = c_ident(ir->namespace_);
  char *hb = NULL, *cb = NULL, *wb = NULL, *top = NULL;
  size_t hl = 0, cl = 0, wl = 0, tl = 0;
  int rc = SFC_GEN_OK;
  if (!g.ns) {
    g.oom = true;
    goto done;
  }
  collect_all(&g);
  if (!g.failed) check_names(&g);
  if (g.failed || g.oom) goto done;

  g.h = open_memstream(&hb, &hl);
  g.c = open_memstream(&cb, &cl);
  g.wr = open_memstream(&wb, &wl);
  if (!g.h || !g.c || !g.wr) {
    g.oom = true;
    goto done;
  }
  emit_header(&g);

  /* the body first: it tells which helpers are used */
  emit_source_body(&g);
  FILE *t = open_memstream(&top, &tl);
  if (!t) {
    g.oom = true;
    goto done;
  }
  emit_source_top(&g, t);
  close_mem(&g, t);
  t = NULL;

done:
  if (g.h) close_mem(&g, g.h);
  if (g.c) close_mem(&g, g.c);
  if (g.wr) close_mem(&g, g.wr);
  if (g.failed) {
    rc = SFC_GEN_INVALID;
  } else if (g.oom) {
    snprintf(err, err_len, "sf-codegen: out of memory");
    rc = SFC_GEN_IO;
  } else {
    size_t n = tl + cl + wl;
    char *all = malloc(n + 1);
    if (!all) {
      snprintf(err, err_len, "sf-codegen: out of memory");
      rc = SFC_GEN_IO;
    } else {
      memcpy(all, top, tl);
      memcpy(all + tl, cb, cl);
      memcpy(all + tl + cl, wb, wl);
      all[n] = '\0';
      /* the wrappers follow the register function: one blank line */
      *header = hb;
      *header_len = hl;
      hb = NULL;
      *source_text = all;
      *source_len = n;
    }
  }
  free(hb);
  free(cb);
  free(wb);
  free(top);
  for (size_t i = 0; i < g.n_pool; i++) free(g.pool[i]);
  free(g.pool);
  free(g.conts);
  free(g.helpers);
  free(g.ns);
  return rc;
}

/* ------------------------------------------------------------------ */
/* Files                                                                */
/* ------------------------------------------------------------------ */

/* True when `path` holds exactly these bytes. */
static bool same_content(const char *path, const char *data, size_t len) {
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  bool same = true;
  char buf[8192];
  size_t off = 0, n;
  while (same && (n = fread(buf, 1, sizeof buf, f)) > 0) {
    if (off + n > len || memcmp(buf, data + off, n) != 0) same = false;
    off += n;
  }
  if (ferror(f)) same = false;
  fclose(f);
  return same && off == len;
}

static int write_tmp(const char *tmp, const char *data, size_t len) {
  FILE *f = fopen(tmp, "wb");
  bool ok = f && fwrite(data, 1, len, f) == len;
  if (f) ok = (fclose(f) == 0) && ok;
  if (!ok) {
    fprintf(stderr, "sf-codegen: cannot write %s: %s\n", tmp, strerror(errno));
    remove(tmp);
    return SFC_GEN_IO;
  }
  return SFC_GEN_OK;
}

/* The IR path the banner names: never an absolute path of the build
 * machine (generated files travel: packages, diffs, other machines). A
 * relative path is named as given; an absolute one relative to the
 * current directory when it lies inside it (statefun_add_entities runs
 * sf-codegen from the top of the source tree), else by its file name. */
static void banner_source(const char *path, char *out, size_t n) {
  if (path[0] != '/') {
    snprintf(out, n, "%s", path);
    return;
  }
  char *ir = realpath(path, NULL), *cwd = realpath(".", NULL);
  size_t cl = cwd ? strlen(cwd) : 0; /* "/" never matches: a file name */
  if (ir && cwd && strncmp(ir, cwd, cl) == 0 && ir[cl] == '/' && ir[cl + 1]) {
    snprintf(out, n, "%s", ir + cl + 1);
  } else {
    const char *slash = strrchr(path, '/');
    snprintf(out, n, "%s", slash[1] ? slash + 1 : path);
  }
  free(ir);
  free(cwd);
}

int sfc_gen_write(const sfc_ir *ir, const char *dir) {
  char base[512], source[4096], err[2048];
  sfc_gen_base(ir->path, base, sizeof base);
  banner_source(ir->path, source, sizeof source);
  char *h = NULL, *c = NULL;
  size_t hl = 0, cl = 0;
  int rc = sfc_gen_text(ir, source, base, &h, &hl, &c, &cl, err, sizeof err);
  if (rc != SFC_GEN_OK) {
    fprintf(stderr, "%s\n", err);
    return rc;
  }
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "sf-codegen: cannot create %s: %s\n", dir,
            strerror(errno));
    free(h);
    free(c);
    return SFC_GEN_IO;
  }
  const char *data[2] = {h, c};
  size_t lens[2] = {hl, cl};
  char path[2][4096], tmp[2][4200];
  bool write[2];
  for (int i = 0; i < 2; i++) {
    snprintf(path[i], sizeof path[i], "%s/%s.%s", dir, base, i ? "c" : "h");
    snprintf(tmp[i], sizeof tmp[i], "%s.tmp", path[i]);
    write[i] = !same_content(path[i], data[i], lens[i]);
  }
  for (int i = 0; i < 2 && rc == SFC_GEN_OK; i++)
    if (write[i]) rc = write_tmp(tmp[i], data[i], lens[i]);
  for (int i = 0; i < 2 && rc == SFC_GEN_OK; i++)
    if (write[i] && rename(tmp[i], path[i]) != 0) {
      fprintf(stderr, "sf-codegen: cannot write %s: %s\n", path[i],
              strerror(errno));
      rc = SFC_GEN_IO;
    }
  if (rc != SFC_GEN_OK)
    for (int i = 0; i < 2; i++) remove(tmp[i]);
  free(h);
  free(c);
  return rc;
}
