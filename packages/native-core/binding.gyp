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
      # The RTM intrinsics need -mrtm, which lets the compiler emit TSX instructions anywhere in the
      # unit; keeping them in their own library means only code the probe selected at run time uses them.
      "target_name": "vmi_rtm",
      "type": "static_library",
      "sources": ["native/copy/rtm_copy.cc"],
      "cflags_cc": ["-mrtm"]
    },
    {
      "target_name": "vmi_native",
      "dependencies": ["vmi_rtm"],
      "sources": [
        "native/addon.cc",
        "native/common/errors.cc",
        "native/common/args.cc",
        "native/common/fault_guard.cc",
        "native/memory/guest_memory.cc",
        "native/memory/page_walk.cc",
        "native/memory/memory_binding.cc",
        "native/memory/compare_binding.cc",
        "native/hash/sha256.cc",
        "native/hash/hash_binding.cc",
        "native/probe/probe.cc",
        "native/probe/probe_binding.cc",
        "native/copy/guarded_copy.cc",
        "native/copy/copy_binding.cc",
        "native/copy/generation_binding.cc",
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
