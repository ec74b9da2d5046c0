//! The signing vectors of docs/metadata-signing.md: if this test changes, so must the document
//! (and every client that signs). `VECTORS=1 cargo test -p lineage-metadata --test vectors --
//! --nocapture` prints them.

use lineage_metadata::sign::{self, Intent};
use lineage_metadata::TransactionRequest;

fn request() -> TransactionRequest {
    TransactionRequest {
        meta_contract_id: "open".into(),
        method: "metadata".into(),
        chain_id: "80001".into(),
        token_address: "0x0692f233614802D06e86CBDE6b5D090A9F5d3c10".into(),
        token_id: "1".into(),
        alias: "".into(),
        version: "v1".into(),
        mcdata: "".into(),
        data: r#"{"name":"Ada"}"#.into(),
        prev: "".into(),
        timestamp: 1_700_000_000_000,
        ..Default::default()
    }
}

#[test]
fn vectors() {
    let mut ed = request();
    let key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
    sign::sign_ed25519(&mut ed, &key);
    let canonical = hex::encode(sign::canonical_bytes(&Intent::of(&ed)));
    let ed_hash = sign::transaction_hash(&ed);

    let evm_digest = hex::encode(sign::eip712_signing_hash(&Intent::of(&request())));
    let sk = k256::ecdsa::SigningKey::from_bytes(&[3u8; 32].into()).unwrap();
    let (sig, rec) = sk
        .sign_prehash_recoverable(&sign::eip712_signing_hash(&Intent::of(&request())))
        .unwrap();
    let mut raw = sig.to_bytes().to_vec();
    raw.push(27 + rec.to_byte());
    let point = sk.verifying_key().to_encoded_point(false);
    let addr = alloy_primitives::Address::from_raw_public_key(&point.as_bytes()[1..]);
    let mut evm = request();
    evm.public_key = addr.to_checksum(None);
    evm.signature = format!("0x{}", hex::encode(&raw));
    assert!(sign::verify_strong(&evm).is_ok());
    // The node hashes the lower-cased address.
    let mut evm_lower = evm.clone();
    evm_lower.public_key = evm.public_key.to_lowercase();
    let evm_hash = sign::transaction_hash(&evm_lower);

    if std::env::var_os("VECTORS").is_some() {
        println!("ed25519 public_key: {}", ed.public_key);
        println!("canonical bytes:    {canonical}");
        println!("ed25519 signature:  {}", ed.signature);
        println!("ed25519 tx hash:    {ed_hash}");
        println!("eip712 digest:      0x{evm_digest}");
        println!("evm address:        {}", evm.public_key);
        println!("evm signature:      {}", evm.signature);
        println!("evm tx hash:        {evm_hash}");
    }
    assert_eq!(canonical, CANONICAL);
    assert_eq!(ed.public_key, ED_PK);
    assert_eq!(ed.signature, ED_SIG);
    assert_eq!(ed_hash, ED_HASH);
    assert_eq!(format!("0x{evm_digest}"), EIP712_DIGEST);
    assert_eq!(evm.public_key, EVM_ADDRESS);
    assert_eq!(evm_hash, EVM_HASH);
}

const CANONICAL: &str = "0000000d6c696e656167652d74782d7631000000086d65746164617461000000046f70656e0000000538303030310000002a307830363932663233333631343830324430366538364342444536623544303930413946356433633130000000013100000000000000027631000000000000000e7b226e616d65223a22416461227d000000000000018bcfe56800";
const ED_PK: &str = "AKnL4NNf3DGWZJS6cPknBuEGnVsV4A4m5tgebLHaRSZ9";
const ED_SIG: &str =
    "pcrjE4vDZD9gbujSKqBc6mTHMugrD57dN9SRLwrNJAdp7gRoTmm26jZuU19ydw8Wm4Kh2Lb2eQVoBfcUKW5YCUj";
const ED_HASH: &str = "ATCYN2nNJvuqcR3KgsckQ4nrBma2ncQEinuEnvPgqP43";
const EIP712_DIGEST: &str = "0x871be0a2ec079d61f1c6043b1d50df8f86a615a63395c84cfbfc8a391a273b60";
const EVM_ADDRESS: &str = "0x3325a78425F17a7E487Eb5666b2bFd93aBb06c70";
const EVM_HASH: &str = "GWsnDqJDLh1XYwgjSYYMwwoREKXmx2h7bxWU5XJAuNDr";
