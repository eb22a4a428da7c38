#include "agent/checkpoint_streams.h"

#include <chrono>
#include <filesystem>

#include "agent/agent_metrics.h"
#include "transfer/stream/stream_sender.h"

namespace migrate::agent {
namespace {

namespace fs = std::filesystem;

// True once CRIU has written an image file into `dir`.
bool HasImageFile(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".img") return true;
  }
  return false;
}

}  // namespace

CheckpointStreams::CheckpointStreams(AgentContext& ctx, Migration& m,
                                     const proto::CheckpointSendRequest& request,
                                     bool bundle_after_dump)
    : ctx_(ctx), m_(m), request_(request), bundle_after_dump_(bundle_after_dump) {
  if (request.bandwidth_bytes_per_second() > 0) {
    rate_limit_ = std::make_unique<transfer::RateLimit>(request.bandwidth_bytes_per_second());
  }
}

transfer::SendOptions CheckpointStreams::StreamOptions(const proto::StreamTarget& target,
                                                       const std::string& label) const {
  transfer::SendOptions options;
  options.host = target.address();
  options.port = static_cast<uint16_t>(target.data_port());
  options.server_name = target.node_name();
  options.tls = ctx_.deps().client_tls;
  options.token = target.token();
  options.label = label;
  if (request_.compress_level() != 0) options.zstd_level = request_.compress_level();
  options.rate_limit = rate_limit_.get();  // both streams share the cap
  options.observer = &ctx_.metrics();
  return options;
}

CheckpointStreams::~CheckpointStreams() { Join(); }

void CheckpointStreams::Join() {
  if (images_sender_.joinable()) images_sender_.join();
  if (bundle_sender_.joinable()) bundle_sender_.join();
}

Status CheckpointStreams::Start() {
  const proto::MigrationRecord& r = m_.record;
  auto source = transfer::GrowingDirectorySource::Open(r.images_dir(), {"pages-*.img"});
  if (!source.ok()) return source.status().WithContext("watch " + r.images_dir());
  images_ = std::move(source).value();
  m_.send_progress.raw_bytes = 0;
  m_.send_progress.wire_bytes = 0;
  m_.send_progress.files = 0;
  auto options = StreamOptions(request_.target(), r.migration_id() + "/images");
  options.progress = &m_.send_progress;
  images_sender_ = std::thread([this, options] {
    images_sent_ = transfer::SendTree(options, *images_, &m_.cancel);
  });
  if (sends_bundle()) bundle_sender_ = std::thread([this] { SendBundle(); });
  return Status::Ok();
}

void CheckpointStreams::SendBundle() {
  const proto::MigrationRecord& r = m_.record;
  // CRIU writes its first image only after the container's tasks are frozen (runc's own
  // descriptors.json comes before the freeze): from then on the root file system is still. A
  // dump that ends before any image was written sends nothing. Asked to wait for the dump's
  // end, it is sent only after a dump that succeeded.
  const bool after_dump = bundle_after_dump_;
  while (!dump_over_ && !m_.cancel.cancelled() && (after_dump || !HasImageFile(r.images_dir()))) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (m_.cancel.cancelled() || !HasImageFile(r.images_dir()) || (after_dump && !dump_ok_)) {
    bundle_sent_ = Status::Aborted(after_dump ? "the dump failed: bundle not sent"
                                              : "no freeze: bundle not sent");
    return;
  }
  ctx_.Hit("source.frozen", m_);
  proto::StreamTarget target = request_.target();
  target.set_token(request_.bundle_token());
  auto options = StreamOptions(target, r.migration_id() + "/bundle");
  transfer::DirectoryTreeSource tree(r.source_bundle());
  bundle_sent_ = transfer::SendTree(options, tree, &m_.cancel);
}

void CheckpointStreams::DumpEnded(const Status& dumped) {
  dump_ok_ = dumped.ok();
  dump_over_ = true;
  if (images_ != nullptr) {
    if (dumped.ok()) {
      images_->MarkProducerDone();
    } else {
      images_->MarkProducerFailed(dumped.message());
    }
  }
  Join();
}

Status CheckpointStreams::Outcome() const {
  const proto::MigrationRecord& r = m_.record;
  const std::string kept = " (images kept at " + r.images_dir() + ")";
  if (!images_sent_.ok()) {
    return images_sent_.status().WithContext("stream images to " + request_.target().node_name() +
                                             kept);
  }
  if (sends_bundle() && !bundle_sent_.ok()) {
    return bundle_sent_.status().WithContext("stream bundle " + r.source_bundle() + " to " +
                                             request_.target().node_name() + kept);
  }
  return Status::Ok();
}

}  // namespace migrate::agent
