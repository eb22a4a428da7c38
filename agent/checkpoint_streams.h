// The two streams of a checkpoint, from the source to the destination's receiver: CRIU's
// images while CRIU writes them (each pages-*.img chunk by chunk as it grows, every other image
// once CRIU has closed it), and the bundle (config.json and root file system) once the
// container is frozen (or once the dump has ended, when asked), so that the root file system
// the destination restores is the one the frozen processes saw.
#pragma once

#include <atomic>
#include <memory>
#include <thread>

#include "agent/agent_context.h"
#include "transfer/stream/file_source.h"
#include "transfer/stream/rate_limit.h"
#include "transfer/stream/stream_sender.h"
#include "transfer/stream/stream_types.h"

namespace migrate::agent {

class CheckpointStreams {
 public:
  // `bundle_after_dump`: the bundle goes once the dump has succeeded, not at the freeze (the
  // dump changes the root file system, or reading it while frozen would change the state).
  CheckpointStreams(AgentContext& ctx, Migration& m, const proto::CheckpointSendRequest& request,
                    bool bundle_after_dump);
  ~CheckpointStreams();  // joins

  // Starts watching the (empty) image folder and both senders.
  Status Start();
  // The dump ended: the images stream sends what remains (or stops, if the dump failed), and
  // both streams are joined.
  void DumpEnded(const Status& dumped);
  // After DumpEnded: OK when both streams arrived verified; else the first failure, naming
  // what was kept.
  Status Outcome() const;
  const transfer::TransferStats& images() const { return *images_sent_; }
  const transfer::TransferStats& bundle() const { return *bundle_sent_; }
  bool sends_bundle() const { return !request_.bundle_token().empty(); }

 private:
  void SendBundle();
  void Join();
  transfer::SendOptions StreamOptions(const proto::StreamTarget& target,
                                      const std::string& label) const;

  AgentContext& ctx_;
  Migration& m_;
  const proto::CheckpointSendRequest& request_;
  const bool bundle_after_dump_;
  std::unique_ptr<transfer::RateLimit> rate_limit_;  // --bandwidth, when asked for
  std::unique_ptr<transfer::GrowingDirectorySource> images_;
  std::atomic<bool> dump_ok_{false};  // set before dump_over_
  std::atomic<bool> dump_over_{false};
  Result<transfer::TransferStats> images_sent_ = Status::Internal("images sender did not run");
  Result<transfer::TransferStats> bundle_sent_ = Status::Internal("bundle sender did not run");
  std::thread images_sender_;
  std::thread bundle_sender_;
};

}  // namespace migrate::agent
