// Tenants, keys, roles, rate limits and schemas end to end (SPEC §1.4, §7), against the
// real binary: every route × {no key, bad key, revoked key, wrong role, other tenant's
// key} is denied with the right status and reads or writes nothing; cross-tenant probes
// through search, SQL, ids and archive paths find nothing; a flooding tenant is limited
// without hurting another; schema evolution, dead letters and their replay.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace sluice::test {
namespace {

const char* kConfig = R"([dedupe]
capacity_slots = 65536
[store]
batch_ms = 20
[archive]
lateness_minutes = 0
[auth]
usage_interval_seconds = 1
)";

// kConfig with a store consumer that holds each batch open for 2 s, twice the
// measurement interval, and acks that do not wait for it: every measurement of stored
// bytes then runs while acknowledged events are still outside the store, the window in
// which a meter that forgot them let a tenant past its quota (storage_meter.h).
std::string LaggingStoreConfig() {
  std::string config = kConfig;
  config.replace(config.find("batch_ms = 20\n"), 14, "batch_ms = 2000\nmax_lag_ms = 0\n");
  return config;
}

std::vector<std::string> Auth(const std::string& key) {
  return {"Authorization: Bearer " + key, "Content-Type: application/json"};
}

std::string Field(const std::string& json, const char* key) {
  simdjson::dom::parser p;
  std::string_view s;
  if (p.parse(json)[key].get(s) != simdjson::SUCCESS) return "";
  return std::string(s);
}

int64_t Number(const std::string& json, const char* key) {
  simdjson::dom::parser p;
  int64_t n;
  if (p.parse(json)[key].get(n) != simdjson::SUCCESS) return -1;
  return n;
}

// A connector down on purpose: it exists only to put tenant="acme" series in /metrics.
std::string DownConnector(const std::string& name, const std::string& tenant) {
  return "[[connector]]\nname = \"" + name + "\"\ntenant = \"" + tenant +
         "\"\nurl = \"http://127.0.0.1:1/x\"\nrecords_path = \"/data\"\n"
         "retry_initial_ms = 5\nretry_max_ms = 20\nmax_attempts = 3\n"
         "poll_interval_seconds = 0.2\n";
}

class TenancyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("tenancy");
    data_ = dir_ + "/data";
    server_ = std::make_unique<ServerProcess>(data_, kConfig);
  }
  void TearDown() override {
    if (server_->running()) {
      EXPECT_EQ(server_->Stop(), 0) << server_->log_text();
    }
    RemoveTree(dir_);
  }

  // Offline, before the server starts: the CLI prints the secret alone on stdout.
  std::string CreateKey(const std::string& tenant, const std::string& role) {
    auto r = RunSluice({"keys", "create", "--tenant", tenant, "--role", role, "--data-dir", data_});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string key = r.out.substr(0, r.out.find('\n'));
    EXPECT_EQ(key.substr(0, 3), "sk_") << r.out;
    return key;
  }
  void CreateTenant(const std::string& name, const std::vector<std::string>& limits = {}) {
    std::vector<std::string> args = {"tenants", "create", name, "--data-dir", data_};
    args.insert(args.end(), limits.begin(), limits.end());
    auto r = RunSluice(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  HttpResult Call(const std::string& method, const std::string& path, const std::string& body,
                  const std::string& key) {
    std::vector<std::string> headers = {"Content-Type: application/json"};
    if (!key.empty()) headers.push_back("Authorization: Bearer " + key);
    return HttpCall(method, server_->url() + path, body, headers);
  }
  HttpResult Send(const std::string& key, const std::string& ndjson) {
    return HttpPost(server_->url() + "/v1/events", ndjson,
                    {"Authorization: Bearer " + key, "Content-Type: application/x-ndjson"});
  }
  // How many ids search shows once it shows `n` (the store takes a moment), or after 5 s.
  size_t WaitForSearchCount(const std::string& key, size_t n) {
    size_t got = 0;
    for (int i = 0; i < 50 && (got = SearchIds(key).size()) < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return got;
  }
  // Ids the tenant of `key` sees through search (all pages).
  std::set<std::string> SearchIds(const std::string& key, const std::string& query = "") {
    std::set<std::string> ids;
    std::string cursor;
    for (int page = 0; page < 100; ++page) {
      std::string q = "/v1/events?limit=1000" + query + (cursor.empty() ? "" : "&cursor=" + cursor);
      auto r = HttpGet(server_->url() + q, Auth(key));
      EXPECT_EQ(r.status, 200) << r.body;
      simdjson::dom::parser p;
      simdjson::dom::element doc;
      if (p.parse(r.body).get(doc)) break;
      for (auto e : doc["events"].get_array()) {
        ids.insert(std::string(std::string_view(e["event_id"].get_string())));
      }
      std::string_view next;
      if (doc["next_cursor"].get(next) != simdjson::SUCCESS) break;
      cursor = std::string(next);
    }
    return ids;
  }
  std::string Sql(const std::string& key, const std::string& sql, long* status = nullptr) {
    std::string body = "{\"sql\":\"" + sql + "\",\"format\":\"csv\"}";
    auto r = Call("POST", "/v1/query", body, key);
    if (status) *status = r.status;
    return r.body;
  }
  // Waits until the store has taken what was acknowledged: SQL, which reads the store
  // alone, counts `n` events (search shows them earlier, from the log's tail).
  void WaitForCount(const std::string& key, size_t n) {
    const std::string want = "n\r\n" + std::to_string(n) + "\r\n";
    for (int i = 0; i < 200; ++i) {
      long status = 0;
      const std::string got = Sql(key, "SELECT count(*) AS n FROM events", &status);
      if (status != 200 || got == want) break;  // a key without SQL: search below
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (int i = 0; i < 200 && SearchIds(key).size() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  std::string dir_, data_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(TenancyTest, EveryRouteDeniesMissingBadRevokedAndWrongRoleKeys) {
  CreateTenant("acme");
  CreateTenant("globex");
  const std::string acme_write = CreateKey("acme", "write");
  const std::string acme_read = CreateKey("acme", "read");
  const std::string acme_admin = CreateKey("acme", "admin");
  const std::string globex_admin = CreateKey("globex", "admin");
  const std::string op = CreateKey("*", "admin");
  const std::string revoked = CreateKey("acme", "admin");
  auto list = RunSluice({"keys", "list", "--tenant", "acme", "--data-dir", data_});
  ASSERT_EQ(list.exit_code, 0);
  std::vector<std::string> acme_ids;  // in creation order: write, read, admin, revoked
  for (size_t p = 0; (p = list.out.find("\"id\":\"", p)) != std::string::npos; ++p) {
    acme_ids.push_back(list.out.substr(p + 6, 16));
  }
  ASSERT_EQ(acme_ids.size(), 4u) << list.out;
  const std::string acme_write_id = acme_ids[0];
  ASSERT_EQ(RunSluice({"keys", "revoke", acme_ids[3], "--data-dir", data_}).exit_code, 0);
  // acme has a connector, so that its checkpoint route has something to move.
  server_ = std::make_unique<ServerProcess>(
      data_, std::string(kConfig) + DownConnector("acmefeed", "acme"));
  ASSERT_TRUE(server_->Start()) << server_->log_text();

  struct Route {
    std::string method, path, body;
    std::string wrong_role_key;  // a valid key whose role may not use the route
    bool takes_tenant = false;   // ?tenant= names the tenant acted on (admin, operator)
  };
  const std::string event = R"({"event_id":"matrix-1","type":"t"})";
  const std::vector<Route> routes = {
      {"POST", "/v1/events", event, acme_read},
      {"GET", "/v1/events", "", acme_write},
      {"POST", "/v1/query", R"({"sql":"SELECT count(*) FROM events"})", acme_write},
      {"GET", "/v1/admin/event-ids", "", acme_write},
      {"GET", "/v1/admin/keys", "", acme_read, true},
      {"POST", "/v1/admin/keys", R"({"role":"admin"})", acme_write},
      {"DELETE", "/v1/admin/keys/" + acme_write_id, "", acme_read},
      {"POST", "/v1/admin/keys/" + acme_write_id + "/revoke", "", acme_read},
      {"GET", "/v1/admin/schemas", "", acme_read, true},
      {"POST", "/v1/admin/schemas", R"({"type":"t","schema":{"required":["x"]}})", acme_read, true},
      {"GET", "/v1/admin/dead-letters", "", acme_read, true},
      {"POST", "/v1/admin/dead-letters/replay", "", acme_write, true},
      {"POST", "/v1/admin/rehydrate?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z", "",
       acme_read, true},
      {"GET", "/v1/metrics/events?from=2024-01-01T00:00:00Z&to=2024-01-02T00:00:00Z", "",
       acme_write},
      {"GET", "/v1/admin/metrics", "", acme_read, true},
      {"POST", "/v1/admin/metrics", R"({"name":"m","aggregate":"count"})", acme_write, true},
      {"GET", "/v1/admin/connectors", "", acme_read, true},
      {"GET", "/v1/admin/connectors/acmefeed", "", acme_read, true},
      {"POST", "/v1/admin/connectors/acmefeed/checkpoint", R"({"checkpoint":"EVIL"})", acme_read,
       true},
      {"GET", "/v1/admin/tenants", "", acme_admin},
      {"POST", "/v1/admin/tenants", R"({"name":"evil"})", acme_admin},
      {"PUT", "/v1/admin/tenants/acme", R"({"events_per_second":1})", acme_admin},
      {"POST", "/v1/admin/archive", "", acme_admin},
      {"POST", "/v1/admin/compact", "", acme_admin},
      {"POST", "/v1/admin/retention", "", acme_admin},
      {"GET", "/metrics", "", acme_admin},
  };
  for (const Route& r : routes) {
    SCOPED_TRACE(r.method + " " + r.path);
    auto none = HttpCall(r.method, server_->url() + r.path, r.body, {});
    EXPECT_EQ(none.status, 401) << none.body;
    EXPECT_NE(none.headers.find("WWW-Authenticate: Bearer"), std::string::npos) << none.headers;
    EXPECT_EQ(Call(r.method, r.path, r.body, "sk_notakey").status, 401);
    auto rev = Call(r.method, r.path, r.body, revoked);
    EXPECT_EQ(rev.status, 401);
    EXPECT_NE(rev.body.find("revoked"), std::string::npos) << rev.body;
    auto basic_bad =
        HttpCall(r.method, server_->url() + r.path, r.body, {"Authorization: Basic !!!"});
    EXPECT_EQ(basic_bad.status, 401);
    auto wrong = Call(r.method, r.path, r.body, r.wrong_role_key);
    EXPECT_EQ(wrong.status, 403) << wrong.body;
    // A denial names the caller's role, never a tenant.
    EXPECT_EQ(wrong.body.find("acme"), std::string::npos) << wrong.body;
    EXPECT_EQ(wrong.body.find("globex"), std::string::npos) << wrong.body;
    if (r.takes_tenant) {
      // The other tenant's admin key, naming acme: denied, and the denial names no tenant.
      const std::string named =
          r.path + (r.path.find('?') == std::string::npos ? "?" : "&") + "tenant=acme";
      auto other = Call(r.method, named, r.body, globex_admin);
      EXPECT_EQ(other.status, 403) << other.body;
      EXPECT_EQ(other.body.find("acme"), std::string::npos) << other.body;
      EXPECT_EQ(other.body.find("globex"), std::string::npos) << other.body;
    }
  }
  // An operator key reads and writes no tenant's events.
  EXPECT_EQ(Send(op, event).status, 403);
  EXPECT_EQ(HttpGet(server_->url() + "/v1/events", Auth(op)).status, 403);

  // Nothing was written: no event, no tenant, no key, no schema.
  EXPECT_TRUE(SearchIds(acme_read).empty());
  auto tenants = Call("GET", "/v1/admin/tenants", "", op);
  ASSERT_EQ(tenants.status, 200);
  EXPECT_EQ(tenants.body.find("evil"), std::string::npos);
  auto keys = Call("GET", "/v1/admin/keys", "", op);
  size_t n_keys = 0;
  for (size_t p = 0; (p = keys.body.find("\"id\":", p)) != std::string::npos; ++p) ++n_keys;
  EXPECT_EQ(n_keys, 6u) << keys.body;
  auto acme_tenant = Call("GET", "/v1/admin/tenants/acme", "", op);
  EXPECT_NE(acme_tenant.body.find("\"events_per_second\":0"), std::string::npos)
      << acme_tenant.body;
  EXPECT_EQ(Call("GET", "/v1/admin/schemas", "", acme_admin).body, "{\"schemas\":[]}");
  EXPECT_EQ(Call("GET", "/v1/admin/schemas", "", globex_admin).body, "{\"schemas\":[]}");
  for (const std::string& k : {acme_admin, globex_admin}) {
    auto defs = Call("GET", "/v1/admin/metrics", "", k);
    EXPECT_EQ(defs.body.find("\"m\""), std::string::npos) << defs.body;
  }

  // The right keys work; Basic with the key as user name too (Segment's SDKs send that).
  EXPECT_EQ(Send(acme_write, event).status, 202);
  auto basic = HttpPost(server_->url() + "/v1/events", R"({"event_id":"matrix-2","type":"t"})",
                        {"Authorization: Basic " + [&] {  // base64(key + ":")
                          static const char* tbl =
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                          std::string in = acme_admin + ":", out;
                          for (size_t i = 0; i < in.size(); i += 3) {
                            uint32_t v = static_cast<uint8_t>(in[i]) << 16;
                            if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
                            if (i + 2 < in.size()) v |= static_cast<uint8_t>(in[i + 2]);
                            out += tbl[(v >> 18) & 63];
                            out += tbl[(v >> 12) & 63];
                            out += i + 1 < in.size() ? tbl[(v >> 6) & 63] : '=';
                            out += i + 2 < in.size() ? tbl[v & 63] : '=';
                          }
                          return out;
                        }()});
  EXPECT_EQ(basic.status, 202) << basic.body;
  WaitForCount(acme_read, 2);
  EXPECT_EQ(SearchIds(acme_read), (std::set<std::string>{"matrix-1", "matrix-2"}));
  EXPECT_EQ(Call("GET", "/metrics", "", op).status, 200);
  EXPECT_EQ(HttpGet(server_->url() + "/healthz").status, 200);

  // Another tenant's admin: keys of acme are invisible and cannot be revoked or listed.
  auto acme_keys = Call("GET", "/v1/admin/keys", "", acme_admin);
  std::string first_id = acme_keys.body.substr(acme_keys.body.find("\"id\":\"") + 6, 16);
  auto other = Call("DELETE", "/v1/admin/keys/" + first_id, "", globex_admin);
  EXPECT_EQ(other.status, 404) << other.body;
  EXPECT_EQ(Call("GET", "/v1/admin/keys?tenant=acme", "", globex_admin).status, 403);
  auto globex_keys = Call("GET", "/v1/admin/keys", "", globex_admin);
  EXPECT_EQ(globex_keys.body.find("acme"), std::string::npos) << globex_keys.body;
  EXPECT_EQ(Send(acme_write, event).status, 202);  // acme's keys still work (none revoked)
  // Without ?tenant=, globex's own scope has no such connector: the same 404 as an unknown.
  EXPECT_EQ(Call("GET", "/v1/admin/connectors/acmefeed", "", globex_admin).status, 404);
  EXPECT_EQ(Call("POST", "/v1/admin/connectors/acmefeed/checkpoint", R"({"checkpoint":"EVIL"})",
                 globex_admin)
                .status,
            404);

  // With acme data in place, globex naming acme reads none of it and changes none of it: a
  // schema, a dead letter the next schema version makes replayable, a metric definition.
  ASSERT_EQ(
      Call("POST", "/v1/admin/schemas", R"({"type":"s","schema":{"required":["x"]}})", acme_admin)
          .status,
      201);
  ASSERT_EQ(
      Send(acme_admin, R"({"event_id":"acme-dl-1","type":"s","properties":{"y":"q"}})").status,
      400);
  ASSERT_EQ(Call("POST", "/v1/admin/schemas",
                 R"({"type":"s","schema":{"properties":{"y":{"type":"string"}}}})", acme_admin)
                .status,
            201);
  ASSERT_EQ(
      Call("POST", "/v1/admin/metrics", R"({"name":"acme_metric","aggregate":"count"})", acme_admin)
          .status,
      201);
  const std::vector<std::pair<std::string, std::string>> probes = {
      {"GET /v1/admin/schemas?tenant=acme", ""},
      {"POST /v1/admin/schemas?tenant=acme",
       R"({"type":"s","schema":{"properties":{"y":{"type":"string"},"z":{"type":"string"}}}})"},
      {"GET /v1/admin/dead-letters?tenant=acme&all=true", ""},
      {"POST /v1/admin/dead-letters/replay?tenant=acme", ""},
      {"GET /v1/admin/metrics?tenant=acme", ""},
      {"GET /v1/admin/metrics/acme_metric?tenant=acme", ""},
      {"POST /v1/admin/metrics?tenant=acme", R"({"name":"evil_metric","aggregate":"count"})"},
      {"GET /v1/admin/connectors?tenant=acme", ""},
      {"POST /v1/admin/connectors/acmefeed/checkpoint?tenant=acme", R"({"checkpoint":"EVIL"})"},
      {"POST /v1/admin/rehydrate?tenant=acme&from=2020-01-01T00:00:00Z&to=2030-01-01T00:00:00Z",
       ""},
  };
  for (const auto& [what, body] : probes) {
    SCOPED_TRACE(what);
    const size_t sp = what.find(' ');
    auto r = Call(what.substr(0, sp), what.substr(sp + 1), body, globex_admin);
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(r.body.find("acme"), std::string::npos) << r.body;  // acme-dl-1, acme_metric...
  }
  auto schemas = Call("GET", "/v1/admin/schemas", "", acme_admin).body;
  size_t versions = 0;
  for (size_t p = 0; (p = schemas.find("\"version\":", p)) != std::string::npos; ++p) ++versions;
  EXPECT_EQ(versions, 2u) << schemas;
  EXPECT_EQ(schemas.find("\"z\""), std::string::npos) << schemas;
  auto letters = Call("GET", "/v1/admin/dead-letters", "", acme_admin).body;
  EXPECT_NE(letters.find("\"acme-dl-1\""), std::string::npos) << letters;  // still pending
  for (const std::string& k : {acme_admin, globex_admin}) {
    auto defs = Call("GET", "/v1/admin/metrics", "", k).body;
    EXPECT_EQ(defs.find("evil_metric"), std::string::npos) << defs;
  }
  EXPECT_EQ(Call("GET", "/v1/admin/metrics", "", globex_admin).body.find("acme_metric"),
            std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // > one poll interval
  auto feed = Call("GET", "/v1/admin/connectors/acmefeed", "", acme_admin);
  ASSERT_EQ(feed.status, 200) << feed.body;
  EXPECT_EQ(feed.body.find("EVIL"), std::string::npos) << feed.body;
  // `sluice checkpoint --url` presents the key like every --url command; without one it
  // is refused like any other caller.
  auto show =
      RunSluice({"checkpoint", "show", "acmefeed", "--url", server_->url(), "--key", acme_admin});
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("\"acmefeed\""), std::string::npos) << show.out;
  auto anonymous = RunSluice({"checkpoint", "show", "acmefeed", "--url", server_->url()});
  EXPECT_NE(anonymous.exit_code, 0) << anonymous.out;
  EXPECT_EQ(anonymous.out.find("acmefeed"), std::string::npos) << anonymous.out;
}

TEST_F(TenancyTest, TenantsSeeOnlyTheirOwnEventsThroughEveryPath) {
  CreateTenant("acme");
  CreateTenant("globex");
  const std::string acme = CreateKey("acme", "admin");
  const std::string globex = CreateKey("globex", "admin");
  const std::string op = CreateKey("*", "admin");
  ASSERT_TRUE(server_->Start()) << server_->log_text();
  // Old timestamps, so `archive` writes them to Parquet right away.
  std::string a, g;
  for (int i = 0; i < 5; ++i) {
    a +=
        R"({"event_id":"a)" + std::to_string(i) +
        R"(","type":"secret_acme_type","timestamp":"2024-01-01T10:00:00Z","properties":{"plan":"acme-gold"}})" +
        "\n";
  }
  for (int i = 0; i < 3; ++i) {
    g += R"({"event_id":"g)" + std::to_string(i) +
         R"(","type":"buy","timestamp":"2024-01-01T10:00:00Z"})" + "\n";
  }
  g += R"({"event_id":"a0","type":"buy","timestamp":"2024-01-01T10:00:00Z"})";  // same id, other
                                                                                // tenant
  auto ra = Send(acme, a);
  ASSERT_EQ(ra.status, 202) << ra.body;
  EXPECT_EQ(Number(ra.body, "accepted"), 5);
  auto rg = Send(globex, g);
  ASSERT_EQ(rg.status, 202);
  EXPECT_EQ(Number(rg.body, "accepted"), 4);  // "a0" of globex is not acme's "a0"
  WaitForCount(acme, 5);
  WaitForCount(globex, 4);
  EXPECT_EQ(SearchIds(acme), (std::set<std::string>{"a0", "a1", "a2", "a3", "a4"}));
  EXPECT_EQ(SearchIds(globex), (std::set<std::string>{"a0", "g0", "g1", "g2"}));
  // Guessed filters from the other tenant find nothing.
  EXPECT_TRUE(SearchIds(globex, "&type=secret_acme_type").empty());
  EXPECT_TRUE(SearchIds(globex, "&prop.plan=acme-gold").empty());

  // Metrics count each tenant's own events only (the rollups are kept per tenant).
  const std::string day =
      "/v1/metrics/events?granularity=1d&from=2024-01-01T00:00:00Z&to=2024-01-02T00:00:00Z";
  auto total = [&](const std::string& key) {
    for (int i = 0; i < 100; ++i) {
      auto r = HttpGet(server_->url() + day, Auth(key));
      EXPECT_EQ(r.status, 200) << r.body;
      simdjson::dom::parser p;
      simdjson::dom::element doc;
      int64_t sum = 0;
      if (!p.parse(r.body).get(doc)) {
        for (auto series : doc["series"].get_array()) {
          for (auto point : series["points"].get_array()) {
            int64_t n;
            if (!point["value"].get(n)) sum += n;
          }
        }
      }
      if (sum > 0 || i == 99) return sum;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return int64_t{0};
  };
  EXPECT_EQ(total(acme), 5);
  EXPECT_EQ(total(globex), 4);

  // export-ids: a tenant key exports its own, whatever ?tenant= says.
  auto ids = HttpGet(server_->url() + "/v1/admin/event-ids?tenant=acme", Auth(globex));
  ASSERT_EQ(ids.status, 200);
  EXPECT_EQ(ids.body.find("a1"), std::string::npos) << ids.body;
  EXPECT_NE(ids.body.find("g1"), std::string::npos);

  // Archive both tenants, then probe through SQL: counts, catalog, files, error text.
  ASSERT_EQ(Call("POST", "/v1/admin/archive", "", op).status, 200);
  EXPECT_EQ(Sql(acme, "SELECT count(*) AS n FROM events"), "n\r\n5\r\n");
  EXPECT_EQ(Sql(globex, "SELECT count(*) AS n FROM events"), "n\r\n4\r\n");
  EXPECT_EQ(Sql(globex, "SELECT count(*) AS n FROM events WHERE type = 'secret_acme_type'"),
            "n\r\n0\r\n");
  for (const char* probe :
       {"SELECT * FROM events_hot", "SELECT * FROM dead_letters",
        "SELECT * FROM read_parquet('archive/tenant=acme/**/*.parquet')",
        "SELECT * FROM read_parquet('../data/archive/tenant=acme/*/*/*/*/*.parquet')",
        "SELECT * FROM duckdb_tables()", "SELECT * FROM information_schema.tables",
        "SELECT * FROM glob('**')", "SELECT * FROM read_text('tenants.json')",
        "SELECT * FROM events_hot WHERE tenant = 'acme'"}) {
    long status = 0;
    std::string body = Sql(globex, probe, &status);
    EXPECT_EQ(status, 400) << probe << ": " << body;
    EXPECT_EQ(body.find("acme"), std::string::npos) << probe << ": " << body;
    EXPECT_EQ(body.find("a1"), std::string::npos) << probe << ": " << body;
  }
  // The archive layout keeps tenants apart on disk too.
  auto files = RunSluice({"query", "--data-dir", data_, "SELECT 1"});  // data dir is held
  EXPECT_NE(files.exit_code, 0);
  EXPECT_EQ(server_->Stop(), 0);
  for (const char* t : {"acme", "globex"}) {
    EXPECT_TRUE(std::filesystem::is_directory(data_ + "/archive/tenant=" + t + "/year=2024")) << t;
  }
  auto offline = RunSluice({"query", "--data-dir", data_, "--tenant", "globex", "--format", "csv",
                            "SELECT count(*) AS n FROM events"});
  EXPECT_EQ(offline.out, "n\r\n4\r\n") << offline.err;
}

TEST_F(TenancyTest, KeysCreatedAndRevokedOverHttpTakeEffectAtOnce) {
  ASSERT_TRUE(server_->Start()) << server_->log_text();
  // Open mode (loopback, no keys): anyone local is the default tenant's admin.
  auto made = Call("POST", "/v1/admin/keys", R"({"tenant":"default","role":"admin"})", "");
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string admin = Field(made.body, "key");
  ASSERT_EQ(admin.substr(0, 3), "sk_");
  // From the first key on, every request needs one.
  EXPECT_EQ(HttpPost(server_->url() + "/v1/events", R"({"type":"t"})").status, 401);
  auto w = Call("POST", "/v1/admin/keys", R"({"role":"write","name":"sdk"})", admin);
  ASSERT_EQ(w.status, 201) << w.body;
  const std::string writer = Field(w.body, "key");
  EXPECT_EQ(Send(writer, R"({"type":"t"})").status, 202);
  auto rv = Call("DELETE", "/v1/admin/keys/" + Field(w.body, "id"), "", admin);
  ASSERT_EQ(rv.status, 200) << rv.body;
  EXPECT_EQ(Send(writer, R"({"type":"t"})").status, 401);
  // A tenant admin cannot mint operator keys or keys for other tenants.
  EXPECT_EQ(Call("POST", "/v1/admin/keys", R"({"tenant":"*","role":"admin"})", admin).status, 403);
  EXPECT_EQ(Call("POST", "/v1/admin/keys", R"({"tenant":"x","role":"read"})", admin).status, 403);
  // The CLI speaks to the server with --key.
  auto cli = RunSluice({"keys", "list", "--url", server_->url(), "--key", admin});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_NE(cli.out.find("\"name\":\"sdk\""), std::string::npos) << cli.out;
  auto nokey = RunSluice({"keys", "list", "--url", server_->url()});
  EXPECT_NE(nokey.exit_code, 0);
  EXPECT_NE(nokey.err.find("API key"), std::string::npos) << nokey.err;
}

// Open mode ends with the first key for good: a tenant admin revoking the last key (its
// own) must not reopen the server to every local caller with every right.
TEST_F(TenancyTest, RevokingTheLastKeyDoesNotReopenTheServer) {
  ASSERT_TRUE(server_->Start()) << server_->log_text();
  auto made = Call("POST", "/v1/admin/keys", R"({"tenant":"default","role":"admin"})", "");
  ASSERT_EQ(made.status, 201) << made.body;
  const std::string admin = Field(made.body, "key");
  ASSERT_EQ(Send(admin, R"({"event_id":"before","type":"t"})").status, 202);
  auto rv = Call("DELETE", "/v1/admin/keys/" + Field(made.body, "id"), "", admin);
  ASSERT_EQ(rv.status, 200) << rv.body;
  auto expect_locked = [&] {
    EXPECT_EQ(HttpPost(server_->url() + "/v1/events", R"({"event_id":"after","type":"t"})",
                       {"Content-Type: application/json"})
                  .status,
              401);
    EXPECT_EQ(HttpGet(server_->url() + "/v1/events").status, 401);
    EXPECT_EQ(Call("GET", "/v1/admin/keys", "", "").status, 401);
    EXPECT_EQ(Call("POST", "/v1/admin/keys", R"({"tenant":"*","role":"admin"})", "").status, 401);
    EXPECT_EQ(Call("POST", "/v1/query", R"({"sql":"SELECT count(*) FROM events"})", "").status,
              401);
    EXPECT_EQ(Send(admin, R"({"event_id":"after","type":"t"})").status, 401);
  };
  expect_locked();
  // Nor after a restart: the revoked key is still on record.
  ASSERT_EQ(server_->Stop(), 0);
  ASSERT_TRUE(server_->Start()) << server_->log_text();
  expect_locked();
  EXPECT_NE(server_->log_text().find("every API key"), std::string::npos) << server_->log_text();
  // No key was minted, and "after" was never stored: a new key sees only "before".
  ASSERT_EQ(server_->Stop(), 0);
  const std::string reader = CreateKey("default", "admin");
  ASSERT_TRUE(server_->Start()) << server_->log_text();
  WaitForCount(reader, 1);
  EXPECT_EQ(SearchIds(reader), (std::set<std::string>{"before"}));
  auto keys = Call("GET", "/v1/admin/keys", "", reader);
  size_t n_keys = 0;
  for (size_t p = 0; (p = keys.body.find("\"id\":", p)) != std::string::npos; ++p) ++n_keys;
  EXPECT_EQ(n_keys, 2u) << keys.body;  // the revoked one and this one
  // Offline, revoking the last active key says what it does.
  ASSERT_EQ(server_->Stop(), 0);
  auto list = RunSluice({"keys", "list", "--data-dir", data_});
  const std::string last_id = list.out.substr(list.out.rfind("\"id\":\"") + 6, 16);
  auto revoke = RunSluice({"keys", "revoke", last_id, "--data-dir", data_});
  EXPECT_EQ(revoke.exit_code, 0) << revoke.err;
  EXPECT_NE(revoke.err.find("last active key"), std::string::npos) << revoke.err;
}

// public_metrics opens /metrics to anyone; it must then name no tenant (nor a tenant's
// connector). An operator key still sees the per-tenant series.
TEST_F(TenancyTest, PublicMetricsNameNoTenantButOperatorSeesThem) {
  CreateTenant("acme");
  const std::string acme_admin = CreateKey("acme", "admin");
  const std::string op = CreateKey("*", "admin");
  // kConfig ends in its [auth] table: the option lands there.
  server_ = std::make_unique<ServerProcess>(
      data_, std::string(kConfig) + "public_metrics = true\n" + DownConnector("acmefeed", "acme"));
  ASSERT_TRUE(server_->Start()) << server_->log_text();
  auto full = Call("GET", "/metrics", "", op);
  ASSERT_EQ(full.status, 200) << full.body;
  EXPECT_NE(full.body.find("tenant=\"acme\",connector=\"acmefeed\""), std::string::npos)
      << full.body;
  for (const std::string& key : {std::string(), acme_admin, std::string("sk_notakey")}) {
    SCOPED_TRACE(key.empty() ? "no key" : key.substr(0, 6));
    auto pub = Call("GET", "/metrics", "", key);
    ASSERT_EQ(pub.status, 200) << pub.body;
    EXPECT_NE(pub.body.find("sluice_events_accepted_total"), std::string::npos) << pub.body;
    EXPECT_EQ(pub.body.find("acme"), std::string::npos) << pub.body;
    EXPECT_EQ(pub.body.find("tenant="), std::string::npos) << pub.body;
    EXPECT_EQ(pub.body.find("sluice_connector_"), std::string::npos) << pub.body;
  }
}

TEST_F(TenancyTest, PublicAddressWithoutKeysRefusesToStart) {
  auto r = RunSluice({"serve", "--data-dir", data_, "--listen", "0.0.0.0:0"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("sluice keys create"), std::string::npos) << r.err;
  const std::string key = CreateKey("default", "write");
  server_->set_listen("0.0.0.0:0");
  ASSERT_TRUE(server_->Start()) << server_->log_text();
  EXPECT_EQ(HttpPost(server_->url() + "/v1/events", R"({"type":"t"})").status, 401);
  EXPECT_EQ(Send(key, R"({"type":"t"})").status, 202);
}

TEST_F(TenancyTest, TlsServesHttpsOnlyWithTheConfiguredCertificate) {
  const std::string cert = dir_ + "/cert.pem", key = dir_ + "/key.pem";
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout '" +
      key + "' -out '" + cert + "' >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  server_ =
      std::make_unique<ServerProcess>(data_, std::string(kConfig) + "[server]\ntls_cert_file = \"" +
                                                 cert + "\"\ntls_key_file = \"" + key + "\"\n");
  server_->set_scheme("https");
  ASSERT_TRUE(server_->Start()) << server_->log_text();
  SetHttpsCaFile(cert);
  auto r = HttpPost(server_->url() + "/v1/events", R"({"event_id":"tls-1","type":"t"})");
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(HttpGet(server_->url() + "/healthz").status, 200);
  SetHttpsCaFile("");
  // Plain HTTP on the TLS port gets no answer; an untrusted certificate is refused.
  std::string plain = server_->url().replace(0, 5, "http");
  EXPECT_EQ(HttpGet(plain + "/healthz").status, 0);
  EXPECT_EQ(HttpGet(server_->url() + "/healthz").status, 0);
  ASSERT_EQ(server_->Stop(), 0);
  // A missing key file is a start-up error naming the key.
  server_ = std::make_unique<ServerProcess>(data_, std::string(kConfig) +
                                                       "[server]\ntls_cert_file = \"" + cert +
                                                       "\"\ntls_key_file = \"/nonexistent.pem\"\n");
  EXPECT_FALSE(server_->Start());
  EXPECT_NE(server_->log_text().find("tls_key_file"), std::string::npos) << server_->log_text();
}

TEST_F(TenancyTest, FloodingTenantIsLimitedWithoutHurtingAnother) {
  CreateTenant("noisy", {"--events-per-second", "2000", "--requests-per-second", "40"});
  CreateTenant("calm");
  const std::string noisy = CreateKey("noisy", "write");
  const std::string calm = CreateKey("calm", "write");
  ASSERT_TRUE(server_->Start()) << server_->log_text();
  std::string batch;
  for (int i = 0; i < 100; ++i)
    batch += R"({"type":"flood"})"
             "\n";
  std::atomic<bool> stop{false};
  std::atomic<int64_t> noisy_accepted{0}, noisy_429{0}, bad_429{0};
  // Noisy offers ~10x its events/s limit from four connections.
  std::vector<std::thread> flood;
  const auto t0 = std::chrono::steady_clock::now();
  for (int t = 0; t < 4; ++t) {
    flood.emplace_back([&] {
      while (!stop.load()) {
        auto r = Send(noisy, batch);
        if (r.status == 202) {
          noisy_accepted += Number(r.body, "accepted");
        } else if (r.status == 429) {
          ++noisy_429;
          if (r.headers.find("Retry-After: ") == std::string::npos ||
              r.headers.find("X-RateLimit-Limit: ") == std::string::npos ||
              r.headers.find("X-RateLimit-Reset: ") == std::string::npos) {
            ++bad_429;
          }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
  }
  // Calm sends steadily meanwhile: every request accepted in full.
  int calm_ok = 0;
  for (int i = 0; i < 40; ++i) {
    auto r = Send(calm, batch);
    EXPECT_EQ(r.status, 202) << r.body;
    calm_ok += r.status == 202 && Number(r.body, "accepted") == 100;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop = true;
  for (auto& t : flood) t.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(calm_ok, 40);
  EXPECT_GT(noisy_429.load(), 0);
  EXPECT_EQ(bad_429.load(), 0);
  // At most one second of burst plus the rate, plus one batch in flight per connection.
  EXPECT_LE(noisy_accepted.load(), static_cast<int64_t>(2000 * (secs + 1) + 400));
  EXPECT_GE(noisy_accepted.load(), static_cast<int64_t>(2000 * secs * 0.5));
}

TEST_F(TenancyTest, StoredBytesQuotaStopsOneTenantOnly) {
  CreateTenant("small", {"--max-stored-bytes", "3000"});
  CreateTenant("big");
  const std::string small = CreateKey("small", "write");
  const std::string big = CreateKey("big", "write");
  server_ = std::make_unique<ServerProcess>(data_, LaggingStoreConfig());
  ASSERT_TRUE(server_->Start()) << server_->log_text();
  const std::string event_tail =
      R"(","type":"t","properties":{"pad":")" + std::string(150, 'x') + "\"}}\n";
  int accepted_batches = 0;
  HttpResult last;
  for (int i = 0; i < 20; ++i) {
    std::string batch;
    for (int j = 0; j < 5; ++j) {
      batch += R"({"event_id":"s)" + std::to_string(i * 5 + j) + event_tail;
    }
    last = Send(small, batch);
    if (last.status != 202) break;
    ++accepted_batches;
    // A measurement between any two batches, while the last is still outside the store.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  }
  // 179-180 stored bytes per event (id, type, 16 for the timestamps, 160 of properties),
  // ~900 per batch: after three the tenant stores 2690 bytes and the fourth is admitted;
  // it crosses 3000 and the fifth is refused. Exactly, however far the store lags: the
  // meter counts what was logged, not what the store has caught up with.
  EXPECT_EQ(last.status, 429) << last.body;
  EXPECT_EQ(accepted_batches, 4);
  EXPECT_NE(last.body.find("quota"), std::string::npos) << last.body;
  EXPECT_NE(last.headers.find("Retry-After: "), std::string::npos);
  // The headers of a rate 429 too, so clients need no special case.
  EXPECT_NE(last.headers.find("X-RateLimit-Limit: 3000"), std::string::npos) << last.headers;
  EXPECT_NE(last.headers.find("X-RateLimit-Remaining: 0"), std::string::npos) << last.headers;
  EXPECT_NE(last.headers.find("X-RateLimit-Reset: "), std::string::npos) << last.headers;
  EXPECT_NE(last.headers.find("X-RateLimit-Resource: stored-bytes"), std::string::npos)
      << last.headers;
  EXPECT_EQ(Send(big, R"({"event_id":"b1)" + event_tail).status, 202);
  // The measurements (every second here) agree, before and after the store has the rows.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(Send(small, R"({"type":"t"})").status, 429);
}

// Refused events are ingest work too (a parse, a log append, an fsync, a row): they pay
// the events/s bucket like accepted ones, and a replay of dead letters pays for what it
// sends and waits while the bucket is in debt.
TEST_F(TenancyTest, RefusedEventsAndReplaysPayTheEventsPerSecondLimit) {
  CreateTenant("strict", {"--events-per-second", "50"});
  const std::string admin = CreateKey("strict", "admin");
  ASSERT_TRUE(server_->Start()) << server_->log_text();
  ASSERT_EQ(Call("POST", "/v1/admin/schemas", R"({"type":"t","schema":{"required":["x"]}})", admin)
                .status,
            201);
  std::string invalid;
  for (int i = 0; i < 200; ++i) {
    invalid +=
        R"({"event_id":"bad-)" + std::to_string(i) + R"(","type":"t","properties":{}})" + "\n";
  }
  auto r = Send(admin, invalid);
  ASSERT_EQ(r.status, 400) << r.body;  // all 200 dead-lettered: 150 events in debt
  r = Send(admin, R"({"event_id":"ok-1","type":"other"})");
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_NE(r.headers.find("Retry-After: "), std::string::npos) << r.headers;
  // The fix, then a replay: refused while the bucket is in debt...
  ASSERT_EQ(Call("POST", "/v1/admin/schemas",
                 R"({"type":"t","schema":{"properties":{"y":{"type":"string"}}}})", admin)
                .status,
            201);
  r = Call("POST", "/v1/admin/dead-letters/replay", "", admin);
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_NE(r.headers.find("X-RateLimit-Limit: 50"), std::string::npos) << r.headers;
  // ...admitted once out of debt (~3 s), each call taking at most what the bucket holds
  // and saying whether more wait, so the 200 go in several calls at ~50/s and no call
  // leaves the tenant's live ingest in debt.
  int64_t replayed = 0;
  int calls = 0;
  for (int i = 0; i < 400 && replayed < 200; ++i) {
    if (r.status == 200) {
      ++calls;
      const auto n = Number(r.body, "replayed");
      EXPECT_LE(n, 51) << r.body;  // the bucket holds one second of the rate, at most
      replayed += n;
      if (r.body.find("\"more\":false") != std::string::npos) break;
      EXPECT_NE(r.body.find("\"more\":true"), std::string::npos) << r.body;
    } else {
      ASSERT_EQ(r.status, 429) << r.body;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    r = Call("POST", "/v1/admin/dead-letters/replay", "", admin);
  }
  EXPECT_EQ(replayed, 200);
  EXPECT_GE(calls, 4) << "200 letters at 50/s cannot go in fewer calls";
  EXPECT_EQ(WaitForSearchCount(admin, 200), 200u);
  // Live ingest is not locked out for long after the replay.
  for (int i = 0; i < 30; ++i) {
    r = Send(admin, R"({"event_id":"ok-2","type":"other"})");
    if (r.status == 202) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(r.status, 202) << r.body;
}

// Dead letters are stored bytes of their tenant: a tenant cannot fill the disk with events
// its own schema refuses; replaying them is allowed at the quota.
TEST_F(TenancyTest, DeadLettersCountTowardTheStoredBytesQuota) {
  CreateTenant("small", {"--max-stored-bytes", "3000"});
  const std::string admin = CreateKey("small", "admin");
  server_ = std::make_unique<ServerProcess>(data_, LaggingStoreConfig());
  ASSERT_TRUE(server_->Start()) << server_->log_text();
  ASSERT_EQ(Call("POST", "/v1/admin/schemas", R"({"type":"t","schema":{"required":["x"]}})", admin)
                .status,
            201);
  // 209-210 stored bytes per event, so the 15 events replayed below still fill the quota
  // without their letters' error text.
  const std::string tail =
      R"(","type":"t","properties":{"pad":")" + std::string(180, 'x') + "\"}}\n";
  int refused_batches = 0;
  HttpResult last;
  for (int i = 0; i < 20; ++i) {
    std::string batch;
    for (int j = 0; j < 5; ++j) batch += R"({"event_id":"d)" + std::to_string(i * 5 + j) + tail;
    last = Send(admin, batch);
    if (last.status != 400) break;  // 400: every event dead-lettered
    ++refused_batches;
    // A measurement between any two batches, while the last is still outside the store.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  }
  // > 1000 bytes per batch of dead letters (~210 per event plus its error text): the
  // third crosses 3000, the fourth is refused, however far the store lags.
  EXPECT_EQ(last.status, 429) << last.body;
  EXPECT_EQ(refused_batches, 3);
  EXPECT_NE(last.body.find("quota"), std::string::npos) << last.body;
  // The measurement (every second here) counts the dead_letters table too.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  last = Send(admin, R"({"event_id":"late","type":"t","properties":{}})");
  EXPECT_EQ(last.status, 429) << last.body;
  ASSERT_EQ(Call("POST", "/v1/admin/schemas",
                 R"({"type":"t","schema":{"properties":{"pad":{"type":"string"}}}})", admin)
                .status,
            201);
  // A replay never grows storage (a letter becomes an event without its error text), so
  // the quota does not hold it back: the tenant's way out of a quota full of letters.
  // Here the 15 events alone (~3140 bytes) keep the tenant at its quota.
  auto r = Call("POST", "/v1/admin/dead-letters/replay", "", admin);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Number(r.body, "replayed"), refused_batches * 5) << r.body;
  EXPECT_EQ(WaitForSearchCount(admin, refused_batches * 5),
            static_cast<size_t>(refused_batches * 5));
  last = Send(admin, R"({"event_id":"late2","type":"t","properties":{}})");
  EXPECT_EQ(last.status, 429) << last.body;  // still full for new events
}

// A failed rehydrate tells a tenant admin that it failed, not DuckDB's text with the
// server's file paths and SQL; the operator still gets the detail.
TEST_F(TenancyTest, RehydrateFailureShowsNoPathsToATenant) {
  CreateTenant("acme");
  const std::string admin = CreateKey("acme", "admin");
  const std::string op = CreateKey("*", "admin");
  std::string config = kConfig;
  config.replace(config.find("lateness_minutes = 0\n"), 21,
                 "lateness_minutes = 0\nretention_days = 0\n");
  server_ = std::make_unique<ServerProcess>(data_, config);
  ASSERT_TRUE(server_->Start()) << server_->log_text();
  ASSERT_EQ(
      Send(admin, R"({"event_id":"h1","type":"t","timestamp":"2024-01-01T10:00:00Z"})").status,
      202);
  WaitForCount(admin, 1);
  ASSERT_EQ(Call("POST", "/v1/admin/archive", "", op).status, 200);
  auto evicted = Call("POST", "/v1/admin/retention", "", op);  // 2024 is past hot_days
  ASSERT_EQ(evicted.status, 200) << evicted.body;
  std::filesystem::remove_all(data_ + "/archive/tenant=acme");  // the files it would read
  const std::string range = "/v1/admin/rehydrate?from=2024-01-01T00:00:00Z&to=2024-01-02T00:00:00Z";
  auto r = Call("POST", range, "", admin);
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_NE(r.body.find("rehydrate failed"), std::string::npos) << r.body;
  for (const std::string& leak :
       {data_, std::string("tenant="), std::string(".parquet"), std::string("SELECT")}) {
    EXPECT_EQ(r.body.find(leak), std::string::npos) << r.body;
  }
  auto detailed = Call("POST", range + "&tenant=acme", "", op);
  EXPECT_EQ(detailed.status, 500) << detailed.body;
  EXPECT_NE(detailed.body.find("parquet"), std::string::npos) << detailed.body;
}

TEST_F(TenancyTest, SchemaEvolutionDeadLettersAndReplayExactlyOnce) {
  const std::string admin = CreateKey("default", "admin");
  ASSERT_TRUE(server_->Start()) << server_->log_text();
  const std::string v1 =
      R"({"type":"purchase","schema":{"type":"object","required":["sku","price"],
    "properties":{"sku":{"type":"string","minLength":1},"price":{"type":"number","minimum":0},
    "currency":{"enum":["USD","EUR"]}}}})";
  auto r = Call("POST", "/v1/admin/schemas", v1, admin);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Number(r.body, "version"), 1);

  const std::string batch =
      R"({"event_id":"ok-1","type":"purchase","properties":{"sku":"A","price":5}})"
      "\n"
      R"({"event_id":"neg","type":"purchase","properties":{"sku":"A","price":-1}})"
      "\n"
      R"({"event_id":"nosku","type":"purchase","properties":{"price":3}})"
      "\n"
      R"({"event_id":"gbp","type":"purchase","properties":{"sku":"B","price":2,"currency":"GBP"}})"
      "\n"
      R"({"type":"purchase","properties":{"sku":"C","price":-5}})"
      "\n"
      R"({"event_id":"other","type":"pageview","properties":{"price":-1}})";
  r = Send(admin, batch);
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(Number(r.body, "accepted"), 2);  // ok-1 and the pageview (no schema)
  EXPECT_NE(
      r.body.find(
          R"({"index":1,"error":"schema v1 of \"purchase\": properties.price: -1 is below the minimum 0"})"),
      std::string::npos)
      << r.body;
  EXPECT_NE(
      r.body.find(
          R"("index":2,"error":"schema v1 of \"purchase\": properties: \"sku\" is required")"),
      std::string::npos)
      << r.body;
  // The same refused event sent again is a second dead letter, not a second event later.
  r = Send(admin, R"({"event_id":"neg","type":"purchase","properties":{"sku":"A","price":-1}})");
  EXPECT_EQ(r.status, 400) << r.body;

  auto dl = Call("GET", "/v1/admin/dead-letters", "", admin);
  ASSERT_EQ(dl.status, 200) << dl.body;
  size_t letters = 0;
  for (size_t p = 0; (p = dl.body.find("\"event_id\":", p)) != std::string::npos; ++p) ++letters;
  EXPECT_EQ(letters, 5u) << dl.body;
  EXPECT_NE(dl.body.find("\"schema_version\":1"), std::string::npos);

  // Incompatible: a new required property is refused, with the reason.
  r = Call("POST", "/v1/admin/schemas",
           R"({"type":"purchase","schema":{"required":["sku","price","qty"]}})", admin);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("makes \\\"qty\\\" required"), std::string::npos) << r.body;
  // The fix: negative prices and GBP allowed (wider), sku still required.
  const std::string v2 =
      R"({"type":"purchase","schema":{"type":"object","required":["sku","price"],
    "properties":{"sku":{"type":"string","minLength":1},"price":{"type":"number"},
    "currency":{"enum":["USD","EUR","GBP"]},"coupon":{"type":"string"}}}})";
  r = Call("POST", "/v1/admin/schemas", v2, admin);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Number(r.body, "version"), 2);

  r = Call("POST", "/v1/admin/dead-letters/replay", "", admin);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Number(r.body, "still_invalid"), 1);  // nosku
  EXPECT_EQ(Number(r.body, "replayed"), 4);       // neg twice, gbp, the id-less one
  EXPECT_EQ(Number(r.body, "accepted"), 3);
  EXPECT_EQ(Number(r.body, "duplicates"), 1);  // the second "neg"
  // Replaying again stores nothing twice.
  r = Call("POST", "/v1/admin/dead-letters/replay", "", admin);
  EXPECT_EQ(Number(r.body, "replayed"), 0) << r.body;
  WaitForCount(admin, 5);
  EXPECT_EQ(Sql(admin, "SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events"),
            "n,d\r\n5,5\r\n");
  auto pending = Call("GET", "/v1/admin/dead-letters", "", admin);
  EXPECT_NE(pending.body.find("\"nosku\""), std::string::npos) << pending.body;
  EXPECT_EQ(pending.body.find("\"gbp\""), std::string::npos) << pending.body;
  // Schemas survive a restart; so do the dead letters and what was replayed.
  ASSERT_EQ(server_->Stop(), 0);
  ASSERT_TRUE(server_->Start());
  r = Send(admin, R"({"event_id":"neg2","type":"purchase","properties":{"price":1}})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("schema v2"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace sluice::test
