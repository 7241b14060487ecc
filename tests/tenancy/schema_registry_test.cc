#include "tenancy/schema_registry.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace sluice {
namespace {

TEST(SchemaRegistryTest, VersionsAreAdditivePerTenantAndSurviveReopen) {
  auto dir = std::filesystem::temp_directory_path() / ("schemas-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "schemas.json").string();
  {
    auto r = SchemaRegistry::Open(path);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ((*r)->SchemasFor("acme"), nullptr);
    auto v1 = (*r)->AddVersion("acme", "buy",
                               R"({"required":["sku"],"properties":{"sku":{"type":"string"}}})");
    ASSERT_TRUE(v1.ok()) << v1.status().ToString();
    EXPECT_EQ(v1->version, 1);
    auto bad = (*r)->AddVersion("acme", "buy", R"({"required":["sku","qty"]})");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().message(), "incompatible with v1: properties: makes \"qty\" required");
    auto v2 = (*r)->AddVersion(
        "acme", "buy",
        R"({"required":["sku"],"properties":{"sku":{"type":"string"},"qty":{"type":"integer"}}})");
    ASSERT_TRUE(v2.ok()) << v2.status().ToString();
    EXPECT_EQ(v2->version, 2);
    // Another tenant's "buy" is its own, starting at v1 and unconstrained by acme's.
    auto g1 = (*r)->AddVersion("globex", "buy", R"({"required":["qty"]})");
    ASSERT_TRUE(g1.ok());
    EXPECT_EQ(g1->version, 1);
    EXPECT_FALSE((*r)->AddVersion("acme", "buy", "{\"pattern\":1}").ok());
  }
  auto r = SchemaRegistry::Open(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->List("acme", "buy").size(), 2u);
  EXPECT_EQ((*r)->List("globex", "").size(), 1u);
  auto acme = (*r)->SchemasFor("acme");
  ASSERT_NE(acme, nullptr);
  EXPECT_EQ(acme->at("buy").version, 2);
  EXPECT_EQ((*r)->SchemasFor("initech"), nullptr);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice
