#include "controller/certs_command.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "transfer/certs/certs.h"
#include "transfer/certs/crl.h"

namespace migrate::controller {
namespace {

constexpr char kCertsFooter[] =
    R"(Every node (agent) and the controller need a certificate from one cluster CA.
Peers check the chain to that CA and the name in the certificate (subjectAltName), so
issue a node's certificate under the name the others use to reach it.

Example, for a controller and two nodes:
  migrate certs ca --out /etc/migrate/ca
  migrate certs issue --ca-dir /etc/migrate/ca --role node --name host-a --ip 10.0.0.1 --out host-a
  migrate certs issue --ca-dir /etc/migrate/ca --role node --name host-b --ip 10.0.0.2 --out host-b
  migrate certs issue --ca-dir /etc/migrate/ca --role controller --name controller --out ctl
Copy each output directory (ca.pem, cert.pem, key.pem) to its host; keep ca-key.pem
offline. Keys are EC P-256 and written with mode 0600; the CA is valid 10 years,
certificates 1 year. Existing files are never overwritten.

A decommissioned node's or controller's certificate is revoked with
  migrate certs revoke --ca-dir /etc/migrate/ca --cert host-a/cert.pem   (or --serial HEX)
which updates ca-dir/crl.pem; copy it beside ca.pem on every host (agents and controller
pick it up at their next handshake, no restart).)";

struct CaArgs {
  std::string out;
  std::string name = "migrate cluster CA";
  int days = 3650;
};

struct IssueArgs {
  std::string ca_dir;
  std::string name;
  std::string role;
  std::vector<std::string> dns;
  std::vector<std::string> ips;
  std::string out;
  int days = 365;
};

struct RevokeArgs {
  std::string ca_dir;
  std::string cert;
  std::string serial;
};

int ExitFor(const Status& st) {
  if (st.ok()) return 0;
  return st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kAlreadyExists ? 2
                                                                                              : 1;
}

void RegisterRevoke(CLI::App& certs, int* exit_code) {
  auto args = std::make_shared<RevokeArgs>();
  CLI::App* revoke = certs.add_subcommand(
      "revoke", "revoke a certificate: add it to the CA's revocation list, ca-dir/crl.pem");
  revoke->add_option("--ca-dir", args->ca_dir, "directory made by `migrate certs ca`")->required();
  CLI::Option* cert = revoke->add_option("--cert", args->cert, "the certificate (PEM) to revoke");
  CLI::Option* serial =
      revoke->add_option("--serial", args->serial, "or its serial number, in hex (a:b:c or abc)");
  cert->excludes(serial);
  revoke->callback([args, cert, serial, exit_code] {
    Status st = cert->count() > 0 ? certs::RevokeCertificate(args->ca_dir, args->cert)
                : serial->count() > 0
                    ? certs::RevokeSerial(args->ca_dir, args->serial)
                    : Status::InvalidArgument("give --cert FILE or --serial HEX");
    auto listed = st.ok() ? certs::RevokedSerials(args->ca_dir) : Result<std::vector<std::string>>(st);
    *exit_code = ExitFor(listed.status());
    if (!listed.ok()) {
      std::cerr << "migrate certs revoke: " << listed.status().message() << "\n";
      return;
    }
    std::cout << "updated " << args->ca_dir << "/" << certs::kCrlFile << ": " << listed->size()
              << " certificate(s) revoked\n"
              << "next: copy it beside ca.pem on every node and on the controller\n";
  });
}

}  // namespace

void RegisterCertsCommand(CLI::App& app, int* exit_code) {
  CLI::App* certs =
      app.add_subcommand("certs", "make the cluster CA and node/controller certificates");
  certs->footer(kCertsFooter);
  certs->require_subcommand(1);

  auto ca_args = std::make_shared<CaArgs>();
  CLI::App* ca =
      certs->add_subcommand("ca", "create a new cluster CA (ca.pem + ca-key.pem) in --out");
  ca->add_option("--out", ca_args->out, "directory to create (or an empty one)")->required();
  ca->add_option("--name", ca_args->name, "the CA's common name")->capture_default_str();
  ca->add_option("--days", ca_args->days, "validity in days")
      ->check(CLI::Range(1, 36500))
      ->capture_default_str();
  ca->callback([ca_args, exit_code] {
    certs::CaOptions options;
    options.common_name = ca_args->name;
    options.validity_days = ca_args->days;
    Status st = certs::CreateCa(ca_args->out, options);
    *exit_code = ExitFor(st);
    if (!st.ok()) {
      std::cerr << "migrate certs ca: " << st.message() << "\n";
      return;
    }
    std::cout << "created CA in " << ca_args->out << "/ (" << certs::kCaCertFile << ", "
              << certs::kCaKeyFile << " mode 0600: keep it offline)\n"
              << "next: migrate certs issue --ca-dir " << ca_args->out
              << " --role node --name HOST --out DIR\n";
  });

  auto issue_args = std::make_shared<IssueArgs>();
  CLI::App* issue = certs->add_subcommand(
      "issue", "issue a node or controller certificate signed by the CA in --ca-dir");
  issue->add_option("--ca-dir", issue_args->ca_dir, "directory made by `migrate certs ca`")
      ->required();
  issue
      ->add_option("--name", issue_args->name,
                   "the host's name as peers reach it (common name and first DNS name)")
      ->required();
  issue
      ->add_option("--role", issue_args->role,
                   "node (agent: server and client) or controller (client only)")
      ->required()
      ->check(CLI::IsMember({"node", "controller"}));
  issue->add_option("--dns", issue_args->dns, "extra DNS names (repeatable)");
  issue->add_option("--ip", issue_args->ips, "IP addresses peers may use (repeatable)");
  issue
      ->add_option("--out", issue_args->out,
                   "directory to create for ca.pem, cert.pem and key.pem (mode 0600)")
      ->required();
  issue->add_option("--days", issue_args->days, "validity in days")
      ->check(CLI::Range(1, 3650))
      ->capture_default_str();
  issue->callback([issue_args, exit_code] {
    certs::IssueOptions options;
    options.name = issue_args->name;
    options.role = issue_args->role == "node" ? tls::Role::kNode : tls::Role::kController;
    options.dns_names = issue_args->dns;
    options.ip_addresses = issue_args->ips;
    options.validity_days = issue_args->days;
    auto files = certs::IssueCertificate(issue_args->ca_dir, issue_args->out, options);
    *exit_code = ExitFor(files.status());
    if (!files.ok()) {
      std::cerr << "migrate certs issue: " << files.status().message() << "\n";
      return;
    }
    std::cout << "issued " << issue_args->role << " certificate for " << issue_args->name
              << ":\n  ca:   " << files->ca_file << "\n  cert: " << files->cert_file
              << "\n  key:  " << files->key_file << " (mode 0600)\n";
  });

  RegisterRevoke(*certs, exit_code);
}

}  // namespace migrate::controller
