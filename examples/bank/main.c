/*
 * bank - the bank's entities (bank.ir.json, bank.c) served over HTTP as
 * StateFun remote functions bank/Account and bank/Bank.
 *
 *   bank --listen 127.0.0.1:8000 [--threads N]
 *
 * module.yaml points StateFun (or sf-local) at it. See README.md.
 */
#include <stdio.h>

#include <statefun/server.h>
#include <statefun/statefun.h>

#include "bank.h" /* generated from bank.ir.json by sf-codegen */

int main(int argc, char **argv) {
  sf_handler *handler = sf_handler_new();
  if (handler == NULL) {
    fprintf(stderr, "bank: out of memory\n");
    return 1;
  }
  /* Registers bank/Account and bank/Bank (generated). */
  sf_status st = bank_register(handler);
  if (st != SF_OK) {
    fprintf(stderr, "bank: cannot register the entities: %s\n", sf_strerror(st));
    sf_handler_free(handler);
    return 1;
  }
  int rc = sf_server_main(handler, argc, argv); /* until SIGTERM/SIGINT */
  sf_handler_free(handler);
  return rc;
}
