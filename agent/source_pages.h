// The source's part of post-copy: CRIU's lazy dump, the freeze that holds the container's
// tasks whole whatever happens to CRIU or to this agent, the page link to the destination
// and the source fence (agent/fence) that decides, if this agent cannot, when the source
// may resume. One object per migration, kept in AgentContext::post_copy() from the freeze to
// the commit or rollback.
//
// The order that keeps one copy (docs/post-copy.md):
//  - the tasks are frozen by the freezer cgroup before any page leaves;
//  - CRIU's page socket ends with a FIN (CRIU ends the tasks) only on RELEASE, once the
//    destination has every page and has committed; every other end is an RST (CRIU leaves
//    the tasks alive and frozen);
//  - the source resumes only when the destination reports its copy killed, or when no
//    page-link round trip came for lease + margin and the destination had not reported every
//    page (the destination's fence kills its copy after the lease).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/agent_context.h"
#include "agent/early_freeze.h"
#include "agent/fence/fence_client.h"
#include "agent/runtime/runtime.h"
#include "transfer/base/unique_fd.h"
#include "transfer/stream/page_link.h"

namespace migrate::agent {

class SourcePages final : public transfer::PageLinkHandler {
 public:
  // Starts the lazy dump (nothing is frozen when it fails).
  static Result<std::shared_ptr<SourcePages>> Start(AgentContext& ctx, const Migration& m,
                                                    const proto::CheckpointSendRequest& request,
                                                    const runtime::CheckpointOptions& options);
  ~SourcePages() override;

  // Once CRIU serves pages: the tasks frozen, CRIU's page socket ours (checked in its log),
  // the fence holding, the page link to the destination connected and relaying. The dump's
  // result so far (the mode proof). On failure the source is resumed (or never stopped).
  Result<runtime::CheckpointResult> WaitReady();

  // Commit: the destination committed its copy; CRIU ends the source's tasks.
  Status Release();
  // Rollback: the destination's copy is gone; the container runs here again from the freeze.
  Status Resume(const std::string& reason);
  // How the transfer ended so far ("" while it runs).
  std::string outcome() const;

  // PageLinkHandler (the link's thread).
  bool OnPing(uint64_t seq) override;
  void OnPong(uint64_t seq, std::chrono::steady_clock::time_point sent) override;
  void OnControl(const proto::stream::LinkControl& message) override;
  void OnLocalClosed() override;

 private:
  SourcePages(AgentContext& ctx, const Migration& m, const proto::CheckpointSendRequest& request)
      : ctx_(ctx), id_(m.record.migration_id()), container_(m.record.container_id()),
        images_dir_(m.record.images_dir()), request_(request) {}
  Status HoldTasks();
  Status ConnectToCriu();
  Status SpawnFence();
  Status ConnectLink();
  void SetOutcome(const std::string& outcome);
  Status FenceRequest(const std::string& line, const std::string& want);
  std::chrono::steady_clock::time_point HoldUntil() const;
  Status FenceEnd(const std::string& line, const std::string& answer, const std::string& state);

  AgentContext& ctx_;
  const std::string id_;
  const std::string container_;
  const std::string images_dir_;
  const proto::CheckpointSendRequest request_;
  uint16_t port_ = 0;
  int init_pid_ = 0;
  std::string freezer_dir_;
  std::unique_ptr<runtime::LazyCheckpoint> dump_;
  std::unique_ptr<EarlyFreeze> early_freeze_;  // from the dump's start to its readiness
  transfer::UniqueFd criu_socket_;
  std::unique_ptr<fence::FenceClient> fence_;
  std::unique_ptr<transfer::PageLink> link_;
  std::thread link_thread_;
  std::thread dump_thread_;
  mutable std::mutex mu_;
  std::string outcome_;
  std::atomic<bool> ended_{false};
};

}  // namespace migrate::agent
