#!/usr/bin/env node
// Compile contracts/*.sol with the npm `solc` package (standard-JSON API) and write
// por/reserves/artifacts/<Name>.json (abi, bytecode, deployedBytecode, compiler settings,
// source SHA-256). The artifacts are committed: nothing is compiled or downloaded at run time.
//
//   node scripts/compile-contracts.mjs          # (re)write the artifacts
//   node scripts/compile-contracts.mjs --check  # exit 1 if a committed artifact is stale
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync, renameSync, mkdirSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const solc = require("solc");

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const srcDir = join(root, "contracts");
const outDir = join(root, "por", "reserves", "artifacts");
const check = process.argv.includes("--check");

// Cancun: supported by mainnet and Anvil; fixed so artifacts do not change with solc defaults.
const settings = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

const sources = {};
for (const file of readdirSync(srcDir).filter((f) => f.endsWith(".sol")).sort()) {
  sources[file] = { content: readFileSync(join(srcDir, file), "utf8") };
}
const output = JSON.parse(solc.compile(JSON.stringify({ language: "Solidity", sources, settings })));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) process.stderr.write(e.formattedMessage + "\n");
if (errors.length) process.exit(2);

mkdirSync(outDir, { recursive: true });
let stale = 0;
for (const [file, contracts] of Object.entries(output.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    const artifact = {
      contractName: name,
      sourceName: `contracts/${file}`,
      sourceSha256: createHash("sha256").update(sources[file].content).digest("hex"),
      compiler: { name: "solc", version: solc.version(), settings: { optimizer: settings.optimizer, evmVersion: settings.evmVersion } },
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
    };
    const text = JSON.stringify(artifact, null, 2) + "\n";
    const path = join(outDir, `${name}.json`);
    if (check) {
      if (!existsSync(path) || readFileSync(path, "utf8") !== text) {
        process.stderr.write(`stale artifact: ${path}\n`);
        stale += 1;
      }
      continue;
    }
    writeFileSync(path + ".tmp", text);
    renameSync(path + ".tmp", path);
    process.stdout.write(`wrote ${path}\n`);
  }
}
process.exit(stale ? 1 : 0);
