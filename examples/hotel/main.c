/*
 * hotel - the hotel reservation entities (hotel.ir.json, hotel.c) served
 * over HTTP as StateFun remote functions hotel/Geo, hotel/Rate, ...,
 * hotel/Frontend.
 *
 *   hotel --listen 127.0.0.1:8000 [--threads N]
 *
 * module.yaml points StateFun (or sf-local) at it; hotel-init loads the
 * data. See README.md.
 */
#include <stdio.h>

#include <statefun/server.h>
#include <statefun/statefun.h>

#include "hotel.h" /* generated from hotel.ir.json by sf-codegen */

int main(int argc, char **argv) {
  sf_handler *handler = sf_handler_new();
  if (handler == NULL) {
    fprintf(stderr, "hotel: out of memory\n");
    return 1;
  }
  /* Registers the eight entity types (generated). */
  sf_status st = hotel_register(handler);
  if (st != SF_OK) {
    fprintf(stderr, "hotel: cannot register the entities: %s\n", sf_strerror(st));
    sf_handler_free(handler);
    return 1;
  }
  int rc = sf_server_main(handler, argc, argv); /* until SIGTERM/SIGINT */
  sf_handler_free(handler);
  return rc;
}
