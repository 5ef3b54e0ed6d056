/*
 * hotel_data.c - the hotel workload's data (hotel_data.h): deterministic,
 * so hotel-init, the load driver and the tests all see the same hotels
 * and users without sharing a file.
 */
#include "hotel_data.h"

#include <stdio.h>
#include <string.h>

/* The six hotels the reference starts from: coordinates, contact details,
 * and the recommendation metrics it hard-codes. The descriptions are ours. */
typedef struct fixed_hotel {
  double lat, lon;
  const char *name, *phone, *street_number, *street_name, *postal_code, *description;
  double rate, price; /* Recommend */
} fixed_hotel;

static const fixed_hotel FIXED[] = {
    {37.7867, -122.4112, "Clift Hotel", "(415) 775-4700", "495", "Geary St", "94102",
     "Designer hotel off Union Square, a few minutes on foot from the Muni Metro.", 109.00,
     150.00},
    {37.7854, -122.4005, "W San Francisco", "(415) 777-5300", "181", "3rd St", "94103",
     "Modern tower next to the Yerba Buena arts centre, close to Union Square.", 139.00, 120.00},
    {37.7834, -122.4071, "Hotel Zetta", "(415) 543-8555", "55", "5th St", "94103",
     "Playful tech-themed rooms by the Powell Street cable-car turnaround and BART.", 109.00,
     190.00},
    {37.7936, -122.3930, "Hotel Vitale", "(415) 278-3700", "8", "Mission St", "94105",
     "Waterfront rooms facing the Bay Bridge, steps from the Ferry Building.", 129.00, 160.00},
    {37.7831, -122.4181, "Phoenix Hotel", "(415) 776-1380", "601", "Eddy St", "94109",
     "A 1950s motor lodge in the Tenderloin, long a favourite of touring bands.", 119.00,
     140.00},
    {37.7863, -122.4015, "St. Regis San Francisco", "(415) 284-4000", "125", "3rd St", "94109",
     "Luxury rooms in a 42-storey tower beside the Museum of Modern Art.", 149.00, 200.00},
};
enum { N_FIXED = sizeof FIXED / sizeof FIXED[0] };

/* Hotels past the sixth lie on a line north east of San Francisco. */
static double gen_lat(int id) { return 37.7835 + (double)id / 500.0 * 3; }
static double gen_lon(int id) { return -122.41 + (double)id / 500.0 * 4; }

static double hotel_lat(int id) { return id <= N_FIXED ? FIXED[id - 1].lat : gen_lat(id); }
static double hotel_lon(int id) { return id <= N_FIXED ? FIXED[id - 1].lon : gen_lon(id); }

static json_t *id_string(int id) {
  char buf[16];
  snprintf(buf, sizeof buf, "%d", id);
  return json_string(buf);
}

/* Appends `item` (reference taken) to `arr`; on failure frees arr and
 * returns NULL, so callers can chain. */
static json_t *push(json_t *arr, json_t *item) {
  if (arr == NULL || item == NULL || json_array_append_new(arr, item) != 0) {
    json_decref(arr);
    return NULL;
  }
  return arr;
}

json_t *hotel_data_geo_points(int hotels) {
  json_t *arr = json_array();
  for (int id = 1; id <= hotels && arr; id++)
    arr = push(arr, json_pack("{s:o, s:f, s:f}", "hotel_id", id_string(id), "lat", hotel_lat(id),
                              "lon", hotel_lon(id)));
  return arr;
}

static json_t *rate_plan(int id, const char *out_date, const char *room, const char *desc,
                         double rate, double rate_inclusive) {
  return json_pack("{s:o, s:s, s:s, s:s, s:{s:f, s:s, s:s, s:f, s:f}}", "hotel_id", id_string(id),
                   "code", "RACK", "in_date", "2015-04-09", "out_date", out_date, "room_type",
                   "bookable_rate", rate, "code", room, "description", desc, "total_rate", rate,
                   "total_rate_inclusive", rate_inclusive);
}

/* The reference's inventory: hotels 1-3 for one night, then every third
 * hotel from 6 on, priced by id modulo 5, staying until the 17th or the
 * 24th. Other hotels have no rate plan (and so never show in a search). */
json_t *hotel_data_rate_plans(int hotels) {
  json_t *arr = json_array();
  static const struct {
    const char *room, *desc;
    double rate, inclusive;
  } first[] = {{"KNG", "King sized bed", 109.00, 123.17},
               {"QN", "Queen sized bed", 139.00, 153.09},
               {"KNG", "King sized bed", 109.00, 123.17}};
  for (int id = 1; id <= hotels && id <= 3 && arr; id++)
    arr = push(arr, rate_plan(id, "2015-04-10", first[id - 1].room, first[id - 1].desc,
                              first[id - 1].rate, first[id - 1].inclusive));
  static const double rates[5][2] = {
      {109.00, 123.17}, {120.00, 140.00}, {124.00, 144.00}, {132.00, 158.00}, {232.00, 258.00}};
  for (int id = 4; id <= hotels && arr; id++) {
    if (id % 3 != 0) continue;
    arr = push(arr, rate_plan(id, id % 2 == 0 ? "2015-04-17" : "2015-04-24", "KNG",
                              "King sized bed", rates[id % 5][0], rates[id % 5][1]));
  }
  return arr;
}

/* The reference's recommendation metrics: the six fixed hotels, then
 * rate 135 / price 179 except every third hotel, priced as its rate plan. */
json_t *hotel_data_recommend(int hotels) {
  static const double rates[5][2] = {
      {109.00, 123.17}, {120.00, 140.00}, {124.00, 144.00}, {132.00, 158.00}, {232.00, 258.00}};
  json_t *arr = json_array();
  for (int id = 1; id <= hotels && arr; id++) {
    double rate = 135.00, price = 179.00;
    if (id <= N_FIXED) {
      rate = FIXED[id - 1].rate;
      price = FIXED[id - 1].price;
    } else if (id % 3 == 0) {
      rate = rates[id % 5][0];
      price = rates[id % 5][1];
    }
    arr = push(arr, json_pack("{s:o, s:f, s:f, s:f, s:f}", "hotel_id", id_string(id), "lat",
                              hotel_lat(id), "lon", hotel_lon(id), "rate", rate, "price", price));
  }
  return arr;
}

static json_t *profile(int id, const char *name, const char *phone, const char *description,
                       const char *street_number, const char *street_name,
                       const char *postal_code) {
  return json_pack("{s:o, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:f}}", "id",
                   id_string(id), "name", name, "phone_number", phone, "description", description,
                   "address", "street_number", street_number, "street_name", street_name, "city",
                   "San Francisco", "state", "CA", "country", "United States", "postal_code",
                   postal_code, "lat", hotel_lat(id), "lon", hotel_lon(id));
}

json_t *hotel_data_profiles(int hotels) {
  json_t *arr = json_array();
  for (int id = 1; id <= hotels && arr; id++) {
    if (id <= N_FIXED) {
      const fixed_hotel *h = &FIXED[id - 1];
      arr = push(arr, profile(id, h->name, h->phone, h->description, h->street_number,
                              h->street_name, h->postal_code));
    } else {
      char phone[32];
      snprintf(phone, sizeof phone, "(415) 284-40%d", id);
      arr = push(arr, profile(id, "St. Regis San Francisco", phone,
                              "One of the generated hotels: a tower of rooms along the line "
                              "north east of the city, each as good as the last.",
                              "125", "3rd St", "94109"));
    }
  }
  return arr;
}

int hotel_data_capacity(int id) {
  if (id <= N_FIXED) return 200;
  return id % 3 == 1 ? 300 : id % 3 == 2 ? 250 : 200;
}

bool hotel_data_user_name(int i, char *out, size_t size) {
  int n = snprintf(out, size, "TUDelft_%d", i);
  return n > 0 && (size_t)n < size;
}

bool hotel_data_user_password(int i, char *out, size_t size) {
  char one[16];
  int n = snprintf(one, sizeof one, "%d", i);
  if (n <= 0 || (size_t)n * 10 + 1 > size) return false;
  for (int k = 0; k < 10; k++) memcpy(out + (size_t)k * (size_t)n, one, (size_t)n);
  out[(size_t)n * 10] = '\0';
  return true;
}

json_t *hotel_data_all(int hotels, int users, int partitions) {
  json_t *caps = json_object(), *us = json_object();
  for (int id = 1; id <= hotels && caps; id++) {
    char key[16];
    snprintf(key, sizeof key, "%d", id);
    if (json_object_set_new(caps, key, json_integer(hotel_data_capacity(id))) != 0) {
      json_decref(caps);
      caps = NULL;
    }
  }
  for (int i = 0; i < users && us; i++) {
    char name[32], pw[128];
    if (!hotel_data_user_name(i, name, sizeof name) ||
        !hotel_data_user_password(i, pw, sizeof pw) ||
        json_object_set_new(us, name, json_string(pw)) != 0) {
      json_decref(us);
      us = NULL;
    }
  }
  /* json_pack's "o" takes the references, NULLs included (then it fails
   * and frees the others). */
  return json_pack("{s:i, s:i, s:i, s:o, s:o, s:o, s:o, s:o, s:o}", "hotels", hotels, "users",
                   users, "partitions", partitions, "geo_points", hotel_data_geo_points(hotels),
                   "rate_plans", hotel_data_rate_plans(hotels), "recommend",
                   hotel_data_recommend(hotels), "profiles", hotel_data_profiles(hotels),
                   "capacities", caps, "users", us);
}
