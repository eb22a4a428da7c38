// The agent's /metrics endpoint: what a Prometheus scrape asks of the plain-HTTP loopback
// listener (ApiServer::StartPlain), answered from AgentMetrics.
#pragma once

#include "agent/agent_metrics.h"
#include "agent/api_server.h"

namespace migrate::agent {

// GET /metrics: 200 with the text exposition format 0.0.4; another path: 404; another
// method on /metrics: 405.
ApiResponse ServeMetrics(const ApiRequest& request, const AgentMetrics& metrics);

}  // namespace migrate::agent
