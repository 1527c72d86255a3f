"""The log monitor: remembered heads, extension by consistency, equivocation caught."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from por.audit.errors import EquivocationError, LogMismatchError, MonitorStateError
from por.audit.monitor import load_state, monitor_log
from por.audit.source import open_site
from por.operator.signing import generate
from tests.por.audit.sitegen import Site, make_site


def run(site: Site, state: Path, keys: list[str] | None = None) -> str:
    result = monitor_log(open_site(str(site.root)), keys or [site.public_key], state)
    return result.status


def test_the_first_head_is_remembered_and_a_second_look_finds_it_unchanged(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 3)
    state = tmp_path / "state.json"
    assert run(site, state) == "first"
    stored = load_state(state)["exchanges"][site.public_key]["head"]
    assert stored["size"] == 3, stored
    assert run(site, state) == "unchanged"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site", "state.json", "state.json.lock"]


def test_a_grown_log_that_extends_the_old_head_is_accepted_and_remembered(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 1)
    state = tmp_path / "state.json"
    run(site, state)
    for hour in range(1, 6):
        site.add_hour(hour)
        assert run(site, state) == "extended"
        assert load_state(state)["exchanges"][site.public_key]["head"]["size"] == hour + 1


def test_a_rewritten_past_hour_is_equivocation_and_the_old_head_is_kept(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 4)
    state = tmp_path / "state.json"
    run(site, state)
    before = state.read_bytes()
    # the exchange rebuilds its log with hour 2 replaced, then appends hour 4
    forked = make_site(tmp_path / "fork", 0, key=site.key)
    for hour in range(4):
        forked.add_hour(hour, seed=hour if hour != 2 else 99)
    forked.add_hour(4)
    site.entries = forked.entries
    site.write_log()
    with pytest.raises(EquivocationError, match="does not extend the head of size 4") as info:
        run(site, state)
    assert info.value.old["size"] == 4 and info.value.new["size"] == 5
    assert state.read_bytes() == before, "the state must keep the old head"


def test_two_roots_for_one_log_size_is_equivocation(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 3)
    state = tmp_path / "state.json"
    run(site, state)
    other = make_site(tmp_path / "other", 0, key=site.key)
    for hour in range(3):
        other.add_hour(hour, seed=50 + hour)
    site.entries = other.entries
    site.write_log()
    with pytest.raises(EquivocationError, match="two different roots for log size 3"):
        run(site, state)


def test_a_log_that_shrank_is_equivocation(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 3)
    state = tmp_path / "state.json"
    run(site, state)
    site.write_log(site.entries[:2])
    with pytest.raises(EquivocationError, match="shrank from 3 entries"):
        run(site, state)


def test_a_head_signed_by_a_key_that_is_not_pinned_is_refused(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 2)
    site.write_log(head_key=generate())
    with pytest.raises(LogMismatchError, match="not a pinned key"):
        run(site, tmp_path / "state.json")
    assert not (tmp_path / "state.json").exists()


def test_a_rotated_key_pinned_beside_the_old_one_continues_the_same_exchange(
    tmp_path: Path,
) -> None:
    site = make_site(tmp_path / "site", 2)
    state = tmp_path / "state.json"
    run(site, state)
    new_key = generate()
    site.add_hour(2)
    site.write_log(head_key=new_key)
    keys = [site.public_key, new_key.public_key_hex]
    assert run(site, state, keys) == "extended"
    assert list(load_state(state)["exchanges"]) == [site.public_key]


def test_entries_that_do_not_give_the_signed_root_are_refused(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 3)
    entries = (site.root / "log" / "entries.jsonl").read_bytes().splitlines()
    (site.root / "log" / "entries.jsonl").write_bytes(
        b"\n".join([entries[1], entries[0], entries[2]])
    )
    with pytest.raises(LogMismatchError, match="the entries' root is"):
        run(site, tmp_path / "state.json")


def test_two_entries_for_one_hour_are_refused_as_two_roots(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 2)
    twin = make_site(tmp_path / "twin", 0, key=site.key)
    twin.add_hour(1, seed=7)
    site.entries.append(twin.entries[0])
    site.write_log()
    with pytest.raises(LogMismatchError, match="a second entry for snapshot"):
        run(site, tmp_path / "state.json")


def test_a_damaged_state_file_is_reported_and_left_untouched(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 1)
    state = tmp_path / "state.json"
    state.write_text('{"format": "por-monitor-state/1", "exchanges": {"k": {"head": {}}}}')
    before = state.read_bytes()
    with pytest.raises(MonitorStateError, match="stored head"):
        run(site, state)
    assert state.read_bytes() == before
    state.write_text("{not json")
    with pytest.raises(MonitorStateError, match="damaged state file"):
        run(site, state)


def test_a_stored_head_whose_signature_was_edited_is_refused(tmp_path: Path) -> None:
    site = make_site(tmp_path / "site", 2)
    state = tmp_path / "state.json"
    run(site, state)
    data = json.loads(state.read_text())
    data["exchanges"][site.public_key]["head"]["size"] = 1
    state.write_text(json.dumps(data))
    with pytest.raises(MonitorStateError, match="signature"):
        run(site, state)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Site, str]]:
    site = make_site(tmp_path / "site", 3)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site.root))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_monitor_reads_a_site_over_http(served: tuple[Site, str], tmp_path: Path) -> None:
    site, url = served
    state = tmp_path / "state.json"
    result = monitor_log(open_site(url), [site.public_key], state)
    assert result.status == "first" and result.new.size == 3
    site.add_hour(3)
    assert monitor_log(open_site(url), [site.public_key], state).status == "extended"


def test_a_missing_site_file_over_http_is_unreadable_input(
    served: tuple[Site, str], tmp_path: Path
) -> None:
    site, url = served
    from por.audit.errors import AuditInputError

    with pytest.raises(AuditInputError, match="HTTP 404"):
        monitor_log(open_site(url + "/nowhere"), [site.public_key], tmp_path / "s.json")
