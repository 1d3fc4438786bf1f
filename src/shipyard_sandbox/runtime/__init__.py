"""The sandbox's task runtime: an ECS task's containers run as real processes on this machine.

This is the layer below the sandbox's ECS: nothing here knows of clusters, services or the API.

What it models:
- `images`: pulling a task's image from the sandbox registry by digest, the host platform's
  variant chosen from an index as ECS's agent does (no variant for the host: the task cannot
  start, as on ECS), every blob's digest and every layer's diff_id checked, the layers
  unpacked once per image digest into a cached rootfs (`layers`: OCI whiteouts, modes,
  owners; an entry that would land outside the rootfs refuses the image);
- `launch`: what Docker and ECS's agent make of the image config and the container
  definition: entryPoint/command overrides, environment merged over the image's Env,
  workingDirectory, user (names from the image's /etc/passwd and /etc/group), StopSignal,
  mountPoints (the task's volumes as host folders, bind-mounted, readOnly kept) and
  readonlyRootFilesystem;
- `process`: each container as a real process in its own mount, pid and network namespaces
  (`unshare`), root in an overlay of the cached rootfs and a writable layer of its own, /proc
  and a minimal /dev mounted, loopback up, as PID 1; its stdout/stderr lines passed on; Docker's
  exit codes; stop as `docker stop` does (stop signal, SIGKILL after stopTimeout), leaving
  no process, mount, namespace or writable layer behind;
- `network`: a task's network namespace (loopback only), held as ECS's pause container holds
  it, which the task's containers join, so that they reach each other on localhost;
- `forwarder`: a container port reached from the host through a Unix socket in the state
  folder, relayed to 127.0.0.1:PORT by a forwarder inside the task's network namespace;
- `leftovers`: every process started in a session of its own is recorded beside its state
  (pid and start time), so that a sandbox started after one that crashed ends what it left;
- `healthcheck`: the container definition's healthCheck run inside the task (CMD and
  CMD-SHELL), with interval, timeout, retries and startPeriod, divided by a time scale;
  ECS's HEALTHY/UNHEALTHY/UNKNOWN.

What it does not model:
- no network but loopback: a task has no ENI, no IP address, no DNS, no outbound traffic;
  port mappings exist only as forwarders; nothing ever gets an address off 127.0.0.0/8;
- no cgroups: `cpu`, `memory`, ulimits are not enforced, and no OOM kill;
- no user namespace, capabilities, seccomp, AppArmor or read-only root: a container's root
  is the machine's root, confined by chroot and namespaces only (the sandbox runs only images
  its user pushed);
- no emulation: an index's variant for another platform never runs;
- no /sys, no /dev/pts or tty, no hostname (UTS) namespace; /etc/hosts is written only when
  the image has none; no layer xattrs; zstd layers are refused;
- no initProcessEnabled: the container's command is PID 1, so (as under Docker) it ignores a
  SIGTERM it does not handle and is killed after stopTimeout;
- running the runtime needs root: it makes namespaces and mounts.
"""
