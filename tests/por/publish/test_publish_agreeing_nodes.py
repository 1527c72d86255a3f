"""An hour read from two Ethereum nodes that disagree is not published; the scheduler says
why and retries it, and publishes it once the nodes agree (issue 18 item 4)."""

from __future__ import annotations

import io
import json
from typing import Any

from por.publish.scheduler import JsonLog, ScheduleConfig, run_schedule
from por.reserves.ethereum import EthereumReader
from por.reserves.quorum import AgreeingReader
from por.reserves.solana import LiteSvmReader
from por.snapshot import ReserveSetup
from tests.por.publish.publish_world import DELAY, START, FakeClock, World
from tests.por.reserves.reserves_helpers import RpcProxy


def test_a_lying_second_node_stops_the_hour_until_the_nodes_agree(world: World) -> None:
    clock = FakeClock(START + DELAY, world.advance_to)
    world.advance_to(clock.t)
    registry = world.reserve.registry
    specs = registry.assets_on("ethereum")
    wallets = registry.on("ethereum")
    honest = EthereumReader(world.anvil_url, specs).read(wallets, START).by_key()
    address = wallets[0].address
    amount = honest[(address, "ETH")]
    word, lie = amount.to_bytes(32, "big").hex(), (amount + 10**18).to_bytes(32, "big").hex()
    lying = {"on": True}

    def answer(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        result = response.get("result")
        if lying["on"] and request.get("method") == "eth_call" and isinstance(result, str):
            response["result"] = result.replace(word, lie)
        return response

    proxy = RpcProxy(world.anvil_url, on_response=answer)

    def advance(now: Any) -> None:  # the operator fixes the node while the scheduler waits
        lying["on"] = False
        world.advance_to(now)

    clock.on_advance = advance
    try:
        readers = {
            "ethereum": AgreeingReader(
                [EthereumReader(world.anvil_url, specs), EthereumReader(proxy.url, specs)]
            ),
            "solana": LiteSvmReader(world.reserve.solana.svm, registry.assets_on("solana")),
        }
        publisher = world.publisher(
            clock, reserves=ReserveSetup(registry, readers, world.reserve.keystore)
        )
        stream = io.StringIO()
        config = ScheduleConfig(delay=DELAY, since=START, until=START, retry_s=60)
        assert run_schedule(publisher, clock, config, JsonLog(clock.now, stream)) == 1
    finally:
        proxy.close()
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    failed = [e for e in events if e["event"] == "publish_failed"]
    assert len(failed) == 1, events
    reason = failed[0]["error"]
    assert reason.startswith("ReaderError: ethereum: nodes disagree at block"), reason
    assert f"ETH of {address}" in reason and str(amount + 10**18) in reason
    assert clock.slept[0] == 60, "retried after retry_s"
    (pub,) = publisher.publications()
    bundle = world.tmp / "pub" / "bundles" / "2026-11-24T00-00-00Z"
    reserves = json.loads((bundle / "reserves.json").read_text())
    eth = next(r for r in reserves["readings"] if r["chain"] == "ethereum")
    published = next(b for b in eth["balances"] if b["address"] == address and b["asset"] == "ETH")
    assert published["amount"] == str(amount), "the honest value, agreed by both nodes"
