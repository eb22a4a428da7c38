#include "agent/agent_context.h"

#include "agent/agent_metrics.h"

namespace migrate::agent {

AgentContext::AgentContext(AgentDeps deps)
    : deps_(std::move(deps)),
      files_(deps_.files != nullptr ? deps_.files : &PosixStateFiles()),
      journal_(*files_, deps_.config.state_dir()),
      own_metrics_(deps_.metrics != nullptr ? nullptr : std::make_unique<AgentMetrics>()),
      metrics_(deps_.metrics != nullptr ? deps_.metrics : own_metrics_.get()),
      store_(journal_, metrics_) {}

AgentContext::~AgentContext() = default;

std::string AgentContext::MigrationDir(const std::string& migration_id) const {
  return journal_.MigrationDir(migration_id);
}

std::string AgentContext::ContainerHome(const std::string& container_id) const {
  return deps_.config.state_dir() + "/containers/" + container_id;
}

std::string AgentContext::BundleDir(const std::string& container_id,
                                    const std::string& migration_id) const {
  return ContainerHome(container_id) + "/" + migration_id;
}

std::string AgentContext::StagingDir() const { return deps_.config.state_dir() + "/staging"; }

uint64_t UnixMillis(std::chrono::system_clock::time_point t) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

uint64_t MillisSince(std::chrono::system_clock::time_point t) {
  auto d = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now() - t);
  return d.count() > 0 ? static_cast<uint64_t>(d.count()) : 0;
}

}  // namespace migrate::agent
