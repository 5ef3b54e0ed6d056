/*
 * A main() for the fuzz harnesses in ordinary (non-libFuzzer) builds: runs
 * every file named on the command line, or found in a directory named on
 * it, through LLVMFuzzerTestOneInput once. Options starting with '-' are
 * ignored, so the same CTest command line works with libFuzzer binaries.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return 1;
  }
  size_t cap = 4096, len = 0;
  uint8_t *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
    len += got;
    if (len == cap) {
      uint8_t *p = realloc(buf, cap *= 2);
      if (!p) free(buf);
      buf = p;
    }
  }
  fclose(f);
  if (!buf) return 1;
  /* An exact-size copy so that reads past the end are caught by ASan. */
  uint8_t *exact = malloc(len ? len : 1);
  if (!exact) return 1;
  memcpy(exact, buf, len);
  free(buf);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  return 0;
}

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  int files = 0, failures = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (argv[i][0] == '-') continue;
    if (stat(argv[i], &st) != 0) {
      perror(argv[i]);
      failures++;
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      failures += run_file(argv[i]);
      files++;
      continue;
    }
    DIR *d = opendir(argv[i]);
    if (!d) {
      perror(argv[i]);
      failures++;
      continue;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.') continue;
      char **p = realloc(names, (n + 1) * sizeof *names);
      if (!p) return 1;
      names = p;
      size_t len = strlen(argv[i]) + strlen(e->d_name) + 2;
      names[n] = malloc(len);
      if (!names[n]) return 1;
      snprintf(names[n], len, "%s/%s", argv[i], e->d_name);
      n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp);
    for (size_t k = 0; k < n; k++) {
      failures += run_file(names[k]);
      files++;
      free(names[k]);
    }
    free(names);
  }
  printf("%s: ran %d inputs, %d unreadable\n", argv[0], files, failures);
  return failures || files == 0 ? 1 : 0;
}
