// Adding, finding, updating, deleting and replacing key items in a real database file.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "keychain/keychain.h"
#include "keychain/test/keychain_test_util.h"

namespace enclave::keychain {
namespace {

using testing::SampleItem;
using KeychainItems = testing::TempHome;

void ExpectSameItem(const KeyItem& a, const KeyItem& b) {
  EXPECT_EQ(a.persistent_id, b.persistent_id);
  EXPECT_EQ(a.kid, b.kid);
  EXPECT_EQ(a.label, b.label);
  EXPECT_EQ(a.application_label, b.application_label);
  EXPECT_EQ(a.application_tag, b.application_tag);
  EXPECT_EQ(a.access_group, b.access_group);
  EXPECT_EQ(a.token, b.token);
  EXPECT_EQ(a.key_class, b.key_class);
  EXPECT_EQ(a.key_type, b.key_type);
  EXPECT_EQ(a.key_size, b.key_size);
  EXPECT_EQ(a.permanent, b.permanent);
  EXPECT_EQ(a.can_sign, b.can_sign);
  EXPECT_EQ(a.can_derive, b.can_derive);
  EXPECT_EQ(a.can_decrypt, b.can_decrypt);
  EXPECT_EQ(a.created_ms, b.created_ms);
  EXPECT_EQ(a.modified_ms, b.modified_ms);
  EXPECT_EQ(a.accessible, b.accessible);
  EXPECT_EQ(a.access_control, b.access_control);
  EXPECT_EQ(a.public_key_x963, b.public_key_x963);
  EXPECT_EQ(a.sealed_blob, b.sealed_blob);
}

void ExpectCode(const Error& e, int64_t code, const std::string& cause) {
  EXPECT_EQ(e.domain, "OSStatus");
  EXPECT_EQ(e.code, code) << e.ToString();
  EXPECT_EQ(e.effective_cause(), cause) << e.ToString();
}

TEST_F(KeychainItems, AddAssignsIdsAndTimestamps) {
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  auto a = kc->Add(SampleItem(1));
  auto b = kc->Add(SampleItem(2));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_GT(a->persistent_id, 0);
  EXPECT_GT(b->persistent_id, a->persistent_id);
  EXPECT_GT(a->created_ms, 0);
  EXPECT_EQ(a->modified_ms, a->created_ms);
  EXPECT_EQ(*kc->Count(), 2);
}

TEST_F(KeychainItems, FindsByEachAttribute) {
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  KeyItem other = SampleItem(1);
  other.access_group = "other-group";
  other.token = "tpm2";
  other.key_class = "public";
  other.accessible = "ck";
  other.can_sign = false;
  other.permanent = false;
  ASSERT_TRUE(kc->Add(other).ok());
  auto added = kc->Add(SampleItem(2));
  ASSERT_TRUE(added.ok());
  const KeyItem& want = *added;

  std::vector<std::pair<std::string, ItemQuery>> queries;
  auto with = [&](const std::string& name, auto set) {
    ItemQuery q;
    set(q);
    q.match_all = true;
    queries.emplace_back(name, q);
  };
  with("persistent_id", [&](ItemQuery& q) { q.persistent_id = want.persistent_id; });
  with("kid", [&](ItemQuery& q) { q.kid = want.kid; });
  with("label", [&](ItemQuery& q) { q.label = want.label; });
  with("application_label", [&](ItemQuery& q) { q.application_label = want.application_label; });
  with("application_tag", [&](ItemQuery& q) { q.application_tag = want.application_tag; });
  with("access_group", [&](ItemQuery& q) { q.access_group = want.access_group; });
  with("token", [&](ItemQuery& q) { q.token = want.token; });
  with("key_class", [&](ItemQuery& q) { q.key_class = want.key_class; });
  with("accessible", [&](ItemQuery& q) { q.accessible = want.accessible; });
  with("combination", [&](ItemQuery& q) {
    q.label = want.label;
    q.token = want.token;
    q.application_tag = want.application_tag;
  });
  for (const auto& [name, query] : queries) {
    SCOPED_TRACE(name);
    auto found = kc->Find(query);
    ASSERT_TRUE(found.ok()) << found.error().ToString();
    ASSERT_EQ(found->size(), 1u);
    ExpectSameItem(found->front(), want);
  }

  // Every set field must match: one right attribute and one wrong one find nothing.
  ItemQuery mixed;
  mixed.label = want.label;
  mixed.token = "tpm2";
  auto none = kc->Find(mixed);
  ASSERT_FALSE(none.ok());
  ExpectCode(none.error(), errsec::kItemNotFound, "item-not-found");

  ItemQuery everything;
  everything.match_all = true;
  EXPECT_EQ(kc->Find(everything)->size(), 2u);
}

TEST_F(KeychainItems, DuplicateAddIsRefusedAndChangesNothing) {
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  auto first = kc->Add(SampleItem(1));
  ASSERT_TRUE(first.ok());

  KeyItem twin = SampleItem(1);  // same identity, different everything else
  twin.kid = "kid-twin";
  twin.label = "twin";
  twin.sealed_blob = ToBytes("another blob");
  auto dup = kc->Add(twin);
  ASSERT_FALSE(dup.ok());
  ExpectCode(dup.error(), errsec::kDuplicateItem, "duplicate-item");

  EXPECT_EQ(*kc->Count(), 1);
  ItemQuery q;
  q.application_label = twin.application_label;
  q.match_all = true;
  auto found = kc->Find(q);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  ExpectSameItem(found->front(), *first);

  // Each identity attribute distinguishes items.
  KeyItem other_token = SampleItem(1);
  other_token.token = "tpm2";
  EXPECT_TRUE(kc->Add(other_token).ok());
  KeyItem other_class = SampleItem(1);
  other_class.key_class = "public";
  EXPECT_TRUE(kc->Add(other_class).ok());
  KeyItem other_group = SampleItem(1);
  other_group.access_group = "elsewhere";
  EXPECT_TRUE(kc->Add(other_group).ok());
}

TEST_F(KeychainItems, EmptyTagsStillCollide) {
  // Empty blobs must be stored as empty, not NULL: NULLs never collide in a UNIQUE index.
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  KeyItem item = SampleItem(1);
  item.application_tag.clear();
  item.access_group.clear();
  ASSERT_TRUE(kc->Add(item).ok());
  item.kid = "kid-again";
  auto dup = kc->Add(item);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, errsec::kDuplicateItem);
  ItemQuery q;
  q.application_tag = Bytes{};
  auto found = kc->Find(q);
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->front().application_tag.empty());
}

TEST_F(KeychainItems, NothingFoundIsItemNotFound) {
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  ASSERT_TRUE(kc->Add(SampleItem(1)).ok());
  ItemQuery q;
  q.label = "no such label";
  auto find = kc->Find(q);
  ASSERT_FALSE(find.ok());
  ExpectCode(find.error(), errsec::kItemNotFound, "item-not-found");
  ItemUpdate u;
  u.label = "x";
  auto update = kc->Update(q, u);
  ASSERT_FALSE(update.ok());
  ExpectCode(update.error(), errsec::kItemNotFound, "item-not-found");
  auto del = kc->Delete(q);
  ASSERT_FALSE(del.ok());
  ExpectCode(del.error(), errsec::kItemNotFound, "item-not-found");
  auto replace = kc->Replace(12345, SampleItem(2));
  ASSERT_FALSE(replace.ok());
  ExpectCode(replace.error(), errsec::kItemNotFound, "item-not-found");
  EXPECT_EQ(*kc->Count(), 1);
}

TEST_F(KeychainItems, UpdateChangesLabelAndTagAndBumpsModified) {
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  KeyItem old = SampleItem(1);
  old.created_ms = old.modified_ms = 1000;
  auto added = kc->Add(old);
  ASSERT_TRUE(added.ok());
  ASSERT_TRUE(kc->Add(SampleItem(2)).ok());

  ItemQuery q;
  q.kid = "kid-1";
  ItemUpdate u;
  u.label = "renamed";
  u.application_tag = ToBytes("new-tag");
  u.can_decrypt = false;
  auto updated = kc->Update(q, u);
  ASSERT_TRUE(updated.ok()) << updated.error().ToString();
  EXPECT_EQ(*updated, 1);

  auto found = kc->Find(q);
  ASSERT_TRUE(found.ok());
  const KeyItem& now = found->front();
  EXPECT_EQ(now.label, "renamed");
  EXPECT_EQ(now.application_tag, ToBytes("new-tag"));
  EXPECT_FALSE(now.can_decrypt);
  EXPECT_TRUE(now.can_sign);
  EXPECT_EQ(now.created_ms, 1000);
  EXPECT_GT(now.modified_ms, 1000);
  EXPECT_EQ(now.sealed_blob, added->sealed_blob);
  EXPECT_EQ(now.application_label, added->application_label);

  ItemQuery by_old_label;
  by_old_label.label = "label 1";
  EXPECT_EQ(kc->Find(by_old_label).error().code, errsec::kItemNotFound);
  ItemQuery other;
  other.kid = "kid-2";
  EXPECT_EQ(kc->Find(other)->front().label, "label 2");
}

TEST_F(KeychainItems, UpdateThatWouldCollideChangesNothing) {
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  KeyItem a = SampleItem(1);
  KeyItem b = SampleItem(1);  // same identity except the tag
  b.kid = "kid-b";
  b.application_tag = ToBytes("tag-b");
  ASSERT_TRUE(kc->Add(a).ok());
  ASSERT_TRUE(kc->Add(b).ok());

  ItemQuery q;
  q.kid = "kid-b";
  ItemUpdate u;
  u.label = "should not stick";
  u.application_tag = a.application_tag;
  auto result = kc->Update(q, u);
  ASSERT_FALSE(result.ok());
  ExpectCode(result.error(), errsec::kDuplicateItem, "duplicate-item");
  auto found = kc->Find(q);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->front().label, b.label);
  EXPECT_EQ(found->front().application_tag, b.application_tag);
}

TEST_F(KeychainItems, UpdateAndDeleteApplyToEveryMatch) {
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  for (int i = 0; i < 5; ++i) {
    KeyItem item = SampleItem(i);
    item.label = i < 3 ? "shared" : "alone";
    ASSERT_TRUE(kc->Add(item).ok());
  }
  ItemQuery shared;
  shared.label = "shared";  // match_all stays false: update and delete still take every match
  ItemUpdate u;
  u.can_sign = false;
  EXPECT_EQ(*kc->Update(shared, u), 3);
  shared.match_all = true;
  auto updated = kc->Find(shared);
  ASSERT_TRUE(updated.ok());
  ASSERT_EQ(updated->size(), 3u);
  for (const KeyItem& item : *updated) EXPECT_FALSE(item.can_sign);

  auto deleted = kc->Delete(shared);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 3);
  EXPECT_EQ(*kc->Count(), 2);
  auto again = kc->Delete(shared);
  ASSERT_FALSE(again.ok());
  ExpectCode(again.error(), errsec::kItemNotFound, "item-not-found");
  EXPECT_EQ(kc->Find(shared).error().code, errsec::kItemNotFound);
}

TEST_F(KeychainItems, MatchLimitOneGivesTheOldestAllGivesEvery) {
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  std::vector<int64_t> ids;
  for (int i = 0; i < 3; ++i) {
    KeyItem item = SampleItem(i);
    item.label = "same";
    auto added = kc->Add(item);
    ASSERT_TRUE(added.ok());
    ids.push_back(added->persistent_id);
  }
  ItemQuery q;
  q.label = "same";
  auto one = kc->Find(q);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(one->front().persistent_id, ids[0]);
  q.match_all = true;
  auto all = kc->Find(q);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ((*all)[i].persistent_id, ids[i]);
}

TEST_F(KeychainItems, ReplaceIsAtomic) {
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  auto a = kc->Add(SampleItem(1));
  auto b = kc->Add(SampleItem(2));
  ASSERT_TRUE(a.ok() && b.ok());

  // A replacement colliding with another item fails, and the old item is still there.
  KeyItem colliding = SampleItem(2);
  colliding.kid = "kid-new";
  auto failed = kc->Replace(a->persistent_id, colliding);
  ASSERT_FALSE(failed.ok());
  ExpectCode(failed.error(), errsec::kDuplicateItem, "duplicate-item");
  ItemQuery old_query;
  old_query.persistent_id = a->persistent_id;
  auto still = kc->Find(old_query);
  ASSERT_TRUE(still.ok()) << still.error().ToString();
  ExpectSameItem(still->front(), *a);
  EXPECT_EQ(*kc->Count(), 2);

  // Re-enrolment: the same identity with a new key takes the old one's place.
  KeyItem fresh = SampleItem(1);
  fresh.kid = "kid-fresh";
  fresh.sealed_blob = ToBytes("fresh blob");
  auto replaced = kc->Replace(a->persistent_id, fresh);
  ASSERT_TRUE(replaced.ok()) << replaced.error().ToString();
  EXPECT_GT(replaced->persistent_id, b->persistent_id);
  EXPECT_EQ(kc->Find(old_query).error().code, errsec::kItemNotFound);
  ItemQuery by_label;
  by_label.label = fresh.label;
  EXPECT_EQ(kc->Find(by_label)->front().kid, "kid-fresh");
  EXPECT_EQ(*kc->Count(), 2);
}

TEST_F(KeychainItems, AddAllIsAllOrNothing) {
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  std::vector<KeyItem> batch = {SampleItem(1), SampleItem(2), SampleItem(1)};
  auto failed = kc->AddAll(batch);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, errsec::kDuplicateItem);
  EXPECT_EQ(*kc->Count(), 0);
  batch.pop_back();
  auto added = kc->AddAll(batch);
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(*kc->Count(), 2);
  EXPECT_LT((*added)[0].persistent_id, (*added)[1].persistent_id);
}

TEST_F(KeychainItems, SetSealedBlobForTestingRewritesTheBlob) {
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  auto a = kc->Add(SampleItem(1));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(kc->SetSealedBlobForTesting(a->persistent_id, ToBytes("flipped")).ok());
  ItemQuery q;
  q.persistent_id = a->persistent_id;
  EXPECT_EQ(kc->Find(q)->front().sealed_blob, ToBytes("flipped"));
  ASSERT_TRUE(kc->SetSealedBlobForTesting(a->persistent_id, Bytes{}).ok());
  EXPECT_TRUE(kc->Find(q)->front().sealed_blob.empty());
  EXPECT_EQ(kc->SetSealedBlobForTesting(999, Bytes{1}).error().code, errsec::kItemNotFound);
}

TEST_F(KeychainItems, ConcurrentCallersAreSerialised) {
  auto kc = OpenOrDie();
  ASSERT_TRUE(kc);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        int n = t * kPerThread + i;
        if (!kc->Add(SampleItem(n)).ok()) ++failures[t];
        ItemQuery q;
        q.label = SampleItem(n).label;
        if (!kc->Find(q).ok()) ++failures[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int f : failures) EXPECT_EQ(f, 0);
  EXPECT_EQ(*kc->Count(), kThreads * kPerThread);
}

TEST_F(KeychainItems, InMemoryKeychainsAreSeparate) {
  auto first = Keychain::OpenInMemory();
  auto second = Keychain::OpenInMemory();
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE((*first)->Add(SampleItem(1)).ok());
  EXPECT_EQ(*(*first)->Count(), 1);
  EXPECT_EQ(*(*second)->Count(), 0);
  EXPECT_TRUE((*first)->CheckIntegrity().ok());
}

}  // namespace
}  // namespace enclave::keychain
