# Targets of the preload shim (owned by the trap engine). Included from binding.gyp.
{
  "targets": []
}
