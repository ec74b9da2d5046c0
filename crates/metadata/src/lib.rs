//! Lineage NFT metadata, as the edge node serves it and a browser verifies it.
//!
//! - [`keys`]: `data_key` / `token_key` (Lineage-compatible).
//! - [`types`]: requests, transactions, records, meta contracts, receipts.
//! - [`sign`]: what a signature covers (strong EIP-712 / canonical Ed25519; legacy EIP-191).
//! - [`block`]: dag-cbor blocks and CIDs, identical on every node and in every browser.
//! - [`contract`]: meta contracts on the Marine runtime, deterministic and bounded.
//! - [`ledger`]: `publish` and the reads, over any [`store::Store`].
//! - [`verify`]: checking a history served by anyone.
//!
//! ```
//! use lineage_metadata::{data_key, sign, Ledger, LedgerConfig, TransactionRequest, store::MemStore};
//! let ledger = Ledger::new(MemStore::default(), LedgerConfig::default());
//! let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
//! let mut req = TransactionRequest {
//!     method: "metadata".into(), meta_contract_id: "none".into(), chain_id: "1".into(),
//!     token_address: "0xaa".into(), token_id: "1".into(), data: "{}".into(),
//!     timestamp: 1_000, ..Default::default()
//! };
//! sign::sign_ed25519(&mut req, &key);
//! // No such meta contract: refused, nothing stored.
//! let err = ledger.publish(&req, 1_000).unwrap_err();
//! assert_eq!(err.code(), "unknown_meta_contract");
//! assert!(ledger.get_transaction(&sign::transaction_hash(&req)).unwrap().is_none());
//! assert_eq!(data_key("1", "0xAA", "1"), data_key("1", "0xaa", "1"));
//! ```

pub mod block;
pub mod contract;
pub mod keys;
pub mod ledger;
pub mod sign;
pub mod store;
pub mod types;
pub mod verify;

pub use keys::{data_key, token_key};
pub use ledger::{Ledger, LedgerConfig, Ordering, PublishError, Query, Search};
pub use types::*;
