// Opaque handles: a native object reaches JavaScript as a type-tagged External holding a shared_ptr.
// The tag makes a handle of one kind unusable as another; closing drops the JS side's reference, so
// later calls fail with CLOSED while work already in flight (which holds its own reference) finishes.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "common/native_error.h"

namespace vmi {

struct HandleKind {
  napi_type_tag tag;
  const char* name;
};

template <typename T>
struct HandleBox {
  std::shared_ptr<T> object;
};

template <typename T>
Napi::Value WrapHandle(Napi::Env env, std::shared_ptr<T> object, const HandleKind& kind) {
  auto* box = new HandleBox<T>{std::move(object)};
  auto external = Napi::External<HandleBox<T>>::New(env, box, [](Napi::Env, HandleBox<T>* b) { delete b; });
  external.TypeTag(&kind.tag);
  return external;
}

template <typename T>
HandleBox<T>* HandleBoxOf(const Napi::Value& value, const HandleKind& kind) {
  if (!value.IsExternal()) Fail(code::kBadHandle, std::string("expected a ") + kind.name + " handle");
  auto external = value.As<Napi::External<HandleBox<T>>>();
  if (!external.CheckTypeTag(&kind.tag)) Fail(code::kBadHandle, std::string("expected a ") + kind.name + " handle");
  return external.Data();
}

// The live object behind a handle; CLOSED once the handle was closed.
template <typename T>
std::shared_ptr<T> UnwrapHandle(const Napi::Value& value, const HandleKind& kind) {
  HandleBox<T>* box = HandleBoxOf<T>(value, kind);
  if (!box->object) Fail(code::kClosed, std::string(kind.name) + " is closed");
  return box->object;
}

// Detaches the object from its handle and returns it (null if already closed: closing twice is harmless).
template <typename T>
std::shared_ptr<T> CloseHandle(const Napi::Value& value, const HandleKind& kind) {
  HandleBox<T>* box = HandleBoxOf<T>(value, kind);
  return std::move(box->object);
}

}  // namespace vmi
