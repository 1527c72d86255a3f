"""`por snapshot` end to end: a ledger from a command log, reserves on a real Anvil node and
on a LiteSVM-backed Solana JSON-RPC endpoint, files whose proofs verify; and every kind of
bad input failing with one line, a non-zero exit and no snapshot files."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cli.main import cli
from por.chain.anvil import Anvil
from por.chain.ethereum_world import (
    EthereumWorld,
    connect,
    deploy_world,
    mine,
    mint_tokens,
    set_eth_balances,
)
from por.chain.litesvm_rpc import LiteSvmRpcServer
from por.chain.solana_world import SolanaWorld, create_solana_world, fund_sol, fund_usdc
from por.manifest import AssetInfo, LogHead, build_manifest, parse_manifest
from por.model import Node
from por.proofset import parse_proof_set, verify_proof_set
from por.reserves import Wallet, WalletRegistry
from por.reserves.keystore import generate_keystore
from por.reserves.ownership import Binding, OwnershipProof, verify_ownership
from por.snapshot import SnapshotIndex
from tests.por.snapshot.snapshot_ledger import (
    BORROWERS,
    BORROWERS_AFTER,
    BORROWERS_REJECTED,
    make_ledger,
)

AT = "2026-11-24T16:00:00Z"
HOUR = 1_795_536_000
E18 = 10**18
SECRET_HEX = "11" * 32
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def cmd(name: str, **params: Any) -> str:
    return json.dumps({"cmd": name, **params})


LEDGER = [
    cmd("asset", symbol="BTC", decimals=8),
    cmd("asset", symbol="ETH", decimals=18),
    cmd("asset", symbol="SOL", decimals=9),
    cmd("asset", symbol="USDC", decimals=6),
    cmd("clock", time="2026-11-24T15:00:00Z"),
    cmd("deposit", account="u1", asset="BTC", amount="100000000", tx="b1"),
    cmd("deposit", account="u2", asset="ETH", amount=str(3 * E18), tx="e1"),
    cmd("deposit", account="u3", asset="SOL", amount="10000000000", tx="s1"),
    cmd("deposit", account="u4", asset="USDC", amount="1000000000", tx="c1"),
    cmd("deposit", account="u1", asset="USDC", amount="500000000", tx="c2"),
    cmd("withdraw", account="u2", asset="ETH", amount=str(E18 // 2), address="0x1", id="w1"),
    cmd("clock", time="2026-11-24T16:00:00Z"),
    cmd("deposit", account="late", asset="BTC", amount="5", tx="b2"),
]


class Chains:
    """Anvil (ETH, USDC, wrapped BTC) and LiteSVM over JSON-RPC (SOL, USDC), with the keys."""

    def __init__(self, anvil: Anvil, world: EthereumWorld, sol: SolanaWorld, root: Path) -> None:
        self.anvil, self.world, self.sol = anvil, world, sol
        self.keys = root / "keys"
        self.keys.mkdir()
        store, eth, (solana,) = generate_keystore(
            self.keys / "ownership-keys.json", ethereum=2, solana=1
        )
        self.eth = eth
        self.solana = solana
        w3 = connect(world.url)
        set_eth_balances(w3, {eth[0]: 2 * E18, eth[1]: 1 * E18})
        mint_tokens(w3, world.wbtc, {eth[0]: 60_000_000, eth[1]: 40_000_000}, world.deployer)
        mint_tokens(w3, world.usdc, {eth[0]: 1_000_000_000}, world.deployer)
        mine(w3, 3)  # finalized lags the head by 2 blocks
        fund_sol(sol.svm, {solana: 10_000_000_000})
        fund_usdc(sol, {solana: 500_000_000})
        self.server = LiteSvmRpcServer(sol.svm).start()

    def registry(self, **changes: Any) -> dict[str, Any]:
        eth_specs = self.world.asset_specs()
        sol_specs = self.sol.asset_specs()
        registry = WalletRegistry(
            "Test Exchange",
            {"ethereum": eth_specs, "solana": sol_specs},
            (
                Wallet("ethereum", self.eth[0], ("ETH", "USDC", "BTC"), "cold", "cold 1"),
                Wallet("ethereum", self.eth[1], ("ETH", "BTC"), "hot"),
                Wallet("solana", self.solana, ("SOL", "USDC"), "hot"),
            ),
        )
        data = registry.to_dict()
        data.update(changes)
        return data


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chains]:
    with Anvil(timestamp=HOUR - 3600) as anvil:
        world = deploy_world(anvil.url)
        sol = create_solana_world(slot=9_000, unix_timestamp=HOUR + 7)
        made = Chains(anvil, world, sol, tmp_path_factory.mktemp("chains"))
        try:
            yield made
        finally:
            made.server.stop()


def _wallet_file(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _run(args: list[str]) -> Result:
    return CliRunner().invoke(cli, ["snapshot", *args], catch_exceptions=False)


def _args(db: str, out: Path, chains: Chains, wallets: Path, **over: str) -> list[str]:
    opts = {
        "--at": AT,
        "--db": db,
        "--out": str(out),
        "--wallets": str(wallets),
        "--keys": str(chains.keys),
        "--public-key": KEY.public_key().public_bytes_raw().hex(),
        "--eth-rpc": chains.anvil.url,
        "--sol-rpc": chains.server.url,
    }
    opts.update(over)
    return [x for k, v in opts.items() for x in (k, v)]


def _manifest(snapshot: Path) -> Any:
    summary = json.loads((snapshot / "public" / "snapshot.json").read_text())
    r = summary["tree"]["root"]
    root = Node(bytes.fromhex(r["hash"]), tuple(map(int, r["equity"])), tuple(map(int, r["debt"])))
    signed = build_manifest(
        summary["snapshot_id"],
        [AssetInfo(a["symbol"], a["decimals"]) for a in summary["assets"]],
        summary["tree"]["height"],
        root,
        LogHead(1, bytes(32)),
        KEY,
        extra={"cut": summary["cut"]},
    )
    return parse_manifest(signed)


def test_por_snapshot_writes_files_whose_proofs_and_signatures_verify(
    db_url: str, tmp_path: Path, chains: Chains
) -> None:
    make_ledger(db_url, LEDGER)
    secret = tmp_path / "secret"
    secret.write_text(SECRET_HEX)
    secret.chmod(0o600)  # a secret readable by others is refused
    wallets = _wallet_file(tmp_path / "wallets.json", chains.registry())
    out = tmp_path / "out"
    result = _run(_args(db_url, out, chains, wallets, **{"--secret-file": str(secret)}))
    assert result.exit_code == 0, result.stderr
    assert "Snapshot 2026-11-24T16:00:00Z: PASS" in result.stdout
    assert "100.0000%" in result.stdout
    snap = out / "2026-11-24T16-00-00Z"
    assert "cut seq 11" in result.stderr and "4 accounts" in result.stderr
    manifest = _manifest(snap)
    index = SnapshotIndex(snap)
    assert sorted(index.account_ids()) == ["u1", "u2", "u3", "u4"]
    for account in index.account_ids():
        verify_proof_set(parse_proof_set(index.proof(account)), manifest)
    u2 = verify_proof_set(parse_proof_set(index.proof("u2")), manifest)
    assert u2.equity == (0, 3 * E18, 0, 0), "the pending withdrawal still counts"
    assert u2.pieces >= 3, "the default policy splits a funded account into >= 3 pieces"
    reserves = json.loads((snap / "public" / "reserves.json").read_text())
    assert reserves["totals"] == {
        "BTC": "100000000",
        "ETH": str(3 * E18),
        "SOL": "10000000000",
        "USDC": "1500000000",
    }
    pins = {r["chain"]: r["pin"] for r in reserves["readings"]}
    assert pins["solana"]["slot"] == 9_000 and pins["solana"]["requested_at"] == AT
    assert pins["ethereum"]["requested_at"] == AT
    assert len(reserves["ownership"]) == 3
    key = KEY.public_key().public_bytes_raw().hex()
    for raw in reserves["ownership"]:
        proof = OwnershipProof.from_dict(raw)
        chain_id = pins[proof.chain]["chain_id"]
        verify_ownership(proof, Binding("Test Exchange", key, proof.chain, chain_id, AT))
    report = json.loads((snap / "public" / "reconciliation.json").read_text())
    eth = next(a for a in report["assets"] if a["asset"] == "ETH")
    assert eth["in_flight_withdrawals"] == str(E18 // 2)
    assert eth["coverage_ppm"] == 1_000_000 and report["status"] == "PASS"


def _fails(result: Result, code: int, message: str, out: Path) -> None:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    assert message in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    assert not out.exists() or list(out.iterdir()) == [], "no snapshot files may be left"


@pytest.fixture
def ledger_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    make_ledger(url, LEDGER)
    return url


def test_an_invalid_wallet_address_fails_with_one_line_and_no_files(
    ledger_db: str, tmp_path: Path, chains: Chains
) -> None:
    data = chains.registry()
    data["wallets"][0]["address"] = "0x1234"
    wallets = _wallet_file(tmp_path / "w.json", data)
    out = tmp_path / "out"
    _fails(_run(_args(ledger_db, out, chains, wallets)), 2, "invalid Ethereum address", out)


def test_an_unknown_chain_fails_with_one_line_and_no_files(
    ledger_db: str, tmp_path: Path, chains: Chains
) -> None:
    data = chains.registry()
    data["wallets"][2]["chain"] = "dogecoin"
    wallets = _wallet_file(tmp_path / "w.json", data)
    out = tmp_path / "out"
    _fails(_run(_args(ledger_db, out, chains, wallets)), 2, "unknown chain 'dogecoin'", out)


def test_wallets_without_the_manifest_public_key_fail_with_one_line_and_no_files(
    ledger_db: str, tmp_path: Path, chains: Chains
) -> None:
    wallets = _wallet_file(tmp_path / "w.json", chains.registry())
    out = tmp_path / "out"
    args = _args(ledger_db, out, chains, wallets)
    at = args.index("--public-key")
    del args[at : at + 2]
    _fails(_run(args), 2, "--public-key HEX is required with --wallets", out)


def test_a_missing_signing_key_fails_with_one_line_and_no_files(
    ledger_db: str, tmp_path: Path, chains: Chains
) -> None:
    other = tmp_path / "other-keys.json"
    generate_keystore(other, ethereum=1)
    wallets = _wallet_file(tmp_path / "w.json", chains.registry())
    out = tmp_path / "out"
    result = _run(_args(ledger_db, out, chains, wallets, **{"--keys": str(other)}))
    _fails(result, 2, "no signing key for ethereum address", out)


class _LyingNode:
    """A JSON-RPC proxy in front of Anvil that runs every eth_call at the head block,
    whatever block the caller pinned (a node answering for another block)."""

    def __init__(self, upstream: str) -> None:
        client = httpx.Client(timeout=30)

        def forward(request: dict[str, Any]) -> Any:
            if request.get("method") == "eth_call":
                request = {**request, "params": [request["params"][0], "latest"]}
            return client.post(upstream, json=request).json()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                answer = [forward(r) for r in body] if isinstance(body, list) else forward(body)
                raw = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return None

        self.client = client
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.client.close()


def test_an_rpc_that_answers_for_another_block_fails_the_snapshot(
    ledger_db: str, tmp_path: Path, chains: Chains
) -> None:
    mine(connect(chains.world.url), 3)  # the head is now ahead of the finalized block
    liar = _LyingNode(chains.anvil.url)
    try:
        wallets = _wallet_file(tmp_path / "w.json", chains.registry())
        out = tmp_path / "out"
        result = _run(_args(ledger_db, out, chains, wallets, **{"--eth-rpc": liar.url}))
    finally:
        liar.close()
    _fails(result, 1, "answered for another block", out)


def test_ledger_totals_that_do_not_match_the_tree_fail_the_snapshot(
    ledger_db: str, tmp_path: Path, chains: Chains, monkeypatch: pytest.MonkeyPatch
) -> None:
    from exchange.export import SqlLedgerCut

    real = SqlLedgerCut.customer_totals

    def off_by_one(self: SqlLedgerCut) -> dict[str, tuple[int, int]]:
        totals = dict(real(self))
        claims, debts = totals["SOL"]
        totals["SOL"] = (claims + 1, debts)
        return totals

    monkeypatch.setattr(SqlLedgerCut, "customer_totals", off_by_one)
    wallets = _wallet_file(tmp_path / "w.json", chains.registry())
    out = tmp_path / "out"
    _fails(
        _run(_args(ledger_db, out, chains, wallets)),
        1,
        "the tree does not match the ledger, snapshot refused: SOL: tree root equity is",
        out,
    )


def test_a_cut_that_is_not_final_and_a_bad_time_are_usage_errors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    make_ledger(url, LEDGER[:-2])
    out = tmp_path / "out"
    _fails(_run(["--at", AT, "--db", url, "--out", str(out)]), 2, "has not reached", out)
    _fails(_run(["--at", "16:00", "--db", url, "--out", str(out)]), 2, "must look like", out)
    _fails(
        _run(["--at", AT, "--db", f"sqlite:///{tmp_path / 'none.db'}", "--out", str(out)]),
        2,
        "no ledger database",
        out,
    )


def test_without_reserves_the_snapshot_is_written_and_fails_reconciliation(
    ledger_db: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = _run(["--at", AT, "--db", ledger_db, "--out", str(out), "--json"])
    assert result.exit_code == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "FAIL"
    assert "reconciliation FAIL" in result.stderr
    assert (out / "2026-11-24T16-00-00Z" / "public" / "snapshot.json").exists()


def test_the_usd_and_collateral_views_are_printed_and_a_warn_does_not_change_the_exit_code(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'borrowers.db'}"
    make_ledger(db, BORROWERS + BORROWERS_AFTER, rejected=BORROWERS_REJECTED)
    result = _run(["--at", AT, "--db", db, "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, "no reserves: the reserves verdict FAILs (exit 1)"
    assert "USD at index prices" in result.stdout
    assert "130000.000002" in result.stdout, "total liabilities in USD, rounded up"
    assert (
        "collateral WARN: 2 borrowing accounts owe 7000.000001 USD against 10766.66666 USD"
        " of collateral after haircuts (153.8095%): 1 borrowing accounts under-collateralised"
        " by 400.000001 USD in total"
    ) in result.stdout.replace("\n", " ")
    assert "reconciliation FAIL" in result.stderr and "WARN" not in result.stderr


def test_help_ends_with_examples() -> None:
    result = CliRunner().invoke(cli, ["snapshot", "--help"])
    assert result.exit_code == 0
    tail = result.output.split("Options:")[-1]
    assert "Examples:" in tail, "the Examples section must come last"
    assert tail.rstrip().endswith("--out snapshots")


def test_leaf_list_auditors_writes_only_the_encrypted_list_and_none_writes_no_list(
    ledger_db: str, tmp_path: Path
) -> None:
    from por.audit._leaflist import fold_leaf_file
    from por.leaflist import decrypted, read_identities, write_identity_file

    recipient = write_identity_file(tmp_path / "auditor.key")
    out = tmp_path / "out"
    sealed = _run(["--at", AT, "--db", ledger_db, "--out", str(out), "--json",
                   "--leaf-list", "auditors", "--auditor", recipient])  # fmt: skip
    assert sealed.exit_code == 1, sealed.stderr  # no reserves: the reconciliation FAILs
    assert [p.name for p in out.iterdir()] == ["2026-11-24T16-00-00Z"], "no staging left"
    public = out / "2026-11-24T16-00-00Z" / "public"
    assert not (public / "leaves.jsonl").exists()
    meta = json.loads((public / "snapshot.json").read_text())
    assert meta["files"]["leaves"] == "leaves.jsonl.age"
    symbols = tuple(a["symbol"] for a in meta["assets"])
    with decrypted(public / "leaves.jsonl.age", read_identities(tmp_path / "auditor.key")) as s:
        summary = fold_leaf_file(s, symbols)
    assert summary.root.hash.hex() == meta["tree"]["root"]["hash"]
    withheld = _run(["--at", AT, "--db", ledger_db, "--out", str(tmp_path / "none"),
                     "--leaf-list", "none"])  # fmt: skip
    assert withheld.exit_code == 1, withheld.stderr
    names = {p.name for p in (tmp_path / "none" / "2026-11-24T16-00-00Z" / "public").iterdir()}
    assert names == {"snapshot.json", "reconciliation.json"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--leaf-list", "auditors"], "--leaf-list auditors needs the auditors' keys"),
        (["--leaf-list", "auditors", "--auditor", "age1oops"], "--auditor: not an age X25519"),
        (["--auditor", "age1" + "q" * 58], "--auditor: not an age"),
    ],
)
def test_a_bad_leaf_list_choice_fails_with_one_line_and_no_files(
    ledger_db: str, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "out"
    _fails(_run(["--at", AT, "--db", ledger_db, "--out", str(out), *args]), 2, message, out)
