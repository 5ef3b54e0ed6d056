/*
 * test_process.c - the greeter binary as a real child process: clean exit
 * on SIGTERM/SIGINT (draining a request in flight), the start-up line, and
 * the command line of sf_server_main (usage errors exit 2).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#ifndef GREETER_PATH
#error "GREETER_PATH must name the greeter binary"
#endif

typedef struct child {
  pid_t pid;
  int out_fd; /* the child's stdout */
  int err_fd; /* the child's stderr */
  char err[8192];
  size_t err_len;
  char out[8192];
  size_t out_len;
} child;

/* Starts GREETER_PATH with `args` (NULL-terminated, without argv[0]). */
static void spawn(child *c, const char *const *args) {
  memset(c, 0, sizeof *c);
  int out[2], err[2];
  cr_assert_eq(pipe(out), 0);
  cr_assert_eq(pipe(err), 0);
  const char *argv[16] = {GREETER_PATH};
  size_t n = 1;
  for (; args[n - 1] != NULL && n < 15; n++) argv[n] = args[n - 1];
  argv[n] = NULL;
  c->pid = fork();
  cr_assert_neq(c->pid, -1);
  if (c->pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(out[0]);
    close(err[0]);
    close(out[1]);
    close(err[1]);
    execv(GREETER_PATH, (char *const *)argv);
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  c->out_fd = out[0];
  c->err_fd = err[0];
}

/* Reads from fd into buf for up to `ms`; stops early once `until` shows up
 * (NULL: until EOF). True if `until` (or EOF) was seen. */
static bool read_until(int fd, char *buf, size_t cap, size_t *len,
                       const char *until, int ms) {
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    if (until != NULL && strstr(buf, until) != NULL) return true;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long elapsed = (now.tv_sec - start.tv_sec) * 1000 +
                   (now.tv_nsec - start.tv_nsec) / 1000000;
    if (elapsed >= ms) return false;
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, (int)(ms - elapsed));
    if (r <= 0) continue;
    ssize_t got = read(fd, buf + *len, cap - 1 - *len);
    if (got <= 0) return until == NULL;
    *len += (size_t)got;
    buf[*len] = '\0';
  }
}

/* Waits for the child's exit; returns its wait status. */
static int reap(child *c, int ms) {
  int status = 0;
  for (int waited = 0; waited < ms; waited += 10) {
    pid_t r = waitpid(c->pid, &status, WNOHANG);
    if (r == c->pid) {
      read_until(c->err_fd, c->err, sizeof c->err, &c->err_len, NULL, 200);
      read_until(c->out_fd, c->out, sizeof c->out, &c->out_len, NULL, 200);
      close(c->err_fd);
      close(c->out_fd);
      return status;
    }
    usleep(10000);
  }
  kill(c->pid, SIGKILL);
  waitpid(c->pid, &status, 0);
  cr_assert_fail("greeter did not exit within %d ms; stderr: %s", ms, c->err);
  return -1;
}

/* Starts a greeter on a free port and returns its base URL. */
static void start_greeter(child *c, char *base, size_t base_len) {
  static const char *const args[] = {"--listen", "127.0.0.1:0", "--threads",
                                     "2", NULL};
  spawn(c, args);
  cr_assert(read_until(c->err_fd, c->err, sizeof c->err, &c->err_len,
                       "threads)\n", 10000),
            "no start-up line; stderr: %s", c->err);
  const char *p = strstr(c->err, "on http://127.0.0.1:");
  cr_assert_not_null(p, "start-up line: %s", c->err);
  unsigned port = (unsigned)atoi(p + strlen("on http://127.0.0.1:"));
  cr_assert_gt(port, 0);
  snprintf(base, base_len, "http://127.0.0.1:%u", port);
}

Test(process, startup_line_names_the_functions) {
  child c;
  char base[64];
  start_greeter(&c, base, sizeof base);
  cr_assert(strstr(c.err, "statefun: serving 1 function(s) [greeter.fns/greet] "
                          "on http://127.0.0.1:") != NULL,
            "stderr: %s", c.err);
  /* the default endpoint: every path */
  cr_assert(strstr(c.err, "/ (2 threads)") != NULL, "stderr: %s", c.err);
  kill(c.pid, SIGINT);
  int status = reap(&c, 10000);
  cr_assert(WIFEXITED(status), "killed by signal %d", WTERMSIG(status));
  cr_assert_eq(WEXITSTATUS(status), 0, "stderr: %s", c.err);
}

/* A POST whose body arrives in two parts with a pause between them. */
typedef struct slow_upload {
  uint8_t *data;
  size_t len;
  size_t pos;
  sem_t first_part_sent;
  long code;
  char content_type[128];
  http_reply reply;
} slow_upload;

static size_t slow_read(char *buf, size_t size, size_t nitems, void *userdata) {
  slow_upload *u = userdata;
  if (u->pos == 0) {
    size_t half = u->len / 2;
    memcpy(buf, u->data, half);
    u->pos = half;
    sem_post(&u->first_part_sent);
    return half;
  }
  usleep(800 * 1000); /* SIGTERM arrives meanwhile */
  size_t n = u->len - u->pos;
  if (n > size * nitems) n = size * nitems;
  memcpy(buf, u->data + u->pos, n);
  u->pos += n;
  return n;
}

static size_t slow_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
  http_reply *r = userdata;
  size_t n = size * nmemb;
  char *grown = realloc(r->body, r->len + n + 1);
  if (grown == NULL) return 0;
  memcpy(grown + r->len, ptr, n);
  r->body = grown;
  r->len += n;
  r->body[r->len] = '\0';
  return n;
}

static char g_url[128];

static void *slow_client(void *arg) {
  slow_upload *u = arg;
  CURL *curl = curl_easy_init();
  struct curl_slist *h = NULL;
  h = curl_slist_append(h, "Content-Type: application/octet-stream");
  h = curl_slist_append(h, "Expect:");
  curl_easy_setopt(curl, CURLOPT_URL, g_url);
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)u->len);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, slow_read);
  curl_easy_setopt(curl, CURLOPT_READDATA, u);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, slow_write);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &u->reply);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 20L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (curl_easy_perform(curl) == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &u->code);
    char *ct = NULL;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
    if (ct != NULL) snprintf(u->content_type, sizeof u->content_type, "%s", ct);
  }
  curl_slist_free_all(h);
  curl_easy_cleanup(curl);
  return NULL;
}

Test(process, sigterm_drains_the_request_in_flight_and_exits_0,
     .timeout = 60) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  child c;
  char base[64];
  start_greeter(&c, base, sizeof base);
  snprintf(g_url, sizeof g_url, "%s/statefun/greet", base);

  slow_upload u;
  memset(&u, 0, sizeof u);
  u.data = wire_request("greeter.fns/greet", "Max", 1, STATE_INT, 1, &u.len);
  sem_init(&u.first_part_sent, 0, 0);
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, slow_client, &u), 0);
  sem_wait(&u.first_part_sent);
  usleep(200 * 1000); /* the server has the headers and half the body */
  cr_assert_eq(kill(c.pid, SIGTERM), 0);
  pthread_join(t, NULL);

  cr_assert_eq(u.code, 200, "in-flight request got %ld; stderr: %s", u.code,
               c.err);
  cr_assert_str_eq(u.content_type, "application/octet-stream");
  FromFunction *from = wire_reply(&u.reply);
  cr_assert_not_null(from);
  cr_assert_eq(from->response_case,
               IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INVOCATION_RESULT);
  int32_t seen = 0;
  cr_assert(wire_int(from->invocation_result->state_mutations[0]->state_value,
                     &seen));
  cr_assert_eq(seen, 2);
  wire_reply_free(from);
  http_reply_free(&u.reply);
  free(u.data);
  sem_destroy(&u.first_part_sent);

  int status = reap(&c, 15000);
  cr_assert(WIFEXITED(status), "killed by signal %d", WTERMSIG(status));
  cr_assert_eq(WEXITSTATUS(status), 0, "stderr: %s", c.err);
  cr_assert(strstr(c.err, "SIGTERM") != NULL, "stderr: %s", c.err);

  /* Nobody listens any more. */
  http_reply r;
  cr_assert_not(http_request(NULL, "GET", g_url, NULL, 0, false, &r));
  http_reply_free(&r);
  curl_global_cleanup();
}

/* Runs greeter with `args` to completion; returns its exit status. */
static int run(child *c, const char *const *args) {
  spawn(c, args);
  int status = reap(c, 10000);
  cr_assert(WIFEXITED(status), "killed by signal %d", WTERMSIG(status));
  return WEXITSTATUS(status);
}

Test(process, help_exits_0_with_examples) {
  child c;
  static const char *const args[] = {"--help", NULL};
  cr_assert_eq(run(&c, args), 0);
  cr_assert(strstr(c.out, "--listen HOST:PORT") != NULL, "stdout: %s", c.out);
  cr_assert(strstr(c.out, "--max-body") != NULL);
  cr_assert(strstr(c.out, "Examples:") != NULL);
}

Test(process, bad_usage_exits_2_with_a_message) {
  static const char *const bad[][4] = {
      {"--bogus", NULL},
      {"--threads", "0", NULL},
      {"--threads", "many", NULL},
      {"--listen", "localhost", NULL},
      {"--listen", "127.0.0.1:99999", NULL},
      {"--max-body", "12q", NULL},
      {"--max-body", "0", NULL},
      {"--path-prefix", "statefun", NULL},
      {"--listen", NULL},
      {"stray", NULL},
  };
  static const char *const expect[] = {
      "--bogus", "--threads", "--threads", "--listen", "--listen",
      "--max-body", "--max-body", "--path-prefix", "--listen", "stray",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    child c;
    cr_assert_eq(run(&c, bad[i]), 2, "case %zu: stderr: %s", i, c.err);
    cr_assert(strstr(c.err, expect[i]) != NULL, "case %zu: stderr: %s", i,
              c.err);
    cr_assert(strstr(c.err, "--help") != NULL, "case %zu: stderr: %s", i,
              c.err);
  }
}

Test(process, port_in_use_exits_1) {
  child first;
  char base[64];
  start_greeter(&first, base, sizeof base);
  char listen[64];
  snprintf(listen, sizeof listen, "%s", base + strlen("http://"));
  const char *const args[] = {"--listen", listen, NULL};
  child second;
  cr_assert_eq(run(&second, args), 1, "stderr: %s", second.err);
  cr_assert(strstr(second.err, "in use") != NULL, "stderr: %s", second.err);
  kill(first.pid, SIGTERM);
  int status = reap(&first, 10000);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* --quiet (README, "The server"): serves as usual, with no start-up or
 * shutdown line on stderr. The port is one a greeter just bound and let go. */
Test(process, quiet_serves_without_a_line_on_stderr, .timeout = 60) {
  child first;
  char base[64];
  start_greeter(&first, base, sizeof base);
  kill(first.pid, SIGTERM);
  int status = reap(&first, 10000);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  const char *const args[] = {"--quiet", "--listen", base + strlen("http://"), NULL};
  child c;
  spawn(&c, args);
  char url[96];
  snprintf(url, sizeof url, "%s/health", base);
  long code = 0;
  for (int i = 0; i < 200 && code != 200; i++) {
    http_reply r;
    http_request(NULL, "GET", url, NULL, 0, false, &r);
    code = r.code;
    http_reply_free(&r);
    if (code != 200) usleep(50 * 1000);
  }
  cr_assert_eq(code, 200, "the quiet greeter does not answer %s", url);
  kill(c.pid, SIGTERM);
  status = reap(&c, 10000);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "stderr: %s", c.err);
  cr_assert_eq(c.err_len, 0, "stderr: %s", c.err);
}
