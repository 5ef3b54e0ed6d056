/*
 * The code sf-codegen generates from examples/hotel/hotel.ir.json,
 * compiled with the strict flags: every declared step function is defined
 * (the compositions await like the benchmark's frontend does), and a few
 * of its records and frames round-trip.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "hotel.h"

static sf_ref ref(const char *key) {
  sf_ref r = {sf_str_of(key)};
  return r;
}

/* ---- the services (plain bodies) ------------------------------------------ */

SF_METHOD(Geo, nearby) {
  SF_BEGIN(F);
  hotel_string_list none = {NULL, 0};
  (void)SF_STATE(Geo)->geo_points;
  SF_RETURN(F, none);
  SF_END(F);
}

SF_METHOD(Rate, get_rates) {
  SF_BEGIN(F);
  SF_RETURN(F, SF_STATE(Rate)->rate_plans);
  SF_END(F);
}

SF_METHOD(Recommend, recommend) {
  SF_BEGIN(F);
  hotel_string_list none = {NULL, 0};
  SF_RETURN(F, none);
  SF_END(F);
}

SF_METHOD(Profile, get_profiles) {
  SF_BEGIN(F);
  SF_RETURN(F, SF_STATE(Profile)->profiles);
  SF_END(F);
}

SF_METHOD(Reservation, check_availability) {
  SF_BEGIN(F);
  SF_RETURN(F, F->p.number_of_rooms <= SF_STATE(Reservation)->max_capacity);
  SF_END(F);
}

SF_METHOD(Reservation, add_reservation) {
  SF_BEGIN(F);
  SF_RETURN(F, F->p.number_of_rooms <= SF_STATE(Reservation)->max_capacity);
  SF_END(F);
}

SF_METHOD(User, login) {
  SF_BEGIN(F);
  SF_RETURN(F, sf_str_eq(F->p.password, SF_STATE(User)->password));
  SF_END(F);
}

/* The load methods (hotel-init): replace the state, answer the count. */
SF_METHOD(Geo, load) {
  SF_BEGIN(F);
  SF_STATE(Geo)->geo_points = F->p.points;
  SF_RETURN(F, (int32_t)F->p.points.len);
  SF_END(F);
}

SF_METHOD(Rate, load) {
  SF_BEGIN(F);
  SF_STATE(Rate)->rate_plans = F->p.plans;
  SF_RETURN(F, (int32_t)F->p.plans.len);
  SF_END(F);
}

SF_METHOD(Recommend, load) {
  SF_BEGIN(F);
  SF_STATE(Recommend)->hotels = F->p.hotels;
  SF_RETURN(F, (int32_t)F->p.hotels.len);
  SF_END(F);
}

SF_METHOD(Profile, load) {
  SF_BEGIN(F);
  SF_STATE(Profile)->profiles = F->p.profiles;
  SF_RETURN(F, (int32_t)F->p.profiles.len);
  SF_END(F);
}

SF_METHOD(Reservation, set_capacity) {
  SF_BEGIN(F);
  int32_t was = SF_STATE(Reservation)->max_capacity;
  SF_STATE(Reservation)->max_capacity = F->p.max_capacity;
  SF_RETURN(F, was);
  SF_END(F);
}

SF_METHOD(Reservation, get_bookings) {
  SF_BEGIN(F);
  SF_RETURN(F, SF_STATE(Reservation)->reservations);
  SF_END(F);
}

SF_METHOD(User, set_password) {
  SF_BEGIN(F);
  bool had = SF_STATE(User)->password.len > 0;
  SF_STATE(User)->password = F->p.password;
  SF_RETURN(F, had);
  SF_END(F);
}

/* ---- the compositions (awaits) --------------------------------------------- */

SF_METHOD(Search, nearby) {
  SF_BEGIN(F);
  SF_AWAIT(F, hotels, Geo_nearby(ctx, F->p.geo, F->p.lat, F->p.lon));
  F->hotel_ids = F->r.hotels;
  SF_AWAIT(F, rates, Rate_get_rates(ctx, F->p.rate, F->hotel_ids));
  SF_RETURN(F, F->hotel_ids);
  SF_END(F);
}

SF_METHOD(Frontend, search) {
  SF_BEGIN(F);
  SF_AWAIT(F, hotels, Search_nearby(ctx, ref("search-service-0"), F->p.lat, F->p.lon,
                                    ref("geo-service-0"), ref("rate-service-0")));
  F->hotel_ids = F->r.hotels;
  for (F->i = 0; (size_t)F->i < F->hotel_ids.len; F->i++)
    SF_CALL_AT(F, availability, F->i,
               Reservation_check_availability(ctx, (sf_ref){F->hotel_ids.items[F->i]},
                                              F->p.in_date, F->p.out_date, 1));
  SF_AWAIT_CALLS(F, availability);
  SF_AWAIT(F, profiles, Profile_get_profiles(ctx, ref("profile-service-0"), F->available));
  SF_RETURN(F, F->r.profiles);
  SF_END(F);
}

SF_METHOD(Frontend, recommend) {
  SF_BEGIN(F);
  Location loc = {F->p.lat, F->p.lon};
  SF_AWAIT(F, hotels, Recommend_recommend(ctx, ref("recommend-service-0"), F->p.requirement, loc));
  SF_AWAIT(F, profiles, Profile_get_profiles(ctx, ref("profile-service-0"), F->r.hotels));
  SF_RETURN(F, F->r.profiles);
  SF_END(F);
}

SF_METHOD(Frontend, reserve) {
  SF_BEGIN(F);
  SF_AWAIT(F, login, User_login(ctx, (sf_ref){F->p.username}, F->p.password));
  if (!F->r.login) SF_RETURN(F, false);
  SF_AWAIT(F, booked, Reservation_add_reservation(ctx, (sf_ref){F->p.hotel_id}, F->p.customer_name,
                                                  F->p.in_date, F->p.out_date,
                                                  F->p.number_of_rooms));
  SF_RETURN(F, F->r.booked);
  SF_END(F);
}

SF_METHOD(Frontend, login) {
  SF_BEGIN(F);
  SF_AWAIT_CATCH(F, login, User_login(ctx, (sf_ref){F->p.username}, F->p.password));
  SF_RETURN(F, !SF_FAILED(F) && F->r.login);
  SF_END(F);
}

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
