"""A search's answer at a glance: at most 8 lines in text and HTML, the rest behind ``details()``,
the fresh search a result that is not conclusive names, and the per-count frame for reports.

No process runs here: results come from the real planner fed made-up outcomes (``tests/answers.py``).
"""

from __future__ import annotations

import html
import re
import shlex

import pandas as pd
import pytest
from answers import CONDITIONS, search
from answers import no_model as stopped_in_pilot

from workerlab.cli.parser import build as build_parser
from workerlab.thresholds.evidence import FRAME_DTYPES
from workerlab.thresholds.result import SearchResult
from workerlab.thresholds.stats import search_table

#: 15 workers' misses (start order): four, too many for its plan to say meets at any look, too few
#: to say below at any ("74/150/245 runs, meets with 0/1/3 failed, below with 10/15/21")
MISSES = {10, 20, 30, 40}


def inconclusive() -> SearchResult:
    """15 workers miss four times: their plan ends inconclusive after its last look."""
    return search(lambda w, i: w >= 15 and not (w == 15 and i in MISSES))


def counted(th: SearchResult, w: int) -> tuple[int, int]:
    """(successes, runs) of ``w`` workers' plan, as it counted them."""
    d = next(d for d in th.decisions if d["workers"] == w)
    return d["successes"], d["runs"]


RESULTS = {
    "conclusive": search,
    "not conclusive": inconclusive,
    "stopped": lambda: search(stop_after=20),
    "no model": stopped_in_pilot,
}


def html_lines(th: SearchResult) -> list[str]:
    """The lines a notebook shows of the HTML form: its paragraphs split at line breaks, tags gone."""
    body = th._repr_html_().replace("<br>", "\n").replace("</p>", "\n")
    return [html.unescape(re.sub(r"<[^>]+>", "", line)) for line in body.splitlines() if line.strip()]


@pytest.mark.parametrize("case", RESULTS)
def test_the_answer_is_at_most_8_lines_in_text_and_html_alike_whatever_the_outcome(case):
    th = RESULTS[case]()
    lines = str(th).splitlines()
    assert 4 <= len(lines) <= 8, str(th)
    assert html_lines(th) == lines  # the notebook's HTML says the same lines, no table, no plan rules
    assert "<table" not in th._repr_html_() and not re.search(
        r"at \d+ runs:|P\(conclusive\)|Model \(", str(th)
    )
    assert th.sentence == lines[0] and th.to_dict()["answer"] == lines
    # the notebook's text form (IPython's pretty printer) is the answer too, not the fields dumped
    from IPython.lib.pretty import pretty

    assert pretty(th) == str(th) and not pretty(th).startswith("SearchResult(")


def test_a_conclusive_answer_leads_with_its_count_and_conclusion_then_evidence_margin_cost_conditions():
    th = search()
    head, evidence, margin, cost, conditions, holds, after = str(th).splitlines()
    assert head == "15 workers meet 10 s in >= 95% of runs (conclusive, 95% confidence)"
    # the evidence for the answer and for the count below, the interval named for what it is
    n = counted(th, 15)[1]
    d14 = next(d for d in th.decisions if d["workers"] == 14)
    assert re.fullmatch(
        rf"evidence: 15 workers met {n}/{n} \(95% plan-exact CI 0\.95–1\.00: meets\); "
        r"14 workers met 0/2 \(95% plan-exact CI 0\.00–0\.\d\d: below\)",
        evidence,
    ), evidence
    assert d14["ci_low"] == 0.0 and d14["ci_high"] <= th.level  # exact for its plan: agrees with "below"
    r = th.row()
    assert (
        f"{r['median_elapsed_s']:.3g} s median, {r['p95_elapsed_s']:.3g} s p95 against the 10 s deadline"
        in margin
    )
    measured = int(th.table["runs"].sum())
    assert cost.startswith(
        f"cost: {th.runs_used} runs (6 pilot, {measured} measured) in 210 s wall, up to 4 at once"
    )
    assert "runs at once up to 4" in conditions and "14 workers alone" in conditions
    assert "interference: +4 ms side by side (95% CI -20 to +30 ms)" in conditions
    assert holds.startswith(
        "holds for: this machine and worker as measured (interval 0.2 s, lead 0.00 s, MTBF 6 s"
    )
    assert after.startswith("next: use 15 workers here") and "details()" in after


def test_details_hold_the_plans_power_screens_table_and_model():
    th = search()
    text = th.details()
    d15 = next(d for d in th.decisions if d["workers"] == 15)
    n = d15["runs"]
    assert (
        d15["plan"] in text
        and f"-> meets ({n}/{n} counted, in start order; 95% CI exact for this plan" in text
    )
    # the table's intervals are named for what they are, with what they cover
    assert "95% CI (f)" in text and "(f) fixed-sample intervals" in text and "cover less than stated" in text
    assert "15 workers (the answer; its plan aimed to show it meets" in text
    assert "power of these plans: P(conclusive)" in text and "16: 3/3" in text  # the screen
    assert " workers  runs  met  share  95% CI" in text and "Model (calibrated from 6 runs)" in text
    assert CONDITIONS.text() in text  # the conditions in full


def test_the_html_form_says_how_many_runs_ran_at_once():
    out = search()._repr_html_()
    assert out.startswith("<p><b>15 workers meet 10 s") and "runs at once up to 4" in out
    assert out.count("<p>") <= 3  # a few paragraphs, not ten


def test_a_result_not_conclusive_names_the_count_what_was_measured_and_the_fresh_search_that_decides():
    th = inconclusive()
    lines = str(th).splitlines()
    assert (
        lines[0]
        == "15 workers so far: not conclusive whether they meet 10 s in >= 95% of runs (95% confidence)"
    )
    k, n = counted(th, 15)
    assert k == n - len(MISSES) and n > 150  # past the plan's second look, to where it cannot meet
    assert re.search(
        rf"15 workers met {k}/{n} \(95% plan-exact CI 0\.\d\d–1\.00: inconclusive\)", lines[1]
    ), lines[1]
    fresh = th.fresh_run()
    assert fresh is not None and fresh.runs is not None and fresh.runs > 72
    # the flags that reproduce the settings, never the seed (a fresh search draws new runs)
    assert fresh.command == "workerlab threshold --workers 14-16 --deadline 10 --interval 0.2 --mtbf 6"
    args = build_parser()[0].parse_args(shlex.split(fresh.command)[1:])
    assert (args.command, args.workers, args.interval, args.mtbf, args.seed) == (
        "threshold",
        "14-16",
        0.2,
        6.0,
        None,
    )
    # its time is runs x the typical run time measured (here the table's: no event log)
    assert fresh.run_s == pytest.approx(9.0, abs=0.5) and fresh.seconds == fresh.runs * fresh.run_s
    assert lines[-1].startswith("next: a fresh search would decide it") and fresh.command in lines[-1]
    assert f"about {fresh.runs} runs x {fresh.run_s:.2g} s" in lines[-1]
    assert not re.search(r"\badd(ing)? \d+", str(th)) and "more runs" not in str(th)
    assert th.to_dict()["fresh_run"]["command"] == fresh.command


def test_a_stopped_search_and_one_stopped_in_its_pilot_say_so_first_and_name_a_fresh_search():
    th = search(stop_after=20)
    assert str(th).startswith("15 workers so far: stopped before a conclusive answer")
    k, n = counted(th, 15)
    assert k == n > 0 and f"15 workers met {n}/{n} (95% plan-exact CI 0." in str(th)
    assert "its plan still open)" in str(th)
    bare = stopped_in_pilot()
    first, *rest = str(bare).splitlines()
    assert first.startswith("No count of 1–16 workers shown to meet 10 s") and "stopped before" in first
    assert "no model" in str(bare) and "runs at once not recorded" in str(bare)
    fresh = bare.fresh_run()
    assert fresh is not None and fresh.command.startswith("workerlab threshold --workers 1-16 --deadline 10")
    assert fresh.runs is not None and fresh.runs >= 72  # no prediction: at least the fewest any plan needs


def test_the_budget_is_raised_in_the_command_only_where_the_fresh_search_would_not_fit():
    th = inconclusive()
    small = search(lambda w, i: w >= 15 and not (w == 15 and i in MISSES), settings=_settings(max_runs=100))
    assert "--max-runs" not in th.fresh_run().command
    fresh = small.fresh_run()
    assert f"--max-runs {2 * fresh.runs}" in fresh.command


def _settings(**kw):
    from answers import settings

    s = settings(interval=0.2, mtbf=6.0)
    return type(s)(s.batch, s.level, s.confidence, kw.get("max_runs", s.max_runs), s.model)


def test_a_plan_exact_interval_is_used_and_named_where_the_decision_has_one():
    th = search()
    n = counted(th, 15)[1]
    bare = [
        {k: v for k, v in d.items() if k not in ("ci_low", "ci_high")} if d["workers"] == 14 else d
        for d in th.decisions
    ]
    th2 = SearchResult(**{**th.__dict__, "decisions": bare})  # 14 without its plan's interval
    assert f"15 workers met {n}/{n} (95% plan-exact CI 0.95–1.00: meets)" in str(th2)
    assert "14 workers met 0/2 (95% fixed-sample CI" in str(th2)
    kinds = th2.to_frame().set_index("workers")["ci_kind"]
    assert (kinds[15], kinds[14]) == ("plan-exact", "fixed-sample")


def test_to_frame_is_tidy_per_count_with_explicit_dtypes_and_exports_to_markdown_and_csv(tmp_path):
    th = search()
    f = th.to_frame()
    assert f.dtypes.astype(str).to_dict() == FRAME_DTYPES
    assert f["workers"].tolist() == [13, 14, 15, 16]
    by = f.set_index("workers")
    assert by.loc[15, "role"] == "answer" and by.loc[14, "role"] == "below" and by.loc[16, "role"] == "screen"
    assert by["role"].isna()[13] and by.loc[13, "runs"] == 0
    # the evidence is what the plan counted: 14's runs started past its decision are not evidence
    assert by.loc[14, "runs"] == 2 and by.loc[14, "measured_runs"] > 2
    assert (by.loc[15, "at_once_max"], by.loc[14, "at_once_max"]) == (4, 1)
    md = th.to_markdown().splitlines()
    assert md[0].startswith("| workers | role | decision | runs |") and len(md) == 2 + 4
    n = counted(th, 15)[1]
    assert md[4].startswith(f"| 15 | answer | meets | {n} | {n} |")
    th.to_frame().to_csv(tmp_path / "answer.csv", index=False)
    assert (tmp_path / "answer.csv").read_text().splitlines()[3].startswith(f"15,answer,meets,{n},{n},")


def _made(rows: dict[int, tuple[int, int]], decisions: list[dict], **kw) -> SearchResult:
    judged = [
        {"workers": w, "met": i < k, "reached": True, "elapsed_s": 1.0, "bound_s": 1.0}
        for w, (k, n) in rows.items()
        for i in range(n)
    ]
    table = search_table(pd.DataFrame(judged), sorted(rows), None, 0.95)
    base = dict(table=table, strong=False, repeats_needed=None, level=0.95, deadline=10.0)
    return SearchResult(**(base | dict(decisions=decisions) | kw))  # type: ignore[arg-type]


def _plan(w: int, aim: str, decision: str | None, k: int, n: int) -> dict:
    return dict(workers=w, role="?", aim=aim, p_pred=0.5, plan="-", decision=decision, successes=k, runs=n)


def test_the_fresh_search_keeps_to_the_counts_allowed_and_goes_past_them_only_where_it_must():
    # 2 and 6 allowed: the count below 6 is 2, not 5
    th = _made(
        {2: (0, 2), 6: (20, 20)},
        [_plan(2, "below", "below", 0, 2), _plan(6, "meets", None, 20, 20)],
        workers=6,
        interrupted=True,
    )
    assert th.fresh_run().command.startswith("workerlab threshold --workers 2,6 --deadline 10 ")
    # 15-16 allowed and 15 meets: its count below, 14, was never examined, so the fresh search takes it in
    th = _made(
        {15: (72, 72), 16: (3, 3)}, [_plan(15, "meets", "meets", 72, 72)], workers=15, below_examined=False
    )
    assert th.fresh_run().command.startswith("workerlab threshold --workers 14-16 --deadline 10 ")
    # every count up to 16 shown below: the next larger ones, past the 16-worker cap on purpose
    th = _made(
        {15: (0, 3), 16: (0, 3)},
        [_plan(15, "meets", "below", 0, 3), _plan(16, "meets", "below", 0, 3)],
        workers=None,
    )
    assert th.fresh_run().command.startswith(
        "workerlab threshold --workers 16-20 --deadline 10 --max-workers 20 "
    )
