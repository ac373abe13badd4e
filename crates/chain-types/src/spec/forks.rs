//! The hard forks of Ethereum as geth v1.17.10 schedules them: [`Fork`] names each one, says whether it activates
//! at a block number, a timestamp or the terminal total difficulty, and gives its key in a geth `genesis.json`.
//!
//! This module imports nothing else from the crate (the error type names forks).

/// How a fork is scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ForkKind {
    /// At a block number (forks before the merge, and the merge netsplit block).
    Block,
    /// When the chain's total difficulty reaches the terminal total difficulty (the merge, EIP-3675).
    TotalDifficulty,
    /// At a block timestamp (EIP-6122: every fork after the merge).
    Timestamp,
}

/// An Ethereum hard fork, in activation order (the derived order is the chronological one).
///
/// The variants follow the fields of geth's `params.ChainConfig`: geth schedules EIP-155 and EIP-158 (together
/// "Spurious Dragon") as two fields, and so does this type, because every field takes part in the fork id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Fork {
    /// Homestead (EIP-606).
    Homestead,
    /// The DAO fork (EIP-779).
    Dao,
    /// Tangerine Whistle (EIP-150, EIP-608).
    TangerineWhistle,
    /// Replay protection (EIP-155), the first half of Spurious Dragon (EIP-607).
    Eip155,
    /// Spurious Dragon (EIP-158 / EIP-161 state clearing, EIP-607).
    SpuriousDragon,
    /// Byzantium (EIP-609).
    Byzantium,
    /// Constantinople (EIP-1013).
    Constantinople,
    /// Petersburg (EIP-1716).
    Petersburg,
    /// Istanbul (EIP-1679).
    Istanbul,
    /// Muir Glacier (EIP-2387).
    MuirGlacier,
    /// Berlin (EIP-2070).
    Berlin,
    /// London (EIP-1559 base fee).
    London,
    /// Arrow Glacier (EIP-4345).
    ArrowGlacier,
    /// Gray Glacier (EIP-5133).
    GrayGlacier,
    /// Paris, the merge (EIP-3675): scheduled by terminal total difficulty.
    Paris,
    /// The merge netsplit block: a block-number fork after the merge that only separates the networks (fork id).
    MergeNetsplit,
    /// Shanghai (EIP-4895 withdrawals).
    Shanghai,
    /// Cancun (EIP-4844 blobs, EIP-4788 parent beacon root).
    Cancun,
    /// Prague (EIP-7685 requests, EIP-7691 more blobs).
    Prague,
    /// Osaka (EIP-7918 blob reserve price, among others).
    Osaka,
    /// Blob-parameter-only fork 1 (EIP-7892).
    Bpo1,
    /// Blob-parameter-only fork 2.
    Bpo2,
    /// Blob-parameter-only fork 3.
    Bpo3,
    /// Blob-parameter-only fork 4.
    Bpo4,
    /// Blob-parameter-only fork 5.
    Bpo5,
    /// Amsterdam (EIP-7928 block access list hash and EIP-7843 slot number in the header).
    Amsterdam,
    /// Bogota (scheduled in geth's config; it changes no header rule in geth v1.17.10, so its headers follow the
    /// rules of the forks before it).
    Bogota,
    /// The unified binary trie transition (geth's `ubtTime`; no header rules here, its headers are rejected).
    Ubt,
}

impl Fork {
    /// Every fork, in order.
    pub const ALL: &'static [Self] = &[
        Self::Homestead,
        Self::Dao,
        Self::TangerineWhistle,
        Self::Eip155,
        Self::SpuriousDragon,
        Self::Byzantium,
        Self::Constantinople,
        Self::Petersburg,
        Self::Istanbul,
        Self::MuirGlacier,
        Self::Berlin,
        Self::London,
        Self::ArrowGlacier,
        Self::GrayGlacier,
        Self::Paris,
        Self::MergeNetsplit,
        Self::Shanghai,
        Self::Cancun,
        Self::Prague,
        Self::Osaka,
        Self::Bpo1,
        Self::Bpo2,
        Self::Bpo3,
        Self::Bpo4,
        Self::Bpo5,
        Self::Amsterdam,
        Self::Bogota,
        Self::Ubt,
    ];

    /// How the fork is scheduled.
    pub const fn kind(self) -> ForkKind {
        match self {
            Self::Paris => ForkKind::TotalDifficulty,
            Self::Shanghai
            | Self::Cancun
            | Self::Prague
            | Self::Osaka
            | Self::Bpo1
            | Self::Bpo2
            | Self::Bpo3
            | Self::Bpo4
            | Self::Bpo5
            | Self::Amsterdam
            | Self::Bogota
            | Self::Ubt => ForkKind::Timestamp,
            _ => ForkKind::Block,
        }
    }

    /// The key of the fork's activation in the `config` object of a geth `genesis.json` (`terminalTotalDifficulty`
    /// for [`Fork::Paris`]).
    pub const fn geth_key(self) -> &'static str {
        match self {
            Self::Homestead => "homesteadBlock",
            Self::Dao => "daoForkBlock",
            Self::TangerineWhistle => "eip150Block",
            Self::Eip155 => "eip155Block",
            Self::SpuriousDragon => "eip158Block",
            Self::Byzantium => "byzantiumBlock",
            Self::Constantinople => "constantinopleBlock",
            Self::Petersburg => "petersburgBlock",
            Self::Istanbul => "istanbulBlock",
            Self::MuirGlacier => "muirGlacierBlock",
            Self::Berlin => "berlinBlock",
            Self::London => "londonBlock",
            Self::ArrowGlacier => "arrowGlacierBlock",
            Self::GrayGlacier => "grayGlacierBlock",
            Self::Paris => "terminalTotalDifficulty",
            Self::MergeNetsplit => "mergeNetsplitBlock",
            Self::Shanghai => "shanghaiTime",
            Self::Cancun => "cancunTime",
            Self::Prague => "pragueTime",
            Self::Osaka => "osakaTime",
            Self::Bpo1 => "bpo1Time",
            Self::Bpo2 => "bpo2Time",
            Self::Bpo3 => "bpo3Time",
            Self::Bpo4 => "bpo4Time",
            Self::Bpo5 => "bpo5Time",
            Self::Amsterdam => "amsterdamTime",
            Self::Bogota => "bogotaTime",
            Self::Ubt => "ubtTime",
        }
    }

    /// The key of the fork's entry in geth's `blobSchedule` object, for the forks that may have one (Cancun,
    /// Prague and the BPO forks; geth lets Osaka and later named forks inherit the latest entry).
    pub const fn blob_schedule_key(self) -> Option<&'static str> {
        match self {
            Self::Cancun => Some("cancun"),
            Self::Prague => Some("prague"),
            Self::Bpo1 => Some("bpo1"),
            Self::Bpo2 => Some("bpo2"),
            Self::Bpo3 => Some("bpo3"),
            Self::Bpo4 => Some("bpo4"),
            Self::Bpo5 => Some("bpo5"),
            _ => None,
        }
    }

    /// A lowercase name (`"london"`, `"bpo1"`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Homestead => "homestead",
            Self::Dao => "dao",
            Self::TangerineWhistle => "tangerine whistle",
            Self::Eip155 => "eip155",
            Self::SpuriousDragon => "spurious dragon",
            Self::Byzantium => "byzantium",
            Self::Constantinople => "constantinople",
            Self::Petersburg => "petersburg",
            Self::Istanbul => "istanbul",
            Self::MuirGlacier => "muir glacier",
            Self::Berlin => "berlin",
            Self::London => "london",
            Self::ArrowGlacier => "arrow glacier",
            Self::GrayGlacier => "gray glacier",
            Self::Paris => "paris",
            Self::MergeNetsplit => "merge netsplit",
            Self::Shanghai => "shanghai",
            Self::Cancun => "cancun",
            Self::Prague => "prague",
            Self::Osaka => "osaka",
            Self::Bpo1 => "bpo1",
            Self::Bpo2 => "bpo2",
            Self::Bpo3 => "bpo3",
            Self::Bpo4 => "bpo4",
            Self::Bpo5 => "bpo5",
            Self::Amsterdam => "amsterdam",
            Self::Bogota => "bogota",
            Self::Ubt => "ubt",
        }
    }
}

impl std::fmt::Display for Fork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_sorted_and_complete() {
        assert!(Fork::ALL.windows(2).all(|w| w[0] < w[1]));
        let keys: std::collections::HashSet<_> = Fork::ALL.iter().map(|f| f.geth_key()).collect();
        assert_eq!(keys.len(), Fork::ALL.len());
    }

    #[test]
    fn kinds_follow_the_geth_key_suffix() {
        for &f in Fork::ALL {
            let expect = if f.geth_key().ends_with("Time") {
                ForkKind::Timestamp
            } else if f.geth_key().ends_with("Block") {
                ForkKind::Block
            } else {
                ForkKind::TotalDifficulty
            };
            assert_eq!(f.kind(), expect, "{f}");
        }
    }
}
