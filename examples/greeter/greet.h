/*
 * greet.h - the greeter example's one function, greeter.fns/greet, as a
 * library so that the server binary, the tests and the benchmarks share it.
 */
#ifndef GREETER_GREET_H
#define GREETER_GREET_H

#include <statefun/statefun.h>

/* The function type, the egress it writes to and that egress's topic. */
#define GREETER_FUNCTION "greeter.fns/greet"
#define GREETER_EGRESS "greeter.io/greetings"
#define GREETER_TOPIC "greetings"
/* How long the first visit's reminder waits. */
#define GREETER_REMINDER_MS 60000

/* Registers greeter.fns/greet (state: seen, an io.statefun.types/int). */
sf_status greeter_register(sf_handler *handler);

#endif /* GREETER_GREET_H */
