// Post-copy through runc: `runc checkpoint --lazy-pages --page-server 127.0.0.1:PORT
// --status-fd 3`. runc (1.1 to 1.5) passes all three to CRIU; CRIU writes one byte to the
// status fd once every image but the pages is written and its page server listens, then
// serves the pages until the connection ends, and only then ends the tasks (a FIN: its
// success) or leaves them alive (an RST or a protocol error: its failure).
#include <chrono>
#include <memory>

#include "agent/runtime/ready_process.h"
#include "agent/runtime/runc_runtime.h"

namespace migrate::runtime {

class RuncLazyCheckpoint final : public LazyCheckpoint {
 public:
  RuncLazyCheckpoint(RuncRuntime& runtime, CheckpointOptions options)
      : runtime_(runtime), options_(std::move(options)),
        result_(RuncRuntime::NewCheckpointResult(options_)) {}

  Status Start(uint16_t port) {
    const std::string server = "127.0.0.1:" + std::to_string(port);
    MIGRATE_ASSIGN_OR_RETURN(setup_, runtime_.PrepareDump(options_, {"--lazy-pages", "--page-server",
                                                                     server, "--status-fd", "3"}));
    start_ = std::chrono::steady_clock::now();
    MIGRATE_ASSIGN_OR_RETURN(process_, ReadyProcess::Start(*runtime_.runner_, setup_.spec, 3));
    return Status::Ok();
  }

  Result<CheckpointResult> WaitReady(std::chrono::milliseconds timeout) override {
    Status ready = process_->WaitReady(timeout);
    result_.checkpoint_duration = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start_);
    if (!ready.ok()) {
      return runtime_.FailedRun("checkpoint", ready, result_.log_path)
          .WithContext("post-copy checkpoint of " + options_.container_id);
    }
    MIGRATE_RETURN_IF_ERROR(runtime_.ProveDump(options_, setup_, result_));
    return result_;
  }

  Status Finish() override {
    Result<ProcessResult> run = process_->Wait();
    if (run.ok()) return Status::Ok();
    return runtime_.FailedRun("checkpoint", run.status(), result_.log_path)
        .WithContext("post-copy checkpoint of " + options_.container_id);
  }

 private:
  RuncRuntime& runtime_;
  const CheckpointOptions options_;
  CheckpointResult result_;
  RuncRuntime::DumpSetup setup_;
  std::chrono::steady_clock::time_point start_;
  std::unique_ptr<ReadyProcess> process_;
};

Result<std::unique_ptr<LazyCheckpoint>> RuncRuntime::StartLazyCheckpoint(
    const CheckpointOptions& options, uint16_t page_server_port) {
  if (info_.name != "runc") {
    return Status::FailedPrecondition(info_.name +
                                      "'s checkpoint has no lazy pages: post-copy needs runc");
  }
  auto lazy = std::make_unique<RuncLazyCheckpoint>(*this, options);
  MIGRATE_RETURN_IF_ERROR(lazy->Start(page_server_port));
  return std::unique_ptr<LazyCheckpoint>(std::move(lazy));
}

}  // namespace migrate::runtime
