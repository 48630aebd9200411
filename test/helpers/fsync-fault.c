/*
 * Fault injection for tests, loaded with LD_PRELOAD into a child process: makes fsync(2) and
 * fdatasync(2) fail with EIO on chosen files, as a failing disk does, where the writes before
 * them succeeded. A full disk (ENOSPC) fails the write itself; this is the other case.
 *
 * The control file named by SG_FSYNC_FAULT_CTL holds "SKIP COUNT SUBSTRING": of the calls on a
 * file whose path contains SUBSTRING, the next SKIP pass and the COUNT after them fail (both are
 * decremented in the file as calls go by). Each failure
 * appends the file's path as a line to the control file's name + ".log", so a test can check
 * that its fault fired where it meant it to. No control file, or COUNT 0: every call passes.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int should_fail(int fd) {
  const char *ctl = getenv("SG_FSYNC_FAULT_CTL");
  if (ctl == NULL) return 0;
  char link[64];
  char target[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n < 0) return 0;
  target[n] = '\0';

  int fail = 0;
  int saved = errno;
  pthread_mutex_lock(&lock);
  FILE *f = fopen(ctl, "r");
  if (f != NULL) {
    long skip = 0;
    long count = 0;
    char match[1024] = "";
    int got = fscanf(f, "%ld %ld %1023s", &skip, &count, match);
    fclose(f);
    if (got == 3 && count > 0 && strstr(target, match) != NULL) {
      fail = skip == 0;
      f = fopen(ctl, "w");
      if (f != NULL) {
        fprintf(f, "%ld %ld %s\n", fail ? 0 : skip - 1, fail ? count - 1 : count, match);
        fclose(f);
      }
    }
    if (fail) {
      char logname[4200];
      snprintf(logname, sizeof logname, "%s.log", ctl);
      f = fopen(logname, "a");
      if (f != NULL) {
        fprintf(f, "%s\n", target);
        fclose(f);
      }
    }
  }
  pthread_mutex_unlock(&lock);
  errno = saved;
  return fail;
}

/* The real call, or EIO when the control file says this one fails. */
static int call(const char *name, int fd) {
  int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, name);
  if (should_fail(fd)) {
    errno = EIO;
    return -1;
  }
  return real(fd);
}

int fsync(int fd) { return call("fsync", fd); }

int fdatasync(int fd) { return call("fdatasync", fd); }
