/* leader-exit [--pages N]: the main thread starts a worker and calls pthread_exit; the worker serves
 * the lockstep protocol (write, check). The process lives on with a zombie thread-group leader, whose
 * own /proc/PID/maps is empty. */
#include "lockstep.h"

#include <pthread.h>

static bool handle(const char *cmd, char *args) { return hostile_handle(cmd, args); }

static void *worker(void *arg) {
  (void)arg;
  emit_ready_begin();
  out_end();
  command_loop(handle, NULL);
}

int main(int argc, char **argv) {
  static const char *const values[] = {"--pages", NULL};
  static const char *const flags[] = {NULL};
  hostile_init(argc, argv, "leader-exit [--pages N]", values, flags);
  pthread_t t;
  if (pthread_create(&t, NULL, worker, NULL) != 0) die_errno("pthread_create");
  pthread_exit(NULL);
}
