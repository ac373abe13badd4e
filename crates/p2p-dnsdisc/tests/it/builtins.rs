//! The chain specs' entry points, read with this crate: every DNS network is a valid link and every
//! `enr:` bootnode a validly signed record.

use chain_types::ChainSpec;
use p2p_dnsdisc::{Enr, Link};

#[test]
fn builtin_dns_networks_are_links_and_enr_bootnodes_are_signed_records() {
    for spec in [
        ChainSpec::mainnet(),
        ChainSpec::sepolia(),
        ChainSpec::hoodi(),
    ] {
        assert_eq!(spec.dns_networks.len(), 1);
        for url in &spec.dns_networks {
            let link: Link = url.parse().unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(link.domain(), format!("all.{}.ethdisco.net", spec.name));
            assert_eq!(&link.to_string(), url);
        }
        let records: Vec<Enr> = spec
            .bootnodes
            .iter()
            .filter(|b| b.starts_with("enr:"))
            .map(|b| b.parse().unwrap_or_else(|e| panic!("{b}: {e}")))
            .collect();
        assert!(!records.is_empty());
        assert!(records.iter().all(|r| r.verify() && r.ip4().is_some()));
    }
}
