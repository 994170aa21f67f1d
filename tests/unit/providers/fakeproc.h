/*
 * fakeproc.h - a fake provider (the .mjs servers in tests/fakes) as a child process, for the
 * C tests that run provider code over the real outbound client. One home for what each needs.
 *
 * The fake is started as `$NODE <script> [args...] --exit-on-stdin-close` with <script> from
 * the environment variable the test's meson entry sets; it prints one JSON line (its URL and
 * credentials) and exits when our end of its stdin closes - also when this test dies.
 */
#ifndef TG_TEST_FAKEPROC_H
#define TG_TEST_FAKEPROC_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

struct fakeproc {
    pid_t pid;
    int stdin_fd;
};

/*
 * Starts the fake named by environment variable script_env with the extra arguments args
 * (NULL-terminated; NULL for none) and returns its start-up line as JSON (caller decrefs),
 * or NULL after printing a TAP "Bail out!" line.
 */
static inline json_t *fakeproc_start(struct fakeproc *f, const char *script_env, const char *const *args)
{
    const char *node = getenv("NODE"), *script = getenv(script_env);
    const char *argv[16];
    size_t na = 0, n = 0;
    char line[8192];
    int in[2], out[2];
    json_t *j;

    f->pid = -1;
    f->stdin_fd = -1;
    if (node == NULL || node[0] == '\0' || script == NULL || access(script, R_OK) != 0) {
        printf("Bail out! node (NODE=%s) or the fake (%s=%s) is missing\n", node ? node : "", script_env,
               script ? script : "");
        return NULL;
    }
    argv[na++] = node;
    argv[na++] = script;
    for (size_t i = 0; args != NULL && args[i] != NULL && na < 14; i++)
        argv[na++] = args[i];
    argv[na++] = "--exit-on-stdin-close";
    argv[na] = NULL;
    if (pipe(in) != 0 || pipe(out) != 0)
        return NULL;
    f->pid = fork();
    if (f->pid < 0)
        return NULL;
    if (f->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execv(node, (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    f->stdin_fd = in[1]; /* kept open: the fake exits when it closes */
    while (n < sizeof line - 1 && read(out[0], line + n, 1) == 1 && line[n] != '\n')
        n++;
    close(out[0]);
    line[n] = '\0';
    j = json_loads(line, 0, NULL);
    if (!json_is_object(j)) {
        printf("Bail out! the fake did not start: '%s'\n", line);
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Stops the fake (closes its stdin, SIGTERM, waits). Returns its wait status, -1 when none. */
static inline int fakeproc_stop(struct fakeproc *f)
{
    int st = -1;
    if (f->pid <= 0)
        return -1;
    close(f->stdin_fd);
    kill(f->pid, SIGTERM);
    while (waitpid(f->pid, &st, 0) < 0 && errno == EINTR)
        ;
    f->pid = -1;
    return st;
}

/* A string member of a start-up line into out ("" when absent). */
static inline void fakeproc_str(json_t *j, const char *name, char *out, size_t cap)
{
    const char *v = json_string_value(json_object_get(j, name));
    snprintf(out, cap, "%s", v ? v : "");
}

/*
 * The test's stand-in for a loop's wake-up: net_exec_init(&ex, client, fake_waker_wake, &W),
 * then loop { net_exec_drain(&ex); if (done) break; fake_waker_nap(&W); }.
 */
struct fake_waker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int woken;
};
#define FAKE_WAKER_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0}

static inline void fake_waker_wake(void *arg)
{
    struct fake_waker *w = arg;
    pthread_mutex_lock(&w->mu);
    w->woken = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Waits for a wake-up, at most 20 ms. */
static inline void fake_waker_nap(struct fake_waker *w)
{
    pthread_mutex_lock(&w->mu);
    if (!w->woken) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    w->woken = 0;
    pthread_mutex_unlock(&w->mu);
}

#endif
