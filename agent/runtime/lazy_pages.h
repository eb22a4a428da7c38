// The destination's side of post-copy: CRIU's lazy-pages daemon (`criu lazy-pages
// --page-server --ps-socket 3`), which hands the restored tasks their pages through
// userfaultfd, asking the source's page server for them over an already connected socket
// (the agent's end of the page link), and what its log says arrived.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "agent/runtime/process_runner.h"
#include "agent/runtime/ready_process.h"

namespace migrate::runtime {

struct LazyPagesOptions {
  std::string criu_path = "criu";
  std::string image_dir;  // the received images (no pages)
  std::string work_dir;   // the restore's work dir: the daemon's socket for CRIU restore is here
  int page_socket_fd = -1;  // parent fd connected to the source's page server (via the link)
  std::chrono::milliseconds timeout{std::chrono::minutes(30)};
};

// Starts the daemon; ready (WaitReady) once the restore may connect to it.
Result<std::unique_ptr<ReadyProcess>> StartLazyPagesDaemon(ProcessRunner& runner,
                                                           const LazyPagesOptions& options);

// The daemon's log ("lazy-pages.log" in the work dir).
std::string LazyPagesLogPath(const LazyPagesOptions& options);

// CRIU's own count, from its log at verbosity 4: each task's "UFFD transferred pages: (C/T)"
// summary (a task that exited early is logged with a negative pid and counts as complete) and
// its "#PF" lines (pages faulted on demand).
struct LazyPagesSummary {
  uint64_t pages_total = 0;
  uint64_t pages_copied = 0;
  uint64_t pages_faulted = 0;
  uint32_t tasks = 0;         // live tasks summarized
  uint32_t exited_tasks = 0;  // tasks that exited before their last page
  std::string incomplete;     // the first live task short of pages ("" when none)
  bool complete() const { return tasks > 0 && incomplete.empty(); }
};
LazyPagesSummary ParseLazyPagesLog(std::string_view log);

}  // namespace migrate::runtime
