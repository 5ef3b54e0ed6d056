/*
 * status.c - the status table: sf_strerror() and sf_status_name() expand
 * SF_STATUS_LIST (statefun.h), the one list of statuses, and sf_version().
 */
#include "statefun/statefun.h"

const char *sf_strerror(sf_status status) {
  switch (status) {
#define SF_STATUS_MESSAGE_(name, code, message) \
  case name: return message;
    SF_STATUS_LIST(SF_STATUS_MESSAGE_)
#undef SF_STATUS_MESSAGE_
  }
  return "unknown status";
}

const char *sf_status_name(sf_status status) {
  switch (status) {
#define SF_STATUS_NAME_(name, code, message) \
  case name: return #name;
    SF_STATUS_LIST(SF_STATUS_NAME_)
#undef SF_STATUS_NAME_
  }
  return NULL;
}

const char *sf_version(void) { return SF_VERSION_STRING; }
