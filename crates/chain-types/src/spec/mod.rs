//! Chain specifications: [`ChainSpec`] holds a chain's identity (name, chain id, network id, sealed genesis
//! header), its full fork schedule ([`Fork`]: block forks, the merge by terminal total difficulty, timestamp forks
//! through Osaka, the BPO forks and Amsterdam) and its blob schedule ([`BlobParams`] per fork).
//!
//! Sub-modules: `bootnodes` has the built-in chains' bootnodes and DNS node lists; `forks` names the forks; `blob` has the blob gas formulas; `genesis` reads a geth `genesis.json`
//! (computing the genesis state root); `builtins` has mainnet, sepolia and hoodi; `validate` checks a header
//! against its parent under the fork rules ([`ChainSpec::validate_header`]).
//!
//! A spec computes its EIP-2124 / EIP-6122 fork ids the way geth v1.17.10 does: every block-numbered fork (the
//! DAO fork and the merge netsplit block included, the merge itself not) and every timestamp fork after the
//! genesis timestamp.

pub(crate) mod blob;
mod bootnodes;
mod builtins;
pub(crate) mod forks;
mod genesis;
mod validate;

use std::collections::BTreeMap;

use primitive_types::{H160, H256, U256};

pub use blob::{
    BLOB_BASE_COST, BlobParams, GAS_PER_BLOB, MIN_BASE_FEE_PER_BLOB_GAS, blob_base_fee,
    fake_exponential, next_excess_blob_gas,
};
pub use bootnodes::{ETHDISCO_KEY, HOODI_BOOTNODES, MAINNET_BOOTNODES, SEPOLIA_BOOTNODES};
pub use builtins::{HOODI_GENESIS_HASH, MAINNET_GENESIS_HASH, SEPOLIA_GENESIS_HASH};
pub use forks::{Fork, ForkKind};
pub use genesis::MAX_GENESIS_BYTES;
pub use validate::{
    BASE_FEE_MAX_CHANGE_DENOMINATOR, ELASTICITY_MULTIPLIER, GAS_LIMIT_BOUND_DIVISOR,
    INITIAL_BASE_FEE, MAX_EXTRA_DATA_BYTES, MAX_GAS_LIMIT, MIN_GAS_LIMIT, next_base_fee,
};

use crate::forkid::{ForkFilter, ForkId};
use crate::{Error, SealedHeader};

/// A chain specification: identity, genesis, fork schedule and blob schedule.
///
/// Built in for mainnet, sepolia and hoodi ([`ChainSpec::mainnet`], [`ChainSpec::by_name`]) or read from a geth
/// `genesis.json` ([`ChainSpec::from_geth_genesis_json`]).
///
/// # Examples
///
/// ```
/// use chain_types::{ChainSpec, Fork, ForkHash};
///
/// let mainnet = ChainSpec::mainnet();
/// // Mainnet after Prague and before Osaka (EIP-2124 / EIP-6122).
/// let prague = mainnet.fork_id_at(22_500_000, 1_750_000_000);
/// assert_eq!(prague.hash, ForkHash::from(0xc376_cf8b));
/// assert_eq!(prague.next, mainnet.activation(Fork::Osaka).unwrap());
/// assert!(mainnet.is_active(Fork::London, 12_965_000, 0));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSpec {
    /// A short name (`"mainnet"`, or the `chainName` of a genesis file, or `"custom"`).
    pub name: String,
    /// The EIP-155 chain id.
    pub chain_id: u64,
    /// The devp2p network id announced in the eth Status message.
    pub network_id: u64,
    /// The genesis header with its hash.
    pub genesis: SealedHeader,
    /// The activation of every scheduled fork except [`Fork::Paris`]: a block number or a timestamp, as
    /// [`Fork::kind`] says. Unscheduled forks are absent.
    pub forks: BTreeMap<Fork, u64>,
    /// The terminal total difficulty of the merge (EIP-3675); `None` if the chain never merges.
    pub terminal_total_difficulty: Option<U256>,
    /// The first post-merge block, when known (a fact about a chain's history that geth's genesis format does not
    /// carry; 0 when the chain starts merged).
    pub merge_block: Option<u64>,
    /// The blob parameters from each fork that sets them (Cancun, Prague, BPO1-BPO5).
    pub blob_schedule: BTreeMap<Fork, BlobParams>,
    /// Whether the chain took the DAO fork's irregular state change (geth's `daoForkSupport`).
    pub dao_fork_support: bool,
    /// The EIP-6110 deposit contract, if any.
    pub deposit_contract: Option<H160>,
    /// The bootnodes: `enode://<node id>@<ip>:<port>` URLs or `enr:` node records (EIP-778 text form), as
    /// geth v1.17.10 lists them for the built-in chains; empty for a genesis file.
    pub bootnodes: Vec<String>,
    /// The EIP-1459 DNS node lists (`enrtree://<key>@<domain>`): `ethdisco.net`'s `all` tree for the built-in
    /// chains, as geth v1.17.10 uses; empty for a genesis file.
    pub dns_networks: Vec<String>,
}

impl ChainSpec {
    /// The built-in spec with `name`: `"mainnet"`, `"sepolia"` or `"hoodi"` (ASCII case ignored).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownChain`] for any other name.
    pub fn by_name(name: &str) -> Result<Self, Error> {
        match name.to_ascii_lowercase().as_str() {
            "mainnet" => Ok(Self::mainnet()),
            "sepolia" => Ok(Self::sepolia()),
            "hoodi" => Ok(Self::hoodi()),
            _ => Err(Error::UnknownChain(name.to_owned())),
        }
    }

    /// The genesis block hash.
    pub const fn genesis_hash(&self) -> H256 {
        self.genesis.hash()
    }

    /// The activation of `fork`, a block number or timestamp ([`Fork::kind`]); `None` if it is not scheduled. For
    /// [`Fork::Paris`] this is [`ChainSpec::merge_block`].
    pub fn activation(&self, fork: Fork) -> Option<u64> {
        if fork == Fork::Paris {
            return self.merge_block;
        }
        self.forks.get(&fork).copied()
    }

    /// Whether `fork` is active for a block with `number` and timestamp `time`. For [`Fork::Paris`] this is
    /// [`ChainSpec::is_post_merge`].
    pub fn is_active(&self, fork: Fork, number: u64, time: u64) -> bool {
        match fork.kind() {
            ForkKind::TotalDifficulty => self.is_post_merge(number, time),
            ForkKind::Block => self.forks.get(&fork).is_some_and(|b| *b <= number),
            ForkKind::Timestamp => self.forks.get(&fork).is_some_and(|t| *t <= time),
        }
    }

    /// Whether a block with `number` and timestamp `time` is known from the schedule alone to be after the merge:
    /// the terminal total difficulty is zero, or the block is at or after the known merge block or the merge
    /// netsplit block, or Shanghai (which requires the merge) is active.
    ///
    /// A block between the terminal block and these markers is post-merge only by total difficulty; see
    /// [`ChainSpec::is_terminal_total_difficulty_reached`].
    pub fn is_post_merge(&self, number: u64, time: u64) -> bool {
        let Some(ttd) = self.terminal_total_difficulty else {
            return false;
        };
        ttd.is_zero()
            || self.merge_block.is_some_and(|b| b <= number)
            || self.is_active(Fork::MergeNetsplit, number, time)
            || self.is_active(Fork::Shanghai, number, time)
    }

    /// Whether the total difficulty `td` has reached the terminal total difficulty (false if the chain never
    /// merges).
    pub fn is_terminal_total_difficulty_reached(&self, td: U256) -> bool {
        self.terminal_total_difficulty.is_some_and(|ttd| td >= ttd)
    }

    /// The latest fork active at (`number`, `time`), `None` before Homestead on a chain that starts at Frontier.
    pub fn fork_at(&self, number: u64, time: u64) -> Option<Fork> {
        Fork::ALL
            .iter()
            .rev()
            .copied()
            .find(|f| self.is_active(*f, number, time))
    }

    /// The blob parameters in force at timestamp `time`: those of the latest active fork among BPO5..BPO1,
    /// Prague and Cancun that has an entry in the blob schedule (Osaka and Amsterdam inherit, as in geth).
    /// `None` before Cancun.
    pub fn blob_params_at(&self, time: u64) -> Option<BlobParams> {
        self.blob_schedule
            .iter()
            .rev()
            .find(|(fork, _)| self.forks.get(fork).is_some_and(|t| *t <= time))
            .map(|(_, p)| *p)
    }

    /// The fork activations that make up the fork id: block numbers of every block-numbered fork, and every
    /// timestamp fork after the genesis timestamp.
    pub fn fork_id_activations(&self) -> (Vec<u64>, Vec<u64>) {
        let genesis_time = self.genesis.timestamp;
        let mut blocks = Vec::new();
        let mut times = Vec::new();
        for (fork, at) in &self.forks {
            match fork.kind() {
                ForkKind::Block => blocks.push(*at),
                ForkKind::Timestamp if *at > genesis_time => times.push(*at),
                _ => {}
            }
        }
        (blocks, times)
    }

    /// A [`ForkFilter`] for this chain with its head at genesis (move it with [`ForkFilter::set_head`]).
    pub fn fork_filter(&self) -> ForkFilter {
        self.fork_filter_at(0, self.genesis.timestamp)
    }

    /// A [`ForkFilter`] for this chain with its head at (`number`, `time`).
    pub fn fork_filter_at(&self, number: u64, time: u64) -> ForkFilter {
        let (blocks, times) = self.fork_id_activations();
        ForkFilter::new(self.genesis_hash(), blocks, times, number, time)
    }

    /// The fork id of this chain at a head with `number` and timestamp `time`.
    pub fn fork_id_at(&self, number: u64, time: u64) -> ForkId {
        self.fork_filter_at(number, time).current()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_name_knows_the_builtins_and_rejects_others() {
        for name in ["mainnet", "Sepolia", "HOODI"] {
            let spec = ChainSpec::by_name(name).unwrap();
            assert_eq!(spec.name, name.to_ascii_lowercase());
        }
        assert!(matches!(
            ChainSpec::by_name("goerli"),
            Err(Error::UnknownChain(_))
        ));
    }

    #[test]
    fn blob_params_follow_the_schedule() {
        let m = ChainSpec::mainnet();
        let at = |f| m.activation(f).unwrap();
        assert_eq!(m.blob_params_at(at(Fork::Cancun) - 1), None);
        assert_eq!(m.blob_params_at(at(Fork::Cancun)), Some(BlobParams::CANCUN));
        assert_eq!(m.blob_params_at(at(Fork::Prague)), Some(BlobParams::PRAGUE));
        // Osaka has no entry of its own: Prague's parameters stay until BPO1.
        assert_eq!(m.blob_params_at(at(Fork::Osaka)), Some(BlobParams::PRAGUE));
        assert_eq!(m.blob_params_at(at(Fork::Bpo1)), Some(BlobParams::BPO1));
        assert_eq!(m.blob_params_at(u64::MAX), Some(BlobParams::BPO2));
    }

    #[test]
    fn builtins_carry_their_entry_points() {
        for (spec, boot) in [
            (ChainSpec::mainnet(), MAINNET_BOOTNODES),
            (ChainSpec::sepolia(), SEPOLIA_BOOTNODES),
            (ChainSpec::hoodi(), HOODI_BOOTNODES),
        ] {
            assert_eq!(spec.bootnodes, boot);
            assert_eq!(
                spec.dns_networks,
                [format!(
                    "enrtree://{ETHDISCO_KEY}@all.{}.ethdisco.net",
                    spec.name
                )]
            );
        }
    }

    #[test]
    fn merge_status_from_the_schedule() {
        let m = ChainSpec::mainnet();
        assert!(!m.is_post_merge(15_537_393, 0));
        assert!(m.is_post_merge(15_537_394, 0));
        assert!(m.is_active(Fork::Paris, 15_537_394, 0));
        assert!(m.is_terminal_total_difficulty_reached(U256::from(10u8).pow(U256::from(23u8))));
        assert!(ChainSpec::hoodi().is_post_merge(0, 0));
        assert_eq!(m.fork_at(0, 0), None);
        assert_eq!(m.fork_at(12_965_000, 0), Some(Fork::London));
        assert_eq!(m.fork_at(20_000_000, u64::MAX), Some(Fork::Bpo2));
    }
}
