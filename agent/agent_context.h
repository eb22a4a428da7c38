// What every part of the agent works with: its dependencies (configuration, runtime, CRIU,
// streams, the state directory's files), its journal and its migrations, and the paths a
// migration owns in the state directory.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "agent/failpoints.h"
#include "agent/journal.h"
#include "agent/migration_store.h"
#include "agent/post_copy_sessions.h"
#include "agent/runtime/criu.h"
#include "agent/runtime/process_runner.h"
#include "agent/runtime/runtime.h"
#include "agent/state_files.h"
#include "proto/agent_config.pb.h"
#include "transfer/stream/stream_server.h"
#include "transfer/tls/tls.h"

namespace migrate::agent {

class AgentMetrics;

struct AgentDeps {
  proto::AgentConfig config;  // complete (defaults applied, validated)
  runtime::Runtime* runtime = nullptr;
  runtime::Criu* criu = nullptr;
  runtime::ProcessRunner* runner = nullptr;
  transfer::StreamServer* streams = nullptr;  // this node's stream receiver
  tls::ContextPtr client_tls;                 // for streams this node sends
  std::string agent_version;
  StateFiles* files = nullptr;  // null: the real file system
  Failpoints failpoints;        // tests only (see failpoints.h)
  AgentMetrics* metrics = nullptr;  // null: the context keeps its own (nobody reads it)
  // How long a rollback or recovery waits for a dump or restore that outlived an earlier run
  // of the agent (runc and CRIU are not its children) before it gives up, changing nothing.
  std::chrono::milliseconds orphan_wait{std::chrono::seconds(60)};
  // How long a commit or rollback waits for a step of the same migration to end.
  std::chrono::milliseconds step_lock_wait{std::chrono::seconds(30)};
  // Ended migrations' journals and images are removed this long after they ended.
  std::chrono::milliseconds retention{std::chrono::hours(72)};
  // Post-copy: the destination's copy lives at most this long without a page-link round
  // trip; the source resumes on its own no earlier than lease + margin after the last one.
  std::chrono::milliseconds post_copy_lease{2000};
  std::chrono::milliseconds post_copy_margin{1000};
  std::string fence_path;  // the migrate-fence binary (empty: found next to the agent)
  // Tests only (MIGRATE_TAMPER_PAGE_BYTES): the source corrupts the first page frame it sends
  // after this many bytes of pages (0: never).
  uint64_t tamper_page_bytes = 0;
};

class AgentContext;
// The migrate-fence binary: AgentDeps::fence_path, else found beside the agent or on PATH.
Result<std::string> FenceBinary(const AgentContext& ctx);
// Where a migration's fence keeps its state (<state>/migrations/<id>/fence.json); the fence
// names it in its arguments, so WaitForOrphans(FenceStatePath(...)) waits for the fence.
std::string FenceStatePath(const AgentContext& ctx, const std::string& migration_id);

class AgentContext {
 public:
  explicit AgentContext(AgentDeps deps);
  ~AgentContext();
  AgentContext(const AgentContext&) = delete;
  AgentContext& operator=(const AgentContext&) = delete;

  const AgentDeps& deps() const { return deps_; }
  const proto::AgentConfig& config() const { return deps_.config; }
  runtime::Runtime& runtime() const { return *deps_.runtime; }
  StateFiles& files() const { return *files_; }
  const Journal& journal() const { return journal_; }
  MigrationStore& store() { return store_; }
  PostCopySessions& post_copy() { return post_copy_; }
  AgentMetrics& metrics() const { return *metrics_; }
  const std::string& node() const { return deps_.config.node_name(); }
  void Hit(std::string_view failpoint, Migration& m) const {
    deps_.failpoints.Hit(failpoint, m.record.migration_id(), &m.cancel);
  }

  // <state>/migrations/<migration>: journal, images, work folders.
  std::string MigrationDir(const std::string& migration_id) const;
  // <state>/containers/<container>: the bundles this agent received for a container, one
  // folder per migration (so no migration can touch another's).
  std::string ContainerHome(const std::string& container_id) const;
  std::string BundleDir(const std::string& container_id, const std::string& migration_id) const;
  std::string StagingDir() const;

 private:
  AgentDeps deps_;
  StateFiles* files_;
  Journal journal_;
  std::unique_ptr<AgentMetrics> own_metrics_;  // when deps_.metrics is null
  AgentMetrics* metrics_;
  MigrationStore store_;
  PostCopySessions post_copy_;
};


}  // namespace migrate::agent
