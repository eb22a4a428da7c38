#include "agent/metrics_endpoint.h"

namespace migrate::agent {
namespace {

ApiResponse Text(unsigned status, std::string body) {
  ApiResponse response;
  response.status = status;
  response.content_type = "text/plain";
  response.body = std::move(body);
  return response;
}

}  // namespace

ApiResponse ServeMetrics(const ApiRequest& request, const AgentMetrics& metrics) {
  // A scraper may add a query string (?name[]=...): the whole set is served either way.
  const std::string path = request.target.substr(0, request.target.find('?'));
  if (path != "/metrics") return Text(404, "not found: only /metrics is served here\n");
  if (request.method != "GET" && request.method != "HEAD") {
    return Text(405, "method not allowed: GET /metrics\n");
  }
  ApiResponse response = Text(200, metrics.Render());
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  return response;
}

}  // namespace migrate::agent
