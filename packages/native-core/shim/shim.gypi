# Targets of the preload shim (owned by the trap engine). Included from binding.gyp.
{
  "targets": [
    {
      # LD_PRELOAD library for QEMU: hands the userfaultfd of the guest RAM mapping to the trap
      # engine (see shim/vmi_uffd_shim.c). Plain C with no Node dependency.
      "target_name": "vmi_uffd_shim",
      "type": "shared_library",
      "sources": ["vmi_uffd_shim.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-fPIC", "-pthread", "-fvisibility=default"],
      "ldflags": ["-pthread"],
      "libraries": ["-ldl"]
    }
  ]
}
