/*
 * The code sf-codegen generates from examples/hotel/hotel.ir.json,
 * compiled with the strict flags together with the application's own
 * method bodies (examples/hotel/hotel.c, linked in: every declared step
 * function is defined there), and a few of its records and frames
 * round-trip.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "hotel.h"

/* ---- codecs ---------------------------------------------------------------- */

static sf_arena *A;
static void setup(void) { A = sf_arena_new(0); }
static void teardown(void) { sf_arena_free(A); }
TestSuite(hotel, .init = setup, .fini = teardown);

Test(hotel, nested_records_round_trip) {
  HotelProfile in;
  memset(&in, 0, sizeof in);
  in.id = SF_STR("h-1");
  in.name = SF_STR("H\xc3\xb4tel \xe2\x98\x85");
  in.address.city = SF_STR("Delft");
  in.address.lat = -52.011577;
  in.address.lon = 4.357068;
  sf_wbuf w;
  sf_wbuf_init(&w, A);
  HotelProfile_encode(&w, &in);
  HotelProfile out;
  sf_rbuf r;
  sf_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(HotelProfile_decode(A, &r, &out), SF_OK);
  cr_assert(sf_str_eq(out.id, in.id));
  cr_assert(sf_str_eq(out.name, in.name));
  cr_assert(sf_str_eq(out.address.city, in.address.city));
  cr_assert_eq(out.address.street_name.len, 0);
  cr_assert_eq(out.address.lat, in.address.lat);
  cr_assert_eq(out.address.lon, in.address.lon);
}

Test(hotel, frame_and_descriptors) {
  const sf_method_desc *m = NULL;
  for (size_t i = 0; i < Frontend_entity.n_methods; i++)
    if (!strcmp(Frontend_entity.methods[i].name, "search")) m = &Frontend_entity.methods[i];
  cr_assert(m);
  sf_str ids[] = {SF_STR("a"), SF_STR("b")};
  bool avail[] = {false, true}; /* a fan_out label's results: one per call */
  Frontend_search_frame in, out;
  memset(&in, 0, sizeof in);
  memset(&out, 0, sizeof out);
  in.p.in_date = SF_STR("2015-04-09");
  in.p.lat = 38.0235;
  in.p.partition = -1;
  in.hotel_ids.items = ids;
  in.hotel_ids.len = 2;
  in.i = 1;
  in.r.availability.items = avail;
  in.r.availability.len = 2;
  sf_wbuf w;
  sf_wbuf_init(&w, A);
  m->encode_frame(&w, &in);
  sf_rbuf r;
  sf_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(m->decode_frame(A, &r, &out), SF_OK);
  cr_assert(sf_str_eq(out.p.in_date, in.p.in_date));
  cr_assert_eq(out.p.lat, in.p.lat);
  cr_assert_eq(out.p.partition, -1);
  cr_assert_eq(out.hotel_ids.len, 2);
  cr_assert(sf_str_eq(out.hotel_ids.items[1], ids[1]));
  cr_assert_eq(out.available.len, 0);
  cr_assert_eq(out.i, 1);
  cr_assert_eq(out.r.availability.len, 2);
  cr_assert(!out.r.availability.items[0]);
  cr_assert(out.r.availability.items[1]);
  cr_assert_eq(m->n_labels, 3);
  sf_handler *h = sf_handler_new();
  cr_assert_eq(hotel_register(h), SF_OK);
  cr_assert_eq(sf_handler_function_count(h), 8);
  sf_handler_free(h);
}
