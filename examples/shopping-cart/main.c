/*
 * shopping-cart - the shop's entities (shop.ir.json, cart.c) served over
 * HTTP as StateFun remote functions shop/User and shop/Item.
 *
 *   shopping-cart --listen 127.0.0.1:8000 [--threads N] [--quiet]
 *
 * module.yaml points StateFun (or sf-local) at it. See README.md.
 */
#include <stdio.h>

#include <statefun/server.h>
#include <statefun/statefun.h>

#include "shop.h" /* generated from shop.ir.json by sf-codegen */

int main(int argc, char **argv) {
  sf_handler *handler = sf_handler_new();
  if (handler == NULL) {
    fprintf(stderr, "shopping-cart: out of memory\n");
    return 1;
  }
  /* Registers shop/User and shop/Item (generated). */
  sf_status st = shop_register(handler);
  if (st != SF_OK) {
    fprintf(stderr, "shopping-cart: cannot register the entities: %s\n", sf_strerror(st));
    sf_handler_free(handler);
    return 1;
  }
  int rc = sf_server_main(handler, argc, argv); /* until SIGTERM/SIGINT */
  sf_handler_free(handler);
  return rc;
}
