#include "agent/agent_service.h"

#include <utility>  // before asio: g++ 12 + Boost 1.74

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "agent/node_queries.h"
#include "agent/preflight.h"
#include "agent/request_checks.h"
#include "transfer/base/log.h"

namespace migrate::agent {
namespace {

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

ApiResponse ErrorResponse(const Status& status) { return Encode(Result<proto::Health>(status)); }

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

AgentService::AgentService(AgentDeps deps, int worker_threads)
    : ctx_(std::move(deps)), workers_(std::make_unique<boost::asio::thread_pool>(worker_threads)) {}

AgentService::~AgentService() {
  for (const MigrationPtr& m : ctx_.store().All()) m->cancel.Cancel();
  workers_->join();
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
  if (get && target == "/v1/migrations") {
    return respond(Encode(Result<proto::MigrationList>(ListMigrations(ctx_))));
  }

  // Everything else may run runc, CRIU or a transfer: off the I/O thread.
  auto run = [this, respond](auto work) {
    boost::asio::post(*workers_, [respond, work = std::move(work)]() mutable { respond(work()); });
  };
  auto body = std::make_shared<std::string>(std::move(request.body));
  if (get && target == "/v1/capabilities") return run([this] { return Encode(Capabilities()); });
  if (get && target == "/v1/containers") return run([this] { return Encode(ListContainers(ctx_)); });
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
// Queries and the steps of each role

Result<proto::Health> AgentService::Health() {
  proto::Health health;
  health.set_node_name(ctx_.node());
  health.set_agent_version(ctx_.deps().agent_version);
  return health;
}

Result<proto::Capabilities> AgentService::Capabilities() { return QueryCapabilities(ctx_); }

Result<proto::ContainerInfo> AgentService::Inspect(const proto::InspectRequest& request) {
  return InspectContainer(ctx_, request.container_id());
}

Result<proto::PreflightResponse> AgentService::Preflight(const proto::PreflightRequest& request) {
  return RunPreflight(ctx_, request);
}

Result<proto::PrepareReceiveResponse> AgentService::PrepareReceive(
    const proto::PrepareReceiveRequest& request) {
  housekeeping_.Sweep();
  return destination_.PrepareReceive(request);
}

Result<proto::CheckpointSendResponse> AgentService::CheckpointSend(
    const proto::CheckpointSendRequest& request) {
  housekeeping_.Sweep();
  return source_.CheckpointSend(request);
}

Result<proto::RestoreResponse> AgentService::Restore(const proto::RestoreRequest& request) {
  return destination_.Restore(request);
}

Result<proto::MigrationStatus> AgentService::GetStatus(const std::string& migration_id) {
  MIGRATE_ASSIGN_OR_RETURN(MigrationPtr m, ctx_.store().Find(migration_id));
  return MigrationStatusOf(ctx_, *m);
}

// ---------------------------------------------------------------------------------------
// Commit and rollback: idempotent, dispatched by role

Status AgentService::Dispatch(Migration& m, Event event) {
  const bool source = m.record.role() == proto::ROLE_SOURCE;
  if (event == Event::kCommitBegin) return source ? source_.Commit(m) : destination_.Commit(m);
  return source ? source_.Rollback(m) : destination_.Rollback(m);
}

Result<proto::MigrationStatus> AgentService::Commit(const proto::CommitRequest& request) {
  MIGRATE_ASSIGN_OR_RETURN(MigrationPtr m, ctx_.store().Find(request.migration_id()));
  MIGRATE_ASSIGN_OR_RETURN(StepLock lock, LockForEnding(*m, ctx_.deps().step_lock_wait));
  if (m->record.phase() != proto::PHASE_COMMITTED) {
    MIGRATE_RETURN_IF_ERROR(CheckEvent(m->record, Event::kCommitBegin));
    m->record.set_keep_images(request.keep_images());
    MIGRATE_RETURN_IF_ERROR(Dispatch(*m, Event::kCommitBegin).WithContext("commit on " + ctx_.node()));
  }
  return MigrationStatusOf(ctx_, *m);
}

Result<proto::MigrationStatus> AgentService::Rollback(const proto::RollbackRequest& request) {
  auto found = ctx_.store().Find(request.migration_id());
  if (!found.ok() && found.status().code() == StatusCode::kNotFound) {
    // Never "rolled back" for what was never seen: a wrong host, or one that lost its state,
    // must not let the caller believe that nothing of the migration runs there.
    return Status::NotFound("migration " + request.migration_id() + " is unknown to " +
                            ctx_.node() + ": nothing of it was ever journaled here");
  }
  MIGRATE_ASSIGN_OR_RETURN(MigrationPtr m, std::move(found));
  const std::string peer = m->Published().peer_node();
  if (!request.peer_node().empty() && !peer.empty() && request.peer_node() != peer) {
    return Status::FailedPrecondition("rollback: migration " + request.migration_id() + " on " +
                                      ctx_.node() + " was with " + peer + ", not " +
                                      request.peer_node() + ": nothing changed");
  }
  m->cancel.Cancel();  // stops a running stream before we wait for the step holding the lock
  MIGRATE_ASSIGN_OR_RETURN(StepLock lock, LockForEnding(*m, ctx_.deps().step_lock_wait));
  MIGRATE_LOG(kWarn, request.migration_id()) << "rollback requested: " << request.reason();
  if (m->record.phase() != proto::PHASE_ROLLED_BACK) {
    MIGRATE_RETURN_IF_ERROR(CheckEvent(m->record, Event::kRollbackBegin));
    MIGRATE_RETURN_IF_ERROR(
        Dispatch(*m, Event::kRollbackBegin).WithContext("rollback on " + ctx_.node()));
  }
  return MigrationStatusOf(ctx_, *m);
}

// ---------------------------------------------------------------------------------------
// Restart

Status AgentService::RecoverOne(Migration& m) {
  StepLock lock(m.mutex);
  const proto::MigrationRecord& r = m.record;
  const RestartAction action = OnRestart(r.role(), r.phase());
  MIGRATE_LOG(kInfo, r.migration_id())
      << "restart: " << RoleName(r.role()) << " of container " << r.container_id() << " in "
      << PhaseName(r.phase()) << ": " << RestartActionName(action);
  switch (action) {
    case RestartAction::kRollBack: return Dispatch(m, Event::kRollbackBegin);
    case RestartAction::kFinishCommit: return Dispatch(m, Event::kCommitBegin);
    default: return Status::Ok();
  }
}

Status AgentService::Recover() {
  housekeeping_.AtStart();
  MIGRATE_ASSIGN_OR_RETURN(std::vector<MigrationPtr> unfinished, ctx_.store().LoadJournal());
  for (const MigrationPtr& m : unfinished) {
    Status status = RecoverOne(*m);
    if (!status.ok()) {
      MIGRATE_LOG(kError, m->record.migration_id()) << "restart recovery: " << status.ToString();
    }
  }
  housekeeping_.Sweep();
  return Status::Ok();
}

}  // namespace migrate::agent
