/*
 * trace_spans.c - the output of sf-local's spans (trace_spans.h): one
 * file, one lock, the tree's OTLP/JSON writer.
 */
#include "trace_spans.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

FILE *sflt_out;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

int sflt_open(const char *path, char *err, size_t err_len) {
  FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "a");
  if (f == NULL) {
    snprintf(err, err_len, "--trace-out %s: %s", path, strerror(errno));
    return -1;
  }
  pthread_mutex_lock(&out_mu);
  if (sflt_out != NULL && sflt_out != stdout) fclose(sflt_out);
  sflt_out = f;
  pthread_mutex_unlock(&out_mu);
  return 0;
}

void sflt_close(void) {
  pthread_mutex_lock(&out_mu);
  if (sflt_out != NULL && sflt_out != stdout) fclose(sflt_out);
  else if (sflt_out != NULL) fflush(sflt_out);
  sflt_out = NULL;
  pthread_mutex_unlock(&out_mu);
}

void sflt_write(const sfb_otlp_span *sp) {
  pthread_mutex_lock(&out_mu);
  if (sflt_out != NULL) sfb_otlp_write(sflt_out, "sf-local", "statefun-c.sf-local", sp);
  pthread_mutex_unlock(&out_mu);
}
