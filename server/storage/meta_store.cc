#include "server/storage/meta_store.h"

#include "common/enum_names.h"

namespace vouch::server {

MetaStore::~MetaStore() = default;

constexpr EnumName<Change::Category> kCategoryNames[] = {
    {Change::Category::kUpdate, "update"}, {Change::Category::kDeletion, "deletion"}};
static_assert(lists_every_value(kCategoryNames, Change::Category::kDeletion));

std::string_view to_string(Change::Category category) {
  return name_of(kCategoryNames, category, "update");
}

}  // namespace vouch::server
