// The one translation unit that compiles Asio's, Asio SSL's and Beast's out-of-line code
// (BOOST_ASIO_SEPARATE_COMPILATION / BOOST_BEAST_SEPARATE_COMPILATION): every other TU
// only includes declarations, which keeps build times down on small machines.
#include <utility>  // g++ 12 + Boost 1.74: asio needs it first.

#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
