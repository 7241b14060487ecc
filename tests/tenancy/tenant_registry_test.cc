#include "tenancy/tenant_registry.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace sluice {
namespace {

class TenantRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tenants-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "tenants.json").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<TenantRegistry> Open() {
    auto r = TenantRegistry::Open(path_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return std::move(*r);
  }
  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(TenantRegistryTest, StartsWithDefaultAndNoKeys) {
  auto r = Open();
  EXPECT_TRUE(r->TenantExists("default"));
  EXPECT_FALSE(r->has_active_keys());
  EXPECT_FALSE(r->any_key_created());
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(TenantRegistryTest, KeysAuthenticateSurviveReopenAndRevokeAtOnce) {
  std::string secret, id;
  {
    auto r = Open();
    TenantLimits limits;
    limits.events_per_second = 500;
    ASSERT_TRUE(r->CreateTenant("acme", limits).ok());
    ApiKeyInfo info;
    auto s = r->CreateKey("acme", Role::kWrite, "sdk", &info);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    secret = *s;
    id = info.id;
    auto p = r->Authenticate(secret);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->tenant, "acme");
    EXPECT_EQ(p->role, Role::kWrite);
    EXPECT_TRUE(r->has_active_keys());
  }
  // The secret itself is never written; only its hash.
  std::ifstream in(path_);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text.find(secret), std::string::npos);
  EXPECT_NE(text.find(HashApiKey(secret)), std::string::npos);

  auto r = Open();
  EXPECT_EQ(r->FindTenant("acme")->limits.events_per_second, 500);
  ASSERT_TRUE(r->Authenticate(secret).ok());
  // Another tenant's admin cannot revoke it (and learns nothing: NotFound).
  EXPECT_EQ(r->RevokeKey(id, std::string("globex")).code(), Status::Code::kNotFound);
  ASSERT_TRUE(r->Authenticate(secret).ok());
  ASSERT_TRUE(r->RevokeKey(id, std::string("acme")).ok());
  auto p = r->Authenticate(secret);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Status::Code::kUnauthenticated);
  EXPECT_FALSE(r->has_active_keys());
  // The last key revoked does not bring back open mode, not even after a reopen.
  EXPECT_TRUE(r->any_key_created());
  EXPECT_TRUE(Open()->any_key_created());
  EXPECT_FALSE(Open()->Authenticate(secret).ok());  // revocation is durable
}

TEST_F(TenantRegistryTest, RefusesBadNamesDuplicatesAndUnknownTenants) {
  auto r = Open();
  for (const char* bad : {"", "Acme", "-x", "a/b", "../x", "tenant=x", "a b", "*"}) {
    EXPECT_FALSE(r->CreateTenant(bad, {}).ok()) << bad;
  }
  EXPECT_TRUE(r->CreateTenant("a_b-1", {}).ok());
  EXPECT_FALSE(r->CreateTenant("a_b-1", {}).ok());
  EXPECT_EQ(r->CreateKey("nope", Role::kRead, "", nullptr).status().code(),
            Status::Code::kNotFound);
  EXPECT_FALSE(r->CreateKey("*", Role::kRead, "", nullptr).ok());
  auto op = r->CreateKey("*", Role::kAdmin, "ops", nullptr);
  ASSERT_TRUE(op.ok());
  EXPECT_TRUE(r->Authenticate(*op)->is_operator());
  EXPECT_FALSE(r->Authenticate("sk_guess").ok());
}

}  // namespace
}  // namespace sluice
