#include "server/storage/meta_store.h"

namespace vouch::server {

MetaStore::~MetaStore() = default;

std::string_view to_string(Change::Category category) {
  switch (category) {
    case Change::Category::kUpdate:
      return "update";
    case Change::Category::kDeletion:
      return "deletion";
  }
  return "update";  // unreachable: the switch covers every enumerator
}

}  // namespace vouch::server
