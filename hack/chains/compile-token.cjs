// Compiles runtime/venues/chain/contracts/Token.sol with solc-js into {abi, bytecode}.
// Usage: node compile-token.cjs NODE_MODULES_DIR SOURCE.sol OUT.json
"use strict";
const fs = require("fs");
const path = require("path");
const [modules, source, out] = process.argv.slice(2);
const solc = require(path.join(modules, "solc"));
const input = {
  language: "Solidity",
  sources: { "Token.sol": { content: fs.readFileSync(source, "utf8") } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { Token: ["abi", "evm.bytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  for (const e of errors) console.error(e.formattedMessage);
  process.exit(1);
}
const token = output.contracts["Token.sol"].Token;
const artifact = { abi: token.abi, bytecode: "0x" + token.evm.bytecode.object, compiler: "solc " + solc.version() };
fs.writeFileSync(out + ".tmp", JSON.stringify(artifact));
fs.renameSync(out + ".tmp", out);
