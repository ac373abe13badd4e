//! The Status handshake: both sides send their Status at once and check the other's (eth version, network id,
//! genesis hash, EIP-2124 fork id and, from eth/69 on, the announced block range), all within a deadline (5 s by
//! default, as the reference peers use). The Status layout follows the negotiated version: eth/66-68 send
//! [`Status`](crate::Status), eth/69 and eth/70 send [`Status69`].

use std::time::Duration;

use p2p_msg::{Msg, MsgReader, MsgWriter};
use primitive_types::U256;
use tracing::debug;

use crate::{
    BlockRangeUpdate, Error, EthMessage, EthVersion, ForkFilter, Status, Status69, StatusMessage,
    codes,
};

/// The default deadline for the Status exchange.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks an announced block range as geth does (`earliest <= latest`, non-zero latest hash).
///
/// # Errors
///
/// [`Error::InvalidBlockRange`].
pub fn check_block_range(range: &BlockRangeUpdate) -> Result<(), Error> {
    range.validate().map_err(|reason| Error::InvalidBlockRange {
        earliest: range.earliest,
        latest: range.latest,
        reason,
    })
}

/// Checks a remote Status against the local one and the local fork filter.
///
/// # Errors
///
/// [`Error::VersionMismatch`] (also for a Status of the other layout), [`Error::NetworkMismatch`],
/// [`Error::GenesisMismatch`], [`Error::ForkId`] or, for eth/69+, [`Error::InvalidBlockRange`], in that order
/// of checking.
pub fn check_status(
    local: &StatusMessage,
    remote: &StatusMessage,
    filter: &ForkFilter,
) -> Result<(), Error> {
    let same_layout = matches!(
        (local, remote),
        (StatusMessage::Legacy(_), StatusMessage::Legacy(_))
            | (StatusMessage::Eth69(_), StatusMessage::Eth69(_))
    );
    if !same_layout || remote.version() != local.version() {
        return Err(Error::VersionMismatch {
            remote: u64::from(remote.version()),
            local: local.version(),
        });
    }
    if remote.network_id() != local.network_id() {
        return Err(Error::NetworkMismatch {
            remote: remote.network_id(),
            local: local.network_id(),
        });
    }
    if remote.genesis() != local.genesis() {
        return Err(Error::GenesisMismatch {
            remote: remote.genesis(),
            local: local.genesis(),
        });
    }
    filter.validate(remote.fork_id())?;
    if let Some(range) = remote.block_range() {
        check_block_range(&range.into())?;
    }
    Ok(())
}

/// The version a local Status is for.
fn version_of(local: &StatusMessage) -> Result<EthVersion, Error> {
    let mismatch = Error::VersionMismatch {
        remote: u64::from(local.version()),
        local: local.version(),
    };
    let version = EthVersion::from_number(u64::from(local.version())).ok_or(mismatch)?;
    let layout_ok = version.is_eth69_or_later() == matches!(local, StatusMessage::Eth69(_));
    if layout_ok {
        Ok(version)
    } else {
        Err(Error::VersionMismatch {
            remote: u64::from(local.version()),
            local: local.version(),
        })
    }
}

/// The Status message for `status`.
fn status_msg(status: &StatusMessage) -> Msg {
    match status {
        StatusMessage::Legacy(s) => EthMessage::Status(*s).to_msg(),
        StatusMessage::Eth69(s) => EthMessage::Status69(*s).to_msg(),
    }
}

/// Reads the remote's Status as `version` defines it.
async fn read_status<RW>(rw: &RW, version: EthVersion) -> Result<StatusMessage, Error>
where
    RW: MsgReader + ?Sized,
{
    let msg = rw.read_msg().await?;
    if msg.code != codes::STATUS {
        return Err(Error::NotStatus { code: msg.code });
    }
    match EthMessage::from_msg(version, &msg)? {
        EthMessage::Status(s) => Ok(StatusMessage::Legacy(s)),
        EthMessage::Status69(s) => Ok(StatusMessage::Eth69(s)),
        _ => Err(Error::NotStatus { code: msg.code }),
    }
}

/// Sends `local` and reads and checks the remote Status, concurrently, within `timeout`. `local`'s version must
/// be the version negotiated by the capability exchange, and its layout the one of that version.
///
/// # Errors
///
/// [`Error::HandshakeTimeout`]; [`Error::NotStatus`] if the first message is something else; [`Error::Decode`]
/// for a malformed Status; the errors of [`check_status`]; [`Error::Msg`] if the connection fails.
///
/// # Cancel safety
///
/// Not cancel safe: dropping the future mid-way leaves the connection in an unknown state; close it.
pub async fn handshake<RW>(
    rw: &RW,
    local: impl Into<StatusMessage>,
    filter: &ForkFilter,
    timeout: Duration,
) -> Result<StatusMessage, Error>
where
    RW: MsgReader + MsgWriter + ?Sized,
{
    let local = local.into();
    let version = version_of(&local)?;
    let exchange = async {
        // Write and read at once: on a rendezvous pipe both sides would otherwise wait for each other.
        let send = async { rw.write_msg(status_msg(&local)).await.map_err(Error::from) };
        let ((), remote) = tokio::try_join!(send, read_status(rw, version))?;
        Ok::<_, Error>(remote)
    };
    let remote = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| Error::HandshakeTimeout(timeout))??;
    check_status(&local, &remote, filter)?;
    debug!(
        version = remote.version(),
        network = remote.network_id(),
        head = ?remote.head().0,
        range = ?remote.block_range(),
        fork = %remote.fork_id().hash,
        "eth status exchanged"
    );
    Ok(remote)
}

/// The Status handshake of a node that has no chain yet: reads the remote Status first, then answers with a
/// Status that mirrors it (same network id, genesis and fork id; the genesis as best block with total
/// difficulty 0 for eth/68, the range `0..=0` ending at the genesis for eth/69+), within `timeout`. The eth
/// version and, for eth/69+, the remote's block range are checked. Returns `(ours, theirs)`.
///
/// The remote must send its Status without waiting for ours (every implementation does, this crate's
/// [`handshake`] and geth included). The caller must not trust the remote's genesis blindly: fetch header 0 and
/// check that it hashes to `theirs.genesis()` before storing anything.
///
/// # Errors
///
/// [`Error::HandshakeTimeout`]; [`Error::NotStatus`]; [`Error::Decode`]; [`Error::VersionMismatch`];
/// [`Error::InvalidBlockRange`]; [`Error::Msg`] if the connection fails.
///
/// # Cancel safety
///
/// Not cancel safe: dropping the future mid-way leaves the connection in an unknown state; close it.
pub async fn handshake_following<RW>(
    rw: &RW,
    version: EthVersion,
    timeout: Duration,
) -> Result<(StatusMessage, StatusMessage), Error>
where
    RW: MsgReader + MsgWriter + ?Sized,
{
    let exchange = async {
        let remote = read_status(rw, version).await?;
        if remote.version() != version.number() {
            return Err(Error::VersionMismatch {
                remote: u64::from(remote.version()),
                local: version.number(),
            });
        }
        if let Some(range) = remote.block_range() {
            check_block_range(&range.into())?;
        }
        let ours = if version.is_eth69_or_later() {
            StatusMessage::Eth69(Status69 {
                version: version.number(),
                network_id: remote.network_id(),
                genesis: remote.genesis(),
                fork_id: remote.fork_id(),
                earliest: 0,
                latest: 0,
                latest_hash: remote.genesis(),
            })
        } else {
            StatusMessage::Legacy(Status {
                version: version.number(),
                network_id: remote.network_id(),
                total_difficulty: U256::zero(),
                best_hash: remote.genesis(),
                genesis: remote.genesis(),
                fork_id: remote.fork_id(),
            })
        };
        rw.write_msg(status_msg(&ours)).await?;
        Ok((ours, remote))
    };
    let (ours, remote) = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| Error::HandshakeTimeout(timeout))??;
    debug!(network = remote.network_id(), genesis = ?remote.genesis(), "eth status mirrored from the remote");
    Ok((ours, remote))
}
