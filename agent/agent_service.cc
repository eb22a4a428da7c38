#include "agent/agent_service.h"

#include <utility>  // before asio: g++ 12 + Boost 1.74

#include <sys/stat.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <openssl/rand.h>
#include <thread>

#include "agent/runtime/cgroup_mode.h"
#include "agent/runtime/host_stats.h"
#include "agent/runtime/node_probe.h"
#include "agent/runtime/oci_config.h"
#include "agent/runtime/version.h"
#include "transfer/file_source.h"
#include "transfer/log.h"
#include "transfer/stream_sender.h"

namespace migrate::agent {
namespace {

namespace fs = std::filesystem;
using runtime::CgroupMode;

uint64_t UnixMillis(std::chrono::system_clock::time_point t) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}
uint64_t NowUnixMillis() { return UnixMillis(std::chrono::system_clock::now()); }

// Milliseconds from `t` until now on this host's clock (0 if the clock went back).
uint64_t SinceMs(std::chrono::system_clock::time_point t) {
  auto d = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now() - t);
  return d.count() > 0 ? static_cast<uint64_t>(d.count()) : 0;
}

Result<std::string> RandomToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return Status::Internal("RAND_bytes failed");
  static const char* kHex = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 15];
  }
  return token;
}

// Container ids become file names: same alphabet as runc's ids.
bool IsValidContainerId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '+';
    if (!ok) return false;
  }
  return id != "." && id != "..";
}

Status CheckIds(const std::string& migration_id, const std::string& container_id) {
  if (!IsValidMigrationId(migration_id)) {
    return Status::InvalidArgument("invalid migration id '" + migration_id + "'");
  }
  if (!IsValidContainerId(container_id)) {
    return Status::InvalidArgument("invalid container id '" + container_id + "'");
  }
  return Status::Ok();
}

// A cgroup path the agent may hand to runc: absolute, no "." or ".." components.
Status CheckCgroupPath(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return Status::InvalidArgument("cgroup path '" + path + "' must be absolute");
  }
  for (const auto& part : fs::path(path)) {
    if (part == "." || part == "..") {
      return Status::InvalidArgument("cgroup path '" + path + "' must not contain . or ..");
    }
  }
  return Status::Ok();
}

bool IsFinal(proto::Phase phase) {
  return phase == proto::PHASE_COMMITTED || phase == proto::PHASE_ROLLED_BACK;
}

std::chrono::milliseconds ElapsedMs(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               since);
}

template <typename Message>
ApiResponse Encode(const Result<Message>& result) {
  ApiResponse response;
  if (result.ok()) {
    response.body = result->SerializeAsString();
    return response;
  }
  proto::ApiError error;
  error.set_code(std::string(StatusCodeName(result.status().code())));
  error.set_message(result.status().message());
  response.status = HttpStatusFor(result.status());
  response.body = error.SerializeAsString();
  return response;
}

ApiResponse ErrorResponse(const Status& status) {
  return Encode(Result<proto::Health>(status));
}

template <typename Message>
Result<Message> Decode(const std::string& body) {
  Message message;
  if (!message.ParseFromString(body)) {
    return Status::InvalidArgument("request body is not a valid " + message.GetTypeName());
  }
  return message;
}

}  // namespace

unsigned HttpStatusFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kFailedPrecondition: return 412;
    case StatusCode::kUnimplemented: return 501;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDeadlineExceeded: return 504;
    default: return 500;
  }
}

struct AgentService::Migration {
  std::mutex mutex;  // serialises the migration's steps; guards `record`
  proto::MigrationRecord record;
  // What status queries show: a copy of `record` as last journaled. Status queries must not
  // wait for `mutex` (a checkpoint holds it for minutes) nor read `record` while a step
  // writes it.
  std::mutex published_mutex;
  proto::MigrationRecord published;
  void Publish() {
    std::lock_guard<std::mutex> lock(published_mutex);
    published = record;
  }
  // Live counters of this node's outgoing stream; cancel stops it (rollback).
  transfer::TransferProgress send_progress;
  transfer::CancelFlag cancel;
};

AgentService::AgentService(AgentDeps deps, int worker_threads)
    : deps_(std::move(deps)),
      journal_(deps_.config.state_dir()),
      workers_(std::make_unique<boost::asio::thread_pool>(worker_threads)) {}

AgentService::~AgentService() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [id, m] : migrations_) m->cancel.Cancel();
  }
  workers_->join();
}

std::string AgentService::ContainerHome(const std::string& container_id) const {
  return deps_.config.state_dir() + "/containers/" + container_id;
}

Result<AgentService::MigrationPtr> AgentService::Find(const std::string& migration_id) {
  if (!IsValidMigrationId(migration_id)) {
    return Status::InvalidArgument("invalid migration id '" + migration_id + "'");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = migrations_.find(migration_id);
  if (it != migrations_.end()) return it->second;
  auto record = journal_.Load(migration_id);
  if (!record.ok()) return record.status();
  auto m = std::make_shared<Migration>();
  m->record = std::move(record).value();
  m->Publish();
  migrations_[migration_id] = m;
  return m;
}

AgentService::MigrationPtr AgentService::FindOrCreate(const std::string& migration_id) {
  auto found = Find(migration_id);
  if (found.ok()) return *found;
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = migrations_[migration_id];
  if (!slot) {
    slot = std::make_shared<Migration>();
    slot->record.set_migration_id(migration_id);
    slot->Publish();
  }
  return slot;
}

Status AgentService::Journal(Migration& m, proto::Phase phase, std::string message) {
  m.record.set_phase(phase);
  m.record.set_message(std::move(message));
  m.record.set_updated_unix_ms(NowUnixMillis());
  m.Publish();
  MIGRATE_LOG(kInfo, m.record.migration_id())
      << "phase " << proto::Phase_Name(phase)
      << (m.record.message().empty() ? "" : ": " + m.record.message());
  return journal_.Save(m.record);
}

proto::MigrationStatus AgentService::StatusOf(Migration& m) {
  proto::MigrationRecord record;
  {
    std::lock_guard<std::mutex> lock(m.published_mutex);
    record = m.published;
  }
  proto::MigrationStatus status;
  status.set_migration_id(record.migration_id());
  status.set_container_id(record.container_id());
  status.set_role(record.role());
  status.set_phase(record.phase());
  status.set_message(record.message());
  if (record.role() == proto::ROLE_SOURCE) {
    status.set_bytes_raw(m.send_progress.raw_bytes.load());
    status.set_bytes_wire(m.send_progress.wire_bytes.load());
  } else if (deps_.streams != nullptr) {
    for (const std::string& token : {record.bundle_token(), record.images_token()}) {
      if (token.empty()) continue;
      auto progress = deps_.streams->Progress(token);
      if (progress.ok()) {
        status.set_bytes_raw(status.bytes_raw() + progress->raw_bytes);
        status.set_bytes_wire(status.bytes_wire() + progress->wire_bytes);
      }
    }
  }
  return status;
}

// ---------------------------------------------------------------------------------------
// Routing

void AgentService::Handle(ApiRequest request, Respond respond) {
  const std::string& target = request.target;
  const bool get = request.method == "GET";
  const bool post = request.method == "POST";
  const bool from_controller = request.peer.role == tls::Role::kController;

  // Health is open to every authenticated peer; everything else only to the controller.
  if (target == "/v1/health") {
    if (!get) return respond(ErrorResponse(Status::InvalidArgument("use GET " + target)));
    return respond(Encode(Health()));
  }
  if (!from_controller) {
    MIGRATE_LOG(kWarn, "") << "refusing " << request.method << " " << target << " from '"
                           << request.peer.common_name << "' (role "
                           << tls::RoleName(request.peer.role) << "): controller role required";
    return respond(ErrorResponse(Status::PermissionDenied(
        "this API requires a certificate with the controller role; '" +
        request.peer.common_name + "' has role " + std::string(tls::RoleName(request.peer.role)))));
  }
  const std::string kMigrations = "/v1/migrations/";
  if (get && target.rfind(kMigrations, 0) == 0) {
    return respond(Encode(GetStatus(target.substr(kMigrations.size()))));
  }

  // Everything else may run runc, CRIU or a transfer: off the I/O thread.
  auto run = [this, respond](auto work) {
    boost::asio::post(*workers_, [respond, work = std::move(work)]() mutable { respond(work()); });
  };
  auto body = std::make_shared<std::string>(std::move(request.body));
  if (get && target == "/v1/capabilities") return run([this] { return Encode(Capabilities()); });
  if (!post) {
    return respond(ErrorResponse(Status::NotFound(request.method + " " + target +
                                                  " is not part of the agent API")));
  }
#define MIGRATE_ROUTE(path, Request, Method)                              \
  if (target == path) {                                                   \
    return run([this, body] {                                             \
      auto decoded = Decode<proto::Request>(*body);                       \
      if (!decoded.ok()) return ErrorResponse(decoded.status());          \
      return Encode(Method(*decoded));                                    \
    });                                                                   \
  }
  MIGRATE_ROUTE("/v1/inspect", InspectRequest, Inspect)
  MIGRATE_ROUTE("/v1/preflight", PreflightRequest, Preflight)
  MIGRATE_ROUTE("/v1/prepare-receive", PrepareReceiveRequest, PrepareReceive)
  MIGRATE_ROUTE("/v1/checkpoint-send", CheckpointSendRequest, CheckpointSend)
  MIGRATE_ROUTE("/v1/restore", RestoreRequest, Restore)
  MIGRATE_ROUTE("/v1/commit", CommitRequest, Commit)
  MIGRATE_ROUTE("/v1/rollback", RollbackRequest, Rollback)
#undef MIGRATE_ROUTE
  respond(ErrorResponse(Status::NotFound("POST " + target + " is not part of the agent API")));
}

// ---------------------------------------------------------------------------------------
// Node and container

Result<proto::Health> AgentService::Health() {
  proto::Health health;
  health.set_node_name(deps_.config.node_name());
  health.set_agent_version(deps_.agent_version);
  return health;
}

Result<proto::Capabilities> AgentService::Capabilities() {
  runtime::NodeProbeOptions options;
  options.node_name = deps_.config.node_name();
  options.agent_version = deps_.agent_version;
  return runtime::ProbeNode(*deps_.runtime, *deps_.criu, options);
}

Result<proto::ContainerInfo> AgentService::Inspect(const proto::InspectRequest& request) {
  const std::string& id = request.container_id();
  if (!IsValidContainerId(id)) return Status::InvalidArgument("invalid container id '" + id + "'");
  proto::ContainerInfo info;
  info.set_container_id(id);
  auto state = deps_.runtime->State(id);
  if (!state.ok()) {
    if (state.status().code() == StatusCode::kNotFound) return info;  // exists = false
    return state.status().WithContext("inspect " + id);
  }
  info.set_exists(true);
  info.set_status(state->status);
  info.set_init_pid(state->init_pid);
  info.set_bundle(state->bundle);
  auto config = runtime::OciConfig::Load(state->bundle + "/config.json");
  if (config.ok()) info.set_cgroups_path(config->cgroups_path().value_or(""));
  auto bytes = runtime::TreeBytes(state->bundle);
  if (bytes.ok()) info.set_rootfs_bytes(*bytes);
  auto pids = deps_.runtime->Pids(id);
  if (pids.ok()) info.set_memory_bytes(runtime::ProcessesRssBytes(*pids));
  return info;
}

Result<proto::PreflightResponse> AgentService::Preflight(const proto::PreflightRequest& request) {
  MIGRATE_RETURN_IF_ERROR(CheckIds(request.migration_id(), request.container_id()));
  auto mode = runtime::CgroupModeFromProto(request.cgroup_mode());
  if (!mode.ok()) return mode.status().WithContext("preflight");
  const std::string& id = request.container_id();
  const std::string& mid = request.migration_id();
  proto::PreflightResponse response;
  auto add = [&response](std::string name, bool ok, std::string detail, std::string remedy) {
    auto* check = response.add_checks();
    check->set_name(std::move(name));
    check->set_ok(ok);
    check->set_detail(std::move(detail));
    if (!ok) check->set_remedy(std::move(remedy));
  };

  auto caps = Capabilities();
  if (!caps.ok()) return caps.status().WithContext("preflight: probe node");
  *response.mutable_capabilities() = *caps;
  add("criu-check", caps->criu_check_ok(),
      caps->criu_check_ok() ? "criu " + caps->criu_version() + ": criu check passed"
                            : "criu check failed: " + caps->criu_check_output(),
      "install a CRIU that passes `criu check` on this kernel (scripts/install-deps.sh)");

  proto::InspectRequest inspect;
  inspect.set_container_id(id);
  auto info = Inspect(inspect);
  if (!info.ok()) return info.status().WithContext("preflight");

  if (request.role() == proto::ROLE_SOURCE) {
    *response.mutable_container() = *info;
    bool running = info->exists() && info->status() == "running";
    add("container-running", running,
        info->exists() ? "container " + id + " is " + info->status()
                       : "no container " + id + " on " + deps_.config.node_name(),
        info->exists() ? "only a running container can be migrated"
                       : "check the id with `runc --root " + deps_.config.runc_root() + " list`");
    if (running) {
      auto plan = deps_.runtime->PlanCheckpoint(id, *mode);
      if (!plan.ok()) return plan.status().WithContext("preflight: plan checkpoint");
      std::string detail = plan->allowed() ? "checkpoint in " +
                                                 std::string(runtime::CgroupModeName(*mode)) +
                                                 " via " + plan->description
                                           : plan->reason;
      if (!plan->note.empty()) detail += " (" + plan->note + ")";
      add("cgroup-mode-checkpoint", plan->allowed(), detail,
          "choose another --cgroups-mode; see `migrate-agent probe` for what this node honours");
      auto tcp = runtime::EstablishedTcpConnections(info->init_pid());
      if (tcp.ok() && *tcp > 0) {
        add("tcp-connections", request.tcp_established(),
            std::to_string(*tcp) + " established TCP connection(s) in the container" +
                (request.tcp_established() ? ", carried across (--tcp-established)" : ""),
            "CRIU cannot dump established TCP connections unless asked: pass "
            "--tcp-established (the peers must reach the container at the same address on "
            "the destination), or close them first");
      }
      bool bundle_ok = fs::exists(info->bundle() + "/config.json");
      add("bundle", bundle_ok, "bundle " + info->bundle(),
          "the container's bundle (config.json + rootfs) must be readable on the source");
    }
    auto cpuinfo = deps_.criu->CpuinfoDumpBytes();
    add("cpuinfo-dump", cpuinfo.ok(),
        cpuinfo.ok() ? "criu cpuinfo dump: " + std::to_string(cpuinfo->size()) + " bytes"
                     : cpuinfo.status().message(),
        "check that `criu cpuinfo dump` works on the source");
    if (cpuinfo.ok()) response.set_cpuinfo(*cpuinfo);
  } else if (request.role() == proto::ROLE_DESTINATION) {
    bool home_exists = fs::exists(ContainerHome(id));
    add("container-absent", !info->exists() && !home_exists,
        info->exists() ? "a container " + id + " already exists here (" + info->status() + ")"
        : home_exists  ? "a bundle for " + id + " already exists at " + ContainerHome(id)
                       : "no container " + id + " here",
        "remove the existing container (runc delete) or its bundle before migrating here");
    if (!request.source_criu_version().empty()) {
      auto mine = runtime::ParseVersion(caps->criu_version());
      auto theirs = runtime::ParseVersion(request.source_criu_version());
      bool ok = mine.ok() && theirs.ok() && !(*mine < *theirs);
      add("criu-version", ok,
          "destination criu " + caps->criu_version() + ", source criu " +
              request.source_criu_version(),
          "upgrade CRIU on the destination to at least the source's version");
    }
    runtime::ModePlan plan = deps_.runtime->PlanRestore(*mode);
    add("cgroup-mode-restore", plan.allowed(),
        plan.allowed() ? "restore in " + std::string(runtime::CgroupModeName(*mode)) + " via " +
                             plan.description
                       : plan.reason,
        "choose another --cgroups-mode; see `migrate-agent probe` for what this node honours");
    if (*mode == CgroupMode::kIgnore && !request.cgroup_path().empty()) {
      Status path_ok = CheckCgroupPath(request.cgroup_path());
      add("cgroup-path", path_ok.ok(),
          path_ok.ok() ? "restored container goes to cgroup " + request.cgroup_path()
                       : path_ok.message(),
          "give --cgroup-path as an absolute cgroup path, e.g. /migrate/web-1");
    }
    if (!request.source_cpuinfo().empty()) {
      auto check = deps_.criu->CpuinfoCheckBytes(request.source_cpuinfo());
      bool ok = check.ok() && check->ok;
      add("cpu-compatible", ok,
          check.ok() ? (ok ? "criu cpuinfo check passed" : "criu cpuinfo check: " + check->output)
                     : check.status().message(),
          "migrate between hosts with compatible CPUs (same CPU features)");
    }
    std::error_code ec;
    fs::create_directories(deps_.config.state_dir(), ec);
    auto free_bytes = runtime::FreeBytes(deps_.config.state_dir());
    uint64_t needed = request.bytes_needed() + request.bytes_needed() / 10 + (64ull << 20);
    bool space_ok = free_bytes.ok() && *free_bytes >= needed;
    add("free-space", space_ok,
        free_bytes.ok() ? std::to_string(*free_bytes >> 20) + " MiB free in " +
                              deps_.config.state_dir() + ", " + std::to_string(needed >> 20) +
                              " MiB needed"
                        : free_bytes.status().message(),
        "free space in the agent's state_dir on the destination");
  } else {
    return Status::InvalidArgument("preflight: role must be source or destination");
  }
  for (const auto& check : response.checks()) {
    LogLine(check.ok() ? LogLevel::kDebug : LogLevel::kWarn, mid,
            "preflight " + check.name() + ": " + (check.ok() ? "ok" : "FAILED") + ": " +
                check.detail());
  }
  return response;
}

// ---------------------------------------------------------------------------------------
// Destination

Result<proto::PrepareReceiveResponse> AgentService::PrepareReceive(
    const proto::PrepareReceiveRequest& request) {
  MIGRATE_RETURN_IF_ERROR(CheckIds(request.migration_id(), request.container_id()));
  if (request.source_node().empty()) {
    return Status::InvalidArgument("prepare-receive: source_node is required");
  }
  if (deps_.streams == nullptr) return Status::Unavailable("this agent receives no streams");
  MigrationPtr m = FindOrCreate(request.migration_id());
  std::lock_guard<std::mutex> lock(m->mutex);
  if (m->record.phase() != proto::PHASE_UNSPECIFIED) {
    return Status::AlreadyExists("migration " + request.migration_id() + " is already " +
                                 proto::Phase_Name(m->record.phase()));
  }
  const std::string home = ContainerHome(request.container_id());
  if (fs::exists(home)) {
    return Status::AlreadyExists("a bundle for " + request.container_id() + " already exists at " +
                                 home);
  }
  const std::string dir = journal_.MigrationDir(request.migration_id());
  const std::string staging = deps_.config.state_dir() + "/staging";
  std::error_code ec;
  for (const std::string& d : {dir, staging, deps_.config.state_dir() + "/containers"}) {
    fs::create_directories(d, ec);
    if (ec) return Status::IoError("create " + d + ": " + ec.message());
  }
  MIGRATE_ASSIGN_OR_RETURN(std::string bundle_token, RandomToken());
  MIGRATE_ASSIGN_OR_RETURN(std::string images_token, RandomToken());

  proto::MigrationRecord& r = m->record;
  r.set_container_id(request.container_id());
  r.set_role(proto::ROLE_DESTINATION);
  r.set_peer_node(request.source_node());
  r.set_bundle_dir(home);
  r.set_images_dir(dir + "/images");
  r.set_bundle_token(bundle_token);
  r.set_images_token(images_token);
  MIGRATE_RETURN_IF_ERROR(Journal(*m, proto::PHASE_PREPARED));

  transfer::ExpectedStream bundle;
  bundle.final_dir = home;
  bundle.staging_dir = staging;
  bundle.expected_peer_node_name = request.source_node();
  bundle.label = request.migration_id() + "/bundle";
  bundle.symlinks = transfer::SymlinkPolicy::kContainerRoot;
  MIGRATE_RETURN_IF_ERROR(deps_.streams->Expect(bundle_token, bundle).WithContext("bundle stream"));
  transfer::ExpectedStream images;
  images.final_dir = r.images_dir();
  images.staging_dir = staging;
  images.expected_peer_node_name = request.source_node();
  images.label = request.migration_id() + "/images";
  images.symlinks = transfer::SymlinkPolicy::kWithinTree;
  // No fsync for the images: they serve only this migration's restore, and a destination
  // that restarts before RESTORED deletes them (the source keeps its copy until commit).
  // Syncing them added ~0.5 s per GiB to the downtime (docs/benchmarks.md, fsync runs).
  images.fsync = false;
  Status expect_images = deps_.streams->Expect(images_token, images);
  if (!expect_images.ok()) {
    deps_.streams->Cancel(bundle_token);
    return expect_images.WithContext("images stream");
  }
  proto::PrepareReceiveResponse response;
  response.set_bundle_token(bundle_token);
  response.set_images_token(images_token);
  response.set_data_port(deps_.streams->port());
  return response;
}

Result<proto::RestoreResponse> AgentService::Restore(const proto::RestoreRequest& request) {
  MIGRATE_RETURN_IF_ERROR(CheckIds(request.migration_id(), request.container_id()));
  auto mode = runtime::CgroupModeFromProto(request.cgroup_mode());
  if (!mode.ok()) return mode.status().WithContext("restore");
  MIGRATE_ASSIGN_OR_RETURN(MigrationPtr m, Find(request.migration_id()));
  std::lock_guard<std::mutex> lock(m->mutex);
  proto::MigrationRecord& r = m->record;
  const std::string& mid = r.migration_id();
  if (r.role() != proto::ROLE_DESTINATION || r.phase() != proto::PHASE_PREPARED) {
    return Status::FailedPrecondition("restore: migration " + mid + " is " +
                                      proto::Phase_Name(r.phase()) + " here, not PREPARED");
  }
  if (r.container_id() != request.container_id()) {
    return Status::InvalidArgument("restore: migration " + mid + " is for container " +
                                   r.container_id());
  }
  runtime::ModePlan plan = deps_.runtime->PlanRestore(*mode);
  if (!plan.allowed()) return Status::FailedPrecondition("restore refused: " + plan.reason);
  // Both streams must have arrived and verified; they normally have by now.
  auto deadline = transfer::Clock::now() + std::chrono::seconds(30);
  for (const auto& [what, token] : {std::pair<std::string, std::string>{"bundle", r.bundle_token()},
                                   {"images", r.images_token()}}) {
    auto outcome = deps_.streams->Wait(token, deadline);
    if (!outcome.ok()) {
      return Status::FailedPrecondition("restore: the " + what + " stream did not arrive: " +
                                        outcome.status().ToString());
    }
  }
  std::optional<std::string> cgroups_path;
  if (*mode == CgroupMode::kIgnore) {
    cgroups_path = request.cgroup_path().empty()
                       ? deps_.config.cgroup_parent() + "/" + request.container_id()
                       : request.cgroup_path();
    MIGRATE_RETURN_IF_ERROR(CheckCgroupPath(*cgroups_path));
  }
  r.set_cgroup_mode(request.cgroup_mode());
  r.set_cgroup_path(cgroups_path.value_or(""));
  r.set_container_restored(true);  // from here on a rollback must look for a container
  MIGRATE_RETURN_IF_ERROR(Journal(*m, proto::PHASE_RESTORING));

  runtime::RestoreOptions options;
  options.container_id = request.container_id();
  options.image_dir = r.images_dir();
  options.work_dir = journal_.MigrationDir(mid) + "/restore-work";
  options.bundle_dir = r.bundle_dir();
  options.cgroup_mode = *mode;
  options.cgroups_path = cgroups_path;
  options.tcp_established = request.tcp_established();
  auto restored = deps_.runtime->Restore(options);
  if (!restored.ok()) {
    Status failed = restored.status().WithContext("restore on " + deps_.config.node_name());
    (void)Journal(*m, proto::PHASE_RESTORING, failed.message());
    return failed;
  }
  auto state = deps_.runtime->State(request.container_id());
  if (!state.ok() || state->status != "running") {
    Status failed = Status::FailedPrecondition(
        "restore on " + deps_.config.node_name() + ": container is not running after restore (" +
        (state.ok() ? state->status : state.status().ToString()) + ")");
    (void)Journal(*m, proto::PHASE_RESTORING, failed.message());
    return failed;
  }
  MIGRATE_RETURN_IF_ERROR(Journal(*m, proto::PHASE_RESTORED));
  proto::RestoreResponse response;
  *response.mutable_restore_mode() = restored->restore_mode.ToProto();
  response.set_init_pid(restored->init_pid);
  response.set_running_unix_ms(UnixMillis(restored->running_at));
  response.set_restore_ms(static_cast<uint64_t>(restored->restore_duration.count()));
  for (const auto& line : restored->cgroups) response.add_cgroups(line);
  response.set_loopback_up(restored->loopback.up && restored->loopback.has_ipv4);
  response.set_running_for_ms(SinceMs(restored->running_at));
  return response;
}

Status AgentService::RollbackDestination(Migration& m) {
  proto::MigrationRecord& r = m.record;
  if (deps_.streams != nullptr) {
    for (const std::string& token : {r.bundle_token(), r.images_token()}) {
      if (!token.empty()) deps_.streams->Cancel(token);
    }
  }
  if (r.container_restored()) {
    MIGRATE_RETURN_IF_ERROR(deps_.runtime->KillAndDelete(r.container_id())
                                .WithContext("remove the restored container"));
  }
  MIGRATE_RETURN_IF_ERROR(runtime::RemoveTree(r.bundle_dir()));
  MIGRATE_RETURN_IF_ERROR(runtime::RemoveTree(r.images_dir()));
  r.set_container_restored(false);
  return Journal(m, proto::PHASE_ROLLED_BACK, "destination cleaned: no container, no data");
}

// ---------------------------------------------------------------------------------------
// Source

namespace {

transfer::SendOptions StreamOptions(const proto::StreamTarget& target, const tls::ContextPtr& tls,
                                    const std::string& label, int compress_level) {
  transfer::SendOptions options;
  options.host = target.address();
  options.port = static_cast<uint16_t>(target.data_port());
  options.server_name = target.node_name();
  options.tls = tls;
  options.token = target.token();
  options.label = label;
  if (compress_level != 0) options.zstd_level = compress_level;
  return options;
}

Status CheckTarget(const proto::StreamTarget& target) {
  if (target.node_name().empty() || target.address().empty() || target.token().empty() ||
      target.data_port() == 0 || target.data_port() > 65535) {
    return Status::InvalidArgument("stream target needs node_name, address, data_port and token");
  }
  return Status::Ok();
}

// True once CRIU has written an image file into `dir`.
bool HasImageFile(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".img") return true;
  }
  return false;
}

proto::TransferStats StatsToProto(const transfer::TransferStats& stats) {
  proto::TransferStats out;
  out.set_files(stats.files);
  out.set_raw_bytes(stats.raw_bytes);
  out.set_wire_bytes(stats.wire_bytes);
  out.set_duration_ms(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(stats.duration).count()));
  return out;
}

}  // namespace

Result<proto::CheckpointSendResponse> AgentService::CheckpointSend(
    const proto::CheckpointSendRequest& request) {
  MIGRATE_RETURN_IF_ERROR(CheckIds(request.migration_id(), request.container_id()));
  MIGRATE_RETURN_IF_ERROR(CheckTarget(request.target()));
  auto mode = runtime::CgroupModeFromProto(request.cgroup_mode());
  if (!mode.ok()) return mode.status().WithContext("checkpoint");
  MigrationPtr m = FindOrCreate(request.migration_id());
  std::lock_guard<std::mutex> lock(m->mutex);
  proto::MigrationRecord& r = m->record;
  const std::string& mid = r.migration_id();
  const std::string& id = request.container_id();
  if (r.phase() != proto::PHASE_UNSPECIFIED) {
    return Status::FailedPrecondition("checkpoint: migration " + mid + " is already " +
                                      proto::Phase_Name(r.phase()));
  }
  if (m->cancel.cancelled()) return Status::Aborted("checkpoint: migration " + mid + " was cancelled");
  // Refusals come before anything is frozen.
  auto plan = deps_.runtime->PlanCheckpoint(id, *mode);
  if (!plan.ok()) return plan.status().WithContext("checkpoint");
  if (!plan->allowed()) return Status::FailedPrecondition("checkpoint refused: " + plan->reason);
  auto state = deps_.runtime->State(id);
  if (!state.ok()) return state.status().WithContext("checkpoint");
  if (state->status != "running") {
    return Status::FailedPrecondition("checkpoint: container " + id + " is " + state->status);
  }
  const std::string dir = journal_.MigrationDir(mid);
  r.set_container_id(id);
  r.set_role(proto::ROLE_SOURCE);
  r.set_peer_node(request.target().node_name());
  r.set_source_bundle(state->bundle);
  r.set_cgroup_mode(request.cgroup_mode());
  r.set_images_dir(dir + "/images");
  MIGRATE_RETURN_IF_ERROR(runtime::RemoveTree(r.images_dir()));
  std::error_code ec;
  fs::create_directories(r.images_dir(), ec);
  if (ec) return Status::IoError("create " + r.images_dir() + ": " + ec.message());
  // CRIU appends each process's memory to one pages-<id>.img: those are streamed while
  // CRIU writes them, everything else once CRIU has closed it.
  auto source = transfer::GrowingDirectorySource::Open(r.images_dir(), {"pages-*.img"});
  if (!source.ok()) return source.status().WithContext("watch " + r.images_dir());
  // Journaled before the freeze: a restart finds the images or the running container.
  MIGRATE_RETURN_IF_ERROR(Journal(*m, proto::PHASE_CHECKPOINTING));

  // Stream the images while CRIU writes them, and the bundle once the container is frozen.
  auto options = StreamOptions(request.target(), deps_.client_tls, mid + "/images",
                               request.compress_level());
  m->send_progress.raw_bytes = 0;
  m->send_progress.wire_bytes = 0;
  m->send_progress.files = 0;
  options.progress = &m->send_progress;
  Result<transfer::TransferStats> sent = Status::Internal("sender did not run");
  std::thread sender([&] { sent = transfer::SendTree(options, **source, &m->cancel); });

  const bool send_bundle = !request.bundle_token().empty();
  Result<transfer::TransferStats> bundle_sent = Status::Internal("bundle sender did not run");
  std::atomic<bool> dump_over{false};
  std::thread bundle_sender;
  if (send_bundle) {
    bundle_sender = std::thread([&] {
      // CRIU writes its first image only after the container's tasks are frozen (runc's own
      // descriptors.json comes before the freeze): from then on the root file system is
      // still. A dump that ends before any image was written sends nothing.
      while (!dump_over && !m->cancel.cancelled() && !HasImageFile(r.images_dir())) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      if (m->cancel.cancelled() || !HasImageFile(r.images_dir())) {
        bundle_sent = Status::Aborted("no freeze: bundle not sent");
        return;
      }
      proto::StreamTarget bundle_target = request.target();
      bundle_target.set_token(request.bundle_token());
      auto bundle_options = StreamOptions(bundle_target, deps_.client_tls, mid + "/bundle",
                                          request.compress_level());
      transfer::DirectoryTreeSource tree(r.source_bundle());
      bundle_sent = transfer::SendTree(bundle_options, tree, &m->cancel);
    });
  }

  runtime::CheckpointOptions checkpoint;
  checkpoint.container_id = id;
  checkpoint.image_dir = r.images_dir();
  checkpoint.work_dir = dir + "/dump-work";
  checkpoint.cgroup_mode = *mode;
  checkpoint.tcp_established = request.tcp_established();
  auto dumped = deps_.runtime->Checkpoint(checkpoint);
  auto dump_end = std::chrono::steady_clock::now();
  dump_over = true;
  if (dumped.ok()) {
    (*source)->MarkProducerDone();
  } else {
    (*source)->MarkProducerFailed(dumped.status().message());
  }
  sender.join();
  if (bundle_sender.joinable()) bundle_sender.join();

  if (!dumped.ok()) {
    auto after = deps_.runtime->State(id);
    bool running = after.ok() && after->status == "running";
    Status failed = dumped.status().WithContext(
        std::string("checkpoint on ") + deps_.config.node_name() +
        (running ? " (the container still runs here)" : " (the container is NOT running)"));
    (void)Journal(*m, proto::PHASE_CHECKPOINTING, failed.message());
    return failed;
  }
  // The images are complete here: this copy is what a rollback restores from.
  if (!sent.ok()) {
    Status failed = sent.status().WithContext("stream images to " + request.target().node_name() +
                                              " (images kept at " + r.images_dir() + ")");
    (void)Journal(*m, proto::PHASE_CHECKPOINTED, failed.message());
    return failed;
  }
  if (send_bundle && !bundle_sent.ok()) {
    Status failed = bundle_sent.status().WithContext(
        "stream bundle " + r.source_bundle() + " to " + request.target().node_name() +
        " (images kept at " + r.images_dir() + ")");
    (void)Journal(*m, proto::PHASE_CHECKPOINTED, failed.message());
    return failed;
  }
  MIGRATE_RETURN_IF_ERROR(Journal(*m, proto::PHASE_CHECKPOINTED));
  proto::CheckpointSendResponse response;
  if (send_bundle) *response.mutable_bundle_stats() = StatsToProto(*bundle_sent);
  *response.mutable_dump_mode() = dumped->dump_mode.ToProto();
  *response.mutable_stats() = StatsToProto(*sent);
  response.set_freeze_unix_ms(UnixMillis(dumped->started));
  response.set_checkpoint_ms(static_cast<uint64_t>(dumped->checkpoint_duration.count()));
  response.set_transfer_tail_ms(static_cast<uint64_t>(ElapsedMs(dump_end).count()));
  response.set_frozen_for_ms(SinceMs(dumped->started));
  return response;
}

Status AgentService::WaitForDumpToEnd(const proto::MigrationRecord& r) {
  if (r.images_dir().empty()) return Status::Ok();
  const auto deadline = std::chrono::steady_clock::now() + deps_.dump_wait;
  bool logged = false;
  for (;;) {
    MIGRATE_ASSIGN_OR_RETURN(std::vector<int> pids, runtime::ProcessesUsing(r.images_dir()));
    if (pids.empty()) return Status::Ok();
    std::string list;
    for (int pid : pids) list += (list.empty() ? "" : " ") + std::to_string(pid);
    if (!logged) {
      MIGRATE_LOG(kWarn, r.migration_id()) << "an interrupted dump still uses " << r.images_dir()
                                           << " (pids " << list << "): waiting for it to end";
      logged = true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Unavailable("an interrupted dump still uses " + r.images_dir() + " (pids " +
                                 list + "); nothing was changed: roll back again once it ended");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Status AgentService::RestoreOnSource(Migration& m) {
  proto::MigrationRecord& r = m.record;
  // runc and CRIU outlive a restart of this agent: until a dump they were running has ended,
  // neither the container's state nor the images tell what happened.
  MIGRATE_RETURN_IF_ERROR(WaitForDumpToEnd(r));
  auto state = deps_.runtime->State(r.container_id());
  if (state.ok() && state->status == "running") {
    return Journal(m, proto::PHASE_ROLLED_BACK, "the container still runs on the source");
  }
  if (state.ok() && state->status == "paused" && r.phase() == proto::PHASE_CHECKPOINTING) {
    // Frozen by a dump that ended without finishing (CRIU killed with the agent): the tasks
    // are whole, the images may not be. Thaw it; never kill it to restore.
    Status resumed = deps_.runtime->Resume(r.container_id());
    auto after = deps_.runtime->State(r.container_id());
    if (resumed.ok() && after.ok() && after->status == "running") {
      return Journal(m, proto::PHASE_ROLLED_BACK,
                     "resumed the container an interrupted dump had left frozen");
    }
    Status failed = resumed.ok() ? Status::FailedPrecondition(
                                       "container " + r.container_id() + " is still " +
                                       (after.ok() ? after->status : after.status().ToString()) +
                                       " after resume")
                                 : resumed;
    return failed.WithContext("thaw the container an interrupted dump left frozen (nothing "
                              "else was changed; images at " + r.images_dir() + ")");
  }
  if (r.phase() == proto::PHASE_PREPARED || r.phase() == proto::PHASE_UNSPECIFIED) {
    return Status::FailedPrecondition("container " + r.container_id() +
                                      " is not running on the source and was never frozen by "
                                      "migration " + r.migration_id());
  }
  if (state.ok()) {  // known to runc but not running (e.g. stopped): make room for restore
    MIGRATE_RETURN_IF_ERROR(deps_.runtime->KillAndDelete(r.container_id()));
  }
  runtime::RestoreOptions options;
  options.container_id = r.container_id();
  options.image_dir = r.images_dir();
  options.work_dir = journal_.MigrationDir(r.migration_id()) + "/rollback-work";
  options.bundle_dir = r.source_bundle();
  // The images carry the container's own cgroups; soft puts it back where it was.
  options.cgroup_mode = CgroupMode::kSoft;
  auto restored = deps_.runtime->Restore(options);
  if (!restored.ok()) {
    Status failed = restored.status().WithContext("restore on the source from " + r.images_dir());
    (void)Journal(m, proto::PHASE_FAILED, failed.message() + "; images kept");
    return failed;
  }
  return Journal(m, proto::PHASE_ROLLED_BACK,
                 "restored on the source from its images, init pid " +
                     std::to_string(restored->init_pid));
}

// ---------------------------------------------------------------------------------------
// Both

Result<proto::MigrationStatus> AgentService::Commit(const proto::CommitRequest& request) {
  MIGRATE_ASSIGN_OR_RETURN(MigrationPtr m, Find(request.migration_id()));
  std::lock_guard<std::mutex> lock(m->mutex);
  proto::MigrationRecord& r = m->record;
  if (r.phase() == proto::PHASE_COMMITTED) return StatusOf(*m);
  r.set_keep_images(request.keep_images());
  if (r.role() == proto::ROLE_DESTINATION) {
    if (r.phase() != proto::PHASE_RESTORED) {
      return Status::FailedPrecondition("commit: migration " + r.migration_id() + " is " +
                                        proto::Phase_Name(r.phase()) + " here, not RESTORED");
    }
    if (!request.keep_images()) MIGRATE_RETURN_IF_ERROR(runtime::RemoveTree(r.images_dir()));
    for (const std::string& token : {r.bundle_token(), r.images_token()}) {
      deps_.streams->Forget(token);
    }
  } else {
    if (r.phase() != proto::PHASE_CHECKPOINTED) {
      return Status::FailedPrecondition("commit: migration " + r.migration_id() + " is " +
                                        proto::Phase_Name(r.phase()) +
                                        " here, not CHECKPOINTED");
    }
    MIGRATE_RETURN_IF_ERROR(deps_.runtime->KillAndDelete(r.container_id()));
    if (!request.keep_images()) MIGRATE_RETURN_IF_ERROR(runtime::RemoveTree(r.images_dir()));
    // A bundle this agent received in an earlier migration is its own to remove.
    if (r.source_bundle() == ContainerHome(r.container_id())) {
      MIGRATE_RETURN_IF_ERROR(runtime::RemoveTree(r.source_bundle()));
    }
  }
  MIGRATE_RETURN_IF_ERROR(
      Journal(*m, proto::PHASE_COMMITTED,
              request.keep_images() ? "images kept at " + r.images_dir() : ""));
  return StatusOf(*m);
}

Result<proto::MigrationStatus> AgentService::Rollback(const proto::RollbackRequest& request) {
  auto found = Find(request.migration_id());
  if (!found.ok() && found.status().code() == StatusCode::kNotFound) {
    // Nothing of this migration ever happened here (e.g. refused before the freeze, or
    // before prepare-receive): there is nothing to undo.
    proto::MigrationStatus nothing;
    nothing.set_migration_id(request.migration_id());
    nothing.set_phase(proto::PHASE_ROLLED_BACK);
    nothing.set_message("nothing of this migration on " + deps_.config.node_name());
    return nothing;
  }
  MIGRATE_ASSIGN_OR_RETURN(MigrationPtr m, std::move(found));
  m->cancel.Cancel();  // stops a running stream before we wait for the step holding the lock
  std::lock_guard<std::mutex> lock(m->mutex);
  proto::MigrationRecord& r = m->record;
  MIGRATE_LOG(kWarn, r.migration_id()) << "rollback requested: " << request.reason();
  if (r.phase() == proto::PHASE_ROLLED_BACK) return StatusOf(*m);
  if (r.phase() == proto::PHASE_COMMITTED) {
    return Status::FailedPrecondition("rollback: migration " + r.migration_id() +
                                      " is already committed");
  }
  Status done = r.role() == proto::ROLE_DESTINATION ? RollbackDestination(*m)
                                                     : RestoreOnSource(*m);
  if (!done.ok()) return done.WithContext("rollback on " + deps_.config.node_name());
  return StatusOf(*m);
}

Result<proto::MigrationStatus> AgentService::GetStatus(const std::string& migration_id) {
  MIGRATE_ASSIGN_OR_RETURN(MigrationPtr m, Find(migration_id));
  // Never waits for the migration's step lock: see Migration::published.
  return StatusOf(*m);
}

// ---------------------------------------------------------------------------------------
// Restart

Status AgentService::Recover() {
  MIGRATE_ASSIGN_OR_RETURN(auto records, journal_.LoadAll());
  for (auto& record : records) {
    if (IsFinal(record.phase()) || record.phase() == proto::PHASE_FAILED) continue;
    auto m = std::make_shared<Migration>();
    m->record = record;
    m->Publish();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      migrations_[record.migration_id()] = m;
    }
    const std::string& mid = record.migration_id();
    std::lock_guard<std::mutex> lock(m->mutex);
    Status status;
    if (record.role() == proto::ROLE_DESTINATION) {
      if (record.phase() == proto::PHASE_RESTORED) {
        MIGRATE_LOG(kInfo, mid) << "restart: container " << record.container_id()
                                << " runs here, awaiting commit or rollback";
        continue;
      }
      // Nothing restored and verified yet: received data is worthless without the
      // controller, and the source still holds the images.
      MIGRATE_LOG(kWarn, mid) << "restart: destination in " << proto::Phase_Name(record.phase())
                              << ": removing received data";
      status = RollbackDestination(*m);
    } else {
      switch (record.phase()) {
        case proto::PHASE_PREPARED:
          status = Journal(*m, proto::PHASE_ROLLED_BACK, "restart before the freeze");
          break;
        case proto::PHASE_CHECKPOINTING:
          // The controller never learnt that the dump finished, so no destination restore
          // was asked for: the container must run here again.
          MIGRATE_LOG(kWarn, mid) << "restart: interrupted checkpoint: restoring on the source";
          status = RestoreOnSource(*m);
          break;
        default:
          // CHECKPOINTED: the destination may already run the container. The images stay;
          // only the controller (commit or rollback) can decide.
          MIGRATE_LOG(kWarn, mid) << "restart: images kept at " << record.images_dir()
                                  << ", awaiting commit or rollback";
          break;
      }
    }
    if (!status.ok()) {
      MIGRATE_LOG(kError, mid) << "restart recovery: " << status.ToString();
    }
  }
  return Status::Ok();
}

}  // namespace migrate::agent
