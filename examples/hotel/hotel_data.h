/*
 * hotel_data.h - the hotel workload's data, generated the same way every
 * time: the hotels (coordinates, rate plans, recommendation metrics,
 * profiles, capacities) and the users with their passwords.
 *
 * Hotels 1-6 are the reference's six San Francisco hotels; hotels 7..N
 * follow the reference's generation rule (a line of hotels going north
 * east from San Francisco; rates, prices and capacities by id modulo 3
 * and 5). Users are TUDelft_<i> with the password <i> written ten times.
 * hotel-init loads this into the entities; the load driver
 * (bench/hotel_load.c) makes its requests from the same rules; the tests
 * read it back with hotel-init --dump.
 */
#ifndef HOTEL_DATA_H
#define HOTEL_DATA_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* The reference's sizes. */
enum { HOTEL_DATA_HOTELS = 80, HOTEL_DATA_USERS = 500, HOTEL_DATA_PARTITIONS = 80 };

/* JSON arrays of the records of hotel.ir.json (GeoPoint, RatePlan,
 * RecommendHotel, HotelProfile) for hotels 1..hotels, ready to be the
 * argument of the services' load methods. NULL when out of memory. */
json_t *hotel_data_geo_points(int hotels);
json_t *hotel_data_rate_plans(int hotels);
json_t *hotel_data_recommend(int hotels);
json_t *hotel_data_profiles(int hotels);

/* The number of rooms of hotel `id` (1-based): 200, 250 or 300. */
int hotel_data_capacity(int id);

/* User i's name and password (NUL-terminated; false if `size` is too
 * small). */
bool hotel_data_user_name(int i, char *out, size_t size);
bool hotel_data_user_password(int i, char *out, size_t size);

/* Everything above as one JSON object (hotel-init --dump): sizes, the four
 * lists, "capacities" {id: rooms} and "users" {name: password}. */
json_t *hotel_data_all(int hotels, int users, int partitions);

#endif /* HOTEL_DATA_H */
