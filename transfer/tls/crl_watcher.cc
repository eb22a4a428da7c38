#include "transfer/tls/crl_watcher.h"

#include <sys/stat.h>

#include "transfer/base/log.h"
#include "transfer/tls/tls.h"

namespace migrate::tls {

struct CrlWatcher::Lists {
  explicit Lists(CrlPtr crl) : stack(sk_X509_CRL_new_null()) {
    if (stack != nullptr && sk_X509_CRL_push(stack, crl.get()) > 0) crl.release();
  }
  ~Lists() { sk_X509_CRL_pop_free(stack, X509_CRL_free); }
  STACK_OF(X509_CRL) * stack;
  int revoked = 0;
};

Result<std::unique_ptr<CrlWatcher>> CrlWatcher::Create(std::string path,
                                                       const std::string& ca_file, bool required) {
  MIGRATE_ASSIGN_OR_RETURN(X509Ptr ca, ReadCertFile(ca_file));
  std::unique_ptr<CrlWatcher> watcher(new CrlWatcher(std::move(path), std::move(ca)));
  watcher->seen_ = watcher->StatFile();
  if (watcher->seen_.size < 0) {
    if (required) return Status::NotFound("revocation list " + watcher->path_ + " does not exist");
    return watcher;
  }
  // At start a list that is there must be good: the process does not run without it.
  MIGRATE_ASSIGN_OR_RETURN(watcher->current_, watcher->Load());
  return watcher;
}

CrlWatcher::FileId CrlWatcher::StatFile() const {
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0) return FileId{};
  return FileId{st.st_dev, st.st_ino, st.st_size,
                int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec};
}

Result<std::shared_ptr<CrlWatcher::Lists>> CrlWatcher::Load() const {
  MIGRATE_ASSIGN_OR_RETURN(CrlPtr crl, ReadCrlFile(path_));
  MIGRATE_RETURN_IF_ERROR(CheckCrlIssuer(crl.get(), ca_.get(), path_));
  int revoked = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl.get()));
  auto lists = std::make_shared<Lists>(std::move(crl));
  if (lists->stack == nullptr || sk_X509_CRL_num(lists->stack) != 1) {
    return Status::Internal("revocation list " + path_ + ": out of memory");
  }
  lists->revoked = revoked < 0 ? 0 : revoked;
  return lists;
}

std::shared_ptr<CrlWatcher::Lists> CrlWatcher::Current() {
  const FileId now = StatFile();
  std::lock_guard<std::mutex> lock(mu_);
  if (now == seen_) return current_;
  seen_ = now;
  if (now.size < 0) {
    if (current_) {
      MIGRATE_LOG(kError, "") << "revocation list " << path_ << " is gone: keeping the last one";
    }
    return current_;
  }
  auto loaded = Load();
  if (!loaded.ok()) {
    // Never had a good list: what cannot be read might revoke anyone.
    broken_ = !current_;
    MIGRATE_LOG(kError, "") << loaded.status().ToString() << ": "
                            << (current_ ? "keeping the last good list"
                                         : "refusing every peer until it is whole");
    return current_;
  }
  broken_ = false;
  current_ = *loaded;
  MIGRATE_LOG(kInfo, "") << "revocation list " << path_ << ": " << current_->revoked
                         << " certificate(s) revoked";
  return current_;
}

int CrlWatcher::Verify(X509_STORE_CTX* ctx) {
  std::shared_ptr<Lists> lists = Current();  // held until the verification is over
  if (!lists && Broken()) {
    X509_STORE_CTX_set_error(ctx, X509_V_ERR_UNABLE_TO_GET_CRL);
    return 0;
  }
  if (lists) {
    X509_STORE_CTX_set0_crls(ctx, lists->stack);
    X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx), X509_V_FLAG_CRL_CHECK);
  }
  int ok = X509_verify_cert(ctx);
  if (lists) X509_STORE_CTX_set0_crls(ctx, nullptr);
  return ok;
}

bool CrlWatcher::Broken() {
  std::lock_guard<std::mutex> lock(mu_);
  return broken_;
}

}  // namespace migrate::tls
