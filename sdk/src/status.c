/* status.c - the one table of error messages. */
#include "statefun/statefun.h"

const char *sf_strerror(sf_status status) {
  switch (status) {
    case SF_OK: return "success";
    case SF_ERR_NOMEM: return "out of memory";
    case SF_ERR_INVALID_ARGUMENT: return "invalid argument";
    case SF_ERR_BAD_TYPENAME: return "typename is not of the form namespace/name";
    case SF_ERR_BAD_STATE_NAME: return "state name is not [A-Za-z_][A-Za-z0-9_]*";
    case SF_ERR_DUPLICATE: return "registered twice";
    case SF_ERR_DECODE: return "malformed ToFunction protobuf";
    case SF_ERR_NO_INVOCATION: return "request carries no invocation batch";
    case SF_ERR_UNKNOWN_FUNCTION: return "unknown function type";
    case SF_ERR_UNKNOWN_STATE: return "state is not declared by this function";
    case SF_ERR_NO_VALUE: return "no value";
    case SF_ERR_TYPE_MISMATCH: return "type mismatch";
    case SF_ERR_VALUE_DECODE: return "value bytes do not decode as their type";
    case SF_ERR_FUNCTION_FAILED: return "function failed";
    case SF_ERR_TOO_LARGE: return "size limit exceeded";
    case SF_ERR_ENCODE: return "value could not be encoded";
    case SF_ERR_IO: return "I/O error";
  }
  return "unknown status";
}
