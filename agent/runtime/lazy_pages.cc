#include "agent/runtime/lazy_pages.h"

#include <charconv>

namespace migrate::runtime {
namespace {

constexpr std::string_view kSummary = "UFFD transferred pages: (";

// "uffd: 1-12: UFFD transferred pages: (65577/65577)": the task's pid after "uffd: <n>-" is
// negative ("1--11", "19--13") for a task that exited while it was owed pages (a forked
// child that ended, say).
bool ExitedTask(std::string_view line) {
  size_t at = line.find("uffd: ");
  if (at == std::string_view::npos) return false;
  size_t i = at + 6;
  while (i < line.size() && line[i] >= '0' && line[i] <= '9') ++i;
  return line.substr(i, 2) == "--";
}

bool ParsePair(std::string_view text, uint64_t* copied, uint64_t* total) {
  size_t slash = text.find('/');
  size_t close = text.find(')');
  if (slash == std::string_view::npos || close == std::string_view::npos || close < slash) {
    return false;
  }
  auto a = std::from_chars(text.data(), text.data() + slash, *copied);
  auto b = std::from_chars(text.data() + slash + 1, text.data() + close, *total);
  return a.ec == std::errc() && b.ec == std::errc();
}

}  // namespace

std::string LazyPagesLogPath(const LazyPagesOptions& options) {
  return options.work_dir + "/lazy-pages.log";
}

Result<std::unique_ptr<ReadyProcess>> StartLazyPagesDaemon(ProcessRunner& runner,
                                                           const LazyPagesOptions& options) {
  if (options.page_socket_fd < 0) return Status::InvalidArgument("lazy pages: no page socket");
  ProcessSpec spec;
  spec.argv = {options.criu_path, "lazy-pages", "--page-server", "--ps-socket", "4",
               "--images-dir", options.image_dir, "--work-dir", options.work_dir,
               "--status-fd", "3", "-v4", "--log-file", LazyPagesLogPath(options)};
  spec.extra_fds.emplace_back(4, options.page_socket_fd);
  spec.timeout = options.timeout;
  return ReadyProcess::Start(runner, std::move(spec), 3);
}

LazyPagesSummary ParseLazyPagesLog(std::string_view log) {
  LazyPagesSummary s;
  size_t pos = 0;
  while (pos < log.size()) {
    size_t end = log.find('\n', pos);
    if (end == std::string_view::npos) end = log.size();
    std::string_view line = log.substr(pos, end - pos);
    pos = end + 1;
    if (line.find(": #PF at ") != std::string_view::npos) {
      ++s.pages_faulted;
      continue;
    }
    size_t at = line.find(kSummary);
    uint64_t copied = 0, total = 0;
    if (at == std::string_view::npos || !ParsePair(line.substr(at + kSummary.size()), &copied,
                                                   &total)) {
      continue;
    }
    if (ExitedTask(line)) {
      ++s.exited_tasks;
      continue;
    }
    ++s.tasks;
    s.pages_total += total;
    s.pages_copied += copied;
    if (copied != total && s.incomplete.empty()) s.incomplete = std::string(line);
  }
  return s;
}

}  // namespace migrate::runtime
