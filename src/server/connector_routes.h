// /v1/admin/connectors: status, checkpoint and entities of the pull connectors that
// `serve` runs (SPEC §3.2, §5). Kept out of server.cc so the routes of one feature live
// together; Server::Handle only dispatches here.
//
//   GET  /v1/admin/connectors                      every connector of the tenant
//   GET  /v1/admin/connectors/NAME                 one connector
//   GET  /v1/admin/connectors/NAME/entities?state=current|all   snapshot entity table
//   POST /v1/admin/connectors/NAME/checkpoint      {"checkpoint":"..."}: move it (replay)
//
// The tenant comes from the caller (the API key, once keys exist), never from the URL.
#pragma once

#include <string>

#include "server/http_server.h"
#include "sources/connector_runner.h"

namespace sluice {

HttpResponse HandleConnectorAdmin(ConnectorRunner* runner, const HttpRequest& req,
                                  const std::string& tenant);

}  // namespace sluice
