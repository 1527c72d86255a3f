"""Progress of long stages: JSON lines per stage in `por schedule`'s log, a rich bar only
on a terminal (cli/_progress.py renders what `por.operator.progress` reports)."""

from __future__ import annotations

import io
import json

from cli._progress import JsonStages, RichStages, Tee, terminal_progress
from por.operator.progress import NO_PROGRESS, stage
from tests.cli.test_publish_cli import H0, H1, _base, run, setup  # noqa: F401 - fixture

SNAPSHOT_STAGES = ["cut", "reserves", "pieces", "tree", "check", "store", "publish", "write"]


def test_schedule_logs_one_json_line_per_stage_with_seconds_and_counts(
    setup: dict[str, str],  # noqa: F811 - the fixture
) -> None:
    result = run("schedule", *_base(setup), "--since", H0, "--until", H1)
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stderr.splitlines()]
    stages = [e for e in events if e["event"] == "stage"]
    per_hour = [*SNAPSHOT_STAGES, "bundle", "site"]
    assert [e["stage"] for e in stages] == ["site", *per_hour, *per_hour], (
        "the first wake-up builds the missing site, then every stage of both hours in order"
    )
    assert all(isinstance(e["seconds"], float) and e["seconds"] >= 0 for e in stages)
    cuts = [e for e in stages if e["stage"] == "cut"]
    assert [(c["accounts"], c["seq"]) for c in cuts] == [(2, 5), (3, 7)], (
        "the cut counts the accounts it read at the sequence it cut"
    )
    bundle = next(e for e in stages if e["stage"] == "bundle")
    assert bundle["log_size"] == 1 and bundle["files"] >= 3
    published = [i for i, e in enumerate(events) if e["event"] == "published"]
    bundle_at = next(i for i, e in enumerate(events) if e.get("stage") == "bundle")
    assert bundle_at < published[0], "a stage is logged when it ends, before the hour is done"


def test_publish_on_a_pipe_prints_no_bar(setup: dict[str, str]) -> None:  # noqa: F811
    result = run("publish", *_base(setup), "--at", H0, "--no-site")
    assert result.exit_code == 0, result.output
    assert result.stderr == "", "stderr is not a terminal: no progress output at all"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_per_stage_with_its_counts() -> None:
    out = _Tty()
    with terminal_progress(out) as progress:
        assert isinstance(progress, RichStages)
        with stage(progress, "cut") as counts:
            progress.advance(65_536)
            progress.advance(3)
            counts["accounts"] = 65_539
        with stage(progress, "tree", total=4) as counts:
            progress.advance(4)
            counts["leaves"] = 131_072
    text = out.getvalue()
    assert "cut" in text and "accounts=65539" in text and "65539/65539" in text
    assert "tree" in text and "leaves=131072" in text and "4/4" in text


def test_a_pipe_gets_no_progress_and_json_stages_skip_the_unfinished() -> None:
    with terminal_progress(io.StringIO()) as progress:
        assert progress is NO_PROGRESS
    lines: list[dict[str, object]] = []
    tee = Tee(NO_PROGRESS, JsonStages(lambda event, **f: lines.append({"event": event, **f})))
    with stage(tee, "pieces") as counts:
        counts["pieces"] = 7
    try:
        with stage(tee, "tree"):
            raise RuntimeError("killed")
    except RuntimeError:
        pass
    assert [(e["event"], e["stage"], e["pieces"]) for e in lines] == [("stage", "pieces", 7)]
    assert "tree" not in json.dumps(lines), "a failed stage never reports as finished"
