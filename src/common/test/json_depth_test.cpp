#include "common/json_depth.h"

#include <gtest/gtest.h>

#include <string>

namespace enclave {
namespace {

TEST(JsonDepthTest, CountsNestingOutsideStrings) {
  EXPECT_TRUE(JsonDepthWithin("", 0));
  EXPECT_TRUE(JsonDepthWithin("1", 0));
  EXPECT_FALSE(JsonDepthWithin("[]", 0));
  EXPECT_TRUE(JsonDepthWithin(R"({"a":[1,{"b":2}]})", 3));
  EXPECT_FALSE(JsonDepthWithin(R"({"a":[1,{"b":2}]})", 2));
  EXPECT_TRUE(JsonDepthWithin("[][][]", 1));
}

TEST(JsonDepthTest, BracketsInStringsAndEscapesDoNotCount) {
  EXPECT_TRUE(JsonDepthWithin(R"({"a":"[[[[{{{{"})", 1));
  // An escaped quote does not end the string, so the brackets after it are still inside it.
  EXPECT_TRUE(JsonDepthWithin(R"({"a":"\"[[["})", 1));
  // An escaped backslash does end its escape: the quote after it closes the string.
  EXPECT_TRUE(JsonDepthWithin(R"({"a":"\\"})", 1));
  EXPECT_FALSE(JsonDepthWithin(R"({"a":"\\",[[]]})", 2));
}

TEST(JsonDepthTest, ClosersWithNothingOpenDoNotBuyDepth) {
  // Unbalanced closers must not let a later run of openers go deeper than the bound.
  EXPECT_FALSE(JsonDepthWithin("]]]][[[[[", 4));
  EXPECT_FALSE(JsonDepthWithin(std::string(100000, '['), 64));
  EXPECT_TRUE(JsonDepthWithin(std::string(64, '[') + std::string(64, ']'), 64));
}

}  // namespace
}  // namespace enclave
