/*
 * greeter - the greeter.fns/greet function served over HTTP.
 *
 *   greeter --listen 127.0.0.1:8000
 *
 * Point a StateFun module.yaml at it:
 *
 *   kind: io.statefun.endpoints.v2/http
 *   spec:
 *     functions: greeter.fns/greet
 *     urlPathTemplate: http://localhost:8000/statefun/{function.name}
 *
 * and try it without Flink with greeter-demo. See greet.c for what the
 * function does.
 */
#include <stdio.h>

#include <statefun/server.h>
#include <statefun/statefun.h>

#include "greet.h"

int main(int argc, char **argv) {
  sf_handler *handler = sf_handler_new();
  if (handler == NULL) {
    fprintf(stderr, "greeter: out of memory\n");
    return 1;
  }
  sf_status st = greeter_register(handler);
  if (st != SF_OK) {
    fprintf(stderr, "greeter: cannot register %s: %s\n", GREETER_FUNCTION,
            sf_strerror(st));
    sf_handler_free(handler);
    return 1;
  }
  int rc = sf_server_main(handler, argc, argv); /* until SIGTERM/SIGINT */
  sf_handler_free(handler);
  return rc;
}
