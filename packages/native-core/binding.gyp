{
  "includes": ["shim/shim.gypi"],
  "target_defaults": {
    "include_dirs": ["native"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "cflags!": ["-fno-exceptions", "-O3"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-O3"],
    "cflags": ["-O2", "-Wall", "-Wextra", "-fPIC"],
    "cflags_cc": ["-std=c++17", "-fexceptions", "-Wno-missing-field-initializers"]
  },
  "targets": [
    {
      "target_name": "vmi_native",
      "sources": [
        "native/addon.cc",
        "native/common/errors.cc",
        "native/common/args.cc",
        "native/common/fault_guard.cc",
        # The trap engine's sources: every .cc under native/traps, so that directory can grow freely.
        "<!@(node -p \"require('fs').readdirSync('native/traps', { recursive: true }).filter((f) => f.endsWith('.cc')).map((f) => 'native/traps/' + f).join(' ')\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        # Node links OpenSSL statically and exports its symbols; its headers ship with Node's.
        "<(node_root_dir)/include/node/openssl"
      ],
      "libraries": ["-lpthread"]
    }
  ]
}
