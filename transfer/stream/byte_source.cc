#include "transfer/stream/byte_source.h"

namespace migrate::transfer {

Status ReadExact(ByteSource& source, void* buf, size_t size, Clock::time_point deadline) {
  char* p = static_cast<char*>(buf);
  while (size > 0) {
    MIGRATE_ASSIGN_OR_RETURN(size_t got, source.ReadSome(p, size, deadline));
    if (got == 0) return Status::DataLoss("stream truncated: peer closed before the end");
    p += got;
    size -= got;
  }
  return Status::Ok();
}

}  // namespace migrate::transfer
