"""What a DEX edge's wallet signs: the router's swaps paying the wallet itself and approvals of a
router, on its chain, without ether; everything else is refused before it is signed. Real
eth-account signatures; each signed transaction is recovered to its sender."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from seqmesh.runtime.dex.interfaces import abi
from seqmesh.runtime.edge.dex.wallet_signer import BadWalletKey, SigningRefused, WalletSigner, key_account
from web3 import Web3

KEY = "0x" + Web3.keccak(text="seqmesh wallet signer test").hex().removeprefix("0x")
ROUTER = Web3.to_checksum_address("0x" + "a1" * 20)
V3_ROUTER = Web3.to_checksum_address("0x" + "a3" * 20)
WBTC = Web3.to_checksum_address("0x" + "b1" * 20)
USDT = Web3.to_checksum_address("0x" + "b2" * 20)
THIEF = Web3.to_checksum_address("0x" + "ee" * 20)
CHAIN = 42161


@pytest.fixture
def signer() -> WalletSigner:
    s = WalletSigner(key_account(KEY), CHAIN)
    s.allow([ROUTER, V3_ROUTER], [WBTC, USDT])
    return s


def _tx(to: str, data: str, **extra: Any) -> dict[str, Any]:
    return {"to": to, "data": data, "chainId": CHAIN, "nonce": 0, "gas": 300_000, "value": 0,
            "maxFeePerGas": 10**9, "maxPriorityFeePerGas": 10**8, "type": 2, **extra}


def _v2_swap(recipient: str) -> str:
    router = Web3().eth.contract(abi=abi("UniswapV2Router02"))
    return router.encode_abi("swapExactTokensForTokens", [10**8, 1, [WBTC, USDT], recipient, 2**40])


def _v3_swap(recipient: str) -> str:
    router = Web3().eth.contract(abi=abi("SwapRouter"))
    return router.encode_abi("exactOutputSingle", [(USDT, WBTC, 500, recipient, 2**40, 10**8, 10**12, 0)])


#: ERC-20 transfer, which the edge's Token interface leaves out (the edge never calls it)
TRANSFER = {"type": "function", "name": "transfer", "stateMutability": "nonpayable",
            "inputs": [{"type": "address", "name": "to"}, {"type": "uint256", "name": "amount"}],
            "outputs": [{"type": "bool", "name": ""}]}


def _token_call(name: str, *args: Any) -> str:
    token = Web3().eth.contract(abi=[*abi("Token"), TRANSFER])
    return token.encode_abi(name, list(args))


def test_signs_swaps_paying_the_wallet_and_approvals_of_a_router(signer: WalletSigner) -> None:
    for tx in (_tx(ROUTER, _v2_swap(signer.address)), _tx(V3_ROUTER, _v3_swap(signer.address)),
               _tx(WBTC, _token_call("approve", ROUTER, 2**256 - 1))):
        signed = signer.sign(tx)
        assert Account.recover_transaction(signed.raw_transaction) == signer.address


@pytest.mark.parametrize(("what", "tx", "words"), [
    ("a V2 swap paying another address", lambda: _tx(ROUTER, _v2_swap(THIEF)), f"not {THIEF}"),
    ("a V3 swap paying another address", lambda: _tx(V3_ROUTER, _v3_swap(THIEF)), f"not {THIEF}"),
    ("a token transfer", lambda: _tx(USDT, _token_call("transfer", THIEF, 10**6)), "none of the functions"),
    ("an approval of another spender", lambda: _tx(USDT, _token_call("approve", THIEF, 2**256 - 1)),
     "approve a router"),
    ("a call to another contract", lambda: _tx(THIEF, _v2_swap(THIEF)), f"not to {THIEF}"),
    ("ether sent to the router", lambda: _tx(ROUTER, "0x", value=1), "no ether"),
    ("another chain's transaction", lambda: _tx(ROUTER, "0x", chainId=1), "chain 42161 only"),
    ("not a router function", lambda: _tx(ROUTER, "0xdeadbeef"), "none of the functions"),
])
def test_refuses_anything_that_could_send_the_funds_elsewhere(signer: WalletSigner, what: str, tx: Any,
                                                              words: str) -> None:
    with pytest.raises(SigningRefused, match=words):
        signer.sign(tx())


def test_before_the_market_is_known_nothing_is_signed() -> None:
    bare = WalletSigner(key_account(KEY), CHAIN)
    with pytest.raises(SigningRefused):
        bare.sign(_tx(ROUTER, _v2_swap(bare.address)))


@pytest.mark.parametrize(("key", "words"), [
    ("0x1234", "64 hex digits"), ("zz" * 32, "not all hex"), ("0" * 64, "not a valid secp256k1"),
    ("f" * 64, "not a valid secp256k1"), ("", "64 hex digits"),
])
def test_a_wallet_key_is_32_bytes_of_a_valid_key(key: str, words: str) -> None:
    with pytest.raises(BadWalletKey, match=words) as refused:
        key_account(key)
    assert key.removeprefix("0x") not in str(refused.value) or not key


def test_the_key_is_never_in_its_repr() -> None:
    s = WalletSigner(key_account(KEY), CHAIN)
    assert KEY.removeprefix("0x") not in repr(s) and s.address in repr(s)
    assert key_account(KEY.removeprefix("0x")).address == Account.from_key(KEY).address
