// The destination's part of post-copy: the page link from the source (connected at the
// source's freeze, before the restore is asked for), CRIU's lazy-pages daemon that hands the
// restored tasks their pages, and the destination fence (agent/fence) that kills the copy
// as soon as the page link's round trips stop for the lease, whatever happens to this agent.
// The copy becomes final (the fence disarmed) only once CRIU counted every page in and the
// source's fence committed to end the source's tasks.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/agent_context.h"
#include "agent/fence/fence_client.h"
#include "agent/runtime/lazy_pages.h"
#include "transfer/base/unique_fd.h"
#include "transfer/stream/page_link.h"

namespace migrate::agent {

class DestinationPages final : public transfer::PageLinkHandler,
                               public std::enable_shared_from_this<DestinationPages> {
 public:
  // At prepare-receive: registers the record's pages_token with the stream server.
  static Result<std::shared_ptr<DestinationPages>> Expect(AgentContext& ctx,
                                                          const proto::MigrationRecord& r);
  ~DestinationPages() override;

  // Before `runc restore --lazy-pages`: the link connected, the fence armed over the
  // container's cgroup folders (`cgroup_dirs`, existing or not yet), the daemon ready.
  Status BeforeRestore(const std::string& work_dir, const std::vector<std::string>& cgroup_dirs);
  // Once the copy runs: every page arrived and the copy is final, or the copy is killed (the
  // error says so and how long it ran).
  Result<proto::PostCopyStats> AwaitPages(std::chrono::system_clock::time_point running_at);
  // Rollback or a failed restore: the copy is killed (OK when there is none).
  Status KillCopy(const std::string& reason);
  // Prepare-receive undone: the link token is withdrawn.
  void Cancel();

  // PageLinkHandler (the link's thread).
  bool OnPing(uint64_t seq) override;
  void OnPong(uint64_t seq, std::chrono::steady_clock::time_point sent) override;
  void OnControl(const proto::stream::LinkControl& message) override;
  void OnLocalClosed() override;

 private:
  DestinationPages(AgentContext& ctx, const proto::MigrationRecord& r)
      : ctx_(ctx), id_(r.migration_id()), images_dir_(r.images_dir()), token_(r.pages_token()) {}
  void Connected(std::unique_ptr<transfer::TlsConnection> conn);
  Status WaitLink(std::chrono::milliseconds timeout);
  Status FenceRequest(const std::string& line, const std::string& want, std::string* answer);
  Result<proto::PostCopyStats> Verify(const runtime::LazyPagesOptions& options);
  Status WaitCommitted();
  bool PagesStalled();
  // Kills the copy and tells the source; the error to return.
  Status Fail(const std::string& reason);

  AgentContext& ctx_;
  const std::string id_;
  const std::string images_dir_;
  const std::string token_;
  transfer::UniqueFd link_end_;    // our end of the socketpair with the daemon
  transfer::UniqueFd daemon_end_;  // the daemon's end (handed to it)
  std::unique_ptr<transfer::PageLink> link_;
  std::mutex fence_mu_;  // fence_ is set by the restore while the link thread renews it
  std::unique_ptr<fence::FenceClient> fence_;
  std::unique_ptr<runtime::ReadyProcess> daemon_;
  runtime::LazyPagesOptions daemon_options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool link_up_ = false;
  bool link_over_ = false;
  bool committed_ = false;
  bool waiting_for_pages_ = false;  // the daemon runs and the copy is owed pages
  uint64_t last_raw_ = 0;
  std::chrono::steady_clock::time_point last_data_;
  std::string failed_;           // why the copy was killed ("" while it may live)
  uint64_t killed_after_ms_ = 0;
};

}  // namespace migrate::agent
