/*
 * sf-codegen - the entity IR (docs/entity-ir.md) in, C out.
 *
 *   sf-codegen --check IR.json              validate, print a summary
 *   sf-codegen --dot IR.json [--src C]... [-o F] [--svg]
 *                                           the call graph, and per method
 *                                           its awaits' control flow
 *   sf-codegen IR.json -o DIR               generate DIR/<base>.h and .c
 *
 * Exit codes: 0 ok; 1 an I/O or tool failure (cannot write, `dot` failed);
 * 2 the IR is invalid (one "file:line:col: message" on stderr) or the
 * command line is wrong. (3, "not implemented", is no longer used.)
 * Output files are written to FILE.tmp and renamed into place, so a failure
 * never leaves half a file behind.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dot.h"
#include "flow.h"
#include "gen.h"
#include "ir.h"

#ifndef SFC_VERSION
#define SFC_VERSION "0.0.0"
#endif

enum { EXIT_OK = 0, EXIT_IO = 1, EXIT_INVALID = 2 };

static void usage(FILE *out) {
  fputs("usage: sf-codegen --check IR.json\n"
        "       sf-codegen --dot IR.json [--src FILE.c]... [-o OUT] [--svg]\n"
        "       sf-codegen IR.json -o DIR\n"
        "       sf-codegen --help | --version\n"
        "\n"
        "Reads an entity IR (docs/entity-ir.md) and checks it; every error is\n"
        "reported as file:line:col: message.\n"
        "\n"
        "  --check      validate the IR and print a summary of its records,\n"
        "               entities, methods and awaits\n"
        "  --dot        write a Graphviz graph: entity -> entity per await,\n"
        "               and per awaiting method its awaits\n"
        "  --src FILE   with --dot (repeatable): C source with SF_METHOD bodies;\n"
        "               each method is drawn as its body runs: awaits, the\n"
        "               conditions between them, loops, SF_FAIL, return\n"
        "  --svg        with --dot: run Graphviz 'dot -Tsvg' on it\n"
        "  -o PATH      the output file (--dot; default: standard output) or,\n"
        "               without --check/--dot, the directory for generated C:\n"
        "               DIR/<base>.h and DIR/<base>.c, <base> the IR file's name\n"
        "               without .ir.json (see docs/codegen.md)\n"
        "  --help       this text\n"
        "  --version    the version\n"
        "\n"
        "Exit codes: 0 ok, 1 I/O or tool failure, 2 invalid IR or usage.\n",
        out);
}

static int usage_error(const char *fmt, const char *arg) {
  fputs("sf-codegen: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs(" (see sf-codegen --help)\n", stderr);
  return EXIT_INVALID;
}

static void print_type_list(FILE *out, const sfc_field *f, size_t n) {
  for (size_t i = 0; i < n; i++)
    fprintf(out, "%s%s %s", i ? ", " : "", f[i].name, f[i].type->text);
}

static void summary(const sfc_ir *ir, FILE *out) {
  size_t n_methods = 0, n_awaits = 0;
  for (size_t i = 0; i < ir->n_entities; i++) {
    n_methods += ir->entities[i].n_methods;
    for (size_t j = 0; j < ir->entities[i].n_methods; j++)
      n_awaits += ir->entities[i].methods[j].n_awaits;
  }
  fprintf(out,
          "%s: ok: namespace %s, %zu record%s, %zu entit%s, %zu method%s, "
          "%zu await%s\n",
          ir->path, ir->namespace_, ir->n_records,
          ir->n_records == 1 ? "" : "s", ir->n_entities,
          ir->n_entities == 1 ? "y" : "ies", n_methods,
          n_methods == 1 ? "" : "s", n_awaits, n_awaits == 1 ? "" : "s");
  for (size_t i = 0; i < ir->n_records; i++) {
    const sfc_record *r = &ir->records[i];
    fprintf(out, "  record %s {", r->name);
    print_type_list(out, r->fields, r->n_fields);
    fprintf(out, "}\n");
  }
  for (size_t i = 0; i < ir->n_entities; i++) {
    const sfc_entity *e = &ir->entities[i];
    fprintf(out, "  entity %s/%s {", ir->namespace_, e->name);
    print_type_list(out, e->state, e->n_state);
    fprintf(out, "}\n");
    for (size_t j = 0; j < e->n_methods; j++) {
      const sfc_method *m = &e->methods[j];
      fprintf(out, "    %s(", m->name);
      print_type_list(out, m->params, m->n_params);
      fprintf(out, ") -> %s%s%s\n", m->result->text,
              m->read_only ? " read_only" : "",
              m->reentrant ? " reentrant" : "");
      for (size_t k = 0; k < m->n_awaits; k++)
        fprintf(out, "      await %s: %s\n", m->awaits[k].label,
                m->awaits[k].target_text);
    }
  }
}

/* Graphviz's dot in PATH? */
static bool have_dot(void) {
  const char *path = getenv("PATH");
  if (!path) return false;
  char buf[4096];
  while (*path) {
    size_t n = strcspn(path, ":");
    snprintf(buf, sizeof buf, "%.*s/dot", (int)n, n ? path : ".");
    if (access(buf, X_OK) == 0) return true;
    path += n;
    if (*path) path++;
  }
  return false;
}

/* Pipes `data` into `dot -Tsvg [-o out]`. */
static int run_dot(const char *data, size_t len, const char *out) {
  int fds[2];
  if (pipe(fds) < 0) {
    fprintf(stderr, "sf-codegen: pipe: %s\n", strerror(errno));
    return EXIT_IO;
  }
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "sf-codegen: fork: %s\n", strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return EXIT_IO;
  }
  if (pid == 0) {
    dup2(fds[0], 0);
    close(fds[0]);
    close(fds[1]);
    if (out)
      execlp("dot", "dot", "-Tsvg", "-o", out, (char *)NULL);
    else
      execlp("dot", "dot", "-Tsvg", (char *)NULL);
    _exit(127);
  }
  close(fds[0]);
  bool ok = true;
  for (size_t off = 0; off < len;) {
    ssize_t w = write(fds[1], data + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      ok = false;
      break;
    }
    off += (size_t)w;
  }
  close(fds[1]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!ok || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "sf-codegen: dot -Tsvg failed\n");
    return EXIT_IO;
  }
  return EXIT_OK;
}

static int write_file(const char *path, const char *data, size_t len) {
  size_t n = strlen(path) + 5;
  char *tmp = malloc(n);
  if (!tmp) {
    fprintf(stderr, "sf-codegen: out of memory\n");
    return EXIT_IO;
  }
  snprintf(tmp, n, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  bool ok = f && fwrite(data, 1, len, f) == len;
  if (f) ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    fprintf(stderr, "sf-codegen: cannot write %s: %s\n", path,
            strerror(errno));
    remove(tmp);
    free(tmp);
    return EXIT_IO;
  }
  free(tmp);
  return EXIT_OK;
}

static int do_dot(const sfc_ir *ir, const sfc_flow *flow, const char *out,
                  bool svg) {
  char *buf = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&buf, &len);
  if (!mem || sfc_dot_write(ir, flow, mem) < 0 || fclose(mem) != 0) {
    fprintf(stderr, "sf-codegen: out of memory\n");
    free(buf);
    return EXIT_IO;
  }
  int rc;
  if (svg) {
    rc = run_dot(buf, len, out);
  } else if (out) {
    rc = write_file(out, buf, len);
  } else {
    rc = fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0 ? EXIT_OK
                                                                   : EXIT_IO;
    if (rc) fprintf(stderr, "sf-codegen: cannot write the output\n");
  }
  free(buf);
  return rc;
}

int main(int argc, char **argv) {
  bool check = false, dot = false, svg = false;
  const char *input = NULL, *out = NULL;
  const char *srcs[64];
  size_t n_srcs = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return EXIT_OK;
    } else if (!strcmp(a, "--version")) {
      printf("sf-codegen %s\n", SFC_VERSION);
      return EXIT_OK;
    } else if (!strcmp(a, "--check")) {
      check = true;
    } else if (!strcmp(a, "--dot")) {
      dot = true;
    } else if (!strcmp(a, "--svg")) {
      svg = true;
    } else if (!strcmp(a, "--src")) {
      if (i + 1 >= argc) return usage_error("%s needs a C file", a);
      if (n_srcs == sizeof srcs / sizeof srcs[0])
        return usage_error("%s: at most 64 files", a);
      srcs[n_srcs++] = argv[++i];
    } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
      if (i + 1 >= argc) return usage_error("%s needs a path", a);
      if (out) return usage_error("%s given twice", a);
      out = argv[++i];
    } else if (a[0] == '-' && a[1]) {
      return usage_error("unknown option '%s'", a);
    } else {
      if (input) return usage_error("more than one IR file ('%s')", a);
      input = a;
    }
  }
  if (check && dot) return usage_error("%s", "--check and --dot exclude each other");
  if (svg && !dot) return usage_error("%s", "--svg goes with --dot");
  if (n_srcs && !dot) return usage_error("%s", "--src goes with --dot");
  if (check && out) return usage_error("%s", "--check writes no file: drop -o");
  if (!input) return usage_error("%s", "no IR file given");
  if (!check && !dot && !out)
    return usage_error("%s", "nothing to do: give --check, --dot or -o DIR");
  if (svg && !have_dot()) {
    fprintf(stderr, "sf-codegen: --svg needs Graphviz's 'dot' in PATH\n");
    return EXIT_IO;
  }

  sfc_ir ir;
  char err[2048];
  if (sfc_ir_load(input, &ir, err, sizeof err) < 0) {
    fprintf(stderr, "%s\n", err);
    return EXIT_INVALID;
  }
  int rc = EXIT_OK;
  if (check) {
    summary(&ir, stdout);
  } else if (dot) {
    sfc_flow flow = {0};
    for (size_t k = 0; k < n_srcs && rc == EXIT_OK; k++)
      if (sfc_flow_scan(srcs[k], &flow, err, sizeof err) < 0) {
        fprintf(stderr, "sf-codegen: %s\n", err);
        rc = EXIT_IO;
      }
    if (rc == EXIT_OK) rc = do_dot(&ir, n_srcs ? &flow : NULL, out, svg);
    sfc_flow_free(&flow);
  } else {
    rc = sfc_gen_write(&ir, out);
  }
  sfc_ir_free(&ir);
  return rc;
}
