/*
 * sf-modgen - writes the StateFun 3.x module.yaml for a function server.
 *
 * main() only wires the steps together: parse the command line (and the
 * config file it names) into an sfm_app, check the whole app, print it into
 * memory, and only then write the output, so a bad option never leaves a
 * half-written module.yaml behind. -o FILE is written to FILE.tmp and
 * renamed into place.
 */
#include "modgen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int write_file(const char *path, const char *data, size_t len) {
  size_t n = strlen(path) + 5;
  char *tmp = malloc(n);
  if (!tmp) return sfm_error(NULL, "out of memory");
  snprintf(tmp, n, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    sfm_error(NULL, "cannot write %s: %s", tmp, strerror(errno));
    free(tmp);
    return -1;
  }
  bool ok = fwrite(data, 1, len, f) == len;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    sfm_error(NULL, "cannot write %s: %s", path, strerror(errno));
    remove(tmp);
    free(tmp);
    return -1;
  }
  free(tmp);
  return 0;
}

int main(int argc, char **argv) {
  sfm_app app = {0};
  const char *out_path = NULL;
  bool done = false;
  int rc = sfm_cli_parse(argc, argv, &app, &out_path, &done);
  if (done) {
    sfm_app_free(&app);
    return rc;
  }
  if (rc < 0 || sfm_app_finish(&app) < 0) {
    sfm_app_free(&app);
    return SFM_EXIT_USAGE;
  }
  char *buf = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&buf, &len);
  if (!mem || sfm_emit(&app, mem) < 0 || fclose(mem) != 0) {
    sfm_error(NULL, "out of memory");
    sfm_app_free(&app);
    free(buf);
    return SFM_EXIT_IO;
  }
  sfm_app_free(&app);
  rc = SFM_EXIT_OK;
  if (out_path) {
    if (write_file(out_path, buf, len) < 0) rc = SFM_EXIT_IO;
  } else if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
    sfm_error(NULL, "cannot write to standard output: %s", strerror(errno));
    rc = SFM_EXIT_IO;
  }
  free(buf);
  return rc;
}
