/*
 * The message the QEMU preload shim sends to the trap engine with the userfaultfd of QEMU's guest
 * RAM mapping (SCM_RIGHTS). Plain C so both sides share it. Every field is checked by the
 * receiver: it comes from another process.
 */
#ifndef VMI_UFFD_HANDOVER_H
#define VMI_UFFD_HANDOVER_H

#include <stdint.h>

#define VMI_UFFD_MAGIC "VMIUFFD1"
#define VMI_UFFD_VERSION 1u
#define VMI_UFFD_MAX_RANGES 8u

/* A guest-physical range and where it sits inside the registered host mapping. */
struct vmi_uffd_range {
  uint64_t phys;
  uint64_t host_offset; /* from host_base */
  uint64_t length;
};

struct vmi_uffd_handover {
  char magic[8];
  uint32_t version;
  int32_t status;       /* 0: a descriptor is attached; otherwise an errno and no descriptor */
  uint64_t host_base;   /* the registered mapping in QEMU's address space */
  uint64_t length;
  uint64_t file_offset; /* of host_base inside the RAM file */
  uint64_t features;    /* what UFFDIO_API granted */
  uint32_t nranges;
  uint32_t qemu_pid;
  struct vmi_uffd_range ranges[VMI_UFFD_MAX_RANGES];
  char detail[128];     /* why, when status != 0 */
};

#endif
