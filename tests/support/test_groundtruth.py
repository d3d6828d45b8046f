"""support.groundtruth: comparing an event log with the workers' sent log, orphans and ports.

Hand-built logs (LogBuilder) and sent logs give known answers for every counter; one real run
with the emulator's -sentLog checks the whole path end to end.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from helpers import FAST, free_port
from logbuilder import LogBuilder

import workerlab as wl
from support import groundtruth as gt
from support.groundtruth import SentLog


def write_sent(path: Path, rows: list[tuple[int, int]]) -> Path:
    path.write_text("".join(f"{pid} {1000 + i * 0.01:.6f} {v}\n" for i, (pid, v) in enumerate(rows)))
    return path


def one_process(
    values: list[int], end: str = "stop", pid: int = 501, worker: int = 1, n_workers: int = 1
) -> pd.DataFrame:
    """A run with a single worker process that delivered ``values`` and then ended with ``end``."""
    b = LogBuilder(n_workers=n_workers, target=max(1, len(values)))
    b.start(worker, pid=pid)
    b.samples(worker, [0.1 + 0.01 * i for i in range(len(values))], values)
    getattr(b, end)(worker, 0.1 + 0.01 * len(values) + 0.001)
    b.run_stop(5.0)
    return b.frame()


def sent(pid: int, values: list[int]) -> SentLog:
    return SentLog({pid: list(values)}, {pid: [float(i) for i in range(len(values))]})


# -- reading the sent log -------------------------------------------------------------------


def test_read_sent_log_groups_by_pid_in_order(tmp_path):
    path = write_sent(tmp_path / "s.log", [(7, 1), (8, 50), (7, 2), (7, 3)])
    s = gt.read_sent_log(path)
    assert s.values == {7: [1, 2, 3], 8: [50]}
    assert s.times[7] == pytest.approx([1000.0, 1000.02, 1000.03])
    assert s.lines == 4 and s.malformed == 0


def test_read_sent_log_counts_malformed_lines_and_tolerates_no_file(tmp_path):
    path = tmp_path / "s.log"
    path.write_text("7 1.0 3\ngarbage\n7 1.1\n7 1.2 4 extra\n7 1.3 5\n")
    s = gt.read_sent_log(path)
    assert s.values == {7: [3, 5]} and s.malformed == 3
    assert gt.read_sent_log(tmp_path / "missing.log").lines == 0


# -- comparing --------------------------------------------------------------------------------


@pytest.mark.parametrize("end", ["stop", "crash", "stall"])
def test_exact_match_is_clean(end):
    r = gt.compare(one_process([5, 6, 7], end), sent(501, [5, 6, 7]))
    assert r.ok and (r.lines_sent, r.lines_received, r.lines_checked) == (3, 3, 3)
    assert (r.lost, r.in_flight) == (0, 0)


def test_stopped_process_may_have_lines_in_flight():
    r = gt.compare(one_process([5, 6], "stop"), sent(501, [5, 6, 7, 8]))
    assert r.ok and r.in_flight == 2 and r.lost == 0 and r.lines_checked == 2


def test_crashed_process_must_deliver_everything():
    r = gt.compare(one_process([5, 6], "crash"), sent(501, [5, 6, 7]))
    assert not r.ok and r.lost == 1 and r.in_flight == 0
    assert "crashed" in r.problems[0]


def test_stalled_process_may_have_lines_in_flight():
    """We stop reading when the stall limit expires: a late line may still be on its way."""
    r = gt.compare(one_process([5, 6], "stall"), sent(501, [5, 6, 7]))
    assert r.ok and r.in_flight == 1 and r.lost == 0
    gap = gt.compare(one_process([5, 7], "stall"), sent(501, [5, 6, 7]))
    assert not gap.ok and gap.lost == 1  # a hole is still a loss


def test_a_gap_is_lost_even_for_a_stopped_process():
    r = gt.compare(one_process([5, 7, 8], "stop"), sent(501, [5, 6, 7, 8, 9]))
    assert (r.lost, r.in_flight, r.invented) == (1, 1, 0) and not r.ok


def test_stopped_process_cannot_deliver_more_than_it_sent():
    r = gt.compare(one_process([5, 6, 7], "stop"), sent(501, [5, 6]))
    assert not r.ok and r.invented == 1 and r.in_flight == 0


# -- the tightened in-flight rule (the run's t0 known) --------------------------------------------

T0 = 1000.0


def timed(pid: int, values: list[int], ts: list[float]) -> SentLog:
    """A sent log whose lines were written at event-log times ``ts`` of a run that started at T0."""
    return SentLog({pid: list(values)}, {pid: [T0 + t for t in ts]})


def with_t0(df: pd.DataFrame, detail: str) -> pd.DataFrame:
    run_row = (df.event == "stop") & (df.worker_id == 0)
    df.loc[run_row, "detail"] = detail
    return df


@pytest.mark.parametrize("end, decided", [("stop", 0.11), ("stall", 0.121)])
def test_with_t0_only_lines_written_after_the_decision_are_in_flight(end, decided):
    """Stop at the end of a run: decided when the target-th sample arrived (0.11); a stall: at its row."""
    df = one_process([5, 6], end)  # samples at 0.10 and 0.11 (the target), then the stop or stall row
    after = gt.compare(df, timed(501, [5, 6, 7], [0.09, 0.1, decided + 0.002]), t0=T0)
    assert after.ok and after.in_flight == 1
    before = gt.compare(df, timed(501, [5, 6, 7, 8], [0.09, 0.1, decided - 0.05, decided + 0.01]), t0=T0)
    assert not before.ok and (before.lost, before.in_flight) == (1, 1)
    assert gt.compare(df, timed(501, [5, 6, 7, 8], [0, 0, 0, 0])).ok  # no t0: any unread tail


def test_with_t0_a_run_that_did_not_reach_its_target_keeps_the_lenient_rule():
    b = LogBuilder(n_workers=1, target=10)
    b.start(1)
    pid = b.pid(1)
    b.samples(1, [0.1, 0.2], [5, 6])
    b.stop(1, 3.0)
    b.run_stop(3.1, outcome="timeout")
    r = gt.compare(b.frame(), timed(pid, [5, 6, 7], [0.09, 0.19, 0.5]), t0=T0)
    assert r.ok and r.in_flight == 1


def test_run_t0_is_read_from_the_run_level_row():
    df = one_process([5, 6], "stop")
    assert gt.run_t0(df) is None
    assert gt.run_t0(with_t0(df, "target=2 outcome=reached t0=1000.000000")) == T0
    assert gt.compare(df, timed(501, [5, 6, 7], [0.09, 0.1, 0.05])).lost == 1  # t0 from the log
    assert gt.run_t0(with_t0(df, "target=2 outcome=failed; worker said t0=5")) is None


def test_replayed_lines_are_duplicated_others_invented():
    r = gt.compare(one_process([1, 2, 3, 1, 2, 3, 4], "crash"), sent(501, [1, 2, 3, 4]))
    assert (r.duplicated, r.invented, r.lost) == (3, 0, 0)
    r = gt.compare(one_process([1, 2, 2, 3], "crash"), sent(501, [1, 2, 3]))
    assert (r.duplicated, r.invented) == (1, 0)
    r = gt.compare(one_process([1, 42, 3], "crash"), sent(501, [1, 2, 3]))
    assert (r.lost, r.invented, r.duplicated) == (1, 1, 0)
    assert not r.ok


def test_samples_from_a_process_that_sent_nothing_are_invented():
    r = gt.compare(one_process([1, 2], "crash", pid=501), SentLog())
    assert r.invented == 2 and r.lines_sent == 0 and not r.ok


def test_sent_lines_of_a_process_the_run_never_spawned():
    s = SentLog({501: [1], 999: [4, 4]}, {501: [0.0], 999: [0.0, 0.1]})
    r = gt.compare(one_process([1], "crash"), s)
    assert r.foreign_pids == 1 and r.lost == 2 and not r.ok


def test_samples_under_the_wrong_worker_id():
    b = LogBuilder(n_workers=2, target=3)
    pid = b.spawn(1, 0.0)
    b.spawn(2, 0.0)
    b.add("sample", 1, 0.1, pid=pid, value=4)
    b.add("sample", 2, 0.2, pid=pid, value=5)  # pid of worker 1 logged under worker 2
    b.run_stop(1.0)
    r = gt.compare(b.frame(), sent(pid, [4, 5]))
    assert r.wrong_worker == 1 and r.lost == 0 and not r.ok


def test_several_processes_of_one_slot():
    b = LogBuilder(n_workers=1, target=5)
    a = b.spawn(1, 0.0)
    b.samples(1, [0.1, 0.2], [3, 4])
    b.crash(1, 0.25)
    b.restart(1, 0.26)
    c = b.spawn(1, 0.27)
    b.samples(1, [0.3, 0.4, 0.5], [7, 8, 9])
    b.stop(1, 0.6)
    b.run_stop(0.7)
    s = SentLog({a: [3, 4], c: [7, 8, 9, 10]}, {a: [0, 0], c: [0, 0, 0, 0]})
    r = gt.compare(b.frame(), s)
    assert r.ok and r.pids == 2 and r.lines_checked == 5 and r.in_flight == 1


def test_reports_add_up():
    r1 = gt.compare(one_process([5], "stop"), sent(501, [5, 6]))
    r2 = gt.compare(one_process([1, 2], "crash"), sent(501, [1]))
    total = gt.Report() + r1 + r2
    assert (total.runs, total.lines_sent, total.in_flight, total.invented) == (2, 3, 1, 1)
    assert not total.ok and len(total.problems) == 1
    assert set(total.counts()) >= set(gt.Report.FAULTS)


# -- processes and ports ----------------------------------------------------------------------


def test_orphans_by_pid_and_command_line(spawn):
    port = free_port()
    proc = spawn("-workerId", "1", "-port", str(port), "-mtbf", "0")
    b = LogBuilder(n_workers=2)
    b.spawn(1, 0.0, pid=proc.pid, port=port)
    b.spawn(2, 0.0, pid=proc.pid, port=port + 1)  # same live pid, other port: a reused pid
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    b.spawn(2, 0.1, pid=dead.pid, port=port + 2)
    df = b.frame()
    assert gt.orphans(df) == [proc.pid]
    proc.kill()
    proc.wait()
    assert gt.orphans(df) == []


def test_bound_port_of_ours_is_a_leak_a_port_taken_by_others_is_not():
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        import os

        b = LogBuilder()
        b.spawn(1, 0.0, pid=os.getpid(), port=port)  # "our worker" is this process: a leak
        assert gt.bound_ports(b.frame(), settle=0) == ([port], [])
        b = LogBuilder()
        b.spawn(1, 0.0, pid=2**22 + 1, port=port)  # held by a process that is not one of ours
        assert gt.bound_ports(b.frame(), settle=0) == ([], [port])
    assert gt.bound_ports(b.frame(), settle=0) == ([], [])


def test_check_run_without_a_sent_log_checks_processes_only():
    r = gt.check_run(one_process([1, 2], "stop", pid=2**22 + 3))
    assert r.ok and r.lines_received == 2 and r.orphans == 0 and r.ports_bound == 0


# -- end to end -----------------------------------------------------------------------------


def test_real_run_with_crashes_matches_its_sent_log(tmp_path):
    log = tmp_path / "sent.log"
    df = wl.collect(
        4,
        200,
        interval=FAST,
        mtbf=0.5,
        seed=11,
        stall_after=0.5,
        progress=False,
        worker_args=["-split", "-sentLog", str(log)],
    )
    r = gt.check_run(df, log)
    assert r.ok, r.problems
    assert r.lines_checked == r.lines_received == (df.event == "sample").sum()
    assert r.lines_checked + r.in_flight == r.lines_sent
    assert r.pids == (df.event == "spawn").sum()
