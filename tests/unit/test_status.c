/*
 * test_status.c - the status list (SF_STATUS_LIST) and what it yields:
 * the enum, sf_strerror(), sf_status_name(); and sf_version().
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <statefun/statefun.h>

/* The list expanded once more, here, as the reference. */
static const struct {
  sf_status status;
  int code;
  const char *name;
  const char *message;
} k_list[] = {
#define ROW(name, code, message) {name, code, #name, message},
    SF_STATUS_LIST(ROW)
#undef ROW
};
#define N_STATUS (sizeof k_list / sizeof *k_list)

Test(status, enum_values_are_the_listed_codes) {
  cr_assert_eq(SF_OK, 0);
  cr_assert_eq(SF_ERR_NOMEM, -1);
  cr_assert_eq(SF_ERR_IO, -16);
  cr_assert_eq(N_STATUS, 17);
  for (size_t i = 0; i < N_STATUS; i++) {
    cr_assert_eq((int)k_list[i].status, k_list[i].code, "%s", k_list[i].name);
    cr_assert_eq(k_list[i].code, -(int)i, "codes are 0, -1, -2, ... in order");
  }
}

Test(status, strerror_and_name_come_from_the_list) {
  for (size_t i = 0; i < N_STATUS; i++) {
    cr_assert_str_eq(sf_strerror(k_list[i].status), k_list[i].message);
    cr_assert_str_eq(sf_status_name(k_list[i].status), k_list[i].name);
    for (size_t j = 0; j < i; j++)
      cr_assert_str_neq(sf_strerror(k_list[i].status),
                        sf_strerror(k_list[j].status), "two statuses, one text");
  }
  cr_assert_str_eq(sf_strerror(SF_ERR_NOMEM), "out of memory");
  cr_assert_str_eq(sf_status_name(SF_ERR_VALUE_DECODE), "SF_ERR_VALUE_DECODE");
}

Test(status, values_outside_the_list) {
  cr_assert_str_eq(sf_strerror((sf_status)-99), "unknown status");
  cr_assert_null(sf_status_name((sf_status)-99));
  cr_assert_null(sf_status_name((sf_status)1));
}

Test(version, library_matches_headers_and_project) {
  char want[32];
  snprintf(want, sizeof want, "%d.%d.%d", SF_VERSION_MAJOR, SF_VERSION_MINOR,
           SF_VERSION_PATCH);
  cr_assert_str_eq(SF_VERSION_STRING, want);
  cr_assert_str_eq(sf_version(), SF_VERSION_STRING);
  cr_assert_str_eq(sf_version(), SF_TEST_PROJECT_VERSION,
                   "the version comes from CMake's project()");
}
