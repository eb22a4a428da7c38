#include "transfer/tls/pem_file.h"

#include <fcntl.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "transfer/tls/tls.h"

namespace migrate::tls {
namespace {

template <typename T, typename Read>
Result<std::unique_ptr<T, OpenSslDeleter>> ReadPem(const std::string& path, const char* what,
                                                   Read read) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return Status::NotFound(OpenSslErrorText("open " + path));
  std::unique_ptr<T, OpenSslDeleter> out(read(bio.get()));
  if (!out)
    return Status::InvalidArgument(OpenSslErrorText(std::string("read ") + what + " " + path));
  return out;
}

Status WriteAll(int fd, const char* data, long len, const std::string& path) {
  for (long off = 0; off < len;) {
    ssize_t n = ::write(fd, data + off, static_cast<size_t>(len - off));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("write " + path, errno);
    }
    off += n;
  }
  return Status::Ok();
}

}  // namespace

Result<X509Ptr> ReadCertFile(const std::string& path) {
  return ReadPem<X509>(path, "certificate",
                       [](BIO* b) { return PEM_read_bio_X509(b, nullptr, nullptr, nullptr); });
}

Result<PkeyPtr> ReadKeyFile(const std::string& path) {
  return ReadPem<EVP_PKEY>(
      path, "key", [](BIO* b) { return PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr); });
}

Result<CrlPtr> ReadCrlFile(const std::string& path) {
  return ReadPem<X509_CRL>(path, "revocation list", [](BIO* b) {
    return PEM_read_bio_X509_CRL(b, nullptr, nullptr, nullptr);
  });
}

Status WritePemFile(const std::string& path, mode_t mode, Overwrite overwrite,
                    const std::function<int(BIO*)>& encode) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || encode(bio.get()) != 1)
    return Status::Internal(OpenSslErrorText("encode " + path));
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  const std::string target = overwrite == Overwrite::kNever ? path : path + ".tmp";
  if (overwrite == Overwrite::kAtomically) ::unlink(target.c_str());
  int fd = open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    if (errno == EEXIST) return Status::AlreadyExists(path + " exists; not overwriting it");
    return Status::FromErrno("create " + target, errno);
  }
  // The umask may have cleared bits; set exactly what was asked.
  Status status;
  if (fchmod(fd, mode) != 0) status = Status::FromErrno("chmod " + target, errno);
  if (status.ok()) status = WriteAll(fd, data, len, target);
  if (status.ok() && fsync(fd) != 0) status = Status::FromErrno("fsync " + target, errno);
  close(fd);
  if (status.ok() && overwrite == Overwrite::kAtomically &&
      ::rename(target.c_str(), path.c_str()) != 0) {
    status = Status::FromErrno("rename " + target + " to " + path, errno);
  }
  if (!status.ok()) unlink(target.c_str());
  return status;
}

Status CheckCrlIssuer(X509_CRL* crl, X509* ca, const std::string& what) {
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) != 0 ||
      X509_CRL_verify(crl, X509_get0_pubkey(ca)) != 1) {
    return Status::FailedPrecondition(OpenSslErrorText(what + " is not signed by the cluster CA"));
  }
  return Status::Ok();
}

}  // namespace migrate::tls
