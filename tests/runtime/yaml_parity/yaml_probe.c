/*
 * yaml_probe.c - runs sf-local's YAML pass (config_yaml.c: the UTF-8 and
 * tab checks and libyaml's events, before any key is read) over each file
 * named on the command line and prints one line per file: "OK", or "ERR
 * line:col message". The counterpart of YamlProbe.java for yaml_parity.py.
 */
#include "config_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t cap = 0, n = 0, got;
  do {
    if (n == cap) {
      char *b = realloc(buf, cap = cap ? 2 * cap : 4096);
      if (!b) break;
      buf = b;
    }
    got = fread(buf + n, 1, cap - n, f);
    n += got;
  } while (got > 0);
  fclose(f);
  *len = n;
  return buf;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    size_t len = 0;
    char *text = slurp(argv[i], &len);
    if (!text) {
      perror(argv[i]);
      return 2;
    }
    char err[1024] = "";
    ctx c = {.path = "", .err = err, .err_len = sizeof err};
    ydocs docs = {0};
    if (cfg_parse_stream(&c, text, len, &docs) == 0)
      puts("OK");
    else /* err is ":line:col: message" (the path is empty) */
      printf("ERR %s\n", err + 1);
    free(docs.v);
    cfg_pool_free(&c.pool);
    free(c.anchors);
    free(text);
  }
  return 0;
}
