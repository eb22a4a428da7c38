/*
 * PID 1 of a zdtm test container (scripts/zdtm-run.sh), built statically by
 * scripts/build-zdtm.sh. It does what the init of zdtm's own "ns" flavour does (test/zdtm/lib/
 * ns.c): start the test, wait for the test's launcher (the test daemonizes: its parent exits once
 * the test is ready), record the launcher's exit status, then reap every orphan that reaches it,
 * unless ZDTM_NOREAP is set (tests that keep zombies of other parents need that).
 *
 *   zdtm_init STATUS_FILE LOG_FILE TEST [ARG...]
 *
 * STATUS_FILE gets the launcher's exit status ("0\n" once the test runs), written atomically;
 * the test's stdout and stderr go to LOG_FILE until the test redirects them to its outfile.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_sigchld(int sig) { (void)sig; }

static int write_status(const char *path, int status) {
  char tmp[4096];
  FILE *f;
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  f = fopen(tmp, "w");
  if (!f) return -1;
  fprintf(f, "%d\n", status);
  if (fclose(f) != 0) return -1;
  return rename(tmp, path);
}

int main(int argc, char **argv) {
  sigset_t chld, none;
  struct sigaction sa;
  pid_t launcher;
  int status, code;

  if (argc < 4) {
    fprintf(stderr, "usage: %s STATUS_FILE LOG_FILE TEST [ARG...]\n", argv[0]);
    return 2;
  }
  /* SIGCHLD stays blocked except inside sigsuspend(): no wakeup is lost. */
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &none);
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_sigchld;
  sigaction(SIGCHLD, &sa, NULL);

  launcher = fork();
  if (launcher < 0) {
    perror("zdtm_init: fork");
    return 1;
  }
  if (launcher == 0) {
    int in = open("/dev/null", O_RDONLY);
    int log = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || log < 0) _exit(126);
    dup2(in, STDIN_FILENO);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    if (in > STDERR_FILENO) close(in);
    if (log > STDERR_FILENO) close(log);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGCHLD, SIG_DFL);
    execv(argv[3], argv + 3);
    _exit(127);
  }

  /* Only the launcher: orphans that reach us meanwhile wait, as in zdtm's ns init. */
  while (waitpid(launcher, &status, 0) < 0) {
    if (errno != EINTR) {
      perror("zdtm_init: waitpid");
      return 1;
    }
  }
  code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (write_status(argv[1], code) != 0) perror("zdtm_init: status file");

  for (;;) {
    if (!getenv("ZDTM_NOREAP")) {
      while (waitpid(-1, NULL, WNOHANG) > 0) {
      }
    }
    sigsuspend(&none);
  }
}
