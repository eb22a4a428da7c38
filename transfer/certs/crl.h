// Revoking certificates of the cluster CA: its certificate revocation list, `crl.pem` in the
// CA directory (`migrate certs revoke`). Peers load a copy beside their ca.pem
// (transfer/crl_watcher.h) and refuse every certificate it lists.
#pragma once

#include <openssl/x509.h>

#include <string>
#include <vector>

#include "transfer/base/status.h"

namespace migrate::certs {

// Revokes a certificate of the CA in `ca_dir`: adds its serial to `ca_dir`/crl.pem (created
// when missing; an X509 v2 CRL signed by the CA key, lastUpdate now - 1 h for clock skew,
// nextUpdate at the CA's own expiry, CRL number + 1), written atomically. Revoking a serial
// already listed changes nothing but the dates. kInvalidArgument for a certificate of another
// CA or a serial that is not hex; kFailedPrecondition for a crl.pem not signed by this CA.
// Peers see the new list once it is copied beside their ca.pem (docs/agent.md).
Status RevokeCertificate(const std::string& ca_dir, const std::string& cert_file);
Status RevokeSerial(const std::string& ca_dir, const std::string& serial_hex);


// The serials `ca_dir`/crl.pem lists, as upper-case hex (empty when there is no list).
Result<std::vector<std::string>> RevokedSerials(const std::string& ca_dir);

}  // namespace migrate::certs
