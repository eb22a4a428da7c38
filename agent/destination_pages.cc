#include "agent/destination_pages.h"

#include <sys/socket.h>

#include "agent/fence/fence_command.h"
#include "agent/orphans.h"
#include "agent/runtime/file_util.h"
#include "transfer/base/log.h"
#include "transfer/base/unix_time.h"

namespace migrate::agent {
namespace {

using Steady = std::chrono::steady_clock;

uint64_t ParseRanMs(const std::string& answer) {  // "KILLED <ran_ms>"
  size_t space = answer.find(' ');
  return space == std::string::npos ? 0 : std::strtoull(answer.c_str() + space + 1, nullptr, 10);
}

}  // namespace

Result<std::shared_ptr<DestinationPages>> DestinationPages::Expect(AgentContext& ctx,
                                                                   const proto::MigrationRecord& r) {
  std::shared_ptr<DestinationPages> pages(new DestinationPages(ctx, r));
  transfer::ExpectedLink expected;
  expected.expected_peer_node_name = r.peer_node();
  expected.label = r.migration_id() + "/pages";
  std::weak_ptr<DestinationPages> weak = pages;
  expected.on_connect = [weak](std::unique_ptr<transfer::TlsConnection> conn) {
    if (auto self = weak.lock()) self->Connected(std::move(conn));
  };
  MIGRATE_RETURN_IF_ERROR(
      ctx.deps().streams->ExpectLink(r.pages_token(), std::move(expected)).WithContext("page link"));
  return pages;
}

DestinationPages::~DestinationPages() {
  if (link_) link_->Stop();
}

void DestinationPages::Cancel() {
  if (ctx_.deps().streams != nullptr) ctx_.deps().streams->Cancel(token_);
  if (link_) link_->Stop();
}

// The stream server's connection thread: the link runs here until the transfer ends.
void DestinationPages::Connected(std::unique_ptr<transfer::TlsConnection> conn) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    MIGRATE_LOG(kError, id_) << "socketpair for the page link: " << strerror(errno);
    return;
  }
  link_end_.reset(pair[0]);
  daemon_end_.reset(pair[1]);
  transfer::PageLinkOptions options;
  options.label = id_ + "/pages";
  options.ping_interval = std::chrono::milliseconds(100);
  options.io_timeout = ctx_.deps().post_copy_lease;
  link_ = std::make_unique<transfer::PageLink>(std::move(conn), link_end_.get(), options, *this);
  {
    std::lock_guard<std::mutex> lock(mu_);
    link_up_ = true;
  }
  cv_.notify_all();
  Status ran = link_->Run();
  LogLine(ran.ok() ? LogLevel::kInfo : LogLevel::kWarn, id_, "page link ended: " + ran.ToString());
  {
    std::lock_guard<std::mutex> lock(mu_);
    link_over_ = true;
  }
  cv_.notify_all();
  if (!ran.ok()) (void)Fail("the page link was cut: " + ran.message());
}

Status DestinationPages::WaitLink(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return link_up_; })) {
    return Status::Unavailable("the source's page link did not connect");
  }
  if (link_over_) return Status::Unavailable("the source's page link is already closed");
  return Status::Ok();
}

Status DestinationPages::BeforeRestore(const std::string& work_dir,
                                       const std::vector<std::string>& cgroup_dirs) {
  MIGRATE_RETURN_IF_ERROR(WaitLink(std::chrono::seconds(30)));
  if (cgroup_dirs.empty()) return Status::FailedPrecondition("no cgroup to fence the copy in");
  fence::FenceSpec spec;
  MIGRATE_ASSIGN_OR_RETURN(spec.binary, FenceBinary(ctx_));
  spec.role = fence::FenceRole::kDestination;
  for (const std::string& dir : cgroup_dirs) spec.args.insert(spec.args.end(), {"--cgroup", dir});
  spec.args.insert(spec.args.end(),
                   {"--state", FenceStatePath(ctx_, id_), "--label", id_, "--lease-ms",
                    std::to_string(ctx_.deps().post_copy_lease.count())});
  MIGRATE_ASSIGN_OR_RETURN(auto fence, fence::FenceClient::Spawn(spec));
  {
    std::lock_guard<std::mutex> lock(fence_mu_);
    fence_ = std::move(fence);
  }
  daemon_options_.image_dir = images_dir_;
  daemon_options_.work_dir = work_dir;
  daemon_options_.page_socket_fd = daemon_end_.get();
  MIGRATE_RETURN_IF_ERROR(runtime::MakeDirs(work_dir));
  MIGRATE_ASSIGN_OR_RETURN(daemon_,
                           runtime::StartLazyPagesDaemon(*ctx_.deps().runner, daemon_options_));
  Status ready = daemon_->WaitReady(std::chrono::seconds(30));
  daemon_end_.reset();  // the daemon holds it now (or failed)
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiting_for_pages_ = ready.ok();
    last_data_ = Steady::now();
  }
  if (!ready.ok()) return Fail("CRIU's lazy-pages daemon did not start: " + ready.message());
  return Status::Ok();
}

Result<proto::PostCopyStats> DestinationPages::AwaitPages(
    std::chrono::system_clock::time_point running_at) {
  std::string answer;
  (void)FenceRequest("RUNNING " + std::to_string(UnixMillis(running_at)), "OK", &answer);
  Result<runtime::ProcessResult> ended = daemon_->Wait();
  const auto last_page = std::chrono::system_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiting_for_pages_ = false;
    if (!failed_.empty()) return Status::Aborted(failed_);
  }
  if (!ended.ok()) return Fail("CRIU's lazy-pages daemon failed: " + ended.status().message());
  MIGRATE_ASSIGN_OR_RETURN(proto::PostCopyStats stats, Verify(daemon_options_));
  stats.set_window_ms(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(last_page - running_at).count()));
  proto::stream::LinkControl done;
  done.mutable_done()->set_pages_total(stats.pages_total());
  done.mutable_done()->set_pages_copied(stats.pages_copied());
  done.mutable_done()->set_summary(std::to_string(stats.pages_copied()) + "/" +
                                   std::to_string(stats.pages_total()) + " pages");
  link_->Send(done);
  MIGRATE_RETURN_IF_ERROR(WaitCommitted());
  MIGRATE_RETURN_IF_ERROR(FenceRequest("DISARM", "DISARMED", &answer));
  const transfer::PageLink::Stats link = link_->stats();
  stats.set_link_raw_bytes(link.from_peer_raw);
  stats.set_link_wire_bytes(link.from_peer_wire);
  link_->Stop();
  return stats;
}

// CRIU's own count: every live task got all of its pages.
Result<proto::PostCopyStats> DestinationPages::Verify(const runtime::LazyPagesOptions& options) {
  Result<std::string> log = runtime::ReadFile(runtime::LazyPagesLogPath(options));
  if (!log.ok()) return Fail("CRIU's lazy-pages log: " + log.status().message());
  runtime::LazyPagesSummary s = runtime::ParseLazyPagesLog(*log);
  if (!s.complete()) {
    return Fail(s.tasks == 0 ? "CRIU's lazy-pages log counts no task"
                             : "not every page arrived: " + s.incomplete);
  }
  proto::PostCopyStats stats;
  stats.set_pages_total(s.pages_total);
  stats.set_pages_copied(s.pages_copied);
  stats.set_pages_faulted(s.pages_faulted);
  stats.set_pages_pushed(s.pages_copied - std::min(s.pages_copied, s.pages_faulted));
  stats.set_tasks(s.tasks);
  return stats;
}

Status DestinationPages::WaitCommitted() {
  std::unique_lock<std::mutex> lock(mu_);
  const bool acked = cv_.wait_for(lock, ctx_.deps().post_copy_lease,
                                  [&] { return committed_ || link_over_ || !failed_.empty(); });
  const bool ok = acked && committed_;
  lock.unlock();
  if (!ok) return Fail("the source did not confirm it will end its tasks");
  return Status::Ok();
}

Status DestinationPages::KillCopy(const std::string& reason) {
  Status failed = Fail(reason);
  return failed.code() == StatusCode::kAborted ? Status::Ok() : failed;
}

Status DestinationPages::Fail(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failed_.empty()) return Status::Aborted(failed_);
    failed_ = "post-copy cut (" + reason + ")";
  }
  std::string answer;
  Status killed = FenceRequest("KILL " + reason, "KILLED", &answer);
  uint64_t ran_ms = killed.ok() ? ParseRanMs(answer) : 0;
  (void)KillOrphans(images_dir_, id_);  // the daemon, a restore still running
  std::lock_guard<std::mutex> lock(mu_);
  if (!killed.ok() && killed.message() != "no fence") {
    failed_ += ": killing the copy failed: " + killed.message();
  } else {
    killed_after_ms_ = ran_ms;
    failed_ += ": the destination's copy was killed after " + std::to_string(ran_ms) + " ms";
    if (link_) {
      proto::stream::LinkControl message;
      message.mutable_killed()->set_ran_ms(ran_ms);
      message.mutable_killed()->set_reason(reason);
      link_->Send(message);
    }
  }
  MIGRATE_LOG(kWarn, id_) << failed_;
  return Status::Aborted(failed_);
}

Status DestinationPages::FenceRequest(const std::string& line, const std::string& want,
                                      std::string* answer) {
  fence::FenceClient* fence = nullptr;
  {
    std::lock_guard<std::mutex> lock(fence_mu_);
    fence = fence_.get();
  }
  if (fence == nullptr) return Status::FailedPrecondition("no fence");
  MIGRATE_ASSIGN_OR_RETURN(*answer, fence->Ask(line, want, std::chrono::seconds(10)));
  return Status::Ok();
}

bool DestinationPages::OnPing(uint64_t) { return false; }

// While the daemon waits for pages, they must keep coming: a source that stops sending them
// (its page server killed or stopped) gets no more lease.
bool DestinationPages::PagesStalled() {
  const Steady::time_point now = Steady::now();
  const uint64_t raw = link_->stats().from_peer_raw;
  std::lock_guard<std::mutex> lock(mu_);
  if (raw != last_raw_) {
    last_raw_ = raw;
    last_data_ = now;
  }
  return waiting_for_pages_ && now - last_data_ > ctx_.deps().post_copy_lease;
}

void DestinationPages::OnPong(uint64_t, Steady::time_point sent) {
  if (PagesStalled()) {
    (void)Fail("no page arrived for " + std::to_string(ctx_.deps().post_copy_lease.count()) +
               " ms");
    return;
  }
  std::string answer;
  (void)FenceRequest(
      fence::DeadlineCommand(fence::Verb::kLeaseUntil, sent + ctx_.deps().post_copy_lease), "OK",
      &answer);
}

void DestinationPages::OnControl(const proto::stream::LinkControl& message) {
  if (message.has_committed()) {
    std::lock_guard<std::mutex> lock(mu_);
    committed_ = true;
  } else if (message.has_cut()) {
    (void)Fail("the source cut the transfer: " + message.cut().reason());
  }
  cv_.notify_all();
}

// The daemon ended (its exit tells how): what the source still sends is dropped.
void DestinationPages::OnLocalClosed() { link_->CloseLocal(); }

}  // namespace migrate::agent
