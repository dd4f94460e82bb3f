"""Solana's JSON-RPC over the bank: the methods a trading client uses, in the real wire format.

Answers are solders' RPC response types serialised by solders (the same types solana-py
parses), so the encodings (base58 keys and signatures, base64 account data and transactions,
`{"Ok": null}` statuses, error objects) are the library's, not hand-written. Errors carry the
validator's codes: -32002 preflight failure, -32003 signature verification failure, -32602
invalid params, -32601 unknown method.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable
from typing import Any

from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.rpc.errors import SendTransactionPreflightFailureMessage
from solders.rpc.responses import (
    GetAccountInfoResp,
    GetBalanceResp,
    GetBlockHeightResp,
    GetLatestBlockhashResp,
    GetMinimumBalanceForRentExemptionResp,
    GetSignatureStatusesResp,
    GetSlotResp,
    GetTokenAccountBalanceResp,
    GetTransactionResp,
    GetVersionResp,
    IsBlockhashValidResp,
    RpcBlockhash,
    RpcResponseContext,
    RpcSimulateTransactionResult,
    RpcVersionInfo,
    SendTransactionResp,
    SimulateTransactionResp,
)
from solders.signature import Signature
from solders.transaction import Legacy, VersionedTransaction
from solders.transaction_status import (
    EncodedConfirmedTransactionWithStatusMeta,
    EncodedTransactionWithStatusMeta,
    TransactionErrorFieldless,
    TransactionErrorInstructionError,
    TransactionErrorType,
    UiTransactionStatusMeta,
)

from .bank import COMMITMENTS, Bank, Commitment, Execution, TxRefused

#: the Agave release whose RPC this follows
VERSION = "2.2.0"


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def describe(err: TransactionErrorType) -> str:
    """A transaction error in the validator's words (the message of a preflight failure)."""
    if isinstance(err, TransactionErrorInstructionError):
        inner = err.err
        detail = f"custom program error: {int(inner.code):#x}" if hasattr(inner, "code") else str(inner).split(".")[-1]
        return f"Error processing Instruction {err.index}: {detail}"
    if err == TransactionErrorFieldless.BlockhashNotFound:
        return "Blockhash not found"
    if err == TransactionErrorFieldless.AlreadyProcessed:
        return "This transaction has already been processed"
    return str(err).split(".")[-1]


def _invalid(message: str) -> RpcError:
    return RpcError(-32602, message)


def _param(params: list[Any], i: int, default: Any = None) -> Any:
    return params[i] if len(params) > i else default


def _config(params: list[Any], i: int) -> dict[str, Any]:
    config = _param(params, i, {}) or {}
    if not isinstance(config, dict):
        raise _invalid(f"Invalid params: configuration must be an object, got {config!r}")
    return config


def _commitment(config: dict[str, Any], default: Commitment = "finalized") -> Commitment:
    value = config.get("commitment", default)
    for level in COMMITMENTS:
        if value == level:
            return level
    raise _invalid(f"Invalid params: unknown commitment {value!r}")


def _pubkey(text: Any) -> Pubkey:
    try:
        return Pubkey.from_string(str(text))
    except ValueError:
        raise _invalid(f"Invalid param: {text!r} is not a base58 public key") from None


def _signature(text: Any) -> Signature:
    try:
        return Signature.from_string(str(text))
    except ValueError:
        raise _invalid(f"Invalid param: {text!r} is not a base58 signature") from None


def _transaction(params: list[Any], config: dict[str, Any]) -> VersionedTransaction:
    # base58, the deprecated default, is refused: clients (solana-py, web3.js) send base64
    if config.get("encoding", "base58") != "base64":
        raise _invalid("Invalid params: this node takes transactions in base64 encoding only")
    raw = _param(params, 0)
    if not isinstance(raw, str):
        raise _invalid("Invalid params: the transaction must be an encoded string")
    try:
        return VersionedTransaction.from_bytes(base64.b64decode(raw, validate=True))
    except ValueError as exc:
        raise _invalid(f"Invalid params: failed to deserialize the transaction: {exc}") from None


def _simulation(execution: Execution) -> RpcSimulateTransactionResult:
    return RpcSimulateTransactionResult(err=execution.err, logs=execution.logs, units_consumed=execution.units,
                                        fee=execution.fee, pre_balances=execution.pre_balances,
                                        post_balances=execution.post_balances,
                                        pre_token_balances=execution.pre_token,
                                        post_token_balances=execution.post_token)


class SolanaRpc:
    def __init__(self, bank: Bank, drop_transactions: int = 0) -> None:
        self.bank = bank
        #: the first `drop_transactions` transactions sent are lost on the way to the leader, every
        #: resend of them too (as under congestion): they never land and their blockhash expires
        self._drops_left = drop_transactions
        self.dropped: set[Signature] = set()
        self.methods: dict[str, Callable[[list[Any]], Any]] = {
            "getLatestBlockhash": self.get_latest_blockhash, "getBlockHeight": self.get_block_height,
            "getSlot": self.get_slot, "isBlockhashValid": self.is_blockhash_valid,
            "sendTransaction": self.send_transaction, "simulateTransaction": self.simulate_transaction,
            "getSignatureStatuses": self.get_signature_statuses, "getTransaction": self.get_transaction,
            "getBalance": self.get_balance, "getTokenAccountBalance": self.get_token_account_balance,
            "getAccountInfo": self.get_account_info,
            "getMinimumBalanceForRentExemption": self.get_minimum_balance_for_rent_exemption,
            "getHealth": lambda _params: "ok", "getVersion": self.get_version,
        }

    # -- the envelope -----------------------------------------------------------------------

    def handle(self, body: bytes) -> Any:
        """A JSON-RPC 2.0 request or batch -> the answer to send back (a dict or a list)."""
        try:
            request = json.loads(body)
        except ValueError:
            return {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None}
        if isinstance(request, list):
            return [self.one(r) for r in request]
        return self.one(request)

    def one(self, request: Any) -> dict[str, Any]:
        rid = request.get("id") if isinstance(request, dict) else None
        try:
            if not isinstance(request, dict) or request.get("jsonrpc") != "2.0" or "method" not in request:
                raise RpcError(-32600, "Invalid request")
            handler = self.methods.get(str(request["method"]))
            if handler is None:
                raise RpcError(-32601, "Method not found")
            params = request.get("params") or []
            if not isinstance(params, list):
                raise _invalid("Invalid params: params must be an array")
            answer = handler(params)
            result = json.loads(answer.to_json())["result"] if hasattr(answer, "to_json") else answer
            return {"jsonrpc": "2.0", "result": result, "id": rid}
        except RpcError as exc:
            return {"jsonrpc": "2.0", "error": exc.body(), "id": rid}

    def _context(self, commitment: Commitment = "processed") -> RpcResponseContext:
        return RpcResponseContext(self.bank.height(commitment))

    # -- methods ----------------------------------------------------------------------------

    def get_latest_blockhash(self, params: list[Any]) -> GetLatestBlockhashResp:
        commitment = _commitment(_config(params, 0))
        blockhash, last_valid = self.bank.blockhash(commitment)
        return GetLatestBlockhashResp(RpcBlockhash(blockhash, last_valid), self._context(commitment))

    def get_block_height(self, params: list[Any]) -> GetBlockHeightResp:
        return GetBlockHeightResp(self.bank.height(_commitment(_config(params, 0))))

    def get_slot(self, params: list[Any]) -> GetSlotResp:
        return GetSlotResp(self.bank.height(_commitment(_config(params, 0))))

    def is_blockhash_valid(self, params: list[Any]) -> IsBlockhashValidResp:
        try:
            blockhash = Hash.from_string(str(_param(params, 0)))
        except ValueError:
            raise _invalid(f"Invalid param: {_param(params, 0)!r} is not a base58 hash") from None
        last = self.bank.last_valid_height(blockhash)
        # solders' stubs omit the context these responses' constructors take (and need)
        return IsBlockhashValidResp(last is not None and self.bank.slot <= last, self._context())  # type: ignore[call-arg]

    def _verify(self, tx: VersionedTransaction) -> None:
        if not all(tx.verify_with_results()):
            raise RpcError(-32003, "Transaction signature verification failure")

    def send_transaction(self, params: list[Any]) -> SendTransactionResp:
        config = _config(params, 1)
        tx = _transaction(params, config)
        if not config.get("skipPreflight", False):
            self._verify(tx)
            try:
                execution = self.bank.simulate(tx)
            except TxRefused as exc:
                execution = Execution(exc.err, 0, exc.logs, 0)
            if execution.err is None and tx.signatures[0] in self.bank.landed:
                execution.err = TransactionErrorFieldless.AlreadyProcessed
            if execution.err is not None:
                failure = SendTransactionPreflightFailureMessage(
                    f"Transaction simulation failed: {describe(execution.err)}",
                    RpcSimulateTransactionResult(err=execution.err, logs=execution.logs,
                                                 units_consumed=execution.units))
                raise RpcError(-32002, failure.message, json.loads(failure.to_json())["data"])
        signature = tx.signatures[0]
        if self._drops_left and signature not in self.bank.landed:
            self._drops_left -= 1
            self.dropped.add(signature)
        if signature not in self.dropped:
            with contextlib.suppress(TxRefused):  # dropped: the client learns it never landed from its status
                self.bank.send(tx)
        return SendTransactionResp(signature)

    def simulate_transaction(self, params: list[Any]) -> SimulateTransactionResp:
        config = _config(params, 1)
        tx = _transaction(params, config)
        if config.get("sigVerify", False):
            self._verify(tx)
        try:
            execution = self.bank.simulate(tx)
        except TxRefused as exc:
            execution = Execution(exc.err, 0, exc.logs, 0)
        return SimulateTransactionResp(_simulation(execution), self._context())  # type: ignore[call-arg]

    def get_signature_statuses(self, params: list[Any]) -> GetSignatureStatusesResp:
        signatures = _param(params, 0)
        if not isinstance(signatures, list) or len(signatures) > 256:
            raise _invalid("Invalid params: expected a list of at most 256 signatures")
        return GetSignatureStatusesResp([self.bank.status(_signature(s)) for s in signatures], self._context())

    def get_transaction(self, params: list[Any]) -> GetTransactionResp:
        signature = _signature(_param(params, 0))
        config = _config(params, 1)
        if config.get("encoding", "json") != "base64":
            raise _invalid("Invalid params: this node serves getTransaction in base64 encoding only")
        commitment = _commitment(config)
        if commitment == "processed":
            raise _invalid("Method does not support commitment below `confirmed`")
        landed = self.bank.transaction(signature, commitment)
        if landed is None:
            return GetTransactionResp(None)
        e = landed.execution
        meta = UiTransactionStatusMeta(e.err, e.fee, e.pre_balances, e.post_balances, [], e.logs, e.pre_token,
                                       e.post_token, [], compute_units_consumed=e.units)
        encoded = EncodedTransactionWithStatusMeta(landed.tx, meta, Legacy.Legacy)
        return GetTransactionResp(EncodedConfirmedTransactionWithStatusMeta(landed.slot, encoded, landed.block_time))

    def get_balance(self, params: list[Any]) -> GetBalanceResp:
        commitment = _commitment(_config(params, 1))
        return GetBalanceResp(self.bank.lamports(_pubkey(_param(params, 0))), self._context(commitment))

    def get_token_account_balance(self, params: list[Any]) -> GetTokenAccountBalanceResp:
        commitment = _commitment(_config(params, 1))
        amount = self.bank.token_amount(_pubkey(_param(params, 0)))
        if amount is None:
            raise _invalid("Invalid param: not a Token account")
        return GetTokenAccountBalanceResp(amount, self._context(commitment))

    def get_account_info(self, params: list[Any]) -> GetAccountInfoResp:
        config = _config(params, 1)
        if config.get("encoding", "base64") != "base64":
            raise _invalid("Invalid params: this node serves accounts in base64 encoding only")
        account = self.bank.account(_pubkey(_param(params, 0)))
        return GetAccountInfoResp(account, self._context(_commitment(config)))

    def get_minimum_balance_for_rent_exemption(self, params: list[Any]) -> GetMinimumBalanceForRentExemptionResp:
        size = _param(params, 0)
        if not isinstance(size, int) or size < 0:
            raise _invalid(f"Invalid params: data length must be a non-negative integer, got {size!r}")
        return GetMinimumBalanceForRentExemptionResp(self.bank.svm.minimum_balance_for_rent_exemption(size))

    def get_version(self, _params: list[Any]) -> GetVersionResp:
        return GetVersionResp(RpcVersionInfo(VERSION, None))
