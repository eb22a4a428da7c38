// Never compiled: the input of layout.includes_refused, a file of a library that may use
// transfer/base only and includes from transfer/tls.
#include "transfer/base/status.h"
#include "transfer/tls/tls.h"
