"""Containers of the busybox image run as real processes, configured as ECS configures them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from shipyard_sandbox.runtime.forwarder import Forwarder, request
from shipyard_sandbox.runtime.launch import ContainerStartError

pytestmark = pytest.mark.integration

SHOW = "echo argv=$0,$*; env | sort; id; pwd"
WAIT = 10  # seconds any of these short commands is given to end (bounds a hang, not a timing)


def finished(running) -> dict[str, str]:
    """The exit code and the `KEY=value` lines a finished container printed."""
    assert running.container.wait(WAIT) is not None, "the container did not end"
    return dict(line.split("=", 1) for line in running.out() if "=" in line)


def test_the_image_entrypoint_cmd_and_env_run_by_default(run_container) -> None:
    running = run_container({})
    assert running.container.wait(WAIT) == 0
    assert running.out() == ["image-cmd 1.4.2"]  # Entrypoint sh -c + Cmd, with the image's Env


def test_environment_is_merged_over_the_image_env_and_wins(run_container) -> None:
    running = run_container({"command": [SHOW], "environment": [
        {"name": "GREETING", "value": "from-definition"}, {"name": "EXTRA", "value": "x=y"}]})
    env = finished(running)
    assert env["APP_VERSION"] == "1.4.2"  # only in the image: kept (GamePulse's version)
    assert env["GREETING"] == "from-definition"
    assert env["EXTRA"] == "x=y"
    assert env["PATH"] == "/bin"  # the image's own, not Docker's default
    assert env["HOME"] == "/home/app"  # from the image user's /etc/passwd entry


def test_image_user_and_workdir_apply_unless_the_definition_overrides(run_container) -> None:
    default = run_container({"command": [SHOW]})
    finished(default)
    assert "uid=1000(app) gid=1000(app) groups=50(staff),1000(app)" in default.out()
    assert default.out()[-1] == "/home/app"
    override = run_container({"command": [SHOW], "user": "65534:50",
                              "workingDirectory": "/made/for/it"})
    finished(override)
    assert any(line.startswith("uid=65534(nobody) gid=50(staff)") for line in override.out())
    assert override.out()[-1] == "/made/for/it"  # created, as Docker creates a WORKDIR
    by_name = run_container({"command": ["id -un; id -gn"], "user": "root"})
    finished(by_name)
    assert by_name.out() == ["root", "root"]


def test_command_replaces_cmd_and_entry_point_drops_the_image_cmd(run_container) -> None:
    command = run_container({"command": ["echo replaced-cmd"]})
    assert command.container.wait(WAIT) == 0
    assert command.out() == ["replaced-cmd"]
    entry_point = run_container({"entryPoint": ["/bin/echo", "entry"]})
    assert entry_point.container.wait(WAIT) == 0
    assert entry_point.out() == ["entry"]  # the image's Cmd is not appended (Docker's rule)
    both = run_container({"entryPoint": ["echo"], "command": ["a", "b"]})
    assert both.container.wait(WAIT) == 0
    assert both.out() == ["a b"]


def test_exit_code_and_both_streams_are_reported(run_container) -> None:
    running = run_container({"command": ["echo to-out; echo to-err >&2; exit 42"]})
    assert running.container.wait(WAIT) == 42
    assert running.out("stdout") == ["to-out"]
    assert running.out("stderr") == ["to-err"]


@pytest.mark.parametrize(("definition", "reason"), [
    ({"entryPoint": ["no-such-program"]}, 'exec: "no-such-program": executable file not found'),
    ({"user": "ghost"}, "user 'ghost' is not in the image's /etc/passwd"),
    ({"entryPoint": ["/www/index.html"]}, "Permission denied"),
])
def test_a_container_that_cannot_start_says_why(run_container, definition, reason) -> None:
    with pytest.raises(ContainerStartError, match=reason.replace("(", r"\(")):
        run_container(definition)


def test_stop_sends_sigterm_and_a_handler_decides_the_exit_code(run_container) -> None:
    handled = run_container({"command": ["trap 'echo stopping; exit 3' TERM; echo up; "
                                         "while true; do sleep 1; done"]})
    wait_for_line(handled, "up")
    assert handled.container.stop(timeout=30) == 3  # well before the 30 s
    assert "stopping" in handled.out()


def test_pid_one_without_a_handler_is_killed_after_the_stop_timeout(run_container) -> None:
    ignoring = run_container({"command": ["exec sleep 1000"]})
    assert ignoring.container.exit_code is None
    assert ignoring.container.stop(timeout=0.3) == 137  # SIGTERM ignored by PID 1: SIGKILL


def test_busybox_httpd_answers_through_the_forwarder_and_nothing_is_left(
        run_container, task_dir: Path) -> None:
    running = run_container({"command": ["echo serving; exec httpd -f -p 127.0.0.1:8080 -h /www"]})
    container = running.container
    wait_for_line(running, "serving")
    namespaces = {kind: os.readlink(f"/proc/{container.pid}/ns/{kind}")
                  for kind in ("net", "mnt", "pid")}
    forwarder = Forwarder.start(container.pid, 8080, task_dir / "sockets" / "app-8080.sock")
    status, _, body = retry_request(forwarder.socket_path, "/index.html")
    assert (status, body) == (200, b"hello from busybox\n")
    status, _, _ = request(forwarder.socket_path, "GET", "/missing")
    assert status == 404
    assert container.stop(timeout=0.5) == 137  # httpd has no SIGTERM handler as PID 1
    assert forwarder.process.wait(WAIT) is not None  # ended with the task's pid namespace
    forwarder.stop()
    assert not forwarder.socket_path.exists()
    assert left_behind(namespaces, str(container.workdir)) == []
    assert not container.workdir.exists()


def test_a_task_sees_only_its_loopback(run_container) -> None:
    running = run_container({"command": ["cat /proc/net/dev; wget -q -T 1 -O- "
                                         "http://127.0.0.1:9/ || echo no-host-port"]})
    assert running.container.wait(WAIT) == 0
    interfaces = [line.split(":")[0].strip() for line in running.out() if ":" in line]
    assert interfaces == ["lo"]
    assert running.out()[-1] == "no-host-port"


# --- helpers -----------------------------------------------------------------------------


def wait_for_line(running, line: str) -> None:
    """Wait (at most WAIT seconds) until the container printed `line`."""
    import time

    deadline = time.monotonic() + WAIT
    while line not in running.out() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert line in running.out(), f"the container never printed {line!r}: {running.lines}"


def retry_request(socket_path: Path, target: str):
    """A GET through the forwarder, retried (bounded) until httpd has bound its port."""
    import time

    deadline = time.monotonic() + WAIT
    while True:
        try:
            return request(socket_path, "GET", target, timeout=2)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def zombie(entry: Path) -> bool:
    """An ended process its parent has yet to wait for (this test, or the machine's init for
    an orphan): it runs nothing and holds no mount or network namespace any more."""
    try:
        return (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def left_behind(namespaces: dict[str, str], workdir: str) -> list[str]:
    """Running processes in any of `namespaces`, mounts naming `workdir`, named netns."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        for kind, namespace in namespaces.items():
            try:
                if os.readlink(entry / "ns" / kind) == namespace and not zombie(entry):
                    found.append(f"process {entry.name} in the task's {kind} namespace")
            except OSError:
                continue  # ended while we looked, or a kernel thread
    found += [line for line in Path("/proc/mounts").read_text().splitlines() if workdir in line]
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    found += [f"named netns {line}" for line in netns.stdout.splitlines()]
    return found


def test_each_task_writes_to_a_layer_of_its_own(run_container, busybox) -> None:
    writer = run_container({"command": ["echo mine > /www/written; cat /www/written"],
                            "user": "root"})
    assert writer.container.wait(WAIT) == 0 and writer.out() == ["mine"]
    reader = run_container({"command": ["cat /www/written || echo absent"]})
    assert reader.container.wait(WAIT) == 0 and reader.out()[-1] == "absent"
    assert not (busybox.rootfs / "www/written").exists()  # the cached image is untouched


def test_containers_of_one_task_share_its_network_namespace(run_container) -> None:
    from shipyard_sandbox.runtime.network import TaskNetwork

    network = TaskNetwork().start()
    namespace = network.namespace
    try:
        server = run_container({"command": ["echo serving; exec httpd -f -p 127.0.0.1:8080 "
                                            "-h /www"]}, network=network.pid)
        wait_for_line(server, "serving")
        fetch = ("for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O- http://127.0.0.1:8080/ && "
                 "exit 0; sleep 0.2; done; exit 1")
        sidecar = run_container({"command": [fetch]}, network=network.pid)
        alone = run_container({"command": ["wget -q -T 1 -O- http://127.0.0.1:8080/ || "
                                           "echo unreachable"]})
        assert sidecar.container.wait(WAIT) == 0
        assert sidecar.out() == ["hello from busybox"]
        assert alone.container.wait(WAIT) == 0 and alone.out() == ["unreachable"]
        assert os.readlink(f"/proc/{server.container.pid}/ns/net") == namespace
        assert server.container.stop(timeout=0.2) == 137
    finally:
        network.stop()
    assert left_behind({"net": namespace}, "no-such-folder") == []


def test_what_a_crashed_sandbox_left_running_is_reaped(run_container, task_dir: Path) -> None:
    from shipyard_sandbox.runtime import leftovers
    from shipyard_sandbox.runtime.network import TaskNetwork

    network = TaskNetwork().start(state=task_dir / "network")
    try:
        server = run_container({"command": ["echo serving; exec httpd -f -p 127.0.0.1:8080 "
                                            "-h /www"]}, network=network.pid)
        wait_for_line(server, "serving")
        container = server.container
        namespaces = {"net": network.namespace,
                      **{kind: os.readlink(f"/proc/{container.pid}/ns/{kind}")
                         for kind in ("mnt", "pid")}}
        forwarder = Forwarder.start(container.pid, 8080, task_dir / "app-8080.sock")
        # Nothing is stopped, as after a crash: only the records on disk are left to go by.
        ended = leftovers.reap(task_dir)
        assert sorted(ended) == sorted([network.pid, container._process.pid])
        assert forwarder.process.wait(WAIT) is not None
        assert left_behind(namespaces, str(task_dir)) == []
        assert not task_dir.exists()
    finally:
        network.stop()  # if the test failed before the reaping


def test_volumes_are_mounted_and_a_read_only_root_refuses_writes(run_container,
                                                                 tmp_path: Path) -> None:
    data, config = tmp_path / "data", tmp_path / "config"
    for folder in (data, config):
        folder.mkdir()
        folder.chmod(0o777)
    (config / "settings").write_text("from the host\n")
    script = ("cat /etc/app/settings; echo written > /data/out && echo data-ok; "
              "touch /etc/app/x 2>/dev/null || echo config-read-only; "
              "touch /www/x 2>/dev/null || echo root-read-only; "
              "echo tmp > /dev/shm/x && echo shm-ok")
    running = run_container({
        "command": [script], "readonlyRootFilesystem": True,
        "mountPoints": [{"sourceVolume": "data", "containerPath": "/data"},
                        {"sourceVolume": "config", "containerPath": "/etc/app",
                         "readOnly": True}]},
        volumes={"data": data, "config": config})
    assert running.container.wait(WAIT) == 0
    assert running.out() == ["from the host", "data-ok", "config-read-only", "root-read-only",
                             "shm-ok"]
    assert (data / "out").read_text() == "written\n"
    assert sorted(p.name for p in config.iterdir()) == ["settings"]


def test_a_mount_point_of_a_volume_the_task_lacks_cannot_start(run_container) -> None:
    with pytest.raises(ContainerStartError, match="volume 'efs', which the task does not"):
        run_container({"mountPoints": [{"sourceVolume": "efs", "containerPath": "/data"}]})
