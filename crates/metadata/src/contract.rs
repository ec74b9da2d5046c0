//! Meta contracts: Marine services run on our wasmi runtime, one fresh instance per call, under
//! fuel and memory limits, in the deterministic environment (clock = the transaction's
//! timestamp, randomness seeded from its hash), so that a browser replaying a transaction gets
//! the node's result bit for bit.

use lineage_marine::{CompiledModules, Limits, Service, ServiceConfig};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::types::{MetaContract, MetaContractResult, Metadata, Transaction};

/// Why a meta contract gave no usable result. Each becomes a failed receipt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    #[error("meta contract module does not load: {0}")]
    Load(String),
    #[error("meta contract module does not export {0}")]
    MissingExport(&'static str),
    #[error("meta contract failed: {0}")]
    Call(String),
    #[error("meta contract returned garbage: {0}")]
    Garbage(String),
}

/// Default limits of one meta-contract call: 50 M fuel (tens of milliseconds of interpretation),
/// 64 MiB of linear memory, 8 MiB module, values up to 4 MiB.
pub fn default_limits() -> Limits {
    Limits {
        fuel_per_call: 50_000_000,
        init_fuel: 20_000_000,
        memory_bytes: 64 * 1024 * 1024,
        max_module_bytes: 8 * 1024 * 1024,
        max_value_bytes: 4 * 1024 * 1024,
        ..Limits::default()
    }
}

/// The deterministic seed of a transaction's contract run: `sha256("lineage-mc-seed" ‖ hash)`.
pub fn seed_of(tx_hash: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"lineage-mc-seed");
    h.update(tx_hash.as_bytes());
    h.finalize().into()
}

fn config(limits: &Limits, clock_ms: u64, seed: [u8; 32]) -> ServiceConfig {
    ServiceConfig::default()
        .limits(limits.clone())
        .deterministic(clock_ms.saturating_mul(1_000_000), seed)
}

fn load(
    wasm: &[u8],
    limits: &Limits,
    clock_ms: u64,
    seed: [u8; 32],
) -> Result<Service, ContractError> {
    Service::load([("meta_contract", wasm)], config(limits, clock_ms, seed))
        .map_err(|e| ContractError::Load(e.to_string()))
}

/// A meta contract's module parsed and validated once, for running it on many transactions
/// (a verifier replaying a history): each [`on_execute_compiled`] still gets a fresh instance.
///
/// # Errors
/// [`ContractError::Load`]: not valid Wasm, or over the limits' module size.
pub fn compile(wasm: &[u8], limits: &Limits) -> Result<CompiledModules, ContractError> {
    CompiledModules::compile([("meta_contract", wasm)], limits)
        .map_err(|e| ContractError::Load(e.to_string()))
}

/// Checks that `wasm` is a Marine service exporting `on_execute` (what `put_module` accepts).
///
/// # Errors
/// [`ContractError::Load`] or [`ContractError::MissingExport`].
pub fn check_module(wasm: &[u8], limits: &Limits) -> Result<(), ContractError> {
    let s = load(wasm, limits, 0, [0; 32])?;
    if s.interface()
        .functions
        .iter()
        .any(|f| f.name == "on_execute")
    {
        Ok(())
    } else {
        Err(ContractError::MissingExport("on_execute"))
    }
}

fn metadata_json(m: &Metadata) -> serde_json::Value {
    json!({
        "hash": m.hash, "token_key": m.token_key, "data_key": m.data_key,
        "meta_contract_id": m.meta_contract_id, "token_id": m.token_id, "alias": m.alias,
        "cid": m.cid, "public_key": m.public_key, "version": m.version, "loose": m.loose,
    })
}

fn transaction_json(t: &Transaction) -> serde_json::Value {
    json!({
        "hash": t.hash, "method": t.method, "meta_contract_id": t.meta_contract_id,
        "data_key": t.data_key, "token_key": t.token_key, "data": t.data,
        "public_key": t.public_key, "alias": t.alias, "timestamp": t.timestamp,
        "chain_id": t.chain_id, "token_address": t.token_address, "token_id": t.token_id,
        "version": t.version, "status": t.status, "mcdata": t.mcdata,
    })
}

/// Runs `on_execute(contract, metadatas, transaction)` on a fresh instance of `wasm`.
///
/// # Errors
/// [`ContractError`]: the module does not load, the call traps or runs out of fuel or memory, or
/// the result is not a `MetaContractResult`.
pub fn on_execute(
    wasm: &[u8],
    limits: &Limits,
    contract: &MetaContract,
    metadatas: &[Metadata],
    tx: &Transaction,
) -> Result<MetaContractResult, ContractError> {
    // Through `compile` (eager translation): every path charges the same fuel.
    on_execute_compiled(&compile(wasm, limits)?, limits, contract, metadatas, tx)
}

/// [`on_execute`] on a fresh instance of a module compiled once with [`compile`]: the same
/// result and fuel, without parsing and translating the module again.
///
/// # Errors
/// As [`on_execute`].
pub fn on_execute_compiled(
    compiled: &CompiledModules,
    limits: &Limits,
    contract: &MetaContract,
    metadatas: &[Metadata],
    tx: &Transaction,
) -> Result<MetaContractResult, ContractError> {
    let service = Service::instantiate(compiled, config(limits, tx.timestamp, seed_of(&tx.hash)))
        .map_err(|e| ContractError::Load(e.to_string()))?;
    execute(service, contract, metadatas, tx)
}

fn execute(
    mut service: Service,
    contract: &MetaContract,
    metadatas: &[Metadata],
    tx: &Transaction,
) -> Result<MetaContractResult, ContractError> {
    let args = json!([
        {
            "hash": contract.hash, "token_key": contract.token_key,
            "meta_contract_id": contract.meta_contract_id, "public_key": contract.public_key,
            "cid": contract.cid,
        },
        metadatas.iter().map(metadata_json).collect::<Vec<_>>(),
        transaction_json(tx),
    ]);
    let out = service
        .call_json("on_execute", &args)
        .map_err(|e| ContractError::Call(e.to_string()))?;
    // The instance (and all its memory) is dropped here, whatever happened.
    serde_json::from_value(out).map_err(|e| ContractError::Garbage(e.to_string()))
}
