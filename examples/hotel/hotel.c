/*
 * hotel.c - the method bodies of the hotel reservation application
 * (hotel.ir.json): the DeathStar hotel services written as entities.
 *
 * sf-codegen turns hotel.ir.json into hotel.h / hotel.c in the build
 * directory (state structs, frames, typed calls, codecs); this file holds
 * one SF_METHOD per method of the IR. The services answer as the
 * reference workload's do (tests/hotel/reference.py is the same logic in
 * Python, and the functional test compares the two on the generated data):
 *
 *   Geo.nearby          at most 5 hotels within 10 km, nearest first
 *   Rate.get_rates      the rate plans of the given hotels
 *   Search.nearby       Geo, then Rate: the hotels that have a rate plan
 *   Recommend           least distance, highest rate or lowest price
 *   Profile             the profiles of the given hotels
 *   Reservation         bookings of one hotel; no booking beyond capacity
 *   User.login          password check
 *   Frontend            the four endpoints: search (its availability checks
 *                       in one parallel await), recommend, reserve, login
 *
 * Reservation.add_reservation checks availability and appends in one
 * method run; the entity runs one such method at a time, so two bookings
 * can never both take the last rooms.
 */
#include <math.h>
#include <string.h>

#include "hotel.h" /* generated from hotel.ir.json */

/* The reference's limits for Geo.nearby. */
enum { MAX_SEARCH_RESULTS = 5 };
static const double MAX_SEARCH_RADIUS_KM = 10.0;
static const double EARTH_RADIUS_KM = 6371.0;

/* ======================================================================== */
/* Helpers                                                                  */
/* ======================================================================== */

/* Great-circle distance in km (haversine), computed in the same order of
 * operations as the reference (and tests/hotel/reference.py), so that both
 * produce the same doubles and break ties the same way. */
static double distance_km(double lat1, double lon1, double lat2, double lon2) {
  const double rad = 3.14159265358979323846 / 180.0; /* Python: x * (pi / 180) */
  lat1 *= rad;
  lon1 *= rad;
  lat2 *= rad;
  lon2 *= rad;
  double s_lat = sin((lat2 - lat1) / 2);
  double s_lon = sin((lon2 - lon1) / 2);
  double a = s_lat * s_lat + cos(lat1) * cos(lat2) * (s_lon * s_lon);
  return EARTH_RADIUS_KM * (2 * asin(sqrt(a)));
}

static bool str_in(sf_str s, hotel_string_list list) {
  for (size_t i = 0; i < list.len; i++)
    if (sf_str_eq(s, list.items[i])) return true;
  return false;
}

/* list + one string, as a new array in the request arena (a frame's list
 * is decoded with exactly its length, so it cannot grow in place). The
 * list unchanged when out of memory: *ok says so. */
static hotel_string_list str_list_push(sf_entity_ctx *ctx, hotel_string_list list, sf_str s,
                                       bool *ok) {
  sf_str *items = sf_arena_alloc(sf_entity_arena(ctx), (list.len + 1) * sizeof *items);
  *ok = items != NULL;
  if (!*ok) return list;
  if (list.len) memcpy(items, list.items, list.len * sizeof *items);
  items[list.len] = s;
  return (hotel_string_list){items, list.len + 1};
}

/* A date as the workload writes it, YYYY-MM-DD. Such dates compare as
 * strings in calendar order, which is all the availability check needs. */
static bool is_date(sf_str d) {
  if (d.len != 10 || d.ptr[4] != '-' || d.ptr[7] != '-') return false;
  for (size_t i = 0; i < 10; i++)
    if (i != 4 && i != 7 && (d.ptr[i] < '0' || d.ptr[i] > '9')) return false;
  return true;
}

static int date_cmp(sf_str a, sf_str b) { return memcmp(a.ptr, b.ptr, 10); }

/* Why a stay is not a valid request, or NULL. */
static const char *bad_stay(sf_str in_date, sf_str out_date, int32_t rooms) {
  if (!is_date(in_date)) return "in_date is not a YYYY-MM-DD date";
  if (!is_date(out_date)) return "out_date is not a YYYY-MM-DD date";
  if (date_cmp(in_date, out_date) > 0) return "out_date is before in_date";
  if (rooms < 1) return "number_of_rooms must be at least 1";
  return NULL;
}

/* Rooms taken by the bookings that overlap [in_date, out_date]. The
 * reference's overlap test, both ends inclusive: a booking that ends on
 * the day another starts counts as overlapping. */
static int64_t rooms_taken(const Reservation_state *st, sf_str in_date, sf_str out_date) {
  int64_t taken = 0;
  for (size_t i = 0; i < st->reservations.len; i++) {
    const ReservationEntry *r = &st->reservations.items[i];
    if (date_cmp(in_date, r->out_date) <= 0 && date_cmp(out_date, r->in_date) >= 0)
      taken += r->number_of_rooms;
  }
  return taken;
}

static bool fits(const Reservation_state *st, sf_str in_date, sf_str out_date, int32_t rooms) {
  return rooms_taken(st, in_date, out_date) + rooms <= st->max_capacity;
}

/* The key of a replicated service in a partition: <service>-service-<p>. */
static sf_ref service(sf_entity_ctx *ctx, const char *name, int32_t partition) {
  return (sf_ref){sf_str_printf(ctx, "%s-service-%d", name, (int)partition)};
}

/* ======================================================================== */
/* Geo (key: geo-service-<partition>)                                        */
/* ======================================================================== */

SF_METHOD(Geo, nearby) {
  SF_BEGIN(F);
  const hotel_GeoPoint_list *pts = &SF_STATE(Geo)->geo_points;
  /* The nearest MAX_SEARCH_RESULTS within the radius, kept sorted; a
   * point goes after those at the same distance, so ties keep the stored
   * order as the reference's stable sort does. */
  size_t best[MAX_SEARCH_RESULTS];
  double dist[MAX_SEARCH_RESULTS];
  size_t n = 0;
  for (size_t i = 0; i < pts->len; i++) {
    double d = distance_km(pts->items[i].lat, pts->items[i].lon, F->p.lat, F->p.lon);
    if (!(d <= MAX_SEARCH_RADIUS_KM)) continue; /* NaN too */
    size_t at = n;
    while (at > 0 && dist[at - 1] > d) at--;
    if (at >= MAX_SEARCH_RESULTS) continue;
    size_t last = n < MAX_SEARCH_RESULTS ? n : MAX_SEARCH_RESULTS - 1;
    for (size_t j = last; j > at; j--) {
      best[j] = best[j - 1];
      dist[j] = dist[j - 1];
    }
    best[at] = i;
    dist[at] = d;
    if (n < MAX_SEARCH_RESULTS) n++;
  }
  hotel_string_list ids = {NULL, 0};
  if (n) {
    ids.items = sf_arena_alloc(sf_entity_arena(ctx), n * sizeof *ids.items);
    if (ids.items == NULL) SF_FAIL(F, "out of memory");
    for (size_t j = 0; j < n; j++) ids.items[j] = pts->items[best[j]].hotel_id;
    ids.len = n;
  }
  SF_RETURN(F, ids);
  SF_END(F);
}

SF_METHOD(Geo, load) {
  SF_BEGIN(F);
  SF_STATE(Geo)->geo_points = F->p.points;
  SF_RETURN(F, (int32_t)F->p.points.len);
  SF_END(F);
}

/* ======================================================================== */
/* Rate (key: rate-service-<partition>)                                      */
/* ======================================================================== */

SF_METHOD(Rate, get_rates) {
  SF_BEGIN(F);
  const hotel_RatePlan_list *plans = &SF_STATE(Rate)->rate_plans;
  hotel_RatePlan_list out = {NULL, 0};
  if (plans->len && F->p.hotel_ids.len) {
    /* At most every plan once per requested id. */
    size_t cap = plans->len * F->p.hotel_ids.len;
    out.items = sf_arena_alloc(sf_entity_arena(ctx), cap * sizeof *out.items);
    if (out.items == NULL) SF_FAIL(F, "out of memory");
  }
  for (size_t h = 0; h < F->p.hotel_ids.len; h++)
    for (size_t i = 0; i < plans->len; i++)
      if (sf_str_eq(plans->items[i].hotel_id, F->p.hotel_ids.items[h]))
        out.items[out.len++] = plans->items[i];
  SF_RETURN(F, out);
  SF_END(F);
}

SF_METHOD(Rate, load) {
  SF_BEGIN(F);
  SF_STATE(Rate)->rate_plans = F->p.plans;
  SF_RETURN(F, (int32_t)F->p.plans.len);
  SF_END(F);
}

/* ======================================================================== */
/* Search (stateless, reentrant; key: search-service-<partition>)            */
/* ======================================================================== */

SF_METHOD(Search, nearby) {
  SF_BEGIN(F);
  SF_AWAIT(F, hotels, Geo_nearby(ctx, F->p.geo, F->p.lat, F->p.lon));
  F->hotel_ids = F->r.hotels;
  SF_AWAIT(F, rates, Rate_get_rates(ctx, F->p.rate, F->hotel_ids));
  hotel_string_list ids = {NULL, 0};
  if (F->r.rates.len) {
    ids.items = sf_arena_alloc(sf_entity_arena(ctx), F->r.rates.len * sizeof *ids.items);
    if (ids.items == NULL) SF_FAIL(F, "out of memory");
  }
  for (size_t i = 0; i < F->r.rates.len; i++) ids.items[ids.len++] = F->r.rates.items[i].hotel_id;
  SF_RETURN(F, ids);
  SF_END(F);
}

/* ======================================================================== */
/* Recommend (key: recommend-service-<partition>)                            */
/* ======================================================================== */

typedef enum { BY_DISTANCE, BY_RATE, BY_PRICE } criterion;

/* The hotel's score under a criterion, smaller is better. */
static double score(criterion c, const RecommendHotel *h, Location at) {
  switch (c) {
  case BY_DISTANCE: return distance_km(at.lat, at.lon, h->lat, h->lon);
  case BY_RATE: return -h->rate;
  case BY_PRICE: return h->price;
  }
  return 0;
}

SF_METHOD(Recommend, recommend) {
  SF_BEGIN(F);
  criterion c;
  if (sf_str_eq(F->p.requirement, SF_STR("dis")))
    c = BY_DISTANCE;
  else if (sf_str_eq(F->p.requirement, SF_STR("rate")))
    c = BY_RATE;
  else if (sf_str_eq(F->p.requirement, SF_STR("price")))
    c = BY_PRICE;
  else
    SF_FAIL(F, "requirement must be dis, rate or price (got '%.*s')",
            (int)(F->p.requirement.len > 40 ? 40 : F->p.requirement.len), F->p.requirement.ptr);
  const hotel_RecommendHotel_list *hs = &SF_STATE(Recommend)->hotels;
  hotel_string_list ids = {NULL, 0};
  if (hs->len == 0) SF_RETURN(F, ids);
  double best = score(c, &hs->items[0], F->p.location);
  for (size_t i = 1; i < hs->len; i++) {
    double s = score(c, &hs->items[i], F->p.location);
    if (s < best) best = s;
  }
  ids.items = sf_arena_alloc(sf_entity_arena(ctx), hs->len * sizeof *ids.items);
  if (ids.items == NULL) SF_FAIL(F, "out of memory");
  for (size_t i = 0; i < hs->len; i++)
    if (score(c, &hs->items[i], F->p.location) == best) ids.items[ids.len++] = hs->items[i].hotel_id;
  SF_RETURN(F, ids);
  SF_END(F);
}

SF_METHOD(Recommend, load) {
  SF_BEGIN(F);
  SF_STATE(Recommend)->hotels = F->p.hotels;
  SF_RETURN(F, (int32_t)F->p.hotels.len);
  SF_END(F);
}

/* ======================================================================== */
/* Profile (key: profile-service-<partition>)                                */
/* ======================================================================== */

/* The state keeps each profile encoded (hotel id -> HotelProfile bytes):
 * only the profiles a call answers with are decoded. */
SF_METHOD(Profile, get_profiles) {
  SF_BEGIN(F);
  const hotel_bytes_map *ps = &SF_STATE(Profile)->profiles;
  hotel_HotelProfile_list out = {NULL, 0};
  if (ps->len && F->p.hotel_ids.len) {
    out.items = sf_arena_alloc(sf_entity_arena(ctx), ps->len * sizeof *out.items);
    if (out.items == NULL) SF_FAIL(F, "out of memory");
  }
  for (size_t i = 0; i < ps->len && F->p.hotel_ids.len; i++) {
    if (!str_in(ps->keys[i], F->p.hotel_ids)) continue;
    sf_rbuf r;
    sf_rbuf_init(&r, ps->values[i].ptr, ps->values[i].len);
    HotelProfile *p = &out.items[out.len++];
    memset(p, 0, sizeof *p);
    if (HotelProfile_decode(sf_entity_arena(ctx), &r, p) != SF_OK)
      SF_FAIL(F, "the stored profile of hotel %s does not decode", ps->keys[i].ptr);
  }
  SF_RETURN(F, out);
  SF_END(F);
}

SF_METHOD(Profile, load) {
  SF_BEGIN(F);
  hotel_bytes_map m = {NULL, NULL, F->p.profiles.len};
  sf_arena *a = sf_entity_arena(ctx);
  if (m.len) {
    m.keys = sf_arena_alloc(a, m.len * sizeof *m.keys);
    m.values = sf_arena_alloc(a, m.len * sizeof *m.values);
    if (m.keys == NULL || m.values == NULL) SF_FAIL(F, "out of memory");
  }
  for (size_t i = 0; i < m.len; i++) {
    sf_wbuf w;
    sf_wbuf_init(&w, a);
    HotelProfile_encode(&w, &F->p.profiles.items[i]);
    if (w.failed) SF_FAIL(F, "out of memory");
    m.keys[i] = F->p.profiles.items[i].id;
    m.values[i] = (sf_bytes){w.data, w.len};
  }
  SF_STATE(Profile)->profiles = m;
  SF_RETURN(F, (int32_t)m.len);
  SF_END(F);
}

/* ======================================================================== */
/* Reservation (key: the hotel id)                                          */
/* ======================================================================== */

SF_METHOD(Reservation, check_availability) {
  SF_BEGIN(F);
  const char *why = bad_stay(F->p.in_date, F->p.out_date, F->p.number_of_rooms);
  if (why) SF_FAIL(F, "hotel %s: %s", sf_entity_key(ctx).ptr, why);
  SF_RETURN(F, fits(SF_STATE(Reservation), F->p.in_date, F->p.out_date, F->p.number_of_rooms));
  SF_END(F);
}

/* Check and append in one run of the method: nothing can book in between. */
SF_METHOD(Reservation, add_reservation) {
  SF_BEGIN(F);
  const char *why = bad_stay(F->p.in_date, F->p.out_date, F->p.number_of_rooms);
  if (why) SF_FAIL(F, "hotel %s: %s", sf_entity_key(ctx).ptr, why);
  Reservation_state *st = SF_STATE(Reservation);
  if (!fits(st, F->p.in_date, F->p.out_date, F->p.number_of_rooms)) SF_RETURN(F, false);
  hotel_ReservationEntry_list *list = &st->reservations;
  ReservationEntry *items = sf_arena_alloc(sf_entity_arena(ctx), (list->len + 1) * sizeof *items);
  if (items == NULL) SF_FAIL(F, "out of memory");
  if (list->len) memcpy(items, list->items, list->len * sizeof *items);
  items[list->len] = (ReservationEntry){F->p.customer_id, F->p.in_date, F->p.out_date,
                                        F->p.number_of_rooms};
  list->items = items;
  list->len++;
  SF_RETURN(F, true);
  SF_END(F);
}

SF_METHOD(Reservation, set_capacity) {
  SF_BEGIN(F);
  if (F->p.max_capacity < 0) SF_FAIL(F, "max_capacity must not be negative");
  Reservation_state *st = SF_STATE(Reservation);
  int32_t was = st->max_capacity;
  st->max_capacity = F->p.max_capacity;
  SF_RETURN(F, was);
  SF_END(F);
}

SF_METHOD(Reservation, get_bookings) {
  SF_BEGIN(F);
  SF_RETURN(F, SF_STATE(Reservation)->reservations);
  SF_END(F);
}

/* ======================================================================== */
/* User (key: the user name)                                                */
/* ======================================================================== */

SF_METHOD(User, login) {
  SF_BEGIN(F);
  sf_str pw = SF_STATE(User)->password;
  SF_RETURN(F, pw.len > 0 && sf_str_eq(pw, F->p.password));
  SF_END(F);
}

SF_METHOD(User, set_password) {
  SF_BEGIN(F);
  if (F->p.password.len == 0) SF_FAIL(F, "the password must not be empty");
  User_state *st = SF_STATE(User);
  bool had = st->password.len > 0;
  st->password = F->p.password;
  SF_RETURN(F, had);
  SF_END(F);
}

/* ======================================================================== */
/* Frontend (stateless, reentrant): the four endpoints                      */
/* ======================================================================== */

SF_METHOD(Frontend, search) {
  SF_BEGIN(F);
  if (F->p.partition < 0) SF_FAIL(F, "partition must not be negative");
  const char *why = bad_stay(F->p.in_date, F->p.out_date, 1);
  if (why) SF_FAIL(F, "search: %s", why);
  SF_AWAIT(F, hotels,
           Search_nearby(ctx, service(ctx, "search", F->p.partition), F->p.lat, F->p.lon,
                         service(ctx, "geo", F->p.partition),
                         service(ctx, "rate", F->p.partition)));
  F->hotel_ids = F->r.hotels;
  /* One room in each hotel: all hotels asked at once (a parallel await),
   * as the reference frontend asked the reservation service about all of
   * them in one call. A hotel that cannot answer fails the search. */
  for (F->i = 0; (size_t)F->i < F->hotel_ids.len; F->i++)
    SF_CALL_AT(F, availability, F->i,
               Reservation_check_availability(ctx, (sf_ref){F->hotel_ids.items[F->i]},
                                              F->p.in_date, F->p.out_date, 1));
  SF_AWAIT_CALLS(F, availability);
  for (size_t i = 0; i < F->r.availability.len && i < F->hotel_ids.len; i++) {
    if (!F->r.availability.items[i]) continue;
    bool ok;
    F->available = str_list_push(ctx, F->available, F->hotel_ids.items[i], &ok);
    if (!ok) SF_FAIL(F, "out of memory");
  }
  SF_AWAIT(F, profiles,
           Profile_get_profiles(ctx, service(ctx, "profile", F->p.partition), F->available));
  SF_RETURN(F, F->r.profiles);
  SF_END(F);
}

SF_METHOD(Frontend, recommend) {
  SF_BEGIN(F);
  if (F->p.partition < 0) SF_FAIL(F, "partition must not be negative");
  SF_AWAIT(F, hotels,
           Recommend_recommend(ctx, service(ctx, "recommend", F->p.partition), F->p.requirement,
                               (Location){F->p.lat, F->p.lon}));
  SF_AWAIT(F, profiles,
           Profile_get_profiles(ctx, service(ctx, "profile", F->p.partition), F->r.hotels));
  SF_RETURN(F, F->r.profiles);
  SF_END(F);
}

/* A wrong password is an answer (false), not a failure, as in the
 * reference; so is a hotel without room. */
SF_METHOD(Frontend, reserve) {
  SF_BEGIN(F);
  SF_AWAIT(F, login, User_login(ctx, (sf_ref){F->p.username}, F->p.password));
  if (!F->r.login) SF_RETURN(F, false);
  SF_AWAIT(F, booked,
           Reservation_add_reservation(ctx, (sf_ref){F->p.hotel_id}, F->p.customer_name,
                                       F->p.in_date, F->p.out_date, F->p.number_of_rooms));
  SF_RETURN(F, F->r.booked);
  SF_END(F);
}

SF_METHOD(Frontend, login) {
  SF_BEGIN(F);
  SF_AWAIT(F, login, User_login(ctx, (sf_ref){F->p.username}, F->p.password));
  SF_RETURN(F, F->r.login);
  SF_END(F);
}
