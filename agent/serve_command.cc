#include "agent/serve_command.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>

#include "agent/agent_config.h"
#include "agent/agent_service.h"
#include "agent/agent_metrics.h"
#include "agent/api_server.h"
#include "agent/metrics_endpoint.h"
#include "agent/runtime/criu.h"
#include "agent/runtime/posix_process_runner.h"
#include "agent/runtime/runc_runtime.h"
#include "agent/systemd_notify.h"
#include "migrate/version.h"
#include "transfer/base/log.h"
#include "transfer/stream/stream_server.h"
#include "transfer/tls/tls.h"

namespace migrate::agent {
namespace {

struct ServeFlags {
  std::string config_file;
  std::optional<std::string> node_name, listen_address, ca_file, cert_file, key_file, crl_file,
      state_dir, runc_root, runtime_path, criu_path, cgroup_parent, log_level, metrics_listen;
  std::optional<uint32_t> api_port, data_port;
};

// The node name must be in our own certificate: peers verify exactly that.
Status CheckOwnCertificate(const std::string& cert_file, const std::string& node_name) {
  FILE* f = std::fopen(cert_file.c_str(), "r");
  if (f == nullptr) return Status::NotFound("cannot read " + cert_file);
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (cert == nullptr) return Status::InvalidArgument(cert_file + " holds no PEM certificate");
  int match = X509_check_host(cert, node_name.data(), node_name.size(), 0, nullptr);
  X509_free(cert);
  if (match != 1) {
    return Status::InvalidArgument("node_name '" + node_name + "' is not a DNS name in " +
                                   cert_file + ": peers could not verify this node");
  }
  return Status::Ok();
}

// runc >= 1.2 and crun take CRIU from PATH (runc 1.1 too, unless told --criu): a CRIU given
// by path goes first on the PATH every process of the agent inherits. Done once, at start,
// before any thread exists.
void UseCriu(const std::string& criu_path) {
  const size_t slash = criu_path.rfind('/');
  if (slash == std::string::npos) return;
  const char* path = std::getenv("PATH");
  const std::string dir = criu_path.substr(0, slash);
  ::setenv("PATH", (dir + ":" + (path != nullptr ? path : "/usr/sbin:/usr/bin:/sbin:/bin")).c_str(), 1);
}

std::function<void(std::string_view)> RefusalsOf(AgentMetrics& metrics, std::string listener) {
  return [&metrics, listener](std::string_view reason) {
    metrics.ConnectionRefused(listener, reason);
  };
}

// The plain-HTTP loopback listener of GET /metrics, when metrics_listen asks for one.
Result<std::unique_ptr<ApiServer>> StartMetrics(const proto::AgentConfig& config,
                                                AgentMetrics& metrics) {
  if (config.metrics_listen().empty()) return std::unique_ptr<ApiServer>();
  MIGRATE_ASSIGN_OR_RETURN(ListenAddress where, ParseMetricsListen(config.metrics_listen()));
  ApiServerOptions options;
  options.address = where.address;
  options.port = where.port;
  options.name = "metrics";
  options.max_body_bytes = 4096;  // scrapes carry no body
  options.max_handshakes = 16;
  options.max_connections = 16;
  options.on_refused = RefusalsOf(metrics, "metrics");
  MIGRATE_ASSIGN_OR_RETURN(auto server,
                           ApiServer::StartPlain(options, [&metrics](ApiRequest r, Respond respond) {
                             respond(ServeMetrics(r, metrics));
                           }));
  MIGRATE_LOG(kInfo, "") << "metrics on http://" << config.metrics_listen() << "/metrics";
  return server;
}

Status Serve(const ServeFlags& flags) {
  // Signals are taken by sigwait below: block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  proto::AgentConfig config;
  if (!flags.config_file.empty()) {
    MIGRATE_ASSIGN_OR_RETURN(config, LoadAgentConfig(flags.config_file));
  }
  if (flags.node_name) config.set_node_name(*flags.node_name);
  if (flags.listen_address) config.set_listen_address(*flags.listen_address);
  if (flags.api_port) config.set_api_port(*flags.api_port);
  if (flags.data_port) config.set_data_port(*flags.data_port);
  if (flags.ca_file) config.set_ca_file(*flags.ca_file);
  if (flags.cert_file) config.set_cert_file(*flags.cert_file);
  if (flags.key_file) config.set_key_file(*flags.key_file);
  if (flags.crl_file) config.set_crl_file(*flags.crl_file);
  if (flags.state_dir) config.set_state_dir(*flags.state_dir);
  if (flags.runc_root) config.set_runc_root(*flags.runc_root);
  if (flags.runtime_path) config.set_runtime_path(*flags.runtime_path);
  if (flags.criu_path) config.set_criu_path(*flags.criu_path);
  if (flags.cgroup_parent) config.set_cgroup_parent(*flags.cgroup_parent);
  if (flags.log_level) config.set_log_level(*flags.log_level);
  if (flags.metrics_listen) config.set_metrics_listen(*flags.metrics_listen);
  ApplyAgentConfigDefaults(&config);
  MIGRATE_RETURN_IF_ERROR(ValidateAgentConfig(config).WithContext("configuration"));
  LogLevel level = LogLevel::kInfo;
  ParseLogLevel(config.log_level(), &level);
  SetLogThreshold(level);
  MIGRATE_RETURN_IF_ERROR(CheckOwnCertificate(config.cert_file(), config.node_name()));

  tls::TlsFiles files{config.ca_file(), config.cert_file(), config.key_file(), config.crl_file()};
  MIGRATE_ASSIGN_OR_RETURN(auto server_tls, tls::MakeServerContext(files));
  MIGRATE_ASSIGN_OR_RETURN(auto client_tls, tls::MakeClientContext(files));

  UseCriu(config.criu_path());
  AgentMetrics metrics;
  runtime::PosixProcessRunner runner;
  runtime::RuncOptions runc_options;
  runc_options.runc_path = config.runtime_path();
  runc_options.root = config.runc_root();
  runc_options.criu_config_dir = config.state_dir() + "/criu";
  runc_options.timeout = std::chrono::seconds(config.runtime_timeout_seconds());
  runc_options.on_criu_failure = [&metrics](std::string_view op) { metrics.CriuFailed(op); };
  MIGRATE_ASSIGN_OR_RETURN(auto runc, runtime::RuncRuntime::Create(&runner, runc_options));
  runtime::Criu criu(&runner, config.criu_path());

  transfer::StreamServerOptions stream_options;
  stream_options.bind_address = config.listen_address();
  stream_options.port = static_cast<uint16_t>(config.data_port());
  stream_options.tls = server_tls;
  stream_options.observer = &metrics;
  MIGRATE_ASSIGN_OR_RETURN(auto streams, transfer::StreamServer::Start(stream_options));

  AgentDeps deps;
  deps.config = config;
  deps.runtime = runc.get();
  deps.criu = &criu;
  deps.runner = &runner;
  deps.streams = streams.get();
  deps.client_tls = client_tls;
  deps.agent_version = kVersion;
  deps.failpoints = Failpoints::FromEnvironment(config.state_dir());
  if (const char* tamper = std::getenv("MIGRATE_TAMPER_PAGE_BYTES"); tamper && *tamper) {
    deps.tamper_page_bytes = std::strtoull(tamper, nullptr, 10);
  }
  deps.metrics = &metrics;
  deps.orphan_wait = std::chrono::seconds(config.orphan_wait_seconds());
  deps.retention = std::chrono::hours(config.retention_hours());
  auto service = std::make_unique<AgentService>(deps);
  SystemdNotifier systemd;
  systemd.Status("recovering journaled migrations");
  MIGRATE_RETURN_IF_ERROR(service->Recover().WithContext("recover journaled migrations"));

  ApiServerOptions api_options;
  api_options.address = config.listen_address();
  api_options.port = static_cast<uint16_t>(config.api_port());
  api_options.on_refused = RefusalsOf(metrics, "api");
  MIGRATE_ASSIGN_OR_RETURN(
      auto api, ApiServer::Start(api_options, server_tls,
                                 [&service](ApiRequest request, Respond respond) {
                                   service->Handle(std::move(request), std::move(respond));
                                 }));
  MIGRATE_LOG(kInfo, "") << "migrate-agent " << kVersion << " node " << config.node_name()
                         << ": API on " << config.listen_address() << ":" << api->port()
                         << ", data on port " << streams->port() << ", runtime "
                         << runc->info().name << " " << runc->info().version.ToString()
                         << ", state " << config.state_dir();
  MIGRATE_ASSIGN_OR_RETURN(auto metrics_server, StartMetrics(config, metrics));
  systemd.Ready("serving: API on port " + std::to_string(api->port()),
                [&api](std::function<void()> ran) { api->Post(std::move(ran)); });

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  MIGRATE_LOG(kInfo, "") << "signal " << signal_number << ": shutting down";
  systemd.Stopping();
  if (metrics_server) metrics_server->Stop();
  api->Stop();
  service.reset();
  streams.reset();
  return Status::Ok();
}

}  // namespace

void RegisterServeCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* serve = app.add_subcommand(
      "serve",
      "Run the node daemon in the foreground: the agent API (mutual TLS, for the controller) "
      "and the receiver of checkpoint streams (mutual TLS, for other agents).");
  serve->add_option("-c,--config", flags->config_file,
                    "JSON configuration file (fields of proto/agent_config.proto); flags "
                    "override it")
      ->check(CLI::ExistingFile);
  serve->add_option("--node-name", flags->node_name,
                    "this node's name: a DNS name in its certificate");
  serve->add_option("--listen", flags->listen_address, "address to listen on (default 0.0.0.0)");
  serve->add_option("--api-port", flags->api_port, "agent API port (default 7443)")
      ->check(CLI::Range(1, 65535));
  serve->add_option("--data-port", flags->data_port,
                    "stream receiver port (default 0: any free port, told to the controller)")
      ->check(CLI::Range(0, 65535));
  serve->add_option("--ca", flags->ca_file, "cluster CA certificate (PEM)");
  serve->add_option("--cert", flags->cert_file, "this node's certificate (PEM)");
  serve->add_option("--key", flags->key_file, "this node's private key (PEM)");
  serve->add_option("--crl", flags->crl_file,
                    "the CA's revocation list (default: crl.pem beside the CA file, if any)");
  serve->add_option("--state-dir", flags->state_dir,
                    "journal, received bundles and images (default /var/lib/migrate)");
  serve->add_option("--runc-root", flags->runc_root, "runc --root of this node (default /run/runc)");
  serve->add_option("--runtime", flags->runtime_path,
                    "the runtime binary, runc or crun (default: runc from PATH)");
  serve->add_option("--criu", flags->criu_path, "the CRIU binary (default: criu from PATH)");
  serve->add_option("--cgroup-parent", flags->cgroup_parent,
                    "in ignore mode, restored containers get the cgroup <parent>/<id> unless "
                    "the controller names one (default /migrate)");
  serve->add_option("--log-level", flags->log_level, "debug, info, warn or error (default info)");
  serve->add_option("--metrics-listen", flags->metrics_listen,
                    "serve Prometheus metrics (GET /metrics, plain HTTP) on this loopback "
                    "ADDRESS:PORT, e.g. 127.0.0.1:9464 (default: none)");
  serve->footer(
      "Example:\n"
      "  migrate-agent serve --config /etc/migrate/agent.json\n"
      "  migrate-agent serve --node-name host-a --ca ca.pem --cert host-a.pem --key host-a.key\n"
      "Stop with SIGTERM or SIGINT. Unfinished migrations are recovered from the journal at the\n"
      "next start (see docs/agent.md).");
  serve->callback([flags, exit_code] {
    Status status = Serve(*flags);
    if (!status.ok()) {
      std::cerr << "migrate-agent serve: " << status.ToString() << "\n";
      *exit_code = 1;
      return;
    }
    *exit_code = 0;
  });
}

}  // namespace migrate::agent
