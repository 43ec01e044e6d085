// Stable error codes of the trap engine; they must stay in step with the VMI_ERR_NATIVE_* entries
// in packages/contracts/src/errors/native.ts.
#pragma once

#include "common/native_error.h"
#include "traps/rsp_codec.h"
#include "traps/trap_backend.h"

namespace vmi::traps {

inline const char* StatusCode(TrapStatus s) {
  switch (s) {
    case TrapStatus::kOk: return code::kInternal;
    case TrapStatus::kUnavailable: return "VMI_ERR_NATIVE_TRAP_UNAVAILABLE";
    case TrapStatus::kProtocol: return "VMI_ERR_NATIVE_TRAP_PROTOCOL";
    case TrapStatus::kRejected: return "VMI_ERR_NATIVE_TRAP_REJECTED";
    case TrapStatus::kInvalidArgument: return code::kBadArgument;
    case TrapStatus::kNotFound: return "VMI_ERR_NATIVE_TRAP_NOT_FOUND";
    case TrapStatus::kClosed: return code::kClosed;
    case TrapStatus::kTimeout: return "VMI_ERR_NATIVE_TRAP_TIMEOUT";
    case TrapStatus::kIo: return "VMI_ERR_NATIVE_TRAP_IO";
  }
  return code::kInternal;
}

inline const char* RspCode(rsp::RspErrorCode c) {
  switch (c) {
    case rsp::RspErrorCode::kBadChecksum: return code::kRspChecksum;
    case rsp::RspErrorCode::kBadChecksumHex: return code::kRspChecksum;
    case rsp::RspErrorCode::kBadRunLength: return "VMI_ERR_NATIVE_RSP_RUN_LENGTH";
    case rsp::RspErrorCode::kBadEscape: return "VMI_ERR_NATIVE_RSP_ESCAPE";
    case rsp::RspErrorCode::kPacketTooLong: return "VMI_ERR_NATIVE_RSP_TOO_LONG";
    case rsp::RspErrorCode::kBadHex: return "VMI_ERR_NATIVE_RSP_HEX";
    case rsp::RspErrorCode::kBadStopReply: return "VMI_ERR_NATIVE_RSP_STOP_REPLY";
    case rsp::RspErrorCode::kErrorReply: return "VMI_ERR_NATIVE_RSP_ERROR_REPLY";
    case rsp::RspErrorCode::kEmptyReply: return "VMI_ERR_NATIVE_RSP_UNSUPPORTED";
  }
  return code::kRspProtocol;
}

}  // namespace vmi::traps
